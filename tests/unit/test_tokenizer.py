"""Tokenizer rules, vocabulary, and property-based fuzzing with arbitrary Unicode."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope.analysis.tokenizer import MAX_TEXT_CHARS, PAD, UNK, Tokenizer, Vocab, build_vocab, encode_texts

tok = Tokenizer()


def test_rules_lowercase_html_breaks_apostrophes_punctuation():
    text = "Not BAD!<br /><br />I didn't hate it... 10/10"
    assert tok(text) == ["not", "bad", "!", "i", "didn't", "hate", "it", ".", ".", ".", "10", "/", "10"]


def test_options_change_behaviour():
    raw = Tokenizer(lowercase=False, strip_html=False)
    assert raw("Good<br/>") == ["Good", "<", "br", "/", ">"]


def test_config_round_trip_and_unknown_name_rejected():
    config = Tokenizer(lowercase=False).to_config()
    assert Tokenizer.from_config(config) == Tokenizer(lowercase=False)
    try:
        Tokenizer.from_config({"name": "bpe/1"})
    except ValueError as exc:
        assert "unknown tokenizer" in str(exc)
    else:
        raise AssertionError("unknown tokenizer accepted")


def test_vocab_is_frequency_ranked_with_alphabetical_ties_and_specials_first():
    vocab = build_vocab([["b", "a", "c", "a"], ["c", "d"]], max_size=5)
    assert vocab.tokens == [PAD, UNK, "a", "c", "b"]
    assert vocab.encode(["a", "zzz", "b"]).tolist() == [2, 1, 4]
    assert vocab.decode([2, 3]) == ["a", "c"]


def test_encode_texts_truncates_to_max_len():
    vocab = Vocab([PAD, UNK, "good"])
    (ids,) = encode_texts(["good good good"], tok, vocab, max_len=2)
    assert ids.tolist() == [2, 2]


def test_huge_input_is_truncated_not_rejected():
    tokens = tok("a " * (MAX_TEXT_CHARS // 2 + 1000))
    assert len(tokens) == MAX_TEXT_CHARS // 2


VOCAB = Vocab([PAD, UNK, "the", "good", "bad", "film", "!"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=10_000))
def test_fuzz_arbitrary_unicode(text):
    tokens = tok(text)
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    ids = VOCAB.encode(tokens)
    assert ids.dtype == np.int64 and ids.shape == (len(tokens),)
    assert ((ids >= 1) & (ids < len(VOCAB))).all()  # never <pad>; unknown words are <unk>
    unknown = [t for t, i in zip(tokens, ids) if i == 1]
    assert all(t not in VOCAB.index for t in unknown)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["the", "good", "bad", "film"]), max_size=50))
def test_known_words_round_trip(words):
    assert VOCAB.decode(VOCAB.encode(tok(" ".join(words)))) == words
