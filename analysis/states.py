"""States visited by a network while it reads documents, and seeds drawn from them.

``collect_states`` runs the network token by token (``RNNClassifier.run``) and keeps the
state after every *real* token (padding masked out), with the document, position, token
and label of each. These states are what PCA is fitted on, what fixed-point seeds are
drawn from (held-out documents, as in the paper), and where the one-step linearization
error is measured.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnscope.analysis.model import RNNClassifier, pad_batch


@dataclass
class VisitedStates:
    """States after each real token, stored document by document in reading order.

    Attributes
    ----------
    states : float32 ndarray of shape (N, D)
        State after token ``position`` of document ``doc``.
    doc : int64 ndarray of shape (N,)
        Index of the document (into the sequences given to ``collect_states``).
    position : int64 ndarray of shape (N,)
        0-based token position inside its document.
    token : int64 ndarray of shape (N,)
        Token id read at that step.
    label : int64 ndarray of shape (N,)
        Label of the document (-1 when no labels were given).
    final : float32 ndarray of shape (n_docs, D)
        Final state of each document (the initial state for an empty one).
    lengths : int64 ndarray of shape (n_docs,)
        Real tokens read per document (after truncation to ``max_len``).
    doc_labels : int64 ndarray of shape (n_docs,)
        Label per document (-1 when unknown).
    initial : float32 ndarray of shape (D,)
        The initial state every document starts from.
    """

    states: np.ndarray
    doc: np.ndarray
    position: np.ndarray
    token: np.ndarray
    label: np.ndarray
    final: np.ndarray
    lengths: np.ndarray
    doc_labels: np.ndarray
    initial: np.ndarray

    def __len__(self) -> int:
        return len(self.states)

    @property
    def n_docs(self) -> int:
        return len(self.lengths)

    def previous(self) -> np.ndarray:
        """State *before* each step, float32 (N, D): the initial state at position 0."""
        prev = np.empty_like(self.states)
        first = self.position == 0
        prev[first] = self.initial
        prev[~first] = self.states[np.flatnonzero(~first) - 1]
        return prev

    def trajectory(self, doc: int) -> np.ndarray:
        """Initial state followed by the states of document ``doc``: (length + 1, D)."""
        return np.concatenate([self.initial[None], self.states[self.doc == doc]])


def _device(net: RNNClassifier) -> torch.device:
    return net.readout.weight.device


@torch.no_grad()
def collect_states(net: RNNClassifier, token_seqs: Sequence[np.ndarray], *, labels: np.ndarray | None = None,
                   max_docs: int | None = None, max_len: int | None = None,
                   batch_size: int = 256) -> VisitedStates:
    """Run ``net`` over documents and keep the state after every real token.

    Parameters
    ----------
    net : RNNClassifier
    token_seqs : sequence of int ndarrays, each of shape (n_i,)
        Token ids per document.
    labels : int ndarray of shape (n_docs,), optional
        0/1 label per document.
    max_docs : int, optional
        Use only the first ``max_docs`` documents.
    max_len : int, optional
        Truncate each document to its first ``max_len`` tokens.
    batch_size : int
        Documents per batch (documents are batched by similar length to limit padding).

    Returns
    -------
    VisitedStates
    """
    seqs = [np.asarray(s, dtype=np.int64)[:max_len] for s in list(token_seqs)[:max_docs]]
    n = len(seqs)
    doc_labels = np.full(n, -1, np.int64) if labels is None else np.asarray(labels, np.int64)[:n]
    D = net.state_size
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    initial = net.initial_state(1)[0].float().cpu().numpy()
    final = np.repeat(initial[None], n, 0).astype(np.float32)
    per_doc: list[np.ndarray | None] = [None] * n
    order = np.argsort(lengths, kind="stable")
    was_training = net.training
    net.eval()
    try:
        for i in range(0, n, batch_size):
            idx = [j for j in order[i: i + batch_size] if lengths[j] > 0]
            if not idx:
                continue
            tokens, lens = pad_batch([seqs[j] for j in idx])
            out = net.run(tokens.to(_device(net)), lens).float().cpu().numpy()
            for row, j in enumerate(idx):
                per_doc[j] = out[row, : lengths[j]]
                final[j] = out[row, lengths[j] - 1]
    finally:
        net.train(was_training)
    kept = [j for j in range(n) if lengths[j] > 0]
    states = np.concatenate([per_doc[j] for j in kept]) if kept else np.zeros((0, D), np.float32)
    doc = np.repeat(np.arange(n), lengths)
    position = np.concatenate([np.arange(lengths[j]) for j in kept]) if kept else np.zeros(0, np.int64)
    token = np.concatenate([seqs[j] for j in kept]) if kept else np.zeros(0, np.int64)
    return VisitedStates(states=np.ascontiguousarray(states, dtype=np.float32), doc=doc,
                         position=position.astype(np.int64), token=token.astype(np.int64),
                         label=doc_labels[doc], final=final, lengths=lengths, doc_labels=doc_labels,
                         initial=initial.astype(np.float32))


def untrained_like(net: RNNClassifier, seed: int = 0) -> RNNClassifier:
    """A freshly initialized network of the same architecture and shapes.

    Same vocabulary size, embedding size, hidden size and number of classes, so the same
    token ids can be fed to it; every weight (embedding included) is a fresh PyTorch
    default initialization drawn under ``seed``, without touching the global RNG.
    """
    cfg = net.shape_config()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = RNNClassifier(cfg["arch"], cfg["vocab_size"], cfg["embed_dim"], cfg["hidden_size"],
                              cfg["num_classes"])
    return fresh.to(_device(net)).eval()


def draw_seeds(states: VisitedStates | np.ndarray, n: int, rng: np.random.Generator | int = 0,
               noise: float = 0.0) -> np.ndarray:
    """Initial conditions for the fixed-point search, drawn from visited states.

    Parameters
    ----------
    states : VisitedStates or float ndarray of shape (N, D)
    n : int
        Number of seeds; drawn without replacement when N >= n.
    rng : numpy Generator or int seed
    noise : float
        Standard deviation of isotropic Gaussian noise added to each seed, in state units.

    Returns
    -------
    float32 ndarray of shape (n, D)
    """
    pool = states.states if isinstance(states, VisitedStates) else np.asarray(states, np.float32)
    if len(pool) == 0:
        raise ValueError("no visited states to draw fixed-point seeds from (all documents empty?)")
    rng = np.random.default_rng(rng)
    idx = rng.choice(len(pool), size=n, replace=len(pool) < n)
    seeds = pool[idx].astype(np.float32, copy=True)
    if noise > 0:
        seeds += rng.normal(0.0, noise, size=seeds.shape).astype(np.float32)
    return seeds
