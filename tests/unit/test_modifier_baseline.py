"""Bag-of-words + modifier-word pairs against the RNN: exact features, the bootstrap against
its normal approximation, and the toy language, where "not" flips the next 4 tokens."""
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnscope.analysis import checkpoint
from rnnscope.analysis.modifier_baseline import STATISTICS, gain_recovery, modifier_baseline, pair_baseline, \
    pair_matrix, pair_names, prepare
from rnnscope.analysis.toy_language import toy_dataset

TOY_MODEL = Path(__file__).resolve().parents[2] / "models" / "toy" / "gru-toy.safetensors"


def test_pair_features_count_words_within_the_window_after_each_modifier():
    # vocabulary: 0 <pad>, 1 <unk>, 2 not, 3 good, 4 the, 5 very
    seqs = [np.array([2, 3, 4, 3]), np.array([4, 2, 1, 2]), np.array([3, 2]), np.array([5, 5, 3])]
    X = pair_matrix(seqs, [2, 5], 6, window=1, binary=False).toarray()
    expected = np.zeros((4, 12))
    expected[0, 0 * 6 + 3] = 1                      # not_good
                                                    # doc 1: <unk> after "not" is no feature
    expected[3, 1 * 6 + 5] = 1                      # very_very
    expected[3, 1 * 6 + 3] = 1                      # very_good
    np.testing.assert_array_equal(X, expected)       # the last "not" of doc 2 has nothing after it
    X4 = pair_matrix(seqs, [2, 5], 6, window=3, binary=False).toarray()
    assert X4[0, 3] == 2 and X4[0, 4] == 1           # good twice and the once within 3 tokens of "not"
    assert X4[1, 2] == 1                             # not _ not: the second "not" within the first one's window
    assert X4[2].sum() == 0                          # windows never cross into the next document
    np.testing.assert_array_equal(pair_matrix(seqs, [2, 5], 6, window=3).toarray(), X4 > 0)  # presence
    assert pair_names([2, 5], ["<pad>", "<unk>", "not", "good", "the", "very"])[3] == "not_good"
    assert pair_matrix(seqs, [4], 6, window=1).toarray()[0, 3] == 1    # any word can be the "modifier"
    with pytest.raises(ValueError):
        pair_matrix(seqs, [2], 6, window=0)


def test_bootstrap_interval_matches_the_normal_approximation_and_is_paired():
    n = 2000
    bow = np.arange(n) < 0.6 * n                     # accuracies 0.6, 0.7, 0.8 on nested documents
    pairs, rnn = np.arange(n) < 0.7 * n, np.arange(n) < 0.8 * n
    rec = gain_recovery(bow, pairs, rnn, n_resamples=2000, seed=0)
    np.testing.assert_allclose(rec.estimate, [0.6, 0.7, 0.8, 0.2, 0.1, 0.5], atol=1e-12)
    assert np.all(rec.low <= rec.estimate) and np.all(rec.estimate <= rec.high)
    for name, p in (("bow", 0.6), ("rnn", 0.8), ("gain", 0.2)):     # binomial standard errors
        est, low, high = rec[name]
        assert high - low == pytest.approx(2 * 1.96 * np.sqrt(p * (1 - p) / n), rel=0.15)
    # Paired: pairs right wherever bow is, so pair_gain never goes below 0 in any resample.
    assert rec["pair_gain"][1] > 0
    same = gain_recovery(bow, bow, rnn, n_resamples=500, seed=1)     # pairs add nothing: exactly 0
    assert same["recovery"] == (0.0, 0.0, 0.0)
    barely = np.arange(n) < 0.6 * n + 2                              # the RNN right on 2 more documents
    unsure = gain_recovery(bow, bow, barely, n_resamples=500, seed=1)
    assert unsure["gain"][1] <= 0 < unsure["gain"][2] and unsure["recovery"][1:] == (-np.inf, np.inf)
    again = gain_recovery(bow, pairs, rnn, n_resamples=2000, seed=0)
    np.testing.assert_array_equal(again.low, rec.low)                # seeded
    assert STATISTICS[-1] == "recovery"


@pytest.fixture(scope="module")
def toy():
    torch.set_num_threads(1)
    return checkpoint.load(TOY_MODEL), toy_dataset(n_train=5000, n_validation=1000, n_test=4000, seed=0)


def test_toy_not_pairs_recover_much_of_the_gain_and_filler_pairs_nothing(toy):
    model, dataset = toy
    prep = prepare(model, dataset, n_test=2000)                       # one BoW fit and RNN run for all three
    near = pair_baseline(prep, ["not"], window=4, n_resamples=1000)
    rec = near.recovery
    print("not, window 4:", dict(zip(STATISTICS, rec.estimate.round(3))), rec.low.round(3), rec.high.round(3))
    print("top pairs:", near.top_pairs(4))
    assert rec["rnn"][0] > 0.97 and rec["gain"][1] > 0.2              # the RNN reads the modifiers, BoW cannot
    assert rec["recovery"][0] > 0.35 and rec["recovery"][1] > 0.3     # about half (double negation is the rest)
    top = dict(near.top_pairs(4))
    assert top["not_good"] < 0 < top["not_bad"] and top["not_awesome"] < 0 < top["not_awful"]
    next_only = pair_baseline(prep, ["not"], window=1, n_resamples=1000)
    assert next_only.recovery["recovery"][0] < rec["recovery"][1]     # the flip reaches 4 tokens, not 1
    filler = pair_baseline(prep, ["the"], window=4, n_resamples=1000)
    est, low, high = filler.recovery["recovery"]
    print("the, window 4:", est, low, high)
    assert abs(est) < 0.05 and low < 0.02                             # a filler recovers nothing
    assert filler.recovery["bow"] == rec["bow"]                       # the same BoW model and documents
    with pytest.raises(ValueError, match="fantastic"):
        pair_baseline(prep, ["fantastic"])


def test_toy_interval_covers_the_estimate_and_shrinks_with_more_documents(toy):
    model, dataset = toy
    small = modifier_baseline(model, dataset, ["not"], window=4, n_test=500, n_resamples=1000).recovery
    large = modifier_baseline(model, dataset, ["not"], window=4, n_test=4000, n_resamples=1000).recovery
    for rec in (small, large):
        assert np.all(rec.low <= rec.estimate) and np.all(rec.estimate <= rec.high)
    width = lambda r: r["recovery"][2] - r["recovery"][1]  # noqa: E731
    print("recovery interval width, 500 vs 4000 documents:", width(small), width(large))
    assert width(large) < 0.6 * width(small)                          # ~ 1/sqrt(8) = 0.35 expected
    assert small.n_docs == 500 and large.n_docs == 4000
