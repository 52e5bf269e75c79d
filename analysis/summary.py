"""The report summary, typed: one frozen dataclass per section of ``report.json``.

``Summary.from_dict(report.summary)`` reads a summary strictly: a missing section or key,
or a value of the wrong type, raises :class:`SummaryError` naming it (``"attractor.kind"``),
so a misspelt or forgotten field fails where it is read, not as "n/a" on a page. Numbers
that were not defined when the report was made (JSON ``null``, e.g. the VADER agreement
without the lexicon) read as ``nan`` for float fields; ``None`` stays only where a field is
typed ``... | None``. ``Summary.to_dict()`` gives the JSON form back.

Every reader (dashboard figures and cards, ``report.html``, ``rnnscope reproduce``) reads
the summary through :func:`read` (or :meth:`rnnscope.analysis.report.Report.typed`); the pipeline
builds it through :meth:`Summary.from_dict` before saving, so a report on disk always
matches this schema. Units: fractions in [0, 1], time constants τ = |1/ln|λ|| in tokens,
distances in state units. The meaning of each field is in ``rnnscope.analysis.report``'s docstring.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass

#: The summary layout this module reads; bump with ``rnnscope.analysis.pipeline.ANALYSIS_VERSION``.
SCHEMA_VERSION = 1


class SummaryError(ValueError):
    """A report summary is missing a field or has one of the wrong type."""


@dataclass(frozen=True)
class ModelInfo:
    arch: str
    hidden_size: int
    state_size: int
    embed_dim: int
    vocab_size: int
    sha256: str


@dataclass(frozen=True)
class VocabularyCoverage:
    """The test split's tokens under the model's vocabulary (``rnnscope.analysis.data_checks``)."""

    n_docs: int
    n_tokens: int
    n_unk: int
    unk_fraction: float
    docs_all_unk: int
    unk_warn_above: float
    poor: bool


@dataclass(frozen=True)
class DataInfo:
    name: str
    n_docs: int
    n_states: int
    vocabulary: VocabularyCoverage
    truncate: str  # "head": each document's first max_len tokens were read; "tail": its last


@dataclass(frozen=True)
class Accuracy:
    test: float
    test_n_docs: int
    linearized: float
    bow: float
    checkpoint_test: float
    majority_rate: float
    majority_class: str | None
    at_or_below_chance: bool


@dataclass(frozen=True)
class Pca:
    explained_variance_ratio: list
    explained_variance_ratio_untrained: list
    n_components_90: int
    n_components_90_untrained: int

    def top(self, n: int = 3, untrained: bool = False) -> float:
        """Variance fraction in the top ``n`` PCs of the visited states (nan without a PCA)."""
        values = self.explained_variance_ratio_untrained if untrained else self.explained_variance_ratio
        return float(sum(values[:n])) if values else math.nan


@dataclass(frozen=True)
class FixedPoints:
    n_seeds: int
    n_converged: int
    n_unique: int
    n_fixed: int
    n_slow: int
    n_found: int
    n_outliers: int
    tol: float
    slow_q_max: float
    slow_rule: str
    seed_classes: dict
    q_median: float
    slow_speed_median: float
    slow_drift_tokens_median: float
    seconds: float


@dataclass(frozen=True)
class Attractor:
    name: str
    kind: str
    text: str
    n_points: int
    n_iterated: int
    n_steps: int
    extent_initial: float
    extent_final: float
    extent_ratio: float
    inner_ratio: float
    displacement: float
    n_attractors: int
    tolerance_half_width: float
    abs_lambda_slow: float
    tau_slow: float
    unstable_fraction: float
    end_q: float
    fixed_fraction: float
    range_coverage: float
    typical_step: float

    @property
    def is_continuum(self) -> bool:
        """A line attractor or slow manifold: θ and m describe something the network integrates along."""
        return self.kind in ("line", "slow")


@dataclass(frozen=True)
class Manifold:
    fp_variance_in_top2_state_pcs: float
    fp_variance_top1_own_pc: float
    m_readout_cosine: float
    m_logit_spearman: float
    theta_readout_spearman: float
    theta_method: str | None
    knn_components: int | None
    is_attractor: bool


@dataclass(frozen=True)
class Spectra:
    abs_lambda1_median: float
    tau1_median: float
    tau2_median: float
    tau3_median: float
    n_stable: int
    n_slow_modes_median: float


@dataclass(frozen=True)
class Modes:
    n_points: int
    rule_counts: dict
    sign_counts: dict
    n_pairs: int
    n_largest_is_chosen: int
    abs_lambda_median: float
    tau_median: float
    alignment_median: float
    visibility_median: float


@dataclass(frozen=True)
class Projections:
    mean_positive: float
    mean_negative: float
    mean_neutral: float
    mean_abs_positive: float
    mean_abs_negative: float
    mean_abs_neutral: float
    sign_defined_fraction: float
    r1_m_overlap_median: float
    r1_m_null_median: float
    r1_m_overlap_percentile: float


@dataclass(frozen=True)
class Words:
    n_positive: int
    n_negative: int
    n_neutral: int
    bow_C: float
    vader_positive_agreement: float
    vader_negative_agreement: float
    vader_neutral_mean_abs: float
    vader_coverage: float


@dataclass(frozen=True)
class Linearization:
    one_step_rel_error_median: float
    one_step_rel_error_p90: float
    recurrent_part_median: float
    recurrent_part_p90: float
    input_part_median: float
    input_part_p90: float
    previous_state_median: float
    previous_state_p90: float
    nearest_dist_median: float
    step_norm_median: float
    nearest_dist_in_steps_median: float
    nearest_dist_over_median_step: float
    n_steps: int
    n_docs: int
    agreement: float
    n_diverged: int
    full_accuracy_same_docs: float


@dataclass(frozen=True)
class Summary:
    """The whole ``report.json``, typed (see ``rnnscope.analysis.report`` for each field's meaning)."""

    format: str
    version: str
    model: ModelInfo
    data: DataInfo
    accuracy: Accuracy
    pca: Pca
    fixed_points: FixedPoints
    attractor: Attractor
    manifold: Manifold
    spectra: Spectra
    modes: Modes
    projections: Projections
    words: Words
    linearization: Linearization
    params: dict
    timings: dict
    warnings: list

    @classmethod
    def from_dict(cls, summary: Mapping) -> Summary:
        """Read a ``report.json`` dict; :class:`SummaryError` names the first bad field."""
        return _read(cls, summary, "")

    def to_dict(self) -> dict:
        """The JSON form (``nan`` -> ``None`` is left to ``rnnscope.analysis.report``'s writer)."""
        return dataclasses.asdict(self)

    def label(self) -> str:
        """``"GRU-128 on mr"``: the model and dataset in a few words."""
        return f"{self.model.arch.upper()}-{self.model.hidden_size} on {self.data.name}"


def check(summary: Mapping) -> Mapping:
    """``summary`` unchanged if it reads as a :class:`Summary` (numpy scalars allowed), else SummaryError."""
    plain = json.loads(json.dumps(summary, default=_plain_scalar))
    Summary.from_dict(plain)
    return summary


def _plain_scalar(value):
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    raise TypeError(f"summary value of type {type(value).__name__} is not JSON-serializable")


def read(summary: Mapping | Summary) -> Summary:
    """A typed summary from a dict (strict) or an already typed one."""
    return summary if isinstance(summary, Summary) else Summary.from_dict(summary)


_BLANK = {str: "", int: 0, float: None, bool: False, dict: {}, list: []}


def blank(cls=Summary) -> dict:
    """Every field of ``cls`` in JSON form: numbers null (read as nan), counts 0, text empty."""
    out = {}
    for f in dataclasses.fields(cls):
        kind = _hints(cls)[f.name]
        args = typing.get_args(kind)
        inner = next((k for k in args if k is not type(None)), kind)
        out[f.name] = (None if type(None) in args else blank(inner) if dataclasses.is_dataclass(inner)
                       else _BLANK[inner])
    return out


def complete(partial: Mapping) -> dict:
    """``partial`` (section -> fields, or section -> value) laid over :func:`blank`: a summary
    with every field, for synthetic reports and tests."""
    full = blank()
    for section, value in partial.items():
        if isinstance(value, Mapping) and isinstance(full.get(section), dict) and section not in ("params", "timings"):
            nested = {**full[section]}
            for key, item in value.items():
                nested[key] = ({**nested[key], **item} if isinstance(item, Mapping) and isinstance(nested.get(key), dict)
                               else item)
            full[section] = nested
        else:
            full[section] = value
    return full


def value_at(summary: Summary, section: str, key: str) -> float:
    """``summary.<section>.<key>`` as a float (nan when undefined); AttributeError for a field
    the schema does not have, so a misspelt path fails instead of reading as missing."""
    value = getattr(getattr(summary, section), key)
    return math.nan if value is None else float(value)


# --------------------------------------------------------------------------- reading
def _read(cls, raw, where: str):
    if not isinstance(raw, Mapping):
        raise SummaryError(f"report summary{' field ' + where if where else ''} is "
                           f"{type(raw).__name__}, not an object")
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        name = f"{where}.{f.name}" if where else f.name
        if f.name not in raw:
            raise SummaryError(f"report summary has no field {name!r} (made by another analysis version?)")
        values[f.name] = _value(hints[f.name], raw[f.name], name)
    return cls(**values)


@functools.cache
def _hints(cls) -> dict:
    """The resolved field types of a summary dataclass (resolving them is slow: once per class)."""
    return typing.get_type_hints(cls)


def _value(kind, value, name: str):
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # ``X | None``
        inner = [k for k in typing.get_args(kind) if k is not type(None)]
        return None if value is None else _value(inner[0], value, name)
    if dataclasses.is_dataclass(kind):
        return _read(kind, value, name)
    if kind is float:
        if value is None:
            return math.nan
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is bool:
        if isinstance(value, bool):
            return value
    elif kind in (str, dict, list):
        if isinstance(value, kind):
            return value
    else:  # pragma: no cover - a field type this reader does not know is a bug in this module
        raise TypeError(f"unsupported summary field type {kind!r} for {name}")
    raise SummaryError(f"report summary field {name!r} should be {kind.__name__}, got {type(value).__name__}")
