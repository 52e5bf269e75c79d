"""Fuzzing (hypothesis) of the checkpoint parser and of the callback bodies (issue 11, acceptance).

1. Checkpoint bytes: mutations of real valid files (the unit tests' ``.pt`` and
   ``.safetensors`` and a bundled demo model) at the byte level, inside the ``.pt``'s
   ``data.pkl`` (the zip kept valid, so torch's reader and tensor rebuild see them), in the
   values of the ``.safetensors`` header, cut short, and random bytes behind each
   container's magic. ``load_bytes`` must return a model or raise ``CheckpointError``
   (never another exception), and the peak resident memory of one load (``VmHWM``, reset
   before each) must stay within a bound that follows the file's size.
2. Callback bodies, POSTed to one real ``rnnscope serve`` (the session's ``tiny_server``):
   arbitrary JSON, near-valid bodies with one part replaced, and bodies of the page's own
   callbacks with arbitrary values. Never an HTTP 500, at most two log lines per request
   (the access line and one ``refused ...`` line), never a traceback; the server keeps
   serving and its peak memory over the whole pass grows by less than a bound.

Examples are derandomized and counted (about a minute on a 2-core machine), so CI runs the
same cases every time.
"""
from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from rnnscope.analysis.checkpoint import CheckpointError, load_bytes
from tests.security.hostile import replace_entry, valid_pt, valid_safetensors
from tests.security.test_callback_bodies import post_counted
from tests.unit.test_checkpoint import make_model, pt_bytes, pt_payload

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])
DEMO = Path(__file__).resolve().parents[2] / "models" / "demo" / "gru-mr.safetensors"
#: Peak memory one load may add: a fixed allowance (torch's allocator, the network) plus a
#: multiple of the file (a copy of the bytes, the tensors, their float copies).
LOAD_BASE_MIB, LOAD_PER_FILE_BYTE = 96, 12
#: Peak memory the whole callback pass may add to the server (its caches are bounded LRUs).
SERVER_GROWTH_MIB = 400


# --------------------------------------------------------------------------- memory


def peak_mib(pid: int | str = "self") -> float:
    """Peak resident memory (``VmHWM``) of a process since its last reset, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def current_mib(pid: int | str = "self") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def reset_peak(pid: int | str = "self") -> None:
    """Reset ``VmHWM`` to the current resident size (Linux >= 4.0: ``5`` to ``clear_refs``)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


# --------------------------------------------------------------------------- checkpoint bytes


def _seeds() -> dict[str, bytes]:
    return {"pt-gru": valid_pt("gru"), "pt-lstm-2": pt_bytes(pt_payload(make_model("lstm", num_classes=2))),
            "st-lstm": valid_safetensors("lstm"), "st-ugrnn": valid_safetensors("ugrnn"),
            "st-demo": DEMO.read_bytes()}


SEEDS = _seeds()


def _header_end(data: bytes) -> int:
    """Where the part worth mutating ends: the safetensors header, or the zip's first entries."""
    if data[:4] == b"PK\x03\x04":
        return min(len(data), 4096)
    return min(len(data), 8 + struct.unpack("<Q", data[:8])[0])


@st.composite
def flipped_bytes(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    end = _header_end(data)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.one_of(st.integers(0, end - 1), st.integers(0, len(data) - 1)))
        data[at] = draw(st.integers(0, 255))
    return name, bytes(data)


