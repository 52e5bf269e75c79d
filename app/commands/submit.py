"""``rnnscope submit``: queue an analysis for the Celery workers (needs REDIS_URL).

    rnnscope submit CKPT --data NAME [--seeds N] [--docs N] [--param K=V ...] [--wait]
    rnnscope submit --status TASK_ID
    rnnscope submit --cancel TASK_ID

The checkpoint is validated here and copied into the shared artifact store
(``RNNSCOPE_STORE``) by its sha256; the job ``rnnscope.full_analysis`` is queued and its
task id printed. ``--wait`` follows its progress and prints where the report is.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnscope.app.commands import redis_settings
from rnnscope.app.commands.analyze import parse_params


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``submit``."""
    parser = subparsers.add_parser(
        "submit", help="queue an analysis on the Celery workers (needs REDIS_URL)",
        description="Store a checkpoint in the shared artifact store and queue its full "
                    "analysis on the workers listening on REDIS_URL.")
    parser.add_argument("checkpoint", nargs="?", metavar="CKPT",
                        help="checkpoint file (.safetensors or .pt)")
    parser.add_argument("--data", metavar="NAME",
                        help="registered dataset (imdb, mr, tweets), or a path the workers can read")
    parser.add_argument("--seeds", type=int, default=None, help="fixed-point seeds (default 512)")
    parser.add_argument("--docs", type=int, default=None, help="held-out documents (default 1000)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="any other AnalysisParams field (VALUE read as JSON); repeatable")
    parser.add_argument("--wait", action="store_true", help="follow progress until the job ends")
    parser.add_argument("--status", metavar="TASK_ID", help="print the state of a submitted job")
    parser.add_argument("--cancel", metavar="TASK_ID", help="cancel a submitted job")
    parser.set_defaults(func=run)
    return parser


# lazy imports: `rnnscope --help` imports every command module (app/cli.py) and runs in 0.2-0.3 s
# without numpy; the checkpoint loader, jobs and the Celery tasks (torch, celery) would add 7.4 s
# if imported at the top (measured with -X importtime on the 2-core machine), so each function
# imports what it uses.
def run(args: argparse.Namespace) -> int:
    """Submit / inspect / cancel; 0 on success, 1 if the job failed, 2 on bad input."""
    from rnnscope.analysis.checkpoint import CheckpointError
    from rnnscope.analysis.data import DataError
    from rnnscope.workers.store import StoreError

    settings = redis_settings("REDIS_URL is not set; `rnnscope submit` queues jobs for workers on Redis. "
                              "Run `rnnscope analyze` to analyse here instead.")
    if settings is None:
        return 2
    try:
        if args.cancel:
            return _cancel(args.cancel)
        if args.status:
            return _print_status(args.status)
        if not args.checkpoint or not args.data:
            print("error: give CKPT and --data (or --status / --cancel TASK_ID)", file=sys.stderr)
            return 2
        return _submit(args, settings)
    except (CheckpointError, DataError, StoreError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _submit(args: argparse.Namespace, settings) -> int:
    from rnnscope.analysis.checkpoint import load
    from rnnscope.workers import jobs, tasks
    from rnnscope.workers.store import ArtifactStore

    params = parse_params(args)
    jobs.resolve_params(params)
    path = Path(args.checkpoint)
    load(path)  # refuse a bad checkpoint here, not on a worker
    store = ArtifactStore(settings.store)
    sha = store.put_checkpoint(path.read_bytes(), path.name)
    key = jobs.analysis_key(sha, args.data, params)
    task_id = tasks.submit_full_analysis(sha, args.data, params)
    print(task_id)
    print(f"queued rnnscope.full_analysis of {path.name} (sha256 {sha[:12]}) on {args.data}; "
          f"report key {key}", file=sys.stderr)
    if not args.wait:
        print(f"follow it with: rnnscope submit --status {task_id}", file=sys.stderr)
        return 0
    status = _follow(tasks, task_id)
    if status["state"] != "SUCCESS":
        print(f"job {status['state'].lower()}: {status['error']}", file=sys.stderr)
        return 1
    print(f"report: {status['result']['path']}")
    return 0


def _follow(tasks, task_id: str) -> dict:
    from tqdm import tqdm

    with tqdm(total=1000, desc="analysis", file=sys.stderr,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}") as bar:
        def show(status: dict) -> None:
            bar.n = round(1000 * status["fraction"])
            bar.set_postfix_str(status["message"], refresh=False)
            bar.refresh()

        return tasks.wait(task_id, on_status=show)


def _print_status(task_id: str) -> int:
    from rnnscope.workers import tasks

    status = tasks.job_status(task_id)
    line = f"{status['state']} {100 * status['fraction']:.0f}% {status['message']}"
    if status["result"]:
        line += f"\nreport: {status['result']['path']}"
    if status["error"]:
        line += f"\nerror: {status['error']}"
    print(line)
    return 1 if status["state"] == "FAILURE" else 0


def _cancel(task_id: str) -> int:
    from rnnscope.workers import tasks

    tasks.cancel(task_id)
    print(f"cancel sent for {task_id}", file=sys.stderr)
    return 0
