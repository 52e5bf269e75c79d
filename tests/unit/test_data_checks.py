"""Vocabulary coverage and the at-or-below-chance check (``rnnscope.analysis.data_checks``), with known
answers, on the shipped demo GRU with real MR and tweets, and in a real report."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from rnnscope.analysis import checkpoint, data
from rnnscope.analysis.data_checks import UNK_WARN_FRACTION, chance_level, fit_warnings, vocabulary_coverage
from rnnscope.analysis.pipeline import AnalysisParams, run_analysis
from rnnscope.analysis.tokenizer import encode_texts

DEMO_GRU = "models/demo/gru-mr.safetensors"
SMALL = AnalysisParams(n_docs=60, max_len=40, n_seeds=24, n_words=10, n_frequent=200, min_doc_freq=2,
                       n_null=200, lin_docs=30, n_error_samples=200, accuracy_docs=0, vader=False,
                       density_bins=20, attractor_steps=300)


def test_coverage_counts_unk_tokens_over_all_tokens():
    seqs = [np.array([5, 1, 7, 1]), np.array([1, 1]), np.array([], dtype=np.int64), np.array([9])]
    cov = vocabulary_coverage(seqs, warn_above=0.5)
    assert (cov["n_docs"], cov["n_tokens"], cov["n_unk"]) == (4, 7, 4)
    assert cov["unk_fraction"] == pytest.approx(4 / 7)
    assert cov["docs_all_unk"] == 1  # [1, 1]; the empty document has no tokens to be unknown
    assert cov["poor"] is True and cov["unk_warn_above"] == 0.5
    assert vocabulary_coverage(seqs, warn_above=0.6)["poor"] is False


def test_coverage_of_no_tokens_is_unknown_not_zero():
    cov = vocabulary_coverage([np.array([], dtype=np.int64)])
    assert cov["unk_fraction"] is None and cov["poor"] is False and cov["n_tokens"] == 0


def test_chance_is_the_majority_class_rate_of_the_same_labels():
    labels = np.array([1, 0, 0, 0])
    assert chance_level(labels, 0.80) == {"majority_rate": 0.75, "majority_class": "negative",
                                         "at_or_below_chance": False}
    assert chance_level(labels, 0.75)["at_or_below_chance"] is True  # "at" counts
    assert chance_level(labels, 0.25)["at_or_below_chance"] is True
    tie = chance_level(np.array([0, 1]), 0.5)
    assert tie["majority_class"] == "positive" and tie["at_or_below_chance"] is True
    assert chance_level(np.array([]), 0.9)["majority_rate"] is None
    assert chance_level(labels, None)["at_or_below_chance"] is False
    assert chance_level(labels, float("nan"))["at_or_below_chance"] is False


def test_warnings_say_the_numbers_in_words():
    cov = vocabulary_coverage([np.array([1, 1, 1, 2])])
    chance = chance_level(np.array([0, 0, 0, 1, 1]), 0.32)
    text = fit_warnings(cov, 0.32, chance)
    assert len(text) == 2
    assert "75% of this dataset's tokens are not in the model's vocabulary" in text[0]
    assert "test accuracy 32.0% is at or below chance" in text[1] and "negative scores 60.0%" in text[1]
    good = vocabulary_coverage([np.array([2, 3, 4, 5, 6, 7, 8, 9, 10, 1])])  # 10%
    assert fit_warnings(good, 0.9, chance_level(np.array([0, 1]), 0.9)) == []


@pytest.fixture(scope="module")
def demo_gru():
    return checkpoint.load(DEMO_GRU)


def _unk_fraction(model, name: str, home) -> float:
    split = data.load(name, home=home).test
    return vocabulary_coverage(encode_texts(split.texts, model.tokenizer, model.vocab))["unk_fraction"]


def test_the_mr_model_covers_mr_but_not_tweets(demo_gru, rnnscope_home):
    """Real data: the MR GRU's 8,000-word vocabulary misses 7.8% of MR's test tokens and 28% of
    the tweets' (measured), so only the tweets are flagged."""
    mr, tweets = _unk_fraction(demo_gru, "mr", rnnscope_home), _unk_fraction(demo_gru, "tweets", rnnscope_home)
    assert mr < UNK_WARN_FRACTION < tweets
    assert 0.05 < mr < 0.10 and 0.25 < tweets < 0.32


