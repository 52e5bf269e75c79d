"""The sentiment classifier: embedding -> recurrent cell -> linear readout of h.

``RNNClassifier`` is the network (an ``nn.Module`` whose state_dict uses the checkpoint's
tensor names ``embedding.weight``, ``cell.*``, ``readout.*``). ``Model`` bundles it with
the vocabulary, tokenizer and metadata that a checkpoint carries.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from rnnscope.analysis.cells import make_cell
from rnnscope.analysis.tokenizer import Tokenizer, Vocab, truncate_tokens


class RNNClassifier(nn.Module):
    """Embedding (padding id 0), one recurrent cell, linear readout of the hidden state h.

    Parameters
    ----------
    arch : {"lstm", "gru", "ugrnn", "vrnn"}
    vocab_size, embed_dim, hidden_size : int
    num_classes : int
        1 means a single logit for binary classification (positive if > 0).
    """

    def __init__(self, arch: str, vocab_size: int, embed_dim: int, hidden_size: int, num_classes: int = 1):
        super().__init__()
        self.arch = arch
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.cell = make_cell(arch, embed_dim, hidden_size)
        self.readout = nn.Linear(hidden_size, num_classes)

    @property
    def hidden_size(self) -> int:
        return self.cell.hidden_size

    @property
    def state_size(self) -> int:
        """D: H, or 2H for the LSTM state [h; c]."""
        return self.cell.state_size

    @property
    def embed_dim(self) -> int:
        return self.embedding.embedding_dim

    @property
    def num_classes(self) -> int:
        return self.readout.out_features

    def shape_config(self) -> dict:
        return {"arch": self.arch, "vocab_size": self.embedding.num_embeddings, "embed_dim": self.embed_dim,
                "hidden_size": self.hidden_size, "num_classes": self.num_classes}

    # --- dynamics ---------------------------------------------------------------------
    def initial_state(self, batch: int = 1) -> Tensor:
        """The zero state, shape (batch, D)."""
        p = self.readout.weight
        return p.new_zeros(batch, self.state_size)

    def step(self, s: Tensor, x: Tensor) -> Tensor:
        """F(s, x): state (B, D), input embedding (B, E) -> next state (B, D)."""
        return self.cell.step(s, x)

    def jacobians(self, s: Tensor, x: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """J_rec (B, D, D) and J_inp (B, D, E) at states ``s``; ``x`` defaults to zero input."""
        if x is None:
            x = s.new_zeros(s.shape[0], self.embed_dim)
        return self.cell.jacobians(s, x)

    def logits_from_state(self, s: Tensor) -> Tensor:
        """Readout of states (..., D) -> logits (..., num_classes)."""
        return self.readout(self.cell.hidden(s))

    def readout_vector(self) -> Tensor:
        """Direction in state space (D,) whose dot product is the (binary) logit.

        For one logit it is ``readout.weight[0]``; for two classes ``w[1] - w[0]``
        (positive minus negative). The LSTM's c half is zero: the readout sees h only.
        """
        w = self.readout.weight.detach()
        w = w[0] if self.num_classes == 1 else w[-1] - w[0]
        out = w.new_zeros(self.state_size)
        out[: self.hidden_size] = w
        return out

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Logits (B, num_classes) for padded ``tokens`` (B, T) with ``lengths`` (B,).

        Uses the cell's fused sequence kernel (training path); equals running ``step``.
        """
        return self.readout(self.cell.sequence(self.embedding(tokens), lengths))

    @torch.no_grad()
    def run(self, tokens: Tensor, lengths: Tensor | None = None, s0: Tensor | None = None) -> Tensor:
        """Every state visited: (B, T, D); entry t is the state after token t.

        Past a document's length the state is held fixed (so index ``length-1`` and
        everything after it is the final state).
        """
        B, T = tokens.shape
        s = self.initial_state(B) if s0 is None else s0
        x = self.embedding(tokens)
        out = s.new_empty(B, T, self.state_size)
        for t in range(T):
            s_new = self.step(s, x[:, t])
            s = s_new if lengths is None else torch.where((t < lengths.to(s.device)).unsqueeze(-1), s_new, s)
            out[:, t] = s
        return out

    @torch.no_grad()
    def final_logits(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Logits after the last real token, via ``step`` (analysis path)."""
        return self.logits_from_state(self.run(tokens, lengths)[:, -1])


def pad_batch(seqs: Sequence[np.ndarray], max_len: int | None = None) -> tuple[Tensor, Tensor]:
    """Right-pad id sequences with 0: -> tokens (B, T) int64, lengths (B,) int64.

    Empty sequences get length 1 with a single pad token (the state moves by F(s, 0)).
    """
    seqs = [np.asarray(s[:max_len] if max_len else s, dtype=np.int64) for s in seqs]
    lengths = np.array([max(len(s), 1) for s in seqs], dtype=np.int64)
    tokens = np.zeros((len(seqs), int(lengths.max()) if len(seqs) else 1), dtype=np.int64)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = s
    return torch.from_numpy(tokens), torch.from_numpy(lengths)


@dataclass
class Model:
    """A network with everything needed to read text: vocabulary, tokenizer, metadata.

    Attributes
    ----------
    net : RNNClassifier
    vocab : Vocab
    tokenizer : Tokenizer
    metrics : dict  (e.g. {"test_accuracy": 0.78})
    provenance : dict  (dataset, seed, command, version)
    sha256 : str  hex digest of the checkpoint file it was loaded from ("" if never saved)
    """

    net: RNNClassifier
    vocab: Vocab
    tokenizer: Tokenizer = field(default_factory=Tokenizer)
    metrics: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    sha256: str = ""

    @property
    def arch(self) -> str:
        return self.net.arch

    @property
    def truncate(self) -> str:
        """Which tokens of a document longer than ``max_len`` the network was trained on:
        ``"tail"`` (its last) when the checkpoint's ``provenance.config.truncate`` says so,
        else ``"head"`` (its first; also for checkpoints that do not say)."""
        config = self.provenance.get("config") if isinstance(self.provenance, dict) else None
        return "tail" if isinstance(config, dict) and config.get("truncate") == "tail" else "head"

    def window(self, ids: np.ndarray, max_len: int) -> np.ndarray:
        """The ``max_len`` token ids of ``ids`` the network reads: the first or, for a
        tail-trained model (:attr:`truncate`), the last."""
        return truncate_tokens(ids, max_len, self.truncate)

    def config(self) -> dict:
        """The checkpoint config (``rnnscope/1``), without the vocabulary."""
        return {**self.net.shape_config(), "tokenizer": self.tokenizer.to_config(),
                "metrics": self.metrics, "provenance": self.provenance}

    def encode(self, text: str) -> np.ndarray:
        """Text -> token ids (n,), exactly as in training."""
        return self.vocab.encode(self.tokenizer(text))

    @torch.no_grad()
    def predict_proba(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Probability of the positive class for each text, shape (n,)."""
        self.net.eval()
        out = []
        for i in range(0, len(texts), batch_size):
            tokens, lengths = pad_batch([self.encode(t) for t in texts[i: i + batch_size]])
            logits = self.net(tokens.to(self.net.readout.weight.device), lengths)
            out.append(positive_probability(logits).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)


def binary_logit_from_logits(logits: Tensor) -> Tensor:
    """Logits (..., C) -> the positive-minus-negative logit (...): C = 1, that logit; C >= 2, last minus first.

    The one rule by which rnnscope reads a head as binary (``readout_vector`` is its direction
    in state space, ``positive_probability`` its probability).
    """
    return logits[..., 0] if logits.shape[-1] == 1 else logits[..., -1] - logits[..., 0]


def binary_logit(net: RNNClassifier, states: Tensor) -> Tensor:
    """States (..., D) -> the binary logit (...) of :func:`binary_logit_from_logits`."""
    return binary_logit_from_logits(net.logits_from_state(states))


def positive_probability(logits: Tensor) -> Tensor:
    """Logits (..., C) -> P(positive) (...); C = 1 (sigmoid) or C >= 2 (softmax, last class)."""
    if logits.shape[-1] == 1:
        return torch.sigmoid(logits[..., 0])
    return torch.softmax(logits, -1)[..., -1]
