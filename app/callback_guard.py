"""Callback requests checked before Dash reads them: a malformed body gets HTTP 400 in words.

Dash trusts the body of ``POST /_dash-update-component``: a list where it expects an
object, a missing ``inputs``, an output no callback has, a clientside callback's output, or
JSON nested 100,000 deep each raised inside Dash and gave HTTP 500 with a 22-34 line
traceback in the server log. :func:`install` adds a ``before_request`` hook that reads the
body once (Flask keeps the parsed JSON, so Dash does not parse it again) and checks it
against the callbacks the app registered:

- JSON (another content type is left to Flask, which answers 415: SECURITY.md rule 14),
  with at most :data:`MAX_JSON_ITEMS` separators and brackets (counted in the raw bytes
  before parsing: three bytes ``[],`` become a 56-byte list, so the count bounds what
  parsing allocates beyond the body itself) and nested at most :data:`MAX_JSON_DEPTH` deep;
- an object whose ``output`` names a server-side callback of this app;
- ``outputs``, ``inputs`` and ``state`` holding exactly that callback's component ids and
  properties, in order (their values may be any JSON: each callback checks its own); for a
  pattern-matching id (``{"type": ..., "key": ALL}``) ids the pattern matches, a list of them
  for ``ALL``/``ALLSMALLER``;
- ``changedPropIds``, when present, a list of that callback's input ids.

Anything else is answered with HTTP 400 and one sentence (``text/plain``), and the server
logs one line saying why (besides the web server's own access line), never a traceback.
"""
from __future__ import annotations

import json
import logging

import dash
import flask
from werkzeug.exceptions import BadRequest

#: Separators and brackets (``,`` ``[`` ``{``) a callback body may hold. The page's largest
#: bodies are an upload (one base64 string: none) and a sentence (its commas).
MAX_JSON_ITEMS = 200_000
#: Nesting depth of a callback body; the page's own bodies are at most 7 deep (clickData).
MAX_JSON_DEPTH = 32
#: Characters of an untrusted value quoted in a message or the log.
QUOTE_CHARS = 60

log = logging.getLogger(__name__)


class Refused(ValueError):
    """A callback body that cannot be a request of this page; the message says why."""


def install(app: dash.Dash) -> None:
    """Check every ``POST`` to ``app``'s callback endpoint before Dash sees it."""
    path = app.config.routes_pathname_prefix + "_dash-update-component"

    @app.server.before_request
    def _check_callback_body():
        request = flask.request
        if request.method != "POST" or request.path != path or not request.is_json:
            return None  # not a callback, or not JSON: Flask answers 415 (rule 14)
        try:
            check_body(read_body(request), app.callback_map)
        except Refused as exc:
            log.warning("refused a callback request from %s: %s", request.remote_addr, exc)
            return flask.Response(f"Refused: {exc}\n", status=400, mimetype="text/plain")
        return None


def read_body(request: flask.Request):
    """The parsed JSON body, after bounding what parsing it may allocate."""
    raw = request.get_data(cache=True)
    items = raw.count(b",") + raw.count(b"[") + raw.count(b"{")
    if items > MAX_JSON_ITEMS:
        raise Refused(f"the body holds {items:,} JSON separators and brackets; a request of this page "
                      f"holds far fewer (limit {MAX_JSON_ITEMS:,}).")
    try:
        body = request.get_json()
    except BadRequest as exc:
        raise Refused(_json_problem(exc)) from None
    except RecursionError:
        raise Refused(f"the body is JSON nested far deeper than {MAX_JSON_DEPTH} levels.") from None
    if _deeper_than(body, MAX_JSON_DEPTH):
        raise Refused(f"the body is JSON nested deeper than {MAX_JSON_DEPTH} levels.")
    return body


def _json_problem(exc: BaseException) -> str:
    """What the JSON parser said about the body (Flask keeps it as the ``BadRequest``'s cause)."""
    cause = exc
    while cause is not None and not isinstance(cause, ValueError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, UnicodeDecodeError):
        return "the body is not UTF-8 text."
    if cause is not None and "integer string conversion" in str(cause):
        return "the body holds a whole number of more than 4,300 digits; no value of this page has one."
    detail = f": {' '.join(str(cause).split())[:120]}" if cause is not None else ""
    return f"the body is not valid JSON{detail}."


