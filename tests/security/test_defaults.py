"""Safe defaults: loopback bind, a warning when exposed, the secret key, the upload cap,
JSON-only Celery, weights-only ``torch.load`` everywhere, a private store."""
from __future__ import annotations

import ast
import os
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from rnnscope.bench.load import DashClient, walk_layout
from tests.security.conftest import serve, server_env
from tests.unit.test_checkpoint import Evil

REPO = Path(__file__).resolve().parents[2]
SECRET = "test-secret-4f1c2b7e9a0d"


def _settings(tmp_path, **env):
    from rnnscope.settings import Settings

    return Settings.from_env({"RNNSCOPE_HOME": str(tmp_path / "home"), "RNNSCOPE_STORE": str(tmp_path / "store"),
                              "RNNSCOPE_DEMO_DIR": str(tmp_path / "no-demos"), **env})


# --------------------------------------------------------------------------- bind address


def non_loopback_address() -> str | None:
    """This machine's outward IPv4 address, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def twin_servers(tiny_env, tmp_path_factory):
    """Two servers on one store and home, both with ``RNNSCOPE_SECRET_KEY`` set, default host."""
    root = tmp_path_factory.mktemp("twins")
    env = server_env(tiny_env, RNNSCOPE_SECRET_KEY=SECRET)
    with serve(env, root / "a.log") as a, serve(env, root / "b.log") as b:
        yield a, b


def test_serve_binds_loopback_by_default(twin_servers):
    import psutil

    from rnnscope.app.cli import build_parser

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    server = twin_servers[0]
    listening = [c.laddr for c in psutil.Process(server.proc.pid).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and {addr.ip for addr in listening} == {"127.0.0.1"}
    assert {addr.port for addr in listening} == {server.port}
    outward = non_loopback_address()
    if outward is not None:  # the same port on the machine's own network address is closed
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{outward}:{server.port}/", timeout=5)


def test_serve_with_workers_runs_gunicorn_processes_on_loopback(tiny_env, tmp_path):
    """``--workers 2``: gunicorn with two worker processes sharing one secret key; every
    page request and callback is answered, whichever process takes it."""
    import psutil

    env = server_env(tiny_env)
    env.pop("RNNSCOPE_SECRET_KEY", None)
    with serve(env, tmp_path / "gunicorn.log", "--workers", "2") as server:
        master = psutil.Process(server.proc.pid)
        assert "gunicorn" in " ".join(master.cmdline())
        deadline = time.monotonic() + 120
        while len(master.children()) < 2:
            assert time.monotonic() < deadline, "gunicorn did not start its workers"
            time.sleep(0.2)
        keys = {p.environ().get("RNNSCOPE_SECRET_KEY") for p in master.children()}
        assert len(keys) == 1 and None not in keys and len(keys.pop()) == 64
        listening = [c.laddr for c in master.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert {addr.ip for addr in listening} == {"127.0.0.1"}
        for _ in range(6):  # requests spread over both workers; each page works end to end
            client = DashClient(server.url)
            client.initial_callbacks()
            assert client.value("report-store.data")["key"] == tiny_env.key


@pytest.mark.parametrize("extra, message", [(["--workers", "0"], "--workers must be in 1..64"),
                                            (["--workers", "2", "--debug"], "use it with --workers 1")])
def test_bad_worker_options_exit_2(extra, message, capsys):
    from rnnscope.app.cli import main

    assert main(["serve", *extra]) == 2
    assert message in capsys.readouterr().err


class _FakeApp:
    """Stands in for the Dash app: records how ``run`` was called (nothing is bound)."""

    def __init__(self):
        self.rnnscope_services = type("S", (), {"store": None})()
        self.calls = []

    def run(self, **kwargs):
        self.calls.append(kwargs)


@pytest.mark.parametrize("host, warned", [("0.0.0.0", True), ("::", True), ("192.168.1.20", True),
                                          ("example.org", True), ("127.0.0.1", False),
                                          ("localhost", False), ("::1", False), ("127.0.0.2", False)])
def test_non_loopback_host_gets_a_warning(monkeypatch, capsys, host, warned):
    import rnnscope.app.dashboard as dashboard
    from rnnscope.app.cli import main

    fake = _FakeApp()
    monkeypatch.setattr(dashboard, "create_app", lambda: fake)
    assert main(["serve", "--host", host, "--port", "8123"]) == 0
    err = capsys.readouterr().err
    assert ("warning: binding" in err and "no authentication" in err) == warned
    assert fake.calls == [{"host": host, "port": 8123, "debug": False}]


# --------------------------------------------------------------------------- secret key


def test_secret_key_comes_from_the_environment(monkeypatch, tmp_path):
    from rnnscope.app.dashboard import create_app

    monkeypatch.delenv("RNNSCOPE_SECRET_KEY", raising=False)
    random_keys = {create_app(_settings(tmp_path)).server.secret_key for _ in range(2)}
    assert len(random_keys) == 2 and all(len(k) >= 64 for k in random_keys)  # unset: random, 256 bits
    # the environment as Settings.from_env reads it (create_app() without settings reads os.environ)
    settings = _settings(tmp_path, RNNSCOPE_SECRET_KEY=SECRET)
    assert create_app(settings).server.secret_key == SECRET
    assert SECRET not in repr(settings)  # a logged Settings does not show the key


def test_secret_key_is_shared_across_processes(twin_servers, tiny_env):
    """A background job started on server B for a page loaded from server A is answered by A.

    Dash signs the page token and the job handles with the Flask secret key, so with several
    web processes (gunicorn workers) they must share ``RNNSCOPE_SECRET_KEY``. A handle
    re-signed with any other key is refused.
    """
    from dash import _callback_signing as signing

    a, b = twin_servers
    page_a = DashClient(a.url)
    on_b = DashClient(b.url)
    on_b.end_id = page_a.end_id  # the browser keeps the token of the page it loaded
    on_b.set("job-request-store.data", {"sha": tiny_env.sha, "data": "mr", "at": 1})
    job = on_b.find(input="job-request-store.data")
    body = on_b.payload(job, ["job-request-store.data"])
    handles = on_b.post(body).json()
    end_id = signing.unsign(SECRET.encode(), signing.END_SCOPE, page_a.end_id)
    assert end_id is not None  # A's token verifies with the configured key
    raw_key = signing.unsign(SECRET.encode(), signing.cache_scope(end_id), handles["cacheKey"])
    raw_job = signing.unsign(SECRET.encode(), signing.job_scope(end_id), handles["job"])
    assert raw_key and raw_job  # B signed its handles with the same key
    poll = {**body, "inputs": [{**i, "value": None} for i in body["inputs"]]}
    forged = {"cacheKey": signing.sign(b"another-key", signing.cache_scope(end_id), raw_key),
              "job": signing.sign(b"another-key", signing.job_scope(end_id), raw_job)}
    result = None
    for _ in range(300):
        answer = page_a.post(poll, params=handles)
        if answer.status_code == 200 and "response" in answer.json():
            result = answer.json()["response"]
            break
        time.sleep(0.3)
    assert result is not None, "server A never returned the job started on server B"
    assert result["job-result-store"]["data"]["key"] == tiny_env.key
    refused = page_a.post(poll, params=forged)
    assert refused.status_code == 204  # no result for a handle signed with another key


# --------------------------------------------------------------------------- upload cap


@pytest.mark.parametrize("mb", [1, 3, 200])
def test_upload_cap_follows_the_environment(tmp_path, mb):
    from rnnscope.app.dashboard import create_app, max_request_bytes

    app = create_app(_settings(tmp_path, RNNSCOPE_MAX_UPLOAD_MB=str(mb)))
    cap = mb * 2**20
    limit = app.server.config["MAX_CONTENT_LENGTH"]
    assert limit == max_request_bytes(cap)
    assert 4 * cap / 3 < limit <= 4 * cap / 3 + 2 * 2**20  # the base64 form of the cap, plus the envelope
    layout = app.server.test_client().get("/_dash-layout").get_json()
    props = {}
    walk_layout(layout, props)
    assert props["upload-limit"]["data"] == cap  # the browser's own check uses the same number
    over = app.server.test_client().post("/_dash-update-component", data=b"x" * (limit + 1),
                                         content_type="application/json")
    assert over.status_code == 413


def test_default_upload_cap_is_200_mib(tmp_path):
    assert _settings(tmp_path).max_upload_bytes == 200 * 2**20


@pytest.mark.parametrize("value", ["0", "-5", "lots", "1.5"])
def test_bad_upload_cap_stops_serve_with_a_message(monkeypatch, capsys, tmp_path, value):
    from rnnscope.app.cli import main

    for key, val in {"RNNSCOPE_HOME": tmp_path / "h", "RNNSCOPE_STORE": tmp_path / "s",
                     "RNNSCOPE_MAX_UPLOAD_MB": value}.items():
        monkeypatch.setenv(key, str(val))
    assert main(["serve", "--port", "8124"]) == 2
    assert "RNNSCOPE_MAX_UPLOAD_MB must be a positive integer" in capsys.readouterr().err


# --------------------------------------------------------------------------- Celery


def test_celery_accepts_json_only(tmp_path):
    from kombu.exceptions import ContentDisallowed
    from kombu.serialization import dumps, loads, prepare_accept_content

    from rnnscope.workers.celery_app import celery_app, make_celery

    accept = prepare_accept_content(celery_app.conf.accept_content)  # as the worker's consumer does
    for app in (celery_app, make_celery(_settings(tmp_path, REDIS_URL="redis://127.0.0.1:1/0"))):
        conf = app.conf
        assert conf.accept_content == ["json"] and conf.result_accept_content == ["json"]
        assert conf.task_serializer == conf.result_serializer == conf.event_serializer == "json"
    # what a worker does with a message body: a pickled one is refused before it is decoded
    sentinel = tmp_path / "SENTINEL"
    content_type, encoding, body = dumps(Evil(sentinel), serializer="pickle")
    with pytest.raises(ContentDisallowed):
        loads(body, content_type, encoding, accept=accept)
    assert not sentinel.exists()
    content_type, encoding, body = dumps({"a": 1}, serializer="json")
    assert loads(body, content_type, encoding, accept=accept) == {"a": 1}


# --------------------------------------------------------------------------- no unpickling


def _python_files() -> list[Path]:
    """The repository's own .py files (virtual environments and caches pruned)."""
    skip = {".venv", "venv", ".git", "node_modules", "build", "dist", ".pytest_cache", ".hypothesis",
            "__pycache__", "models"}
    files = []
    for root, dirs, names in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in skip and not d.endswith(".egg-info")]
        files += [Path(root) / n for n in names if n.endswith(".py")]
    return files


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def test_torch_load_is_always_weights_only():
    """Every ``torch.load`` call in the repository passes ``weights_only=True`` literally."""
    found, bad = [], []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        aliases = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                   and n.module in ("torch", "torch.serialization") for a in n.names if a.name == "load"}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            if name in ("torch.load", "torch.serialization.load") or name in aliases:
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                found.append(where)
                flag = next((k.value for k in node.keywords if k.arg == "weights_only"), None)
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    bad.append(where)
    assert any(w.startswith("analysis/pt_format.py") for w in found), found  # the scan sees the loader
    assert bad == [], f"torch.load without weights_only=True: {bad}"