def _subset(name: str, n: int, home) -> data.Dataset:
    full = data.load(name, home=home)
    cut = lambda s, k: data.Split(s.texts[:k], s.labels[:k])  # noqa: E731
    return data.Dataset(name, cut(full.train, 4 * n), cut(full.validation, n), cut(full.test, n))


def test_report_of_a_flipped_readout_warns_below_chance(demo_gru, rnnscope_home):
    """The demo GRU with its readout negated answers every MR snippet the wrong way round: the
    report records the majority rate of the same documents and says so in its warnings;
    the unflipped model on the same documents gets no such warning."""
    mr = _subset("mr", 300, rnnscope_home)
    flipped = copy.deepcopy(demo_gru)
    with torch.no_grad():
        flipped.net.readout.weight.neg_()
        flipped.net.readout.bias.neg_()
    bad = run_analysis(flipped, mr, SMALL).summary
    good = run_analysis(demo_gru, mr, SMALL).summary
    rate = max(mr.test.labels.mean(), 1 - mr.test.labels.mean())
    for s in (bad, good):
        assert s["accuracy"]["majority_rate"] == pytest.approx(rate)
        assert s["data"]["vocabulary"]["unk_fraction"] == pytest.approx(_unk_fraction_of(demo_gru, mr))
        assert s["data"]["vocabulary"]["poor"] is False
    assert bad["accuracy"]["test"] == pytest.approx(1 - good["accuracy"]["test"], abs=1e-9)
    assert bad["accuracy"]["at_or_below_chance"] is True and good["accuracy"]["at_or_below_chance"] is False
    assert any("at or below chance" in w for w in bad["warnings"])
    assert not any("at or below chance" in w for w in good["warnings"])


def _unk_fraction_of(model, dataset: data.Dataset) -> float:
    ids = np.concatenate(encode_texts(dataset.test.texts, model.tokenizer, model.vocab))
    return float(np.mean(ids == 1))


def test_report_of_the_mr_model_on_tweets_warns_about_coverage(demo_gru, rnnscope_home):
    s = run_analysis(demo_gru, _subset("tweets", 200, rnnscope_home), SMALL).summary
    assert s["data"]["vocabulary"]["poor"] is True
    assert any("not in the model's vocabulary" in w for w in s["warnings"])


def test_report_html_shows_coverage_and_chance_with_their_warnings():
    from rnnscope.analysis.report import Report
    from rnnscope.analysis.summary import SummaryError, complete
    from rnnscope.app.report_html import render_report_html

    cov = vocabulary_coverage([np.array([1, 1, 1, 2, 3])])  # 60% <unk>
    summary = complete({"model": {"arch": "gru", "hidden_size": 16}, "data": {"name": "tweets", "vocabulary": cov},
                        "accuracy": {"test": 0.32, **chance_level(np.array([0] * 69 + [1] * 31), 0.32)}})
    page = render_report_html(Report(summary, {}))
    fit = page[page.index('id="data-fit"'):]
    fit = fit[: fit.index("</p>")]
    assert "60.0% of the test split's 5 tokens are not in the model's vocabulary (&lt;unk&gt;)" in fit
    assert "test accuracy 32.0% against chance 69.0% (always negative)" in fit
    assert fit.count("<b>Warning:</b>") == 2 and "at or below chance" in fit
    with pytest.raises(SummaryError, match=r"no field .data\."):  # a report from before the checks: never misread
        render_report_html(Report(complete({"model": {"arch": "gru"}}) | {"data": {"name": "mr"}}, {}))