def _deeper_than(value, limit: int) -> bool:
    """True if ``value`` nests lists/dicts more than ``limit`` deep (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def check_body(body, callback_map: dict) -> None:
    """Raise :class:`Refused` unless ``body`` is a request for one of ``callback_map``'s
    server-side callbacks, with its outputs, inputs and state in order."""
    if not isinstance(body, dict):
        raise Refused(f"the body is a JSON {_kind(body)}, not an object.")
    output = body.get("output")
    if not isinstance(output, str):
        raise Refused("the body has no 'output' string naming a callback.")
    spec = callback_map.get(output)
    if spec is None or "callback" not in spec:
        raise Refused(f"no server callback has the output {_quote(output)}.")
    _check_outputs(body.get("outputs"), output)
    inputs = spec.get("inputs") or []
    _check_values("inputs", body.get("inputs"), inputs)
    if spec.get("state") or "state" in body:  # Dash reads a present "state" whatever it holds
        _check_values("state", body.get("state"), spec.get("state") or [])
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(_names_an_input(c, inputs) for c in changed):
        raise Refused("'changedPropIds' must list inputs of this callback.")


def expected_outputs(output: str) -> list[tuple[str, str]]:
    """``(component id, property)`` of each output named in a callback's ``output`` key
    (``a.children`` or ``..a.children...b.figure@hash..``; the ``@hash`` is dropped). A
    pattern-matching id stays the JSON text Dash writes (``{"key":["ALL"],"type":"t"}``)."""
    parts = output[2:-2].split("...") if _is_multi(output) else [output]
    return [(cid, prop.split("@")[0]) for cid, _, prop in (part.rpartition(".") for part in parts)]


def _is_multi(output: str) -> bool:
    return output.startswith("..") and output.endswith("..")


def _check_outputs(outputs, output: str) -> None:
    expected = expected_outputs(output)
    listed = outputs if _is_multi(output) else [outputs]
    if not isinstance(listed, list) or len(listed) != len(expected):
        raise Refused(f"'outputs' must describe the callback's {len(expected)} output(s).")
    for item, (cid, prop) in zip(listed, expected):
        if not _fits(item, cid, prop, output=True):
            raise Refused(f"'outputs' must describe the callback's outputs in order ({cid}.{prop} ...).")


def _check_values(name: str, values, spec: list[dict]) -> None:
    """``values`` must be ``[{"id", "property", "value"?}, ...]`` matching ``spec`` in order
    (a list of those for a pattern-matching ``ALL``/``ALLSMALLER`` dependency)."""
    if not isinstance(values, list) or len(values) != len(spec):
        raise Refused(f"'{name}' must be a list of the callback's {len(spec)} {name}.")
    for item, want in zip(values, spec):
        if not _fits(item, want["id"], want["property"]):
            raise Refused(f"'{name}' must list the callback's {name} in order "
                          f"({want['id']}.{want['property']} ...).")


#: Wildcards of pattern-matching ids as ``callback_map`` holds them (``dash.ALL`` -> ``["ALL"]``).
_MULTI = (["ALL"], ["ALLSMALLER"])
_WILDCARDS = (*_MULTI, ["MATCH"])


def _pattern(cid: str) -> dict | None:
    """The dict of a pattern-matching id (``'{"key":["ALL"],"type":"t"}'``), else None."""
    if not cid.startswith("{"):
        return None
    try:
        pattern = json.loads(cid)
    except ValueError:
        return None
    return pattern if isinstance(pattern, dict) else None


def _fits(item, cid: str, prop: str, *, output: bool = False) -> bool:
    """``item`` is ``{"id": cid, "property": prop, ...}``; for a pattern ``cid`` its id is a
    dict the pattern matches, and for ``ALL``/``ALLSMALLER`` ``item`` is a list of those."""
    pattern = _pattern(cid)
    if pattern is not None and any(v in _MULTI for v in pattern.values()):
        return isinstance(item, list) and all(_fits_one(i, pattern, prop, output) for i in item)
    return _fits_one(item, pattern if pattern is not None else cid, prop, output)


def _fits_one(item, want, prop: str, output: bool) -> bool:
    if not isinstance(item, dict) or not isinstance(item.get("property"), str):
        return False
    got = item["property"].split("@")[0] if output else item["property"]
    return got == prop and _same_id(item.get("id"), want)


def _same_id(cid, want) -> bool:
    """``cid`` is ``want`` (a string id), or a dict id that the pattern dict ``want`` matches."""
    if not isinstance(want, dict):
        return cid == want
    return (isinstance(cid, dict) and cid.keys() == want.keys()
            and all(not isinstance(cid[k], (dict, list)) if v in _WILDCARDS else cid[k] == v
                    for k, v in want.items()))


def _names_an_input(changed, inputs: list[dict]) -> bool:
    """``changed`` (``"id.prop"``, a dict id as JSON) names one of ``inputs``."""
    if not isinstance(changed, str):
        return False
    cid, _, prop = changed.rpartition(".")
    concrete = _pattern(cid) if cid.startswith("{") else cid
    return any(prop == want["property"] and _same_id(concrete, _pattern(want["id"]) or want["id"])
               for want in inputs)


def _kind(value) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _quote(value) -> str:
    """``repr(value)`` cut to :data:`QUOTE_CHARS`, on one line (repr escapes line breaks)."""
    text = repr(value)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3] + "..."
