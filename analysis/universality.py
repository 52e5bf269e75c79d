r"""Universality and individuality across networks (Maheswaranathan, Williams, Golub, Ganguli
& Sussillo, NeurIPS 2019): what several networks share, and what is their own.

Two kinds of comparison, each a distance between two networks:

**Geometry** (representation), on the states the networks visit while reading *the same*
documents (:func:`gather_states`: the same seeded sample of test documents as
``run_analysis``, 1,000 by default; each network's state after every real token, aligned
by (document, position) and subsampled, seeded, to at most ``max_states`` rows). With
``X`` (N, D1) and ``Y`` (N, D2) the two networks' states at the same N steps:

- **linear CKA** (Kornblith, Norouzi, Lee & Hinton 2019), ``X``, ``Y`` centred per column:

  .. math:: \mathrm{CKA}(X, Y) = \frac{\lVert Y^\top X\rVert_F^2}
            {\lVert X^\top X\rVert_F \, \lVert Y^\top Y\rVert_F} \in [0, 1]

  invariant to an orthogonal change of basis and to isotropic scaling of either network's
  states, *not* to an invertible non-orthogonal (anisotropic) transform;
- **SVCCA** (Raghu, Gilmer, Yosinski & Sohl-Dickstein 2017): per network, the top singular
  directions of the centred states that hold ``keep`` = 99% of the variance (SVD); then CCA
  between the two reduced sets; the canonical correlations of two column spaces are the
  cosines of their principal angles (``scipy.linalg.subspace_angles``, QR + SVD); SVCCA is
  their mean, in [0, 1]. Invariant to any invertible linear transform that keeps the 99%
  subspace (an orthogonal one always does).

Distances: ``1 − CKA`` and ``1 − SVCCA`` (dimensionless, 0 = the same representation up
to the invariances above).

**Topology** (dynamics), from each network's analysis report (:func:`topology_from_report`):
the attractor verdict's kind (``rnnscope.analysis.attractors.KINDS``: line, slow, isolated,
unstable, none), its number of attractors (the verdict's groups of end states after the
horizon: for ``isolated`` the number of isolated stable points; a line or slow manifold is
one continuum, whatever number of groups its sampled end states fall into), the number of
slow modes (median over the points of modes with τ > 10 tokens) and τ1 (median
over the points of the time constant of the largest |λ|, tokens). The distance
(:func:`topology_distance`) is a weighted sum of four terms, each in [0, 1]:

.. math:: d = w_k [k_a \ne k_b] + w_n [k_a = k_b = \mathrm{isolated}, n_a \ne n_b]
        + w_s \frac{|s_a - s_b|}{\max(s_a, s_b, 1)} + w_\tau \min(|\log_{10}\tau_a - \log_{10}\tau_b|, 1)

(a term with a missing (nan) or infinite value counts 0 when both sides have the same one,
1 otherwise), with every weight 1 by default: 0 when
the kinds, counts, slow modes and τ1 agree; at least 1 when the kinds differ; τ1 adds at
most 1 (one decade or more).

**Population**: an MDS map of a distance matrix (:func:`mds_embedding`, metric MDS on the
precomputed distances, classical-MDS start, seeded) and whether a distance separates the
architectures (:func:`separation`: the silhouette score of the architecture labels on the
precomputed distances; it separates them when the score is above ``SEPARATES_ABOVE`` =
0.25, Kaufman & Rousseeuw's "weak structure" bound). :func:`universality_verdict` says
whether the paper's finding holds: every geometry distance separates the architectures and
the topology distance does not. It is undefined (None) when a silhouette is: fewer than
2 architectures, or no architecture with 2 networks.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.linalg import subspace_angles
from sklearn.manifold import MDS
from sklearn.metrics import silhouette_score

from rnnscope.analysis.model import Model
from rnnscope.analysis.states import collect_states
from rnnscope.analysis.summary import Summary, read
from rnnscope.analysis.tokenizer import encode_texts

#: Share of each network's state variance SVCCA keeps (Raghu et al. 2017: 99%).
SVCCA_KEEP = 0.99
#: A distance separates the architectures when their silhouette score is above this.
SEPARATES_ABOVE = 0.25
#: Weights of the topology distance's terms: kind, number of attractors, slow modes, log10 τ1.
TOPOLOGY_WEIGHTS = {"kind": 1.0, "n_attractors": 1.0, "n_slow_modes": 1.0, "log_tau1": 1.0}
#: The distances :func:`universality_verdict` reads as geometry.
GEOMETRY = ("cka", "svcca")


# --------------------------------------------------------------------------- geometry


def _centred(x: np.ndarray, name: str) -> np.ndarray:
    """Columns of a 2-D array minus their means, float64; ValueError for a constant array."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be a 2-D array of at least 2 states, got shape {x.shape}")
    x = x - x.mean(0)
    if not np.any(x):
        raise ValueError(f"{name} does not vary: every state is the same")
    return x


