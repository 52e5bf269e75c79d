"""Malformed callback bodies through the real HTTP path: HTTP 400 in words, one log line.

Each body below is POSTed to ``/_dash-update-component`` of a real ``rnnscope serve`` (the
session's ``tiny_server``). Before ``rnnscope.app.callback_guard`` every one of them raised inside
Dash: HTTP 500 and a 22-34 line traceback in the server log per request (issue 11 item 6).
Now each gets HTTP 400 with a sentence saying what is wrong, and the server logs exactly
two lines for it: one ``refused a callback request ...`` line and the web server's access
line (which every request gets).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from rnnscope.bench.load import DashClient

UPDATE = "/_dash-update-component"
WORD = "word-result.children"  # a one-output server callback: inputs word-input.value, selected-fp-store.data
WORD_BODY = {"output": WORD, "outputs": {"id": "word-result", "property": "children"},
             "inputs": [{"id": "word-input", "property": "value", "value": "good"},
                        {"id": "selected-fp-store", "property": "data", "value": None}],
             "changedPropIds": ["word-input.value"]}
CLIENTSIDE = "..upload-payload.data...upload-alert.children.."  # the upload's clientside size check


@dataclass
class Answer:
    """The server's answer to one request and the lines it logged for it."""

    status: int
    text: str
    lines: list[str]

    @property
    def tracebacks(self) -> int:
        return sum("Traceback" in line for line in self.lines)


