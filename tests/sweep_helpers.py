"""A tiny sweep on the real MR data for the sweep and population tests: networks of 8 units
trained for one epoch, analysed with ``tests.corpus.SMALL_PARAMS`` (about a second a cell)."""
from __future__ import annotations

from rnnscope.workers.sweeps import SweepSpec
from tests.corpus import SMALL_PARAMS

#: One epoch of a tiny network on MR: about a second of training.
TRAIN = {"epochs": 1, "max_len": 40, "vocab_size": 500, "embed": 8, "batch_size": 64}
ANALYSIS = {**SMALL_PARAMS, "n_seeds": 16}


def tiny_spec(**change) -> SweepSpec:
    """GRU and vanilla RNN, 2 seeds each, hidden 8, on MR (``change`` overrides any field)."""
    return SweepSpec(**{"archs": ("gru", "vrnn"), "seeds": 2, "data": "mr", "hidden": (8,), "train": TRAIN,
                        "analysis": ANALYSIS, **change})
