"""Multi-class datasets (rnnscope.analysis.multiclass_data): the counting task's exact labels,
the ordered valence bins, the tweets with their neutral class, and data.load's dispatch."""
import dataclasses
import hashlib
import io
import zipfile

import numpy as np
import pytest

from rnnscope.analysis import data, data_sources
from rnnscope.analysis import multiclass_data as mc
from rnnscope.analysis.data_splits import DataError
from rnnscope.app.cli import main as run_cli

# --------------------------------------------------------------------------- counting task


def counts_of(text: str, n_classes: int) -> np.ndarray:
    words = text.split()
    return np.array([words.count(w) for w in mc.EVIDENCE[:n_classes]])


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_counting_labels_are_the_argmax_of_the_counts(n_classes):
    split = mc.counting_split(1500, n_classes, seed=4)
    counts = np.stack([counts_of(t, n_classes) for t in split.texts])
    top = counts.max(1)
    assert np.all((counts == top[:, None]).sum(1) == 1)  # ties were drawn again
    assert np.array_equal(split.labels, counts.argmax(1))
    assert split.n_classes == n_classes and set(split.labels.tolist()) == set(range(n_classes))
    words = {w for t in split.texts for w in t.split()}
    assert words <= set(mc.EVIDENCE[:n_classes]) | set(mc.FILLER)
    assert not words & set(mc.EVIDENCE[n_classes:])
    fractions = np.bincount(split.labels) / len(split)
    assert np.all(np.abs(fractions - 1 / n_classes) < 0.05)  # the classes are exchangeable


def test_counting_labels_are_not_the_last_or_most_recent_word():
    # The FALSE cases: labels that are not the argmax of the counts fail the check above.
    split = mc.counting_split(1000, 3, seed=1)
    last = np.array([next(mc.EVIDENCE.index(w) for w in reversed(t.split()) if w in mc.EVIDENCE)
                     for t in split.texts])
    assert np.mean(last == split.labels) < 0.8
    assert not np.array_equal((split.labels + 1) % 3, split.labels)


def test_counting_is_seeded_and_its_dataset_is_registered():
    a, b, c = mc.counting_split(200, 3, 7), mc.counting_split(200, 3, 7), mc.counting_split(200, 3, 8)
    assert a.texts == b.texts and a.texts != c.texts
    ds = data.load("counting-3", seed=0)
    assert ds.name == "counting-3" and ds.num_classes == 3 and ds.class_names == ("alpha", "beta", "gamma")
    assert ds.ordered is False and len(ds.train) == 20000 and len(ds.test) == 2000
    assert ds.test.texts != ds.train.texts[:2000]  # three independent streams
    assert mc.num_classes(data.load("counting-4")) == 4 and mc.num_classes(data.load("counting-2")) == 2
    assert data.load("counting-3", seed=1).test.texts != ds.test.texts
    with pytest.raises(ValueError, match="2..6 classes"):
        mc.counting_split(10, 7, 0)


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_close_counting_documents_are_won_by_exactly_one(n_classes):
    ds = data.load(f"counting-{n_classes}-close")
    assert ds.name == f"counting-{n_classes}-close" and ds.num_classes == n_classes and ds.ordered is False
    assert (len(ds.train), len(ds.validation), len(ds.test)) == mc.CLOSE_SIZES
    counts = np.stack([counts_of(t, n_classes) for t in ds.test.texts])
    top = np.sort(counts, 1)
    assert np.all(top[:, -1] - top[:, -2] == 1) and np.array_equal(ds.test.labels, counts.argmax(1))
    lengths = np.array([len(t.split()) for t in ds.test.texts])
    assert lengths.min() >= 100 and lengths.max() <= 300
    assert np.all(np.abs(np.bincount(ds.test.labels) / len(ds.test) - 1 / n_classes) < 0.1)
    # FALSE case: the short task's winners are often further ahead.
    short = np.stack([counts_of(t, n_classes) for t in data.load(f"counting-{n_classes}").test.texts])
    short = np.sort(short, 1)
    assert np.mean(short[:, -1] - short[:, -2] > 1) > 0.3
    with pytest.raises(ValueError, match="max_margin"):
        mc.CountingConfig(max_margin=-1)


def test_blocked_documents_keep_their_counts():
    config = mc.CountingConfig(min_len=20, max_len=40, p_evidence=0.3, blocked=True)
    split = mc.counting_split(300, 3, 2, config)
    counts = np.stack([counts_of(t, 3) for t in split.texts])
    assert np.array_equal(split.labels, counts.argmax(1))
    for text in split.texts:  # each class's evidence words form one run
        classes = [mc.EVIDENCE.index(w) for w in text.split() if w in mc.EVIDENCE]
        runs = [c for i, c in enumerate(classes) if i == 0 or c != classes[i - 1]]
        assert len(runs) == len(set(runs))


def test_class_split_checks_its_labels():
    with pytest.raises(DataError, match="0..2"):
        mc.ClassSplit(["a", "b"], np.array([0, 3]), n_classes=3)
    with pytest.raises(DataError, match="0 .negative. or 1"):
        data.Split(["a", "b"], np.array([0, 2]))  # a binary split still refuses a third class
    split = mc.ClassSplit(["a", "b", "c"], np.array([0, 2, 2]), n_classes=3)
    assert split.positive_fraction == pytest.approx(2 / 3)  # the last class, as `data info` shows it
    assert split.class_fractions() == \
        pytest.approx([1 / 3, 0, 2 / 3])


