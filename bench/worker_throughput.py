"""Analyses per minute through real Celery workers: 1 vs 2 worker processes, this machine.

Rows: 1 process x 1 thread, 2 processes x 1 thread, and 1 process x 2 threads (the same two
cores used by intra-op threads instead of processes), each with its ratio to the first.

    python bench/worker_throughput.py [--analyses 6] [--redis redis://127.0.0.1:6379/12]
                                      [--checkpoint CKPT --data NAME|PATH] [--params JSON]

For each pool size it flushes the Redis database, starts ``rnnscope worker --concurrency N``
on a fresh temporary store, submits ``--analyses`` full analyses that differ only in their
``seed`` (distinct content keys, so nothing is served from the cache), waits for all of
them, and stops the worker. Time runs from the first submission to the last result; worker
start-up and one warm-up analysis per process are excluded. Without ``--checkpoint`` a tiny GRU is trained on a synthetic corpus
(seconds), so the numbers measure job overhead plus small analyses.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis

from rnnscope.analysis import checkpoint
from rnnscope.analysis.data import load
from rnnscope.analysis.training import TrainConfig, train
from rnnscope.settings import Settings
from rnnscope.workers.celery_app import make_celery
from rnnscope.workers.store import ArtifactStore
from rnnscope.workers.tasks import submit_full_analysis, wait, workers_online

#: (pool processes, threads per process): the ratio column is relative to the first row.
CONFIGS = ((1, 1), (2, 1), (1, 2))
SMALL = dict(n_docs=60, max_len=40, n_seeds=128, n_words=4, n_frequent=40, min_doc_freq=1,
             n_null=1000, n_pca=5, density_bins=12, lin_docs=40, n_error_samples=500,
             lle_neighbors=4, vader=False, batch_size=64)


def tiny_inputs(root: Path) -> tuple[Path, str]:
    """A GRU-16 trained briefly on a synthetic sentiment corpus: (checkpoint, corpus path)."""
    rng = np.random.default_rng(0)
    filler = [f"w{i}" for i in range(50)]
    pos, neg = ["good", "great", "superb", "lovely"], ["bad", "awful", "poor", "dull"]
    corpus = root / "corpus.csv"
    with open(corpus, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "label"])
        for _ in range(600):
            label = int(rng.integers(2))
            words = list(rng.choice(filler, int(rng.integers(5, 25))))
            for _ in range(int(rng.integers(1, 4))):
                words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(pos if label else neg)))
            out.writerow([" ".join(words), label])
    model, _ = train(load(str(corpus)), TrainConfig(arch="gru", hidden=16, embed=8, epochs=4, batch_size=32,
                                                    lr=2e-2, seed=0, vocab_size=200), show_bar=False)
    ckpt = root / "gru-bench.safetensors"
    checkpoint.save(model, ckpt)
    return ckpt, str(corpus)


def run_all(task_ids: list[str], client) -> None:
    """Wait for every task; raise if one did not succeed."""
    for task_id in task_ids:
        status = wait(task_id, poll_s=0.1, app=client)
        if status["state"] != "SUCCESS":
            raise RuntimeError(f"analysis failed: {status['error']}")


def run_pool(concurrency: int, threads: int, n: int, ckpt: Path, data: str, params: dict,
             redis_url: str, root: Path, seed0: int) -> float:
    """Seconds for ``n`` distinct analyses through one worker with ``concurrency`` processes
    of ``threads`` torch/BLAS threads each."""
    redis.Redis.from_url(redis_url).flushdb()
    # the worker's environment: this one's, a home under root unless one is set, and the pool's settings
    env = {"RNNSCOPE_HOME": str(root / "home"), **os.environ, "REDIS_URL": redis_url,
           "RNNSCOPE_STORE": str(root / f"store-{seed0}"), "RNNSCOPE_TORCH_THREADS": str(threads)}
    client = make_celery(Settings.from_env(env))
    sha = ArtifactStore(env["RNNSCOPE_STORE"], redis_url="").put_checkpoint(ckpt.read_bytes(), ckpt.name)
    rnnscope = str(Path(sys.executable).with_name("rnnscope"))
    log = open(root / f"worker-{seed0}.log", "w")
    proc = subprocess.Popen([rnnscope, "worker", "--concurrency", str(concurrency), "--loglevel", "warning",
                             "--hostname", f"bench{concurrency}@%h"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not workers_online(app=client):
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited; see {log.name}")
        # one untimed analysis per process first: each pool child pays its first-call costs
        run_all([submit_full_analysis(sha, data, {**params, "seed": seed0 - 1 - i}, app=client)
                 for i in range(concurrency)], client)
        start = time.perf_counter()
        run_all([submit_full_analysis(sha, data, {**params, "seed": seed0 + i}, app=client)
                 for i in range(n)], client)
        return time.perf_counter() - start
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
        log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyses", type=int, default=6, help="analyses per pool size (default 6)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12",
                        help="Redis database to use (it is flushed)")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--data", default=None, help="dataset for --checkpoint")
    parser.add_argument("--params", default=None, help="AnalysisParams overrides as JSON")
    args = parser.parse_args(argv)
    params = json.loads(args.params) if args.params else dict(SMALL)
    with tempfile.TemporaryDirectory(prefix="rnnscope-bench-") as tmp:
        root = Path(tmp)
        if args.checkpoint:
            if not args.data:
                parser.error("--checkpoint needs --data")
            ckpt, data = args.checkpoint, args.data
        else:
            ckpt, data = tiny_inputs(root)
        rows = []
        for i, (concurrency, threads) in enumerate(CONFIGS):
            seconds = run_pool(concurrency, threads, args.analyses, ckpt, data, params, args.redis,
                               root, seed0=1000 * (i + 1))
            rows.append((concurrency, threads, seconds, 60 * args.analyses / seconds))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"worker throughput: {args.analyses} distinct analyses per row, {cores} CPU cores, "
          f"model {Path(ckpt).name}")
    print(f"{'processes':>9} {'threads':>7} {'seconds':>9} {'analyses/min':>13} {'ratio':>6}")
    for concurrency, threads, seconds, per_min in rows:
        print(f"{concurrency:>9} {threads:>7} {seconds:>9.1f} {per_min:>13.2f} {per_min / rows[0][3]:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