@st.composite
def cut_short(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = SEEDS[name]
    return name, data[: draw(st.integers(0, len(data) - 1))]


@st.composite
def pickle_mutations(draw) -> tuple[str, bytes]:
    """A ``.pt`` whose ``data.pkl`` has bytes changed, inserted or removed (the zip stays valid)."""
    name = draw(st.sampled_from(["pt-gru", "pt-lstm-2"]))
    data = SEEDS[name]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        pkl = bytearray(zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl"))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(pkl) - 1))
        kind = draw(st.sampled_from(["set", "insert", "delete"]))
        if kind == "set":
            pkl[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            pkl[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del pkl[at: at + draw(st.integers(1, 8))]
    return name, replace_entry(data, "data.pkl", bytes(pkl))


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
              st.text(max_size=20), st.sampled_from(["F32", "F64", "I64", "F16", "BF16", ""])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@st.composite
def header_mutations(draw) -> tuple[str, bytes]:
    """A ``.safetensors`` whose header has one value replaced (a tensor's dtype, shape,
    offsets or whole entry, the metadata, or a config field), the length prefix kept right."""
    name = draw(st.sampled_from(["st-lstm", "st-ugrnn"]))
    data = SEEDS[name]
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8: 8 + n])
    tensor = draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
    where = draw(st.sampled_from(["dtype", "shape", "data_offsets", "entry", "metadata", "config", "offset+1"]))
    value = draw(JSON_VALUES)
    if where in ("dtype", "shape", "data_offsets"):
        header[tensor][where] = value
    elif where == "entry":
        header[tensor] = value
    elif where == "metadata":
        header["__metadata__"] = value
    elif where == "offset+1":
        header[tensor]["data_offsets"][1] += draw(st.integers(-8, 8))
    else:
        config = json.loads(header["__metadata__"]["rnnscope"])
        config[draw(st.sampled_from(sorted(config)))] = value
        header["__metadata__"]["rnnscope"] = json.dumps(config, allow_nan=True)
    raw = json.dumps(header, allow_nan=True).encode()
    return name, struct.pack("<Q", len(raw)) + raw + data[8 + n:]


@st.composite
def random_files(draw) -> tuple[str, bytes]:
    magic = draw(st.sampled_from([b"", b"PK\x03\x04", b"\x80\x02", b"{"]))
    body = draw(st.binary(max_size=2048))
    if magic == b"{":  # a safetensors length prefix that may or may not fit
        length = draw(st.one_of(st.integers(0, len(body) + 1), st.integers(0, 2**64 - 1)))
        return "random-st", struct.pack("<Q", length) + b"{" + body
    return "random", magic + body


CHECKPOINTS = st.one_of(flipped_bytes(), cut_short(), pickle_mutations(), header_mutations(), random_files())


@pytest.fixture(scope="module")
def warm_loader():
    """Load each seed once: torch's and numpy's one-time allocations are not a file's cost."""
    for name, data in SEEDS.items():
        load_bytes(data, name)


@settings(FUZZ, max_examples=400)
@given(case=CHECKPOINTS)
def test_fuzzed_checkpoints_load_or_raise_checkpoint_error_in_bounded_memory(warm_loader, case):
    name, data = case
    baseline = current_mib()
    reset_peak()
    try:
        load_bytes(data, f"{name}.bin")
    except CheckpointError as exc:
        assert str(exc) and "\n" not in str(exc)[:400], repr(exc)
    added = peak_mib() - baseline
    bound = LOAD_BASE_MIB + LOAD_PER_FILE_BYTE * len(data) / 2**20
    assert added <= bound, f"{name}: one load of {len(data):,} bytes added {added:.0f} MiB (bound {bound:.0f})"


# --------------------------------------------------------------------------- callback bodies


@pytest.fixture(scope="module")
def page(tiny_server, tiny_env):
    """The page's server callbacks (from /_dash-dependencies) and values that make sense."""
    from rnnscope.bench.load import DashClient

    client = DashClient(tiny_server.url)
    server_side = [cb for cb in client.callbacks if not cb.clientside and not cb.background]
    background = [cb for cb in client.callbacks if cb.background]
    reset_peak(tiny_server.proc.pid)
    return {"client": client, "callbacks": server_side, "background": background,
            "ref": {"key": tiny_env.key, "sha": tiny_env.sha, "data": "mr"}, "key": tiny_env.key,
            "start_mib": current_mib(tiny_server.proc.pid)}


def _sensible(page) -> st.SearchStrategy:
    key = page["key"]
    return st.one_of(
        st.just(page["ref"]), st.just(key), st.just("mr"),
        st.builds(lambda i: {"key": key, "index": i}, st.one_of(st.integers(-3, 40), JSON_VALUES)),
        st.builds(lambda t: {"key": key, "text": t}, st.text(max_size=200)),
        st.text(max_size=300), st.integers(-5, 10**6), st.floats(allow_nan=True),
        st.builds(lambda i: {"points": [{"customdata": i}]}, JSON_VALUES))


def _body(cb, items: list, changed: list[str]) -> dict:
    """The renderer's body for ``cb`` with ``items`` for its inputs then its state."""
    outputs = [{"id": cid, "property": prop} for cid, prop in cb.outputs]
    body = {"output": cb.output, "outputs": outputs if cb.multi else outputs[0],
            "inputs": items[: len(cb.inputs)], "changedPropIds": changed}
    if cb.state:
        body["state"] = items[len(cb.inputs):]
    return body


def _item(draw, cid: str, prop: str, values: st.SearchStrategy):
    """One input or state of a body: ``{"id", "property", "value"}``; for a pattern-matching
    id (``{"key":["ALL"],"type":"t"}``) the ids the page could hold, a list of them for ALL."""
    if not cid.startswith("{"):
        return {"id": cid, "property": prop, "value": draw(values)}
    pattern = json.loads(cid)

    def one():
        concrete = {k: draw(st.text(max_size=12)) if isinstance(v, list) else v for k, v in pattern.items()}
        return {"id": concrete, "property": prop, "value": draw(values)}
    if any(v in (["ALL"], ["ALLSMALLER"]) for v in pattern.values()):
        return [one() for _ in range(draw(st.integers(0, 3)))]
    return one()


def _changed_ids(item) -> list[str]:
    """``changedPropIds`` entries naming ``item`` (dict ids as Dash writes them)."""
    from dash._utils import stringify_id

    return [f"{stringify_id(i['id'])}.{i['property']}" for i in (item if isinstance(item, list) else [item])]


@st.composite
def page_bodies(draw, page) -> dict:
    """A body of one of the page's callbacks, every input and state an arbitrary value."""
    cb = draw(st.sampled_from(page["callbacks"]))
    values = st.one_of(_sensible(page), JSON_VALUES)
    items = [_item(draw, cid, prop, values) for cid, prop in cb.inputs + cb.state]
    names = [name for item in items[: len(cb.inputs)] for name in _changed_ids(item)]
    changed = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    return _body(cb, items, changed)


@st.composite
def broken_bodies(draw, page) -> dict | list | str | int | float | None:
    """Arbitrary JSON, or a body of a real callback (background ones too) with one part replaced."""
    cb = draw(st.sampled_from(page["callbacks"] + page["background"]))
    body = _body(cb, [_item(draw, cid, prop, st.none()) for cid, prop in cb.inputs + cb.state], [])
    part = draw(st.sampled_from(["output", "outputs", "inputs", "state", "changedPropIds", "an input", "all"]))
    value = draw(JSON_VALUES)
    if part == "all":
        return value
    if part == "an input" and body["inputs"]:
        body["inputs"][draw(st.integers(0, len(body["inputs"]) - 1))] = value
    else:
        body[part] = value
    return body


def _check_answer(server, body, allowed: tuple[int, ...]) -> None:
    text = json.dumps(body, allow_nan=True)
    answer = post_counted(server, text)
    assert answer.status in allowed, (answer.status, text[:300], answer.text[:300], answer.lines[-3:])
    assert answer.tracebacks == 0 and len(answer.lines) <= 2, (text[:300], answer.lines[:6])
    assert server.alive()


def test_page_callbacks_with_arbitrary_values_are_answered(tiny_server, page):
    @settings(FUZZ, max_examples=250)
    @given(body=page_bodies(page))
    def run(body):
        _check_answer(tiny_server, body, (200, 204))

    run()
    _server_still_serves(tiny_server, page)


def test_broken_callback_bodies_are_refused_in_words(tiny_server, page):
    @settings(FUZZ, max_examples=250)
    @given(body=broken_bodies(page))
    def run(body):
        _check_answer(tiny_server, body, (200, 204, 400))

    run()
    _server_still_serves(tiny_server, page)


def _server_still_serves(server, page) -> None:
    """A new visitor gets the page and a word lookup; the server's memory stayed bounded."""
    from rnnscope.bench.load import DashClient

    fresh = DashClient(server.url)
    fresh.initial_callbacks()
    assert "ℓ1ᵀ J_inp x" in json.dumps(fresh.fire({"word-input.value": "good"})["word-result.children"],
                                       ensure_ascii=False)
    growth = peak_mib(server.proc.pid) - page["start_mib"]
    assert growth < SERVER_GROWTH_MIB, f"the server's peak memory grew by {growth:.0f} MiB"
    assert "Traceback" not in server.log_text()
