"""The parameters of one analysis (:class:`AnalysisParams`): every value that changes the
result of :func:`rnnscope.analysis.pipeline.run_analysis`, checked on construction, and part of
the cache key of a stored report.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

# Caps on parameters that come from users (dashboard forms, CLI): big enough for any real
# use, small enough that a typo cannot allocate tens of GB.
_CAPS = {"n_docs": 100_000, "max_len": 100_000, "n_seeds": 100_000, "n_words": 10_000, "n_frequent": 1_000_000,
         "n_modes": 64, "n_null": 10_000_000, "n_pca": 1000, "density_bins": 1000, "lin_docs": 100_000,
         "n_error_samples": 1_000_000, "lle_neighbors": 1000, "batch_size": 100_000, "attractor_steps": 100_000,
         "max_points": 100_000, "modifier_words": 1_000_000, "modifier_min_count": 1_000_000,
         "modifier_contexts": 10_000, "modifier_context_len": 100_000, "modifier_distance": 50,
         "modifier_settle": 1000, "modifier_refine": 1_000_000,
         "modifier_top": 50}


@dataclass(frozen=True)
class AnalysisParams:
    """Everything that changes the result of ``run_analysis`` (part of the cache key).

    Attributes
    ----------
    n_docs : int            held-out documents whose visited states are collected
    max_len : int           tokens read per document (truncation)
    n_seeds : int           initial conditions for the fixed-point search
    seed_noise : float      std of Gaussian noise added to the seeds (state units)
    tol : float             q threshold for a fixed point
    slow_q_max : float|None slow points with q below this join the point set (None: the
                            default rule of ``rnnscope.analysis.slow_points``; 0: fixed points only)
    max_points : int        at most this many points (spread along the set) are linearized and shown
    attractor_steps : int   horizon (tokens of zero input) of the attractor verdict
    n_words : int           words per set (positive / negative / neutral)
    n_frequent : int        neutral words come from this many most frequent tokens
    min_doc_freq : int      words seen in fewer training documents are not listed
    n_modes : int           leading eigenmodes kept per fixed point
    n_null : int            random unit vectors in the r1·m null distribution
    n_pca : int             PCA components kept for explained variance curves
    density_bins : int      bins per axis of the visited-state density on (PC1, PC2)
    lin_docs : int          test documents run through the linearized model
    n_error_samples : int   steps sampled for the single-step linearization error
    accuracy_docs : int     test documents (seeded sample) for the network's accuracy (0 = all)
    lle_neighbors : int     neighbours for locally linear embedding
    vader : bool            cross-check word sets with the VADER lexicon
    batch_size : int        documents per batch when running the network
    modifiers : bool        measure modifier words (binary networks; ``rnnscope.analysis.modifier_stage``)
    modifier_words : int    at most this many candidate words (most frequent in the test split)
    modifier_min_count : int  candidates are seen at least this often in the test split
    modifier_contexts : int real contexts (test-document prefixes) the probes are measured at
    modifier_context_len : int  contexts are at most this many tokens (and at most max_len)
    modifier_distance : int K: probes 1 … K tokens after the candidate
    modifier_settle : int   filler tokens read after a probe before its effect is taken (0: its own step)
    modifier_refine : int   candidates measured exactly after the first-order screen of all
    modifier_top : int      strongest modifiers whose deflection, decay and ablation are measured
    seed : int              seeds documents, seeds, nulls and the untrained network

    The modifier defaults were sized on the MR demo GRU-128 (``models/demo/gru-mr``, 313
    candidates seen 10 times in the test split, 20 measured exactly): the stage took 3.3 s
    against 8.8-16.2 s for the rest of its analysis (one torch and one BLAS thread on a busy
    2-core machine). 32 contexts and 10 settling tokens are the measured defaults of
    ``rnnscope.analysis.modifier_survey.SurveyParams``; 5 settling tokens changed the ranking
    more (Spearman of the strengths against 64 contexts and 20 tokens: 0.62 vs 0.81).
    """

    n_docs: int = 1000
    max_len: int = 400
    n_seeds: int = 512
    seed_noise: float = 0.0
    tol: float = 1e-8
    slow_q_max: float | None = None
    max_points: int = 256
    attractor_steps: int = 3000
    n_words: int = 100
    n_frequent: int = 2000
    min_doc_freq: int = 5
    n_modes: int = 3
    n_null: int = 10000
    n_pca: int = 50
    density_bins: int = 60
    lin_docs: int = 500
    n_error_samples: int = 5000
    accuracy_docs: int = 2000
    lle_neighbors: int = 20
    vader: bool = True
    batch_size: int = 256
    modifiers: bool = True
    modifier_words: int = 20000
    modifier_min_count: int = 10
    modifier_contexts: int = 32
    modifier_context_len: int = 400
    modifier_distance: int = 5
    modifier_settle: int = 10
    modifier_refine: int = 20
    modifier_top: int = 3
    seed: int = 0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"{f.name} must be true or false, not {value!r}")
            elif f.type == "int":
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                    raise ValueError(f"{f.name} must be an integer, not {value!r}")
                low = 0 if f.name in ("accuracy_docs", "seed", "min_doc_freq", "modifier_settle", "modifier_top") else 1
                if not low <= value <= _CAPS.get(f.name, 2**31):
                    raise ValueError(f"{f.name}={value} is out of range [{low}, {_CAPS.get(f.name, 2**31)}]")
            elif f.type in ("float", "float | None"):
                if value is None and f.type != "float":
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
                        or value < 0:
                    raise ValueError(f"{f.name} must be a finite number >= 0, not {value!r}")
        if not 0 < self.tol < 1:
            raise ValueError(f"tol must be in (0, 1), not {self.tol}")
        if self.slow_q_max is not None and self.slow_q_max >= 1:
            raise ValueError(f"slow_q_max must be below 1 (or null for the default rule), not {self.slow_q_max}")

    def to_dict(self) -> dict:
        """Plain dict of every parameter (stable keys; use for cache keys)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> AnalysisParams:
        """Build from a dict, rejecting unknown keys with a clear message."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown analysis parameter(s): {', '.join(unknown)}")
        return cls(**values)