# --------------------------------------------------------------------------- valence bins


def test_valence_bins_are_ordered_quantiles():
    ratings = np.linspace(-4, 4, 1001)
    labels, cuts = mc.valence_bins(ratings, 5)
    assert np.allclose(cuts, [-2.4, -0.8, 0.8, 2.4])
    assert np.all(np.diff(labels) >= 0) and labels[0] == 0 and labels[-1] == 4  # ordered with the rating
    assert np.all(np.abs(np.bincount(labels) - 200) <= 1)
    shuffled = np.random.default_rng(0).permutation(ratings)
    lab, _ = mc.valence_bins(shuffled, 3)
    assert all(shuffled[lab == c].max() < shuffled[lab == c + 1].min() for c in range(2))


def test_mr_valence_datasets_from_the_cache(tmp_path):
    ratings = np.round(np.random.default_rng(3).uniform(-4, 4, 500), 3)
    rows = [(f"snippet {i}", r) for i, r in enumerate(ratings)]
    data_sources.write_csv_atomic(data_sources.cache_path("mr-valence", tmp_path), ("text", "rating"), rows)
    by_text = dict(rows)
    for C in (3, 5):
        ds = data.load(f"mr-valence{C}", home=tmp_path, fetch_missing=False)
        assert ds.num_classes == C and ds.ordered and len(ds.class_names) == C
        assert (len(ds.train), len(ds.validation), len(ds.test)) == (400, 50, 50)
        texts = ds.train.texts + ds.validation.texts + ds.test.texts
        labels = np.concatenate([ds.train.labels, ds.validation.labels, ds.test.labels])
        r = np.array([by_text[t] for t in texts])
        means = [r[labels == c].mean() for c in range(C)]
        assert means == sorted(means)  # class c's ratings lie below class c + 1's
        assert np.all(np.abs(np.bincount(labels, minlength=C) - 500 / C) <= 2)


# --------------------------------------------------------------------------- tweets with neutral

TWEETS = ("sentiment,confidence,text\n"
          "negative,1.0,late again\nneutral,0.6,flight at noon\npositive,1.0,great crew\n"
          "neutral,0.7,gate b4\nnegative,0.9,lost bag\nneutral,1.0,what time\n"
          "positive,0.8,thanks\nneutral,1.0,ok\nnegative,1.0,awful\nneutral,0.9,boarding now\n")


@pytest.fixture
def fake_tweets(tmp_path, monkeypatch):
    source = data_sources.SOURCES["tweets"]
    archive = tmp_path / "archives" / source.archive
    archive.parent.mkdir(parents=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(source.member, TWEETS.encode("latin-1"))
    archive.write_bytes(buf.getvalue())
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(data_sources.SOURCES, "tweets", dataclasses.replace(source, sha256=sha))
    monkeypatch.setenv("RNNSCOPE_ARCHIVES", str(archive.parent))
    return tmp_path / "home"


def test_tweets3_keeps_the_neutral_tweets(fake_tweets):
    with pytest.raises(DataError, match="not cached"):
        data.load("tweets3", home=fake_tweets, fetch_missing=False)
    ds = data.load("tweets3", home=fake_tweets)
    assert ds.class_names == ("negative", "neutral", "positive") and ds.ordered
    texts = ds.train.texts + ds.validation.texts + ds.test.texts
    labels = np.concatenate([ds.train.labels, ds.validation.labels, ds.test.labels])
    assert len(texts) == 10 and np.bincount(labels).tolist() == [3, 5, 2]
    truth = {"late again": 0, "flight at noon": 1, "great crew": 2, "boarding now": 1}
    assert all(labels[texts.index(t)] == c for t, c in truth.items())
    assert (fake_tweets / "data" / "tweets3" / "tweets3.csv").is_file()


def test_tweets3_refuses_an_archive_with_another_hash(fake_tweets, monkeypatch):
    source = data_sources.SOURCES["tweets"]
    monkeypatch.setitem(data_sources.SOURCES, "tweets", dataclasses.replace(source, sha256="0" * 64))
    with pytest.raises(DataError, match="sha256"):
        data.load("tweets3", home=fake_tweets)


def test_unknown_multiclass_names():
    with pytest.raises(DataError, match="unknown multi-class dataset"):
        mc.load_multiclass("counting-9")
    assert mc.dataset_identity("counting-3").startswith("counting-3@builtin-")
    assert mc.dataset_identity("tweets3") == f"tweets3@{data_sources.SOURCES['tweets'].sha256}"


def test_data_list_and_fetch_know_the_multiclass_sets(tmp_path, capsys):

    home = tmp_path / "home"
    assert run_cli(["data", "list", "--home", str(home)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    for c in (2, 3, 4):
        assert "built in, no download" in rows[f"counting-{c}"]
    assert "not cached (rnnscope data fetch tweets3)" in rows["tweets3"] and "from tweets" in rows["tweets3"]
    assert "not cached" in rows["mr-valence5"] and "5 ordered classes" in rows["mr-valence5"]
    assert run_cli(["data", "fetch", "counting-3", "--home", str(home)]) == 0
    assert "counting-3: built in" in capsys.readouterr().out
    assert not home.exists() or not any(home.rglob("*"))  # nothing downloaded or written
