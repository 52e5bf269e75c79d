"""Hostile input through the real HTTP path of a running dashboard, fuzzed text, bad data files.

A real ``rnnscope serve`` (werkzeug, a real socket, upload cap 1 MiB) runs on the tiny MR
GRU's store. Uploads are POSTed to ``/_dash-update-component`` exactly as the browser does
after the page's client-side size check: the upload callback (found in
``/_dash-dependencies``) with ``upload-payload.data = {"contents": "data:...;base64,...",
"filename": ...}``. For every hostile file the user must get a plain-words message (a
fragment is asserted), nothing may be added to the store's checkpoint area, a sentinel
file that the pickle payloads would create must never appear, and the server must keep
serving: a second thread loads the page and runs the sentence explorer the whole time.
"""
from __future__ import annotations

import base64
import json
import random
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings, strategies as st

from rnnscope.bench.load import DashClient, DashError, sentence
from tests.security import hostile
from tests.security.conftest import RNNSCOPE, serve, server_env

CAP_MB = 1
CAP = CAP_MB * 2**20


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def server(tiny_env, tmp_path_factory):
    log = tmp_path_factory.mktemp("hostile-server") / "server.log"
    with serve(server_env(tiny_env, RNNSCOPE_MAX_UPLOAD_MB=str(CAP_MB)), log) as srv:
        yield srv


@pytest.fixture
def client(server):
    return DashClient(server.url)


