"""Bag-of-words baseline and word sets on a synthetic corpus with known word valence."""
import numpy as np
import pytest

from rnnscope.analysis.baseline import bow_matrix, fit_bow
from rnnscope.analysis.data import Dataset, Split
from rnnscope.analysis.tokenizer import Tokenizer, encode_texts
from rnnscope.analysis.words import WordSets, select_words, vader_agreement

POS = [f"good{i}" for i in range(8)]
NEG = [f"bad{i}" for i in range(8)]
FILLER = [f"the{i}" for i in range(40)]


def _split(n, rng):
    """Each document: 12 filler words and 2 words of its label's valence (1 in 10 flipped)."""
    texts, labels = [], rng.integers(0, 2, n)
    for y in labels:
        clue = POS if (y == 1) != (rng.random() < 0.1) else NEG
        words = list(rng.choice(FILLER, 12)) + list(rng.choice(clue, 2))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return Split(texts, labels)


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    return Dataset("synthetic", _split(1500, rng), _split(300, rng), _split(500, rng))


@pytest.fixture(scope="module")
def bow(corpus):
    return fit_bow(corpus, Tokenizer())


def test_baseline_learns_the_planted_valence(bow):
    assert 0.85 < bow.accuracy_ <= 0.95  # 10% of clues are flipped: ~0.9 is the ceiling
    assert bow.C_ in bow.validation_accuracy_
    assert min(bow.coef_of(POS)) > max(bow.coef_of(FILLER))
    assert max(bow.coef_of(NEG)) < min(bow.coef_of(FILLER))
    assert bow.coef_of(["never-seen"]).tolist() == [0.0]
    assert bow.vocabulary_[:2] == ["<pad>", "<unk>"] and set(bow.vocabulary_[2:]) == set(POS + NEG + FILLER)
    assert bow.coef_[:2].tolist() == [0.0, 0.0]  # empty columns
    p = bow.predict_proba(["good1 good2 the3", "bad1 bad4 the3"])
    assert p[0] > 0.5 > p[1]


def test_doc_freq_counts_training_documents(corpus, bow):
    col = bow.vocabulary_.index("the0")
    expected = sum("the0" in t.split() for t in corpus.train.texts)
    assert bow.doc_freq_[col] == expected


def test_vocab_restricts_features(corpus):
    b = fit_bow(corpus, Tokenizer(), vocab=["<pad>", "<unk>"] + POS[:4] + NEG[:4])
    assert b.vocabulary_ == ["<pad>", "<unk>"] + POS[:4] + NEG[:4]
    assert np.all(b.coef_of(POS[:4]) > 0) and b.coef_of(POS[5:6]).tolist() == [0.0]
    with pytest.raises(ValueError, match="must start with"):
        fit_bow(corpus, Tokenizer(), vocab=POS)


def test_encoded_splits_are_used_as_given(corpus, bow):
    enc = {name: encode_texts(split.texts, Tokenizer(), bow.vocab) for name, split in corpus.splits().items()}
    again = fit_bow(corpus, Tokenizer(), bow.vocab, encoded=enc)
    np.testing.assert_array_equal(again.coef_, bow.coef_)
    # encodings are trusted: scrambled test ids change the test accuracy only
    scrambled = dict(enc, test=[np.full_like(q, 2) for q in enc["test"]])
    other = fit_bow(corpus, Tokenizer(), bow.vocab, encoded=scrambled)
    np.testing.assert_array_equal(other.coef_, bow.coef_)
    assert other.accuracy_ != bow.accuracy_


def test_bow_matrix_counts_and_presence():
    seqs = [np.array([2, 3, 2, 1, 0]), np.array([], dtype=np.int64), np.array([4])]
    X = bow_matrix(seqs, 5, binary=False).toarray()
    np.testing.assert_array_equal(X, [[0, 0, 2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]])
    np.testing.assert_array_equal(bow_matrix(seqs, 5).toarray()[0], [0, 0, 1, 1, 0])
    with pytest.raises(ValueError, match="outside"):
        bow_matrix([np.array([7])], 5)


def test_word_sets_recover_the_planted_valence(bow):
    sets = select_words(bow.vocabulary_, bow.coef_, bow.doc_freq_, n=8, n_frequent=40)
    assert set(sets.of(1)) == set(POS)
    assert set(sets.of(-1)) == set(NEG)
    assert set(sets.of(0)) <= set(FILLER) and len(sets.of(0)) == 8
    assert list(sets.valence) == [1] * 8 + [-1] * 8 + [0] * 8
    assert np.all(np.diff(sets.coef[:8]) <= 0) and np.all(np.diff(sets.coef[8:16]) >= 0)
    assert np.abs(sets.coef[16:]).max() <= np.abs(bow.coef_of(FILLER)).max()


def test_select_words_rules():
    vocab = ["<pad>", "<unk>", "a", "b", "c", "d", "e", "f", "rare"]
    coef = np.array([9, -9, 3.0, 2.0, -1.0, -4.0, 0.1, -0.05, 50.0])
    df = np.array([100, 100, 50, 40, 30, 20, 90, 80, 1])
    sets = select_words(vocab, coef, df, n=2, n_frequent=3, min_doc_freq=5, allowed=set(vocab) - {"b"})
    assert sets.of(1) == ["a", "e"]  # "rare" is too rare, "b" not allowed, pad/unk never
    assert sets.of(-1) == ["d", "c"]
    assert sets.of(0) == ["f"]  # the 3 most frequent are e, f, a; e and a are taken
    assert sets.doc_freq.tolist() == [50, 90, 20, 30, 80]
    with pytest.raises(ValueError, match="same length"):
        select_words(vocab, coef[:3], df)


def test_vader_agreement():
    sets = WordSets(["great", "fine", "awful", "meh", "the"], np.array([1, 1, -1, -1, 0], np.int8),
                    np.zeros(5), np.ones(5, np.int64))
    lex = {"great": 3.1, "fine": -0.2, "awful": -2.5, "the": 0.0}
    out = vader_agreement(sets, lex)
    assert out["vader_positive_agreement"] == 0.5
    assert out["vader_negative_agreement"] == 1.0
    assert out["vader_coverage"] == 0.75
    assert out["vader_neutral_mean_abs"] == 0.0
    assert np.isnan(vader_agreement(sets, {})["vader_positive_agreement"])


def test_baseline_command(tmp_path, capsys, corpus):
    from rnnscope.app.cli import main

    path = tmp_path / "planted.csv"
    rows = ["text,label"] + [f"{t},{y}" for t, y in zip(corpus.train.texts, corpus.train.labels)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["baseline", "--data", str(path), "--top", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("test accuracy: ")
    assert 0.85 < float(lines[-1].split(": ")[1]) <= 1.0
    most_positive = next(line for line in lines if line.startswith("most positive: "))
    assert all(w.split()[0] in POS for w in most_positive[len("most positive: "):].split(", "))
    assert main(["baseline", "--data", str(tmp_path / "missing.csv")]) == 2
    assert main(["baseline", "--data", str(path), "--top", "-1"]) == 2
    assert "error:" in capsys.readouterr().err
