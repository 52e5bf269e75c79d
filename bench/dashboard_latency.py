"""Server time of the dashboard's interactive callbacks on the demo models.

    python bench/dashboard_latency.py [--models DIR] [--data mr] [--reps 200]
                                      [--params '{"n_docs": 300}']

For each ``*.safetensors`` in ``--models`` (default: the bundled demo directory) the
model is copied into the store and analysed once (or found analysed), then the callback
functions are called in-process, exactly as Dash calls them, including the JSON encoding
of what they return (the part of a request's server time that is ours):

- ``sentence``: a new text (the sentence cache is cleared before every call), drawn from
  the dataset's test snippets;
- ``slider step``: moving the token slider over the last sentence (cached trace);
- ``fp click cold``: clicking a fixed point whose eigen-decomposition is not cached yet;
- ``fp click warm``: clicking it again.

Prints, per model and callback, the median and 95th percentile of wall-clock and CPU
milliseconds (CPU time is the request's own cost; wall time adds waiting for a busy
CPU), the CPU median as a fraction of the 100 ms target, and the response size. Torch
runs with one intra-op thread, as in the web server.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import plotly.utils
import torch

from rnnscope.analysis import data as data_mod
from rnnscope.app.callbacks import fixed_points, sentence
from rnnscope.app.services import Services
from rnnscope.settings import Settings

TARGET_MS = 100.0


def _encode(outputs) -> int:
    """Bytes of the JSON Dash sends for a callback's outputs."""
    return len(json.dumps(outputs, cls=plotly.utils.PlotlyJSONEncoder))


def _timed(fn, reps: int, before=None) -> tuple[np.ndarray, np.ndarray, int]:
    """Wall and CPU milliseconds of ``fn(i)`` + JSON encoding for i in range(reps), last size.

    CPU time (this process) is what the request costs; wall time also counts waiting for
    the CPU, so on a busy machine it is larger.
    """
    wall, cpu, size = [], [], 0
    for i in range(reps):
        if before is not None:
            before(i)
        start, start_cpu = time.perf_counter(), time.process_time()
        size = _encode(fn(i))
        cpu.append(1000 * (time.process_time() - start_cpu))
        wall.append(1000 * (time.perf_counter() - start))
    return np.asarray(wall), np.asarray(cpu), size


def bench_model(svc, sha: str, label: str, data: str, texts: list[str], reps: int) -> list[tuple]:
    def progress(fraction, message):
        print(f"\r  {label}: {message} ({100 * fraction:.0f}%)".ljust(100), end="", file=sys.stderr)

    key = svc.stored_analysis(sha, data) or svc.analyse(sha, data, progress)
    print(file=sys.stderr)
    ref = {"key": key, "sha": sha, "data": data}
    report = svc.report(key)
    k_points = len(report.arrays["fixed_points"])
    rows = []
    clear = lambda i: svc.sentences.clear()  # noqa: E731 - a new text every call
    rows.append((label, "sentence", *_timed(lambda i: sentence.run(svc, texts[i % len(texts)], ref),
                                            reps, clear)))
    store = sentence.run(svc, texts[0], ref)[-1]
    n_tok = len(svc.sentence(store, store["text"]))
    rows.append((label, "slider step", *_timed(lambda i: sentence.step(svc, 1 + i % n_tok, store), reps)))
    if k_points:
        order = np.random.default_rng(0).permutation(k_points)
        picks = [int(order[i % k_points]) for i in range(reps)]

        def click(i):
            sel = fixed_points.select_from_click(ref, {"points": [{"customdata": picks[i]}]})
            return fixed_points.select_point(svc, sel)

        def forget(i):
            svc.eigenmodes.clear()
            svc.vocab_projections.clear()
        rows.append((label, "fp click cold", *_timed(click, reps, forget)))
        rows.append((label, "fp click warm", *_timed(click, reps)))
    net = svc.model(sha).net
    print(f"  {label}: D={net.state_size}, K={k_points} fixed points", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=None, help="directory of *.safetensors (default: demo dir)")
    parser.add_argument("--data", default="mr", help="dataset for the analysis and the sentences")
    parser.add_argument("--reps", type=int, default=200, help="calls per callback (default 200)")
    parser.add_argument("--params", default="{}", help="AnalysisParams overrides, JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    settings = Settings.from_env()
    directory = Path(args.models or settings.demo_dir)
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        print(f"no *.safetensors in {directory}", file=sys.stderr)
        return 2
    svc = Services(settings, analysis_params=json.loads(args.params))
    texts = [t for t in data_mod.load(args.data).test.texts if t.strip()][: max(args.reps, 1)]
    rows = []
    for path in files:
        sha = svc.store.put_checkpoint(path.read_bytes(), path.name)
        rows += bench_model(svc, sha, path.stem, args.data, texts, args.reps)
    print(f"\n{'model':<10} {'callback':<14} {'n':>4} {'wall median':>11} {'wall p95':>9} "
          f"{'CPU median':>10} {'CPU p95':>8} {'CPU median/target':>17} {'KB':>6}")
    for label, name, wall, cpu, size in rows:
        print(f"{label:<10} {name:<14} {len(wall):>4} {np.median(wall):>11.1f} "
              f"{np.percentile(wall, 95):>9.1f} {np.median(cpu):>10.1f} {np.percentile(cpu, 95):>8.1f} "
              f"{np.median(cpu) / TARGET_MS:>17.2f} {size / 1024:>6.1f}")
    load = os.getloadavg()[0]
    print(f"\nmilliseconds per call (JSON encoding included); target: median < {TARGET_MS:.0f} ms; "
          f"torch threads = {torch.get_num_threads()}; load average {load:.1f} on "
          f"{os.cpu_count()} CPUs (wall > CPU when the machine is busy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
