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

Prints median and 95th percentile per model and callback in milliseconds, the response
size, and the median as a fraction of the 100 ms target measured in the same run.
Torch runs with one intra-op thread, as in the web server.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a source tree

TARGET_MS = 100.0


def _encode(outputs) -> int:
    """Bytes of the JSON Dash sends for a callback's outputs."""
    import plotly.utils

    return len(json.dumps(outputs, cls=plotly.utils.PlotlyJSONEncoder))


def _timed(fn, reps: int, before=None) -> tuple[np.ndarray, int]:
    """Milliseconds of ``fn(i)`` + JSON encoding for i in range(reps); and the last size."""
    times, size = [], 0
    for i in range(reps):
        if before is not None:
            before(i)
        start = time.perf_counter()
        size = _encode(fn(i))
        times.append(1000 * (time.perf_counter() - start))
    return np.asarray(times), size


def bench_model(svc, sha: str, label: str, data: str, texts: list[str], reps: int) -> list[tuple]:
    from app.callbacks import fixed_points, sentence

    def progress(fraction, message):
        print(f"\r  {label}: {message} ({100 * fraction:.0f}%)".ljust(100), end="", file=sys.stderr)

    key = svc.stored_analysis(sha, data) or svc.analyse(sha, data, progress)
    print(file=sys.stderr)
    ref = {"key": key, "sha": sha, "data": data}
    report = svc.report(key)
    k_points = len(report.arrays["fixed_points"])
    rows = []
    clear = lambda i: svc.sentences.clear()  # noqa: E731 - a new text every call
    times, size = _timed(lambda i: sentence.run(svc, texts[i % len(texts)], ref), reps, clear)
    rows.append((label, "sentence", times, size))
    store = sentence.run(svc, texts[0], ref)[-1]
    n_tok = len(svc.sentence(store, store["text"]))
    times, size = _timed(lambda i: sentence.step(svc, i % n_tok, store), reps)
    rows.append((label, "slider step", times, size))
    if k_points:
        order = np.random.default_rng(0).permutation(k_points)
        picks = [int(order[i % k_points]) for i in range(reps)]

        def click(i):
            sel = fixed_points.select_from_click(ref, {"points": [{"customdata": picks[i]}]})
            return [*fixed_points.highlight(svc, sel), *fixed_points.selected_point_views(svc, sel)]

        def forget(i):
            svc.eigenmodes.clear()
            svc.vocab_projections.clear()
        times, size = _timed(click, reps, forget)
        rows.append((label, "fp click cold", times, size))
        times, size = _timed(click, reps)
        rows.append((label, "fp click warm", times, size))
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

    import torch

    from analysis import data as data_mod
    from app.services import Services
    from workers.config import Settings

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
    print(f"\n{'model':<16} {'callback':<15} {'n':>5} {'median ms':>10} {'p95 ms':>8} "
          f"{'median/target':>14} {'response KB':>12}")
    for label, name, times, size in rows:
        med, p95 = np.median(times), np.percentile(times, 95)
        print(f"{label:<16} {name:<15} {len(times):>5} {med:>10.1f} {p95:>8.1f} "
              f"{med / TARGET_MS:>14.2f} {size / 1024:>12.1f}")
    print(f"\ntarget: median < {TARGET_MS:.0f} ms per callback (server time, JSON included); "
          f"torch threads = {torch.get_num_threads()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