def data_url(data: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


def upload(client: DashClient, filename, data: bytes | None = None, *, contents=None) -> dict:
    """POST the server-side upload callback as the browser does; -> its updates."""
    payload = {"contents": data_url(data) if contents is None else contents, "filename": filename}
    client.set("upload-payload.data", payload)
    return client.call(client.find(input="upload-payload.data"), ["upload-payload.data"])


def alert_of(updates: dict) -> tuple[str, str]:
    """(className, text) of the upload alert in a callback response."""
    alert = updates["upload-alert.children"]
    return alert["props"]["className"], json.dumps(alert["props"]["children"], ensure_ascii=False)


def stored_files(store: Path) -> set[str]:
    """Every file under the store's checkpoint area and temp directory."""
    return {str(p.relative_to(store)) for sub in ("checkpoints", "tmp") for p in (store / sub).rglob("*")}


def sentence_works(client: DashClient, text: str) -> list[str]:
    """Run the sentence explorer over HTTP; -> the tokens of the per-token table."""
    client.set("sentence-input.value", text)
    client.set("sentence-run.n_clicks", (client.value("sentence-run.n_clicks") or 0) + 1)
    updates = client.call(client.find(input="sentence-run.n_clicks"), ["sentence-run.n_clicks"])
    assert updates["sentence-store.data"]["text"] == text
    return table_tokens(updates["sentence-tokens.children"])


def table_tokens(table: dict) -> list[tuple[str, str]]:
    """(token, className) of each row of the sentence explorer's per-token table."""
    body = table["props"]["children"][0]["props"]["children"][1]
    return [(row["props"]["children"][1]["props"]["children"],
             row["props"]["children"][1]["props"].get("className", "")) for row in body["props"]["children"]]


class Traffic(threading.Thread):
    """Normal use in the background: page loads and sentence explorer runs, until stopped."""

    def __init__(self, url: str):
        super().__init__(daemon=True, name="normal-traffic")
        self.url, self.stop, self.ready = url, threading.Event(), threading.Event()
        self.ok, self.errors = 0, []

    def run(self) -> None:
        rng = random.Random(1)
        client = DashClient(self.url)
        client.initial_callbacks()
        while not self.stop.is_set():
            try:
                assert requests.get(self.url + "/", timeout=30).status_code == 200
                tokens = sentence_works(client, sentence(rng))
                assert tokens, "no tokens traced"
                self.ok += 1
                self.ready.set()
            except (AssertionError, DashError, requests.RequestException, KeyError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- hostile checkpoints


def test_hostile_checkpoints_are_refused_and_the_server_keeps_serving(server, tiny_env, client, tmp_path):
    sentinel = tmp_path / "SENTINEL-pickle-ran"
    cases = hostile.cases(sentinel)
    store = tiny_env.store_dir
    before = stored_files(store)
    options = client.value("model-select.options")
    traffic = Traffic(server.url)
    traffic.start()
    assert traffic.ready.wait(300), f"normal traffic never worked: {traffic.errors[:3]}"
    ok_before = traffic.ok
    problems = []
    try:
        for case in cases:
            try:
                updates = upload(client, case.filename, case.data)
                kind, text = alert_of(updates)
            except (DashError, KeyError) as exc:
                problems.append(f"{case.name}: {type(exc).__name__}: {exc}")
                continue
            if kind != "alert error" or case.fragment not in text:
                problems.append(f"{case.name}: {kind}: {text[:300]}")
            if "model-select.value" in updates or "model-select.options" in updates:
                problems.append(f"{case.name}: the model list changed: {sorted(updates)}")
            if not server.alive():
                problems.append(f"{case.name}: the server died")
                break
        deadline = time.monotonic() + 120  # normal requests still complete after the last upload
        ok_after_uploads = traffic.ok
        while traffic.ok < ok_after_uploads + 2 and time.monotonic() < deadline and not traffic.errors:
            time.sleep(0.2)
    finally:
        traffic.stop.set()
        traffic.join(60)
    assert not problems, "\n".join(problems)
    assert not sentinel.exists(), "a pickle payload ran on the server"
    assert stored_files(store) == before, "a refused upload left files in the store"
    assert traffic.errors == [], traffic.errors[:5]
    assert traffic.ok > ok_before, "no normal request completed while the uploads went on"
    assert traffic.ok >= ok_after_uploads + 2, "normal requests stopped completing after the uploads"
    # still serving, for a new visitor too
    fresh = DashClient(server.url)
    fresh.initial_callbacks()
    assert fresh.value("model-select.options") == options
    assert [t for t, _ in sentence_works(fresh, "a good movie")] == ["a", "good", "movie"]


def test_valid_upload_after_the_hostile_ones_is_stored_by_sha256(server, tiny_env, client):
    data = hostile.valid_pt(seed=7)
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    updates = upload(client, "mine.pt", data)
    kind, text = alert_of(updates)
    assert kind == "alert success" and "mine.pt" in text
    assert updates["model-select.value"] == sha
    assert (tiny_env.store_dir / "checkpoints" / f"{sha}.pt").read_bytes() == data
    fresh = DashClient(server.url)
    assert sha in [o["value"] for o in fresh.value("model-select.options")]


def test_request_over_the_cap_is_refused_with_413_and_nothing_stored(server, tiny_env, client):
    before = stored_files(tiny_env.store_dir)
    big = hostile.valid_pt() + b"\0" * (3 * CAP)  # base64 of 3+ MiB > MAX_CONTENT_LENGTH
    with pytest.raises(DashError) as refused:
        upload(client, "big.pt", big)
    assert refused.value.status == 413
    assert stored_files(tiny_env.store_dir) == before
    assert requests.get(server.url + "/", timeout=30).status_code == 200


def test_file_over_the_cap_inside_the_request_limit_gets_a_message(server, tiny_env, client):
    before = stored_files(tiny_env.store_dir)
    kind, text = alert_of(upload(client, "slightly-big.safetensors", b"\1" * (CAP + 50_000)))
    assert kind == "alert error" and "larger than the 1.0 MiB upload limit" in text
    assert stored_files(tiny_env.store_dir) == before


@pytest.mark.parametrize("contents, fragment", [
    ("data:application/octet-stream;base64,@@@not base64@@@", "not base64"),
    ("no comma here", "malformed (no data part)"),
    ("", "No file was received"),
    (12345, "No file was received"),
    (["a", "list"], "No file was received"),
])
def test_malformed_upload_payloads_get_a_message(client, contents, fragment):
    kind, text = alert_of(upload(client, "x.pt", contents=contents))
    assert kind == "alert error" and fragment in text


def test_payload_that_is_not_an_object_is_refused(client):
    client.set("upload-payload.data", "just a string")
    updates = client.call(client.find(input="upload-payload.data"), ["upload-payload.data"])
    kind, text = alert_of(updates)
    assert kind == "alert error" and "No file was received" in text


@pytest.mark.parametrize("filename", [
    "../../../../../../tmp/rnnscope-pwned.pt",
    "<img src=x onerror=alert(1)>.pt",
    "line\nbreak\x00null\x1b[31m.pt",
    "ü" * 5000 + ".pt",
    None,
])
def test_filename_is_display_text_only(client, tiny_env, filename):
    import hashlib

    data = hostile.valid_pt(seed=11)
    sha = hashlib.sha256(data).hexdigest()
    before = stored_files(tiny_env.store_dir)
    kind, text = alert_of(upload(client, filename, data))
    assert kind == "alert success"
    new = stored_files(tiny_env.store_dir) - before
    assert new <= {f"checkpoints/{sha}.pt", f"checkpoints/{sha}.json"}
    assert not Path("/tmp/rnnscope-pwned.pt").exists()
    info = json.loads((tiny_env.store_dir / "checkpoints" / f"{sha}.json").read_text())
    shown = info["filename"]
    assert "/" not in shown and all(ch.isprintable() for ch in shown) and len(shown) <= 200
    # the label is a plain string child (Dash renders it as text, never as HTML)
    label = next(o["label"] for o in DashClient(client.url).value("model-select.options") if o["value"] == sha)
    assert isinstance(label, str) and "\n" not in label and len(label) <= 60


def test_dataset_name_from_the_client_cannot_read_server_files(client):
    secret = "root:x:0:0"
    assert secret in Path("/etc/passwd").read_text()
    client.set("dataset-select.value", "/etc/passwd")
    updates = client.fire({"dataset-select.value": "/etc/passwd"}, background=True)
    shown = json.dumps(updates)
    assert secret not in shown
    assert "Choose one of the listed datasets" in shown  # refused in words, no job started
    assert "job-request-store.data" not in updates


# --------------------------------------------------------------------------- fuzzed text


@pytest.fixture(scope="module")
def explorer(tiny_env):
    """The sentence explorer's service object and report ref, in process."""
    from rnnscope.app.services import Services
    from rnnscope.settings import Settings
    from tests.app.tiny import TINY_PARAMS, environ

    with environ(tiny_env.environ()):
        svc = Services(Settings.from_env(), analysis_params=dict(TINY_PARAMS))
        yield svc, {"key": tiny_env.key, "sha": tiny_env.sha, "data": "mr"}


NASTY = ["\ud800 lone surrogate \udfff", "\u202eevil right-to-left override", "\x00\x01\x1b[2J",
         "e\u0301" * 3000, "👩‍👩‍👧‍👦" * 500, "<script>alert(1)</script>", "good " * 2500, "\n" * 10_000]
#: Bound on the explorer's JSON response: 2,000 traced tokens and a 400-row table measured 0.94 MB.
MAX_RESPONSE_BYTES = 2_000_000


def _check_explorer_output(svc, ref, text: str) -> None:
    import plotly.utils

    from rnnscope.app.callbacks import sentence
    from rnnscope.app.services import MAX_SENTENCE_TOKENS

    out = sentence.run(svc, text, ref)
    size = len(json.dumps(out, cls=plotly.utils.PlotlyJSONEncoder))
    assert size < MAX_RESPONSE_BYTES
    trace = svc.sentence(ref, text)
    model = svc.model_of(ref["key"])
    assert len(trace) <= MAX_SENTENCE_TOKENS
    assert list(trace.known) == [model.vocab.index.get(t, 1) >= 2 for t in trace.tokens]
    if not len(trace):
        return
    unknown = [t for t, k in zip(trace.tokens, trace.known) if not k]
    alerts = json.dumps(out[4], cls=plotly.utils.PlotlyJSONEncoder) if out[4] else ""
    assert (f"{len(unknown)} token(s) not in the vocabulary" in alerts) == bool(unknown)
    rows = table_tokens(json.loads(json.dumps(out[1], cls=plotly.utils.PlotlyJSONEncoder)))
    assert len(rows) == min(len(trace), 400)
    assert [cls == "unk" for _, cls in rows] == [not k for k in trace.known[:400]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(text=st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=10_000),
    st.lists(st.sampled_from(["good", "bad", "movie", "not", "the", "zzzqx", "ñandú", "!", "<br />", "\t"]),
             max_size=3000).map(" ".join)))
@example(text="")
@example(text="x" * 10_000)
@example(text=" ".join(f"w{i}" for i in range(3000)))
def test_fuzzed_text_in_the_sentence_explorer(explorer, text):
    svc, ref = explorer
    _check_explorer_output(svc, ref, text)


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
def test_nasty_text_through_http(client, tiny_env, explorer, text):
    svc, ref = explorer
    vocab = svc.model(tiny_env.sha).vocab.index
    client.set("report-store.data", ref)
    client.set("sentence-input.value", text)
    client.set("sentence-run.n_clicks", (client.value("sentence-run.n_clicks") or 0) + 1)
    updates = client.call(client.find(input="sentence-run.n_clicks"), ["sentence-run.n_clicks"])
    if updates["sentence-tokens.children"] is None:  # nothing to trace: said so
        assert "No tokens" in json.dumps(updates["sentence-alert.children"])
        assert not svc.model(tiny_env.sha).tokenizer(text)
        return
    rows = table_tokens(updates["sentence-tokens.children"])
    assert 0 < len(rows) <= 400
    assert [cls == "unk" for _, cls in rows] == [vocab.get(tok, 1) < 2 for tok, _ in rows]


@pytest.mark.parametrize("text", ["\ufdfa" * 300_000, "good " * 10_000], ids=["nfkc-expansion", "50-kB"])
def test_long_text_is_cut_before_it_is_cached_or_echoed(client, tiny_env, explorer, text):
    """300k x U+FDFA (18 characters each after NFKC) and a 50 kB sentence: the response stays
    under the bound, the text sent back and the cache key hold at most MAX_SENTENCE_CHARS, and
    the page says the text was cut."""
    from rnnscope.app.services import MAX_SENTENCE_CHARS

    svc, ref = explorer
    client.set("report-store.data", ref)
    client.set("sentence-input.value", text)
    client.set("sentence-run.n_clicks", (client.value("sentence-run.n_clicks") or 0) + 1)
    updates = client.call(client.find(input="sentence-run.n_clicks"), ["sentence-run.n_clicks"])
    assert len(json.dumps(updates)) < MAX_RESPONSE_BYTES
    echoed = [v for v in updates.values() if isinstance(v, dict) and "text" in v]
    assert echoed and all(len(v["text"]) <= MAX_SENTENCE_CHARS for v in echoed)
    assert f"longer than {MAX_SENTENCE_CHARS:,} characters" in json.dumps(updates)
    from rnnscope.app.callbacks import sentence  # the same callback in process: what it caches

    sentence.run(svc, text, ref)
    assert svc.sentences.keys() and all(len(key[1]) <= MAX_SENTENCE_CHARS for key in svc.sentences.keys())


@pytest.mark.parametrize("index", [10**9, -1, "abc", None, 1.5, True, [0], {"a": 1}],
                         ids=["huge", "negative", "string", "missing", "float", "bool", "list", "dict"])
def test_hostile_point_index_is_answered_not_a_500(client, explorer, index):
    """The word lookup and the point selection with an index the page never sends: HTTP 200,
    the lookup asks for a point, the selection leaves the views as they are."""
    from rnnscope.bench.load import DashError

    svc, ref = explorer
    selection = {"key": ref["key"]} if index is None else {"key": ref["key"], "index": index}
    client.set("report-store.data", ref)
    client.set("selected-fp-store.data", selection)
    client.set("word-input.value", "good")
    try:
        updates = client.call(client.find(output="word-result.children"), ["selected-fp-store.data"])
        client.call(client.find(input="selected-fp-store.data", output="fp-summary.children"),
                    ["selected-fp-store.data"])
    except DashError as exc:  # an HTTP error status
        pytest.fail(f"index {index!r}: {exc}")
    assert "Select a fixed point" in json.dumps(updates)


# --------------------------------------------------------------------------- bad data files


# the loaders' own cases are in tests/unit/test_data.py; here: the real command's exit status and files
@pytest.mark.parametrize("content, fragment", [
    (b"\x89PNG\r\n\x1a\n\x00\x00binary\xff\xfe" * 50, "PNG image, not a text dataset"),
    (b"text,label\n" + b"a fine film,pos\n" * 40, "one class only"),
])
def test_train_on_a_bad_data_file_exits_2_and_writes_nothing(tmp_path, content, fragment):
    data = tmp_path / "bad.csv"
    data.write_bytes(content)
    home, out = tmp_path / "home", tmp_path / "out"
    out.mkdir()
    result = subprocess.run([RNNSCOPE, "train", "--arch", "gru", "--data", str(data), "--out",
                             str(out / "m.safetensors"), "--epochs", "1", "--quiet", "--home", str(home)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith("error: ") and fragment in result.stderr and "Traceback" not in result.stderr
    assert list(out.iterdir()) == []
    assert not home.exists() or [p for p in home.rglob("*") if p.is_file()] == []


# --------------------------------------------------------------------------- the load tool itself


def test_load_tool_drives_the_server_without_errors(server):
    """A short ``bench/load.py`` run: 3 users, every action, zero errors (no timing asserted)."""
    from rnnscope.bench.load import main, run_load, summarize

    mix = {"sentence": 1, "click": 1, "switch": 1}
    timings, failures, wall, models = run_load(server.url, 3, 20.0, think_ms=50, mix=mix, match="(demo)",
                                               warmup_timeout_s=600, log=lambda _: None)
    assert [m.label for m in models] == ["GRU · MR (demo)"] and models[0].n_points > 0
    assert failures == [] and [t for t in timings if t.error] == []
    rows = {(kind, name): n for kind, name, n, *_ in summarize(timings, wall)}
    assert all(rows.get(("action", a), 0) > 0 for a in ("page", "sentence", "click", "switch")), rows
    assert main(["--url", "http://192.0.2.1:8050", "--seconds", "1"]) == 2  # loopback only
    assert main(["--url", server.url, "--mix", "dance=1"]) == 2