def logged_since(server, before: int, path: str = UPDATE) -> list[str]:
    """The server's log lines after line ``before``, once the access line of the request is there
    (werkzeug writes it with the status line, so it is normally there already)."""
    deadline = time.monotonic() + 10
    while True:
        lines = server.log_text().splitlines()[before:]
        if any(f"POST {path}" in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def post_counted(server, data: bytes | str, *, content_type: str = "application/json",
                 params: dict | None = None) -> Answer:
    """POST ``data`` to the callback endpoint; -> status, text and the lines it added to the log."""
    before = len(server.log_text().splitlines())
    response = requests.post(server.url + UPDATE, data=data, params=params, timeout=120,
                             headers={"Content-Type": content_type})
    return Answer(response.status_code, response.text, logged_since(server, before))


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (``VmHWM``), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def word_body(**changes) -> bytes:
    return json.dumps({**WORD_BODY, **changes}).encode()


MALFORMED = [
    ("not JSON", b"{not json", "not valid JSON"),
    ("empty body", b"", "not valid JSON"),
    ("not UTF-8", b'{"output": "\xff\xfe"}', "not UTF-8"),
    ("array", b"[1, 2]", "a JSON array, not an object"),
    ("string", b'"word-result.children"', "a JSON string, not an object"),
    ("null", b"null", "a JSON null, not an object"),
    ("number", b"5", "a JSON number, not an object"),
    ("empty object", b"{}", "no 'output' string"),
    ("output not a string", word_body(output=5), "no 'output' string"),
    ("unknown output", word_body(output="nope.children"), "no server callback has the output 'nope.children'"),
    ("clientside output", word_body(output=CLIENTSIDE), "no server callback has the output"),
    ("missing inputs", json.dumps({k: v for k, v in WORD_BODY.items() if k != "inputs"}).encode(),
     "'inputs' must be a list of the callback's 2 inputs"),
    ("inputs a string", word_body(inputs="abc"), "'inputs' must be a list"),
    ("too few inputs", word_body(inputs=WORD_BODY["inputs"][:1]), "'inputs' must be a list"),
    ("inputs of another component", word_body(inputs=[{"id": "x", "property": "value", "value": 1}] * 2),
     "'inputs' must list the callback's inputs in order (word-input.value"),
    ("input not an object", word_body(inputs=[1, 2]), "'inputs' must list the callback's inputs in order"),
    ("outputs junk", word_body(outputs=[1, 2]), "'outputs' must describe the callback's outputs"),
    ("outputs missing", json.dumps({k: v for k, v in WORD_BODY.items() if k != "outputs"}).encode(),
     "'outputs' must describe"),
    ("state where there is none", word_body(state=[{"id": "x", "property": "y"}]), "'state' must be a list"),
    ("state null", word_body(state=None), "'state' must be a list"),
    ("changedPropIds a number", word_body(changedPropIds=5), "'changedPropIds' must list inputs"),
    ("changedPropIds not inputs", word_body(changedPropIds=["report-store.data"]), "'changedPropIds' must list"),
    ("nested 100,000 deep", b'{"output": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested far deeper than 32"),
    ("nested 40 deep", word_body(inputs=[{"id": "word-input", "property": "value",
                                          "value": json.loads("[" * 40 + "]" * 40)}] * 2), "nested deeper than 32"),
    ("5,000-digit number", b'{"output": ' + b"9" * 5000 + b"}", "more than 4,300 digits"),
]


@pytest.mark.parametrize("body, fragment", [(b, f) for _, b, f in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_malformed_callback_body_gets_400_in_words_and_one_log_line(tiny_server, body, fragment):
    answer = post_counted(tiny_server, body)
    assert answer.status == 400, (answer.status, answer.text[:300], answer.lines[:5])
    assert answer.text.startswith("Refused: ") and fragment in answer.text, answer.text
    refused = [line for line in answer.lines if line.startswith("refused a callback request from 127.0.0.1: ")]
    assert len(refused) == 1 and fragment in refused[0], answer.lines
    assert len(answer.lines) == 2 and answer.tracebacks == 0, answer.lines  # + the access line
    assert tiny_server.alive()


def test_a_body_of_millions_of_empty_lists_is_refused_before_parsing(tiny_server):
    """12 MB of ``[],`` parse into 4 million lists (~300 MB); the guard counts the brackets
    in the raw bytes first, so the server's peak memory grows by the body, not the lists."""
    items = 4_000_000
    body = b'{"output": "word-result.children", "x": [' + b"[]," * items + b"[]]}"
    peak = peak_rss_mb(tiny_server.proc.pid)
    answer = post_counted(tiny_server, body)
    growth = peak_rss_mb(tiny_server.proc.pid) - peak
    assert answer.status == 400 and "JSON separators and brackets" in answer.text, answer.text[:300]
    assert len(answer.lines) == 2 and answer.tracebacks == 0, answer.lines
    assert growth < 100, f"peak memory grew by {growth:.0f} MiB for a {len(body) / 2**20:.0f} MiB body"


def test_other_content_types_are_still_refused_with_415(tiny_server):
    answer = post_counted(tiny_server, json.dumps(WORD_BODY), content_type="text/plain")
    assert answer.status == 415 and len(answer.lines) == 1 and answer.tracebacks == 0, answer.lines


def test_the_pages_own_requests_pass_the_guard(tiny_server, tiny_env):
    """What the renderer sends (``rnnscope.bench.load.DashClient`` builds it from ``/_dash-dependencies``)
    is answered: the page's start-up callbacks, a word lookup at a selected point, a click."""
    client = DashClient(tiny_server.url)
    client.initial_callbacks()
    selection = client.value("selected-fp-store.data")
    assert isinstance(selection, dict) and selection["key"] == tiny_env.key
    updates = client.fire({"word-input.value": "good"})
    assert "ℓ1ᵀ J_inp x" in json.dumps(updates["word-result.children"], ensure_ascii=False)
    body = client.payload(client.find(output="word-result.children"), ["word-input.value"])
    answer = post_counted(tiny_server, json.dumps(body))
    assert answer.status == 200 and len(answer.lines) == 1, answer.lines


def test_pattern_matching_callbacks_pass_and_their_ids_are_checked():
    """A Dash app of its own with an ``ALL`` input and a ``MATCH`` output, guarded: the bodies
    the renderer sends for it are answered, ids that do not fit the pattern are refused."""
    import dash
    from dash import ALL, MATCH, Input, Output, html

    from rnnscope.app import callback_guard

    app = dash.Dash(__name__)
    app.layout = html.Div([html.Button(id={"type": "open", "key": k}) for k in ("a", "b")]
                          + [html.Div(id={"type": "out", "key": k}) for k in ("a", "b")] + [html.Div(id="total")])
    app.callback(Output("total", "children"), Input({"type": "open", "key": ALL}, "n_clicks"))(
        lambda clicks: str(sum(c or 0 for c in clicks)))
    app.callback(Output({"type": "out", "key": MATCH}, "children"), Input({"type": "open", "key": MATCH}, "n_clicks"))(
        lambda clicks: f"clicked {clicks}")
    callback_guard.install(app)
    client = app.server.test_client()
    client.get("/")

    def post(body):
        return client.post(UPDATE, data=json.dumps(body), content_type="application/json")

    buttons = [{"id": {"type": "open", "key": k}, "property": "n_clicks", "value": v} for k, v in (("a", 2), ("b", 3))]
    total = {"output": "total.children", "outputs": {"id": "total", "property": "children"},
             "inputs": [buttons], "changedPropIds": ['{"key":"a","type":"open"}.n_clicks']}
    one = {"output": '{"key":["MATCH"],"type":"out"}.children',
           "outputs": {"id": {"type": "out", "key": "b"}, "property": "children"},
           "inputs": [buttons[1]], "changedPropIds": ['{"key":"b","type":"open"}.n_clicks']}
    assert post(total).get_json()["response"]["total"]["children"] == "5"
    assert post(one).get_json()["response"]['{"key":"b","type":"out"}']["children"] == "clicked 3"
    foreign = [{"id": {"type": "other", "key": "a"}, "property": "n_clicks", "value": 1}]
    for bad in ({**total, "inputs": [foreign]}, {**total, "inputs": [buttons[0]]},
                {**total, "changedPropIds": ['{"key":"a","type":"other"}.n_clicks']},
                {**one, "outputs": {"id": {"type": "out", "key": {"nested": 1}}, "property": "children"}}):
        answer = post(bad)
        assert answer.status_code == 400 and answer.get_data(as_text=True).startswith("Refused: "), bad