def _same_rows(x: np.ndarray, y: np.ndarray) -> None:
    if len(x) != len(y):
        raise ValueError(f"the two networks' states must be at the same steps: {len(x)} and {len(y)} rows")


def _cka_of_centred(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two networks' states at the same N steps (module docstring).

    Parameters
    ----------
    x : ndarray of shape (N, D1)
    y : ndarray of shape (N, D2)

    Returns
    -------
    float in [0, 1], dimensionless (1: the same up to rotation and isotropic scale).
    """
    _same_rows(x, y)
    return _cka_of_centred(_centred(x, "x"), _centred(y, "y"))


def top_directions(x: np.ndarray, keep: float = SVCCA_KEEP) -> np.ndarray:
    """Orthonormal basis (N, k) of the centred states' top singular directions (left singular
    vectors) that together hold at least ``keep`` of the variance; x is (N, D)."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], not {keep}")
    u, s, _ = np.linalg.svd(_centred(x, "states"), full_matrices=False)
    var = s ** 2
    k = int(np.searchsorted(np.cumsum(var) / var.sum(), keep - 1e-12) + 1)
    k = min(k, int(np.sum(s > s[0] * 1e-10)))
    return u[:, :k]


def _correlations_of_bases(ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between two column spaces, descending."""
    return np.clip(np.sort(np.cos(subspace_angles(ux, uy)))[::-1], 0.0, 1.0)


def canonical_correlations(x: np.ndarray, y: np.ndarray, keep: float = SVCCA_KEEP) -> np.ndarray:
    """SVCCA's canonical correlations, descending: (min(kx, ky),) in [0, 1].

    ``x`` (N, D1) and ``y`` (N, D2) are reduced to their top directions holding ``keep`` of
    the variance (:func:`top_directions`); CCA of two reduced sets is the cosine of the
    principal angles between their column spaces (``scipy.linalg.subspace_angles``)."""
    _same_rows(x, y)
    return _correlations_of_bases(top_directions(x, keep), top_directions(y, keep))


def svcca(x: np.ndarray, y: np.ndarray, keep: float = SVCCA_KEEP) -> float:
    """Mean SVCCA correlation of two networks' states at the same N steps, in [0, 1]
    (:func:`canonical_correlations`)."""
    return float(np.mean(canonical_correlations(x, y, keep)))


def representation_distances(states: Sequence[np.ndarray], keep: float = SVCCA_KEEP) -> dict[str, np.ndarray]:
    """``1 − CKA`` and ``1 − SVCCA`` between every pair of networks.

    Parameters
    ----------
    states : sequence of n arrays of shapes (N, D_i)
        Each network's states at the same N steps (:func:`gather_states`).

    Returns
    -------
    dict ``{"cka": (n, n), "svcca": (n, n)}``: symmetric, zero diagonal, in [0, 1].
    """
    for s in states[1:]:
        _same_rows(states[0], s)
    centred = [_centred(s, f"states[{i}]") for i, s in enumerate(states)]
    bases = [top_directions(c, keep) for c in centred]
    n = len(states)
    out = {"cka": np.zeros((n, n)), "svcca": np.zeros((n, n))}
    for i in range(n):
        for j in range(i + 1, n):
            out["cka"][i, j] = out["cka"][j, i] = max(0.0, 1.0 - _cka_of_centred(centred[i], centred[j]))
            cca = float(np.mean(_correlations_of_bases(bases[i], bases[j])))
            out["svcca"][i, j] = out["svcca"][j, i] = max(0.0, 1.0 - cca)
    return out


# --------------------------------------------------------------------------- shared states


@dataclass
class SharedStates:
    """Several networks' states at the same steps of the same documents.

    Attributes
    ----------
    states : list of float32 ndarrays, each of shape (N, D_i)
        Network i's state after token ``position`` of document ``doc``.
    doc : int64 ndarray of shape (N,)
        Index of the document in the dataset's test split.
    position : int64 ndarray of shape (N,)
        0-based token position in the document.
    n_docs : int
        Documents read (the seeded sample).
    n_available : int
        Steps every network read (before subsampling to N).
    """

    states: list
    doc: np.ndarray
    position: np.ndarray
    n_docs: int
    n_available: int


def _sample_steps(lengths: np.ndarray, max_states: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(doc row, position) of a seeded sample of at most ``max_states`` of the steps
    ``(d, p), p < lengths[d]``, sorted by document then position."""
    doc = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(doc)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    if len(doc) > max_states:
        keep = np.sort(np.random.default_rng(seed).choice(len(doc), max_states, replace=False))
        doc, position = doc[keep], position[keep]
    return doc.astype(np.int64), position.astype(np.int64)


def _states_at(model: Model, seqs: list, rows: np.ndarray, position: np.ndarray, chunk: int,
               batch_size: int) -> np.ndarray:
    """One network's states (len(rows), D) at (document ``rows``, ``position``), reading
    ``chunk`` documents at a time (memory bounded by a chunk's states)."""
    out = np.zeros((len(rows), model.net.state_size), np.float32)
    for start in range(0, len(seqs), chunk):
        sel = np.flatnonzero((rows >= start) & (rows < start + chunk))
        if not len(sel):
            continue
        visited = collect_states(model.net, seqs[start: start + chunk], batch_size=batch_size)
        offsets = np.cumsum(visited.lengths) - visited.lengths
        out[sel] = visited.states[offsets[rows[sel] - start] + position[sel]]
    return out


def gather_states(models: Sequence[Model], texts: Sequence[str], *, n_docs: int = 1000, max_len: int = 400,
                  max_states: int = 5000, seed: int = 0, chunk: int = 100, batch_size: int = 256) -> SharedStates:
    """Every network's states at the same steps of the same documents.

    The documents are ``run_analysis``'s: a permutation of ``texts`` seeded by ``seed``,
    its first ``n_docs`` (pass the dataset's ``test.texts``), each truncated to its first
    ``max_len`` tokens, for every network alike (also one trained on the ends of documents:
    a shared step is the same token of the same document for all). Each network reads them with its own tokenizer and vocabulary; a step is kept
    when every network read it (each document up to the shortest network's length), then
    at most ``max_states`` steps are drawn (seeded, ``seed``), the same for every network.

    Returns
    -------
    SharedStates (states of shape (N, D_i), N <= max_states).
    """
    if not models:
        raise ValueError("no networks to compare")
    docs = np.random.default_rng(seed).permutation(len(texts))[:n_docs]
    chosen = [texts[i] for i in docs]
    seqs = [encode_texts(chosen, m.tokenizer, m.vocab, max_len) for m in models]
    lengths = np.min([[len(s) for s in per] for per in seqs], axis=0).astype(np.int64)
    rows, position = _sample_steps(lengths, max_states, seed)
    if len(rows) < 2:
        raise ValueError("fewer than 2 steps read by every network: the documents are (nearly) empty")
    states = [_states_at(m, [s[:n] for s, n in zip(per, lengths)], rows, position, chunk, batch_size)
              for m, per in zip(models, seqs)]
    return SharedStates(states=states, doc=docs[rows].astype(np.int64), position=position,
                        n_docs=len(docs), n_available=int(lengths.sum()))


# --------------------------------------------------------------------------- topology


@dataclass(frozen=True)
class Topology:
    """One network's fixed-point topology, from its analysis report.

    Attributes
    ----------
    kind : str
        The attractor verdict's kind (``rnnscope.analysis.attractors.KINDS``).
    n_attractors : int
        The verdict's groups of end states after its horizon: for ``isolated``, the number
        of isolated stable points (a line's sampled end states may fall into a few groups;
        the distance does not count those).
    n_slow_modes : float
        Median over the points of the modes with τ > 10 tokens (nan without points).
    tau1 : float
        Median over the points of τ of the largest |λ|, tokens (nan without points; inf
        for |λ| = 1 exactly).
    """

    kind: str
    n_attractors: int
    n_slow_modes: float
    tau1: float

    def to_dict(self) -> dict:
        """Plain values (JSON: nan and inf stay floats)."""
        return asdict(self)


def _num(value) -> float:
    return math.nan if value is None else float(value)


def topology_from_report(report) -> Topology:
    """The topology of a report (a ``Report``, its summary dict or a typed ``Summary``)."""
    summary = read(report if isinstance(report, (Mapping, Summary)) else report.summary)
    return Topology(kind=summary.attractor.kind, n_attractors=int(summary.attractor.n_attractors),
                    n_slow_modes=_num(summary.spectra.n_slow_modes_median), tau1=_num(summary.spectra.tau1_median))


def _gap(a: float, b: float, measure) -> float:
    """``measure(a, b)`` when both are finite; else 0 when both are the same missing or
    infinite value (nan and nan, inf and inf), 1 otherwise."""
    if math.isfinite(a) and math.isfinite(b):
        return float(measure(a, b))
    return 0.0 if (math.isnan(a) and math.isnan(b)) or a == b else 1.0


def _slow_gap(a: float, b: float) -> float:
    return abs(a - b) / max(a, b, 1.0)


def _log_gap(a: float, b: float) -> float:
    return min(abs(math.log10(max(a, 1e-300)) - math.log10(max(b, 1e-300))), 1.0)


def topology_terms(a: Topology, b: Topology) -> dict[str, float]:
    """The four terms of the topology distance, each in [0, 1] (module docstring)."""
    counted = a.kind == b.kind == "isolated"
    return {"kind": float(a.kind != b.kind), "n_attractors": float(counted and a.n_attractors != b.n_attractors),
            "n_slow_modes": _gap(a.n_slow_modes, b.n_slow_modes, _slow_gap),
            "log_tau1": _gap(a.tau1, b.tau1, _log_gap)}


def topology_distance(a: Topology, b: Topology, weights: Mapping[str, float] | None = None) -> float:
    """Weighted sum of :func:`topology_terms` (``TOPOLOGY_WEIGHTS`` by default): 0 for the
    same topology, >= the kind's weight when the kinds differ."""
    w = {**TOPOLOGY_WEIGHTS, **(weights or {})}
    return float(sum(w[k] * v for k, v in topology_terms(a, b).items()))


def topology_distances(topologies: Sequence[Topology], weights: Mapping[str, float] | None = None) -> np.ndarray:
    """Symmetric (n, n) matrix of :func:`topology_distance`, zero diagonal."""
    n = len(topologies)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = topology_distance(topologies[i], topologies[j], weights)
    return out


# --------------------------------------------------------------------------- population


def _square(distances: np.ndarray) -> np.ndarray:
    d = np.asarray(distances, np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1] or not np.all(np.isfinite(d)):
        raise ValueError(f"distances must be a finite square matrix, got shape {d.shape}")
    if not np.allclose(d, d.T) or np.any(d < 0):
        raise ValueError("distances must be symmetric and non-negative")
    return d


def mds_embedding(distances: np.ndarray, n_components: int = 2, seed: int = 0) -> np.ndarray:
    """Metric MDS of an (n, n) distance matrix: coordinates (n, n_components), in the
    distance's units (``sklearn.manifold.MDS`` on the precomputed distances, started from
    classical MDS, seeded). Fewer than 3 networks: the distances laid out on the x axis;
    all distances 0: every network at the origin."""
    d = _square(distances)
    n = len(d)
    if not np.any(d):
        return np.zeros((n, n_components))
    if n < 3:
        out = np.zeros((n, n_components))
        out[-1, 0] = d[0, -1] if n == 2 else 0.0
        return out
    mds = MDS(n_components=n_components, metric="precomputed", init="classical_mds", random_state=seed,
              normalized_stress="auto")
    return mds.fit_transform(d)


def separation(distances: np.ndarray, labels: Sequence[str]) -> float | None:
    """Silhouette score of ``labels`` (e.g. architectures) on precomputed distances (n, n),
    in [-1, 1]; None when undefined (fewer than 2 labels, or every network its own label)."""
    d = _square(distances)
    labels = np.asarray(labels)
    if len(labels) != len(d):
        raise ValueError(f"{len(d)} networks but {len(labels)} labels")
    if not 2 <= len(np.unique(labels)) <= len(labels) - 1:
        return None
    return float(silhouette_score(d, labels, metric="precomputed"))


def universality_verdict(distances: Mapping[str, np.ndarray], labels: Sequence[str], *,
                         threshold: float = SEPARATES_ABOVE, geometry: Sequence[str] = GEOMETRY,
                         topology: str = "topology") -> dict:
    """Does geometry separate the architectures while topology does not?

    Parameters
    ----------
    distances : dict name -> (n, n)
        Must hold every name in ``geometry`` and ``topology``.
    labels : sequence of n str
        The architecture of each network.

    Returns
    -------
    dict: ``silhouette`` (name -> score or None), ``separates`` (name -> bool or None),
    ``threshold``, ``holds`` (bool, or None when a silhouette is undefined) and ``text``.
    """
    names = [*geometry, topology]
    scores = {k: separation(distances[k], labels) for k in names}
    separates = {k: None if s is None else bool(s > threshold) for k, s in scores.items()}
    if any(v is None for v in separates.values()):
        holds, text = None, ("cannot tell: the silhouette needs at least 2 architectures and an architecture "
                             "with at least 2 networks")
    else:
        holds = all(separates[k] for k in geometry) and not separates[topology]
        said = ", ".join(f"{k} {scores[k]:.2f}" for k in names)
        text = (f"{'holds' if holds else 'does not hold'}: silhouette by architecture {said} "
                f"(separates above {threshold})")
    return {"silhouette": scores, "separates": separates, "threshold": threshold, "holds": holds, "text": text}