def test_product_code_never_unpickles():
    """No pickle/joblib/dill loads, no ``allow_pickle=True``, no ``torch.jit.load`` outside tests."""
    banned = {"pickle.load", "pickle.loads", "pickle.Unpickler", "cPickle.load", "joblib.load", "dill.load",
              "dill.loads", "torch.jit.load", "shelve.open", "marshal.loads"}
    bad = []
    for path in _python_files():
        rel = path.relative_to(REPO)
        if rel.parts[0] == "tests":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = _dotted(node.func)
                if name in banned:
                    bad.append(f"{rel}:{node.lineno} {name}")
                if any(k.arg == "allow_pickle" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                       for k in node.keywords):
                    bad.append(f"{rel}:{node.lineno} allow_pickle not literally False")
    assert bad == [], bad


# --------------------------------------------------------------------------- private store


def test_store_is_private_whatever_the_umask(tmp_path):
    from rnnscope.workers.store import ArtifactStore

    from rnnscope.analysis.report import Report
    from rnnscope.app.dashboard import create_app

    old = os.umask(0o022)
    try:
        store = ArtifactStore(tmp_path / "store", redis_url="")
        sha = store.put_checkpoint(b"PK\x03\x04" + b"\0" * 60, "x.pt")
        report_dir = store.put_report("ab" * 32, Report({"format": "x"}, {"a": np.zeros(3)}))
        create_app(_settings(tmp_path))  # makes $RNNSCOPE_HOME/dash-jobs
    finally:
        os.umask(old)
    for directory in [store.root, *[p for p in store.root.iterdir() if p.is_dir()], report_dir,
                      tmp_path / "home" / "dash-jobs"]:
        assert directory.stat().st_mode & 0o777 == 0o700, directory
    assert store.checkpoint_path(sha).stat().st_mode & 0o777 == 0o600
    for item in report_dir.iterdir():  # report.json and arrays.npz
        assert item.stat().st_mode & 0o777 == 0o600, item


# --------------------------------------------------------------------------- cross-site requests


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_callbacks_refuse_bodies_a_cross_site_form_can_send(tmp_path, content_type):
    """A page on another site can POST these types without a CORS preflight; Dash answers 415.

    (``application/json`` from another origin needs a preflight, which this server never grants.)
    """
    from rnnscope.app.dashboard import create_app

    client = create_app(_settings(tmp_path)).server.test_client()
    body = '{"output": "job-alert.children", "outputs": {}, "inputs": [], "changedPropIds": []}'
    assert client.post("/_dash-update-component", data=body, content_type=content_type).status_code == 415
    preflight = client.open("/_dash-update-component", method="OPTIONS",
                            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
