"""Sweeps: a grid of networks trained and analysed, here and on two real ``rnnscope worker``
processes on Redis (database 14, flushed first), on the real MR data (tiny networks, one
epoch, small analyses: seconds per cell)."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

from rnnscope.analysis import data
from rnnscope.settings import Settings
from rnnscope.workers import sweeps
from rnnscope.workers.store import ArtifactStore
from rnnscope.workers.sweeps import SweepSpec, cell_name
from tests.celery_helpers import RNNSCOPE, running_worker
from tests.sweep_helpers import ANALYSIS, TRAIN, tiny_spec

REDIS_URL = "redis://127.0.0.1:6379/14"


def spec(**change) -> SweepSpec:
    return tiny_spec(**change)


@pytest.fixture(scope="module")
def env(rnnscope_home, tmp_path_factory) -> dict:
    data.fetch("mr", rnnscope_home)
    root = tmp_path_factory.mktemp("sweeps")
    return {**os.environ, "REDIS_URL": REDIS_URL, "RNNSCOPE_STORE": str(root / "store"),
            "RNNSCOPE_HOME": str(rnnscope_home), "RNNSCOPE_LOCK_TTL_S": "2",
            "RNNSCOPE_DEMO_DIR": str(root / "no-demos")}


@pytest.mark.parametrize("change, words", [
    ({"archs": ("gru", "transformer")}, "architectures must be distinct names"),
    ({"archs": ("gru", "gru")}, "architectures must be distinct names"),
    ({"seeds": 0}, "seeds must be a whole number"),
    ({"hidden": (0,)}, "hidden sizes must be whole numbers"),
    ({"train": {"arch": "lstm"}}, "training option(s) arch cannot be set"),
    ({"train": {"epochs": 0}}, "epochs"),
    ({"analysis": {"n_sedes": 3}}, "n_sedes"),
])
def test_a_bad_spec_is_refused_in_words(change, words):
    with pytest.raises(ValueError) as err:
        spec(**change)
    assert words in str(err.value)


def test_the_same_spec_is_the_same_sweep_and_keys_ignore_where_it_runs(monkeypatch):
    a, b = spec(), SweepSpec.from_dict(spec().to_dict())
    assert a.sweep_id() == b.sweep_id() and a.sweep_id() != spec(seeds=3).sweep_id()
    cell = a.cells()[0]
    key = sweeps.train_key(a, cell)
    monkeypatch.setenv("RNNSCOPE_DEVICE", "cuda")
    assert sweeps.train_config(a, cell).device == "cuda" and sweeps.train_key(a, cell) == key
    assert sweeps.train_key(a, a.cells()[1]) != key  # another seed
    assert len(a.cells()) == 4 and [cell_name(c) for c in a.cells()][:2] == ["gru-h8-s0", "gru-h8-s1"]


def test_a_sweep_here_computes_each_cell_once_and_a_rerun_nothing(env, monkeypatch):
    for name in ("RNNSCOPE_STORE", "RNNSCOPE_HOME"):
        monkeypatch.setenv(name, env[name])
    store = ArtifactStore(env["RNNSCOPE_STORE"], redis_url="")
    told = []
    first = sweeps.run_here(spec(), store, on_cell=lambda i, n, c, what: told.append((cell_name(c), what)))
    assert all(s["done"] for s in first) and len({s["checkpoint"] for s in first}) == 4
    assert [w for _, w in told] == ["running", "done"] * 4
    started = len(store.computations(event="started"))
    assert started == 8  # 4 trainings + 4 analyses
    told.clear()
    again = sweeps.run_here(spec(), store, on_cell=lambda i, n, c, what: told.append(what))
    assert again == first and told == ["cached"] * 4
    assert len(store.computations(event="started")) == started
    rows = [sweeps.summary_row(store, s) for s in again]
    assert all(0.4 < r["test_accuracy"] < 1 and r["attractor"] and r["points"] >= 1 for r in rows)
    table = sweeps.format_table(rows)
    assert table.count("\n") == 4 and "vrnn-h8-s1" in table
    # the CLI reads the same store: --list and --status, no REDIS_URL
    cli_env = {k: v for k, v in env.items() if k != "REDIS_URL"}
    listed = subprocess.run([RNNSCOPE, "sweep", "--list"], env=cli_env, capture_output=True, text=True)
    assert listed.returncode == 0 and f"{spec().sweep_id()}  mr  gru,vrnn" in listed.stdout
    assert "4/4 done" in listed.stdout
    shown = subprocess.run([RNNSCOPE, "sweep", "--status", spec().sweep_id()], env=cli_env,
                           capture_output=True, text=True)
    assert shown.returncode == 0 and shown.stdout.strip() == table


def test_the_cli_refuses_bad_input_with_status_2(env):
    cli_env = {k: v for k, v in env.items() if k != "REDIS_URL"}
    for argv, words in ((["--arch", "gru", "--data", "mr"], "give --arch, --seeds and --data"),
                        (["--arch", "gru,rnn", "--seeds", "1", "--data", "mr"], "architectures"),
                        (["--arch", "gru", "--seeds", "1", "--data", "mr", "--hidden", "8,x"], "--hidden"),
                        (["--status", "f" * 64], "no artifact")):
        done = subprocess.run([RNNSCOPE, "sweep", *argv], env=cli_env, capture_output=True, text=True)
        assert done.returncode == 2 and words in done.stderr, (argv, done.stderr)


# --------------------------------------------------------------------------- on Celery
@pytest.fixture(scope="module")
def client(env):
    import redis

    from rnnscope.workers.celery_app import make_celery

    redis.Redis.from_url(REDIS_URL).flushdb()
    return make_celery(Settings.from_env(env))


def _first_cell_training_on(store, sweep_id, worker_name, client, timeout_s=300) -> dict:
    """The first row of a cell that ``worker_name`` is training."""
    from rnnscope.workers import sweep_queue

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = sweep_queue.status(store, sweep_id, app=client)
        running = [r for r in rows if r["state"] == "PROGRESS" and r["worker"] == worker_name
                   and "epoch" in r["message"]]
        if running:
            return running[0]
        time.sleep(0.05)
    raise AssertionError(f"no cell ran on {worker_name} within {timeout_s} s")


def test_a_sweep_on_two_workers_completes_when_one_is_killed(env, client, tmp_path):
    """4 architectures x 3 seeds on MR through two ``rnnscope worker`` processes; one is
    SIGKILLed (worker and pool) while it runs a cell; the sweep completes with every cell."""
    from rnnscope.workers import sweep_queue

    store = ArtifactStore(env["RNNSCOPE_STORE"], redis_url=REDIS_URL, lock_ttl_s=2)
    grid = spec(archs=("lstm", "gru", "ugrnn", "vrnn"), seeds=3, train={**TRAIN, "epochs": 2},
                analysis={**ANALYSIS, "seed": 7})
    with running_worker(env, client, tmp_path / "a.log", concurrency=1, hostname="sweep-a@%h") as a, \
            running_worker(env, client, tmp_path / "b.log", concurrency=1, hostname="sweep-b@%h"):
        node_a = next(w for w in sweeps_online(client) if w.startswith("sweep-a@"))
        sweep_id, queued = sweep_queue.submit(store, grid, app=client)
        assert queued == 12 and sweep_queue.submit(store, grid, app=client) == (sweep_id, 0)  # no duplicates
        result: dict = {}
        follower = threading.Thread(target=lambda: result.update(rows=sweep_queue.follow(
            store, sweep_id, poll_s=0.2, lost_after_s=2, timeout_s=600, app=client)))
        follower.start()
        victim = _first_cell_training_on(store, sweep_id, node_a, client)
        os.killpg(a["proc"].pid, signal.SIGKILL)  # the worker and its pool child, as an OOM kill
        assert not sweeps.cell_state(store, grid, {k: victim[k] for k in ("arch", "hidden", "seed")})["done"]  # killed mid-cell
        follower.join(660)
        assert not follower.is_alive()
    rows = result["rows"]
    assert [r["state"] for r in rows] == ["done"] * 12, [(r["cell"], r["state"], r["error"]) for r in rows]
    manifest = store.get_sweep(sweep_id)
    assert manifest["tasks"][victim["cell"]] != victim["task"]  # resubmitted
    assert len({r["report"] for r in rows}) == 12 and all(store.report_dir(r["report"]).is_dir() for r in rows)
    finished = [c["key"] for c in store.computations(event="finished")]
    for key in [sweeps.train_key(grid, c) for c in grid.cells()] + [r["report"] for r in rows]:
        assert finished.count(key) == 1  # each training and analysis stored once


def sweeps_online(client) -> list[str]:
    from rnnscope.workers.tasks import workers_online

    return workers_online(app=client)


def test_a_cancelled_sweep_stops_and_a_rerun_continues(env, client, tmp_path):
    from rnnscope.workers import sweep_queue

    store = ArtifactStore(env["RNNSCOPE_STORE"], redis_url=REDIS_URL, lock_ttl_s=2)
    grid = spec(archs=("gru",), seeds=3, train={**TRAIN, "epochs": 3}, analysis={**ANALYSIS, "seed": 8})
    with running_worker(env, client, tmp_path / "w.log", concurrency=1, hostname="sweep-c@%h"):
        sweep_id, queued = sweep_queue.submit(store, grid, app=client)
        assert queued == 3
        _first_cell_training_on(store, sweep_id, next(iter(sweeps_online(client))), client)
        assert sweep_queue.cancel(store, sweep_id, app=client) >= 1
        rows = sweep_queue.follow(store, sweep_id, poll_s=0.2, timeout_s=60, app=client)
        assert store.get_sweep(sweep_id)["cancelled"]
        assert sum(r["state"] == "done" for r in rows) < 3
        # the same command again: only the missing cells are queued, and they finish
        _, requeued = sweep_queue.submit(store, grid, app=client)
        assert 1 <= requeued == sum(r["state"] != "done" for r in rows)
        rows = sweep_queue.follow(store, sweep_id, poll_s=0.2, timeout_s=600, app=client)
    assert [r["state"] for r in rows] == ["done"] * 3
