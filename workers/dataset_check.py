"""Uploaded datasets are checked in a child process, never in a web request thread.

Reading a CSV/JSON file is pure Python: in the web process a file at the upload cap
(200 MB) would hold the interpreter lock for seconds and its rows would take several times
its size in memory. ``check_file`` runs ``rnnscope.analysis.data.load_checked`` in a fresh
``python -m rnnscope.workers.dataset_check PATH NAME`` instead: at a lower CPU priority
(nice :data:`NICE`), with a CPU-time limit (:data:`CPU_LIMIT_S`, ``RLIMIT_CPU``) and a
wall-clock one, an environment without the server's secrets, and no descriptor of the
server but its pipes (``close_fds``). The child prints one JSON line: the dataset's counts,
or the loader's message in words.

Measured on this repository's 2-core machine: checking IMDB's 66 MB CSV this way takes 0.69 s
(0.57 s of it reading; MR's 1.5 MB: 0.21 s, mostly the child's start).
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

#: CPU priority of the checking process (0 = the server's; 19 = lowest).
NICE = 10
#: CPU seconds a check may use (a 200 MB file needs about 2).
CPU_LIMIT_S = 60
#: Wall-clock seconds the server waits for a check.
WALL_LIMIT_S = 180
#: Environment variables the child keeps (no secret keys, no Redis URL).
KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "TMPDIR")


def check_file(path: str | os.PathLike, display_name: str, *, wall_limit_s: float = WALL_LIMIT_S) -> dict:
    """Check a dataset file in a child process; -> its counts.

    Returns
    -------
    dict
        ``name`` (the dataset's name), ``rows``, ``splits`` ({train, validation, test}: counts)
        and ``positive_fraction``.

    Raises
    ------
    analysis.data.DataError
        The loader's message, or why the check itself stopped (time limit, crash).
    """
    from rnnscope.analysis.data import DataError  # lazy: see main

    env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
    try:
        proc = subprocess.run([sys.executable, "-m", "rnnscope.workers.dataset_check", str(path), str(display_name)],
                              capture_output=True, text=True, timeout=wall_limit_s, env=env, close_fds=True,
                              stdin=subprocess.DEVNULL, cwd=Path(__file__).resolve().parent.parent)
    except subprocess.TimeoutExpired:
        raise DataError(f"{display_name}: checking it took longer than {wall_limit_s:.0f} s; refused") from None
    lines = proc.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not ("error" in answer or "info" in answer):
        why = "its CPU time limit" if proc.returncode == -9 or proc.returncode == -24 else f"exit {proc.returncode}"
        raise DataError(f"{display_name} could not be checked (the check stopped: {why}); refused")
    if "error" in answer:
        raise DataError(str(answer["error"]))
    return answer["info"]


def summarize(dataset) -> dict:
    """Counts of a checked ``rnnscope.analysis.data.Dataset`` (JSON-able)."""
    splits = {k: len(v) for k, v in dataset.splits().items()}
    positives = sum(float(v.labels.sum()) for v in dataset.splits().values())
    total = sum(splits.values())
    return {"name": dataset.name, "rows": total, "splits": splits,
            "positive_fraction": round(positives / max(1, total), 4)}


def main(argv: list[str]) -> int:
    """``python -m rnnscope.workers.dataset_check PATH NAME``: one JSON line on stdout."""
    os.nice(NICE)
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S, CPU_LIMIT_S + 1))
    # lazy: this module imports only the standard library (23 ms), so the loader's imports
    # (rnnscope.analysis.data with numpy: 0.30 s of CPU, measured) run after the lines above,
    # at the child's low priority and within its CPU limit, not at the server's priority.
    from rnnscope.analysis.data import DataError, load_checked

    path, name = argv
    try:
        answer = {"info": summarize(load_checked(path, name))}
    except DataError as exc:
        answer = {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - anything else is a refusal in words, not a traceback
        answer = {"error": f"{name} could not be read as a labelled dataset ({type(exc).__name__})"}
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
