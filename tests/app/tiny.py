"""A tiny real model and its real analysis, shared by the app and browser tests.

A GRU (H=16, E=16, 2,000 words) trained for three epochs on 6,000 MR snippets (the
dashboard's default dataset), saved as ``<demo_dir>/gru-mr.safetensors``, copied into a
fresh store and analysed with small parameters (``TINY_PARAMS``). Training and analysis
are seeded, so every run sees the same numbers.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TRAIN_DOCS = 6000
#: Analysis parameters small enough for a test run of a few seconds.
TINY_PARAMS = {"n_docs": 120, "max_len": 40, "n_seeds": 48, "n_words": 20, "n_frequent": 300,
               "min_doc_freq": 3, "n_null": 500, "lin_docs": 60, "n_error_samples": 300,
               "accuracy_docs": 400, "vader": False, "density_bins": 30}


@dataclass
class TinyEnv:
    home: Path
    store_dir: Path
    demo_dir: Path
    checkpoint: Path
    sha: str
    key: str

    def environ(self) -> dict[str, str]:
        return {"RNNSCOPE_HOME": str(self.home), "RNNSCOPE_STORE": str(self.store_dir),
                "RNNSCOPE_DEMO_DIR": str(self.demo_dir)}


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_TRAINED: dict[tuple, bytes] = {}  # checkpoint bytes by (arch, seed, epochs): train once per session


def train_tiny(path: Path, arch: str = "gru", seed: int = 0, epochs: int = 3) -> str:
    """Train the tiny model on MR (once per process) and save it to ``path``; returns its sha256."""
    import hashlib

    from rnnscope.analysis import checkpoint, data
    from rnnscope.analysis.training import TrainConfig, train

    spec = (arch, seed, epochs)
    if spec not in _TRAINED:
        full = data.load("mr")
        # a fixed slice of the training split keeps training to seconds
        train_split = data.Split(full.train.texts[:TRAIN_DOCS], full.train.labels[:TRAIN_DOCS])
        dataset = data.Dataset(full.name, train_split, full.validation, full.test)
        config = TrainConfig(arch=arch, hidden=16, embed=16, vocab_size=2000, max_len=30, lr=5e-3,
                             epochs=epochs, batch_size=32, seed=seed, threads=1, patience=2)
        model, _ = train(dataset, config, show_bar=False, command="tests/app/tiny.py")
        checkpoint.save(model, path)
        _TRAINED[spec] = Path(path).read_bytes()
    else:
        Path(path).write_bytes(_TRAINED[spec])
    return hashlib.sha256(_TRAINED[spec]).hexdigest()


def make_env(root: Path, home: Path) -> TinyEnv:
    """Build the tiny model, a store and its analysis under ``root`` (datasets in ``home``)."""
    from rnnscope.workers.jobs import demo_checkpoints, full_analysis
    from rnnscope.workers.store import ArtifactStore

    store_dir, demo_dir = root / "store", root / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    path = demo_dir / "gru-mr.safetensors"
    env = TinyEnv(home, store_dir, demo_dir, path, "", "")
    with environ(env.environ()):
        env.sha = train_tiny(path)
        store = ArtifactStore(store_dir)
        demo_checkpoints(store, demo_dir)
        env.key = full_analysis(env.sha, "mr", TINY_PARAMS, store=store)
    return env


@contextlib.contextmanager
def active_env(root: Path, home: Path) -> Iterator[TinyEnv]:
    """``make_env`` under ``root``, with its environment set for the duration of the block."""
    env = make_env(root, home)
    with environ(env.environ()):
        yield env
