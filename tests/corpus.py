"""A synthetic sentiment corpus for tests that train a tiny model: filler tokens plus a few
words whose polarity is the label, so a GRU-8 learns it in seconds."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

POSITIVE = ("good", "great", "superb", "lovely", "fine")
NEGATIVE = ("bad", "awful", "poor", "dull", "boring")
FILLER = tuple(f"w{i}" for i in range(30))
#: Analysis parameters small enough to run in seconds on 2 cores on a tiny model trained on
#: this corpus, big enough that every stage has data.
SMALL_PARAMS = dict(n_docs=24, max_len=30, n_seeds=24, n_words=4, n_frequent=40, min_doc_freq=1,
                    n_null=200, n_pca=5, density_bins=8, lin_docs=12, n_error_samples=60,
                    lle_neighbors=4, vader=False, batch_size=32)


def write_corpus(path: Path, n: int = 400, seed: int = 0) -> Path:
    """CSV ``text,label``: filler words plus 1-3 sentiment words of the label's polarity."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "label"])
        for _ in range(n):
            label = int(rng.integers(2))
            words = list(rng.choice(FILLER, int(rng.integers(4, 14))))
            for _ in range(int(rng.integers(1, 4))):
                words.insert(int(rng.integers(len(words) + 1)),
                             str(rng.choice(POSITIVE if label else NEGATIVE)))
            out.writerow([" ".join(words), label])
    return path


def train_tiny(root: Path) -> tuple[Path, Path]:
    """A GRU-8 trained on :func:`write_corpus`'s corpus: (corpus CSV, ``.safetensors`` checkpoint)
    under ``root``."""
    from rnnscope.analysis import checkpoint
    from rnnscope.analysis.data import load
    from rnnscope.analysis.training import TrainConfig, train

    data = write_corpus(root / "corpus.csv")
    model, _ = train(load(str(data)), TrainConfig(arch="gru", hidden=8, embed=8, epochs=6, batch_size=32,
                                                  lr=2e-2, patience=6, seed=0, vocab_size=100),
                     show_bar=False)
    ckpt = root / "gru-tiny.safetensors"
    checkpoint.save(model, ckpt)
    return data, ckpt
