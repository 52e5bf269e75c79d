"""A sweep on the Celery workers: submit its missing cells, follow them to the end, cancel.

Each missing cell is one task ``rnnscope.sweep_cell`` (``rnnscope.workers.tasks``); the
sweep's manifest in the store (``ArtifactStore.put_sweep``) keeps each cell's latest task
id. What is done is read from the content-keyed store, not from Celery, so a sweep's state
survives the loss of any worker, of Redis's results, or of the process that submitted it.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from celery import Celery

from rnnscope.workers import sweeps, tasks
from rnnscope.workers.store import ArtifactStore
from rnnscope.workers.sweeps import FINISHED, LOST_AFTER_S, SweepSpec, cell_name, cell_state

#: Row states after which :func:`follow` stops waiting for a cell.
SETTLED = ("done",) + FINISHED


def _send(spec: SweepSpec, cell: dict, app: Celery | None) -> str:
    return (app or tasks.celery_app).send_task(tasks.sweep_cell.name, args=(spec.to_dict(), dict(cell))).id


def submit(store: ArtifactStore, spec: SweepSpec, *, app: Celery | None = None) -> tuple[str, int]:
    """Queue every cell that is neither done nor queued/running; ``(sweep id, jobs queued)``."""
    sweep_id, manifest = sweeps.open_sweep(store, spec)
    queued = 0
    for cell in spec.cells():
        name = cell_name(cell)
        if cell_state(store, spec, cell)["done"]:
            continue
        task = manifest["tasks"].get(name)
        if task and tasks.job_status(task, app=app)["state"] not in FINISHED:
            continue  # already queued or running
        manifest["tasks"][name] = _send(spec, cell, app)
        queued += 1
    store.put_sweep(sweep_id, manifest)
    return sweep_id, queued


def status(store: ArtifactStore, sweep_id: str, *, app: Celery | None = None) -> list[dict]:
    """One row per cell: :func:`sweeps.summary_row` plus ``state`` ("done", "not submitted"
    or the Celery state of its latest job), ``fraction``, ``message``, ``error``, ``worker``."""
    manifest = store.get_sweep(sweep_id)
    spec = SweepSpec.from_dict(manifest["spec"])
    rows = []
    for cell in spec.cells():
        state = cell_state(store, spec, cell)
        row = {**sweeps.summary_row(store, state), "state": "done", "fraction": 1.0, "message": "done",
               "error": None, "worker": None, "task": manifest["tasks"].get(cell_name(cell))}
        if not state["done"]:
            job = tasks.job_status(row["task"], app=app) if row["task"] else None
            row.update(state=job["state"] if job else "not submitted", fraction=job["fraction"] if job else 0.0,
                       message=job["message"] if job else "not submitted", error=job and job["error"],
                       worker=job and job["worker"])
            if job and job["state"] == "SUCCESS":  # the job ended but this store has no report
                row.update(state="FAILURE", error="the job finished but its report is not in this store "
                                                  f"({store.root}): do the workers use another RNNSCOPE_STORE?")
        rows.append(row)
    return rows


def follow(store: ArtifactStore, sweep_id: str, on_rows: Callable[[list[dict]], None] | None = None, *,
           poll_s: float = 1.0, lost_after_s: float = LOST_AFTER_S, timeout_s: float | None = None,
           app: Celery | None = None) -> list[dict]:
    """Poll :func:`status` until every cell is done or failed (or the sweep is cancelled),
    resubmitting a cell whose worker stopped answering pings for ``lost_after_s``.

    ``on_rows(rows)`` sees each poll. Returns the last rows; TimeoutError after ``timeout_s``.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    silent_since: dict[str, float] = {}
    while True:
        rows = status(store, sweep_id, app=app)
        if on_rows is not None:
            on_rows(rows)
        if store.get_sweep(sweep_id)["cancelled"] or all(r["state"] in SETTLED for r in rows):
            return rows
        _resubmit_lost(store, sweep_id, rows, silent_since, lost_after_s, app)
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"sweep {sweep_id[:12]} not finished after {timeout_s} s")
        time.sleep(poll_s)


def _resubmit_lost(store: ArtifactStore, sweep_id: str, rows: list[dict], silent_since: dict[str, float],
                   lost_after_s: float, app: Celery | None) -> list[str]:
    """Resubmit the cells whose job runs on a worker that has not answered a ping for
    ``lost_after_s`` (``silent_since`` remembers since when); returns their names."""
    running = [r for r in rows if r["state"] in ("STARTED", "PROGRESS") and r["worker"]]
    online = set(tasks.workers_online(app=app)) if running else set()
    now, lost = time.monotonic(), []
    for row in running:
        if row["worker"] in online:
            silent_since.pop(row["cell"], None)
        elif now - silent_since.setdefault(row["cell"], now) >= lost_after_s:
            lost.append(row)
    if lost:
        manifest = store.get_sweep(sweep_id)  # read again: a cancel may have come meanwhile
        if manifest["cancelled"]:
            return []
        spec = SweepSpec.from_dict(manifest["spec"])
        for row in lost:
            cell = {"arch": row["arch"], "hidden": row["hidden"], "seed": row["seed"]}
            manifest["tasks"][row["cell"]] = _send(spec, cell, app)
            silent_since.pop(row["cell"], None)
        store.put_sweep(sweep_id, manifest)
    return [row["cell"] for row in lost]


def cancel(store: ArtifactStore, sweep_id: str, *, app: Celery | None = None) -> int:
    """Mark the sweep cancelled and revoke its jobs (running ones are terminated); returns how
    many jobs were revoked. What is already stored stays: a rerun continues from there."""
    manifest = store.get_sweep(sweep_id)
    manifest["cancelled"] = True
    store.put_sweep(sweep_id, manifest)
    revoked = 0
    for task in manifest["tasks"].values():
        if tasks.job_status(task, app=app)["state"] not in FINISHED:
            tasks.cancel(task, app=app)
            revoked += 1
    return revoked
