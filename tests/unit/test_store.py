"""The content-addressed artifact store: keys, atomic writes, permissions, compute-once."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import stat
import time
from pathlib import Path

import numpy as np
import pytest

from rnnscope.workers.store import (ArtifactNotFound, ArtifactStore, StoreError, checkpoint_format,
                           content_key)

# spawn, not fork: the parent may hold threads (Celery clients, torch) that a fork would copy mid-lock
CTX = multiprocessing.get_context("spawn")
REDIS_TEST_URL = "redis://127.0.0.1:6379/11"
KEY = hashlib.sha256(b"some job").hexdigest()


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store", redis_url="")


def safetensors_bytes() -> bytes:
    from safetensors.numpy import save

    return save({"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, metadata={"rnnscope": "{}"})


# --- keys -------------------------------------------------------------------------------------
def test_key_independent_of_param_order():
    a = content_key("full_analysis", "ab" * 32, {"n_seeds": 512, "n_docs": 100, "tol": 1e-8},
                    "imdb", "1.0")
    b = content_key("full_analysis", "ab" * 32, {"tol": 1e-8, "n_docs": 100, "n_seeds": 512},
                    "imdb", "1.0")
    assert a == b and len(a) == 64 and int(a, 16) >= 0


def test_key_changes_with_every_input():
    base = dict(job="full_analysis", checkpoint_sha256="ab" * 32, params={"n_seeds": 512},
                data_id="imdb", version="1.0")
    key = content_key(**base)
    for field, other in [("job", "fixed_points"), ("checkpoint_sha256", "cd" * 32),
                         ("params", {"n_seeds": 513}), ("data_id", "mr"), ("version", "1.1")]:
        assert content_key(**{**base, field: other}) != key, field


def test_key_accepts_numpy_scalars_and_refuses_nan():
    a = content_key("j", "ab" * 32, {"n": np.int64(3), "x": np.float64(0.5)}, "d", "1")
    assert a == content_key("j", "ab" * 32, {"n": 3, "x": 0.5}, "d", "1")
    with pytest.raises(ValueError):
        content_key("j", "ab" * 32, {"x": float("nan")}, "d", "1")


# --- round trips --------------------------------------------------------------------------------
def test_bytes_arrays_json_round_trip(store):
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(3)]
    store.put_bytes(keys[0], b"\x00\x01raw")
    arrays = {"a": np.arange(5.0), "words": np.array(["good", "bad"]), "c": np.eye(2, dtype=np.complex128)}
    store.put_arrays(keys[1], arrays)
    store.put_json(keys[2], {"n": 3, "names": ["x"]})
    assert store.get_bytes(keys[0]) == b"\x00\x01raw"
    got = store.get_arrays(keys[1])
    assert set(got) == set(arrays) and all(np.array_equal(got[k], arrays[k]) for k in arrays)
    assert got["c"].dtype == np.complex128
    assert store.get_json(keys[2]) == {"n": 3, "names": ["x"]}
    assert all(store.exists(k) for k in keys)


def test_missing_and_malformed_keys(store):
    assert not store.exists(KEY)
    with pytest.raises(ArtifactNotFound, match="no artifact"):
        store.get_bytes(KEY)
    for bad in ("../../etc/passwd", KEY.upper(), KEY[:-1], ""):
        with pytest.raises(ValueError, match="invalid key"):
            store.put_bytes(bad, b"x")


def test_object_arrays_are_refused(store):
    with pytest.raises(TypeError, match="object"):
        store.put_arrays(KEY, {"bad": np.array([{"a": 1}], dtype=object)})
    assert not store.exists(KEY)


def test_report_round_trip_and_second_put_keeps_one(store):
    from rnnscope.analysis.report import Report

    report = Report(summary={"version": "t", "n": 2},
                    arrays={"fixed_points": np.ones((2, 3), np.float32), "words": np.array(["a", "b"])})
    path = store.put_report(KEY, report)
    assert path == store.report_dir(KEY) and sorted(p.name for p in path.iterdir()) == ["arrays.npz", "report.json"]
    again = store.put_report(KEY, report)
    assert again == path
    got = store.get_report(KEY)
    assert got.summary["n"] == 2 and np.array_equal(got.arrays["fixed_points"], report.arrays["fixed_points"])
    assert list((store.root / "tmp").iterdir()) == []


# --- permissions and errors ------------------------------------------------------------------------
def test_directories_are_private(store):
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    for sub in ("checkpoints", "reports", "locks", "tmp", "arrays"):
        assert stat.S_IMODE((store.root / sub).stat().st_mode) == 0o700
    path = store.put_bytes(KEY, b"x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_root_is_made_private(tmp_path):
    root = tmp_path / "shared"
    root.mkdir(mode=0o755)
    ArtifactStore(root, redis_url="")
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


def test_unwritable_root_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="not a writable directory.*RNNSCOPE_STORE"):
        ArtifactStore(blocker / "store", redis_url="")
    with pytest.raises(StoreError, match="not a writable directory"):
        ArtifactStore(blocker, redis_url="")


# --- atomicity ----------------------------------------------------------------------------------
def test_failed_write_leaves_nothing(store, monkeypatch):
    def half_then_crash(fh, **arrays):
        fh.write(b"PK\x03\x04 half an npz")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        store.put_arrays(KEY, {"a": np.zeros(3)})
    assert not store.exists(KEY)
    assert list((store.root / "tmp").iterdir()) == []


class _SlowReport:
    """Saves like a Report but stalls between its two files (a job killed mid-write)."""

    def __init__(self, ready):
        self.ready = ready

    def save(self, directory):
        directory = Path(directory)
        directory.mkdir(parents=True)
        (directory / "report.json").write_text(json.dumps({"format": "rnnscope-report/1"}))
        self.ready.set()
        time.sleep(60)
        (directory / "arrays.npz").write_bytes(b"never written")


def _put_slow_report(root: str, ready) -> None:
    ArtifactStore(root, redis_url="").put_report(KEY, _SlowReport(ready))


def test_sigkill_during_report_write_leaves_no_partial_artifact(store):
    ready = CTX.Event()
    child = CTX.Process(target=_put_slow_report, args=(str(store.root), ready), daemon=True)
    child.start()
    assert ready.wait(30)
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    assert not store.exists(KEY) and not store.report_dir(KEY).exists()
    with pytest.raises(ArtifactNotFound):
        store.get_report(KEY)
    # the half-written report is only in tmp/, and a fresh writer succeeds
    assert any((store.root / "tmp").iterdir())
    from rnnscope.analysis.report import Report

    ArtifactStore(store.root, redis_url="").put_report(KEY, Report({"ok": 1}, {"a": np.zeros(2)}))
    assert store.get_report(KEY).summary["ok"] == 1


# --- checkpoints ----------------------------------------------------------------------------------
def test_checkpoints_are_stored_by_sha256(store):
    data = safetensors_bytes()
    sha = store.put_checkpoint(data, "../../etc/my model.safetensors")
    assert sha == hashlib.sha256(data).hexdigest()
    path = store.checkpoint_path(sha)
    assert path == store.root / "checkpoints" / f"{sha}.safetensors" and path.read_bytes() == data
    info = store.checkpoint_info(sha)
    assert info["filename"] == "my model.safetensors" and info["size"] == len(data)
    assert store.put_checkpoint(data, "other-name.safetensors") == sha  # same bytes, same entry
    assert [i["sha256"] for i in store.list_checkpoints()] == [sha]


def test_has_checkpoint_and_has_dataset_say_whether_the_bytes_are_stored(store):
    data = safetensors_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert not store.has_checkpoint(sha) and not store.has_dataset(sha)
    assert store.put_checkpoint(data, "m.safetensors") == sha
    assert store.has_checkpoint(sha) and not store.has_dataset(sha)  # each kind in its own place
    pt = b"PK\x03\x04" + b"\x00" * 20  # the other container: found under its own suffix
    assert store.has_checkpoint(store.put_checkpoint(pt, "m.pt"))
    rows = b"text,label\ngood,1\nbad,0\n"
    ds = store.put_dataset(rows, {"filename": "reviews.tsv", "format": "csv"})
    assert store.has_dataset(ds) and not store.has_checkpoint(ds)
    assert store.dataset_path(ds).name == f"{ds}.data.csv"
    txt = store.put_dataset(b"good\t1\n", {"filename": "notes"})  # no known suffix: txt, sniffed
    assert store.has_dataset(txt) and store.dataset_path(txt).suffix == ".txt"
    for bad in ("0" * 63, "G" * 64, "../" + "0" * 61, None):  # a malformed sha256 is an error, as for the paths
        with pytest.raises(ValueError, match="expected 64 lowercase hex"):
            store.has_checkpoint(bad)
        with pytest.raises(ValueError, match="expected 64 lowercase hex"):
            store.has_dataset(bad)


def test_checkpoint_format_and_rejections(store):
    assert checkpoint_format(b"PK\x03\x04" + b"\x00" * 20) == "pt"
    assert checkpoint_format(safetensors_bytes()) == "safetensors"
    for junk in (b"", b"hello world, not a model", b"\xff" * 64):
        with pytest.raises(ValueError, match="not a checkpoint"):
            store.put_checkpoint(junk, "x.pt")
    with pytest.raises(ValueError, match="limit"):
        store.put_checkpoint(safetensors_bytes(), "x.safetensors", max_bytes=10)
    with pytest.raises(ArtifactNotFound):
        store.checkpoint_path("0" * 64)
    assert store.list_checkpoints() == []


# --- compute once -----------------------------------------------------------------------------------
def _compute_after_barrier(root: str, redis_url: str, barrier, results) -> None:
    store = ArtifactStore(root, redis_url=redis_url, lock_ttl_s=2)

    def compute():
        time.sleep(0.5)  # long enough that the other process arrives while we hold the lock
        store.put_json(KEY, {"pid": os.getpid()})

    barrier.wait()
    computed = store.compute_once(KEY, compute, label="test")
    results.put((os.getpid(), computed, store.get_json(KEY)["pid"]))


@pytest.mark.parametrize("redis_url", ["", pytest.param(REDIS_TEST_URL, marks=pytest.mark.redis)])
def test_two_processes_compute_once(tmp_path, redis_url):
    root = str(tmp_path / "store")
    ArtifactStore(root, redis_url="")
    barrier, results = CTX.Barrier(2), CTX.Queue()
    procs = [CTX.Process(target=_compute_after_barrier, daemon=True,
                          args=(root, redis_url, barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    rows = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    assert sorted(computed for _, computed, _ in rows) == [False, True]
    winner = next(pid for pid, computed, _ in rows if computed)
    assert {stored for _, _, stored in rows} == {winner}
    log = ArtifactStore(root, redis_url="").computations(KEY)
    assert len(log) == 1 and log[0]["pid"] == winner and log[0]["label"] == "test"


def test_compute_once_skips_when_present_and_checks_fn_stored(store):
    calls = []
    assert store.compute_once(KEY, lambda: (calls.append(1), store.put_bytes(KEY, b"v")))
    assert not store.compute_once(KEY, lambda: calls.append(2))
    assert calls == [1]
    other = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(StoreError, match="without storing"):
        store.compute_once(other, lambda: None)
    assert len(store.computations(event="started")) == 2 and len(store.computations()) == 1


def _hold_lock_forever(root: str, redis_url: str, ready) -> None:
    store = ArtifactStore(root, redis_url=redis_url, lock_ttl_s=1)

    def stall():
        ready.set()
        time.sleep(3600)

    store.compute_once(KEY, stall)


@pytest.mark.parametrize("redis_url", ["", pytest.param(REDIS_TEST_URL, marks=pytest.mark.redis)])
def test_lock_of_a_killed_holder_does_not_block(tmp_path, redis_url):
    root = str(tmp_path / "store")
    store = ArtifactStore(root, redis_url=redis_url, lock_ttl_s=1)
    ready = CTX.Event()
    holder = CTX.Process(target=_hold_lock_forever, args=(root, redis_url, ready), daemon=True)
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(StoreError, match="timed out"):  # alive holder: we really wait
            store.compute_once(KEY, lambda: store.put_bytes(KEY, b"x"), timeout_s=0.5)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
    holder.join(10)
    assert store.compute_once(KEY, lambda: store.put_bytes(KEY, b"x"), timeout_s=20)
    assert store.get_bytes(KEY) == b"x"


def _hold_redis_lock(root: str, hold_s: float, go, acquired, spans) -> None:
    store = ArtifactStore(root, redis_url=REDIS_TEST_URL, lock_ttl_s=0.6)
    go.wait(30)
    with store.lock(KEY, timeout_s=30):
        acquired.set()
        start = time.time()
        time.sleep(hold_s)
        spans.put((hold_s, start, time.time()))


@pytest.mark.redis
def test_redis_lock_excludes_across_separate_stores_and_is_renewed(tmp_path):
    """Two stores that share only Redis (as on two machines) never hold a key at once,
    even when the first holds it for longer than the lock's TTL (the renewal thread)."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.delete(f"rnnscope:lock:{KEY}")
    go_first, first_has_it, never = CTX.Event(), CTX.Event(), CTX.Event()
    spans = CTX.Queue()
    first = CTX.Process(target=_hold_redis_lock,
                         args=(str(tmp_path / "a"), 2.0, go_first, first_has_it, spans), daemon=True)
    second = CTX.Process(target=_hold_redis_lock,
                          args=(str(tmp_path / "b"), 0.1, first_has_it, never, spans), daemon=True)
    first.start()
    second.start()
    go_first.set()
    got = dict((hold, (start, end)) for hold, start, end in (spans.get(timeout=30) for _ in range(2)))
    for p in (first, second):
        p.join(10)
        assert p.exitcode == 0
    (s1, e1), (s2, _) = got[2.0], got[0.1]
    assert e1 - s1 > 3 * 0.6  # held for more than three TTLs: renewed while held
    assert s2 >= e1  # the second store got the lock only after the first released it
    assert client.pttl(f"rnnscope:lock:{KEY}") == -2  # released, not left to expire
