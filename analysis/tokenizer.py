"""Tokenizer and vocabulary, stored in every checkpoint so typed text tokenizes as in training.

Rules of ``rnnscope-words/1`` (the only tokenizer so far):

1. Unicode NFKC normalization; lowercase (``lowercase=True``).
2. HTML line breaks (``<br>``, ``<br/>``, ``<br />``) become spaces (``strip_html=True``).
3. Tokens are runs of letters/digits with inner apostrophes (``don't``, ``90s``) or single
   punctuation characters; whitespace separates and is dropped.

Id 0 is ``<pad>``, id 1 is ``<unk>``; the rest are the ``max_size`` most frequent training
tokens (ties broken alphabetically, so the vocabulary is deterministic).
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

PAD, UNK = "<pad>", "<unk>"
#: Their ids in every vocabulary; real words start at ``N_SPECIAL``.
PAD_ID, UNK_ID, N_SPECIAL = 0, 1, 2
TOKENIZER_NAME = "rnnscope-words/1"
MAX_TEXT_CHARS = 1_000_000  # longer inputs are truncated before tokenizing

_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Tokenizer:
    """Splits text into tokens following the ``rnnscope-words/1`` rules."""

    lowercase: bool = True
    strip_html: bool = True
    name: str = TOKENIZER_NAME

    def __call__(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS])
        if self.strip_html:
            text = _BR.sub(" ", text)
        if self.lowercase:
            text = text.lower()
        return _TOKEN.findall(text)

    def to_config(self) -> dict:
        return {"name": self.name, "lowercase": self.lowercase, "strip_html": self.strip_html}

    @classmethod
    def from_config(cls, config: dict) -> Tokenizer:
        if not isinstance(config, dict) or config.get("name") != TOKENIZER_NAME:
            raise ValueError(f"unknown tokenizer {config!r}; expected name {TOKENIZER_NAME!r}")
        return cls(lowercase=bool(config.get("lowercase", True)), strip_html=bool(config.get("strip_html", True)))


@dataclass
class Vocab:
    """Token <-> id mapping; ``tokens[0] == '<pad>'``, ``tokens[1] == '<unk>'``."""

    tokens: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Token strings -> int64 ids of shape (n,); unknown tokens map to 1 (``<unk>``)."""
        return np.fromiter((self.index.get(t, 1) for t in tokens), dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in ids]


def build_vocab(token_lists: Iterable[list[str]], max_size: int, min_count: int = 1) -> Vocab:
    """The ``max_size`` most frequent tokens (including ``<pad>`` and ``<unk>``)."""
    counts = Counter()
    for toks in token_lists:
        counts.update(toks)
    ranked = sorted((t for t, c in counts.items() if c >= min_count and t not in (PAD, UNK)),
                    key=lambda t: (-counts[t], t))
    return Vocab([PAD, UNK] + ranked[: max(0, max_size - 2)])


#: Which ``max_len`` tokens of a longer document are kept: its first or its last.
TRUNCATIONS = ("head", "tail")


def truncate_tokens(tokens: Sequence, max_len: int, truncate: str = "head") -> Sequence:
    """The first (``"head"``) or the last (``"tail"``) ``max_len`` items of ``tokens``."""
    if truncate == "head":
        return tokens[:max_len]
    if truncate == "tail":
        return tokens[max(len(tokens) - max_len, 0):]
    raise ValueError(f"truncate must be one of {', '.join(TRUNCATIONS)}, got {truncate!r}")


def encode_texts(texts: Iterable[str], tokenizer: Tokenizer, vocab: Vocab, max_len: int | None = None) -> list[np.ndarray]:
    """Tokenize and encode each text; keeps the first ``max_len`` tokens when given."""
    out = []
    for text in texts:
        ids = vocab.encode(tokenizer(text))
        out.append(ids[:max_len] if max_len else ids)
    return out
