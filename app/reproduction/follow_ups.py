"""The follow-up papers in ``docs/REPRODUCTION.md``, beside the 2019 paper's claims.

- **Geometry of integration** (Aitken, Ramasesh, Garg, Cao, Sussillo & Maheswaranathan 2020):
  every checkpoint with C > 2 classes under ``<models_dir>/multiclass/`` is analysed on the
  dataset it was trained on (its ``provenance.dataset``), and its report's ``class_geometry``
  block (``rnnscope.analysis.class_geometry``) is set against the paper's claim: a
  (C−1)-dimensional point set with C−1 slow modes for unordered classes, fewer dimensions for
  ordered ones.
- **Contextual processing** (Maheswaranathan & Sussillo, ICML 2020): the ``modifiers`` block of
  the binary models' reports (when the analysis ran that stage), the known modifiers' ranks
  against the paper's claim that "not"-like words flip and "very"-like words scale the
  integration of the next words.

Pure renderers of report summaries, and :func:`class_geometry_results`, which finds and analyses
the multi-class checkpoints through ``rnnscope.app.reproduction.run.analyse`` (cached by content).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rnnscope.analysis.checkpoint import CheckpointError
from rnnscope.analysis.checkpoint import load as load_checkpoint
from rnnscope.analysis.data_splits import DataError

#: The paper's claim, per kind of class set.
CLAIM = {False: "C − 1 dimensions, C − 1 slow modes", True: "fewer than C − 1 dimensions (ordered classes)",
         None: "C − 1 dimensions (order unknown)"}


@dataclass
class ClassGeometryResult:
    """One multi-class checkpoint: its name, dataset, status and the report's numbers."""

    name: str
    data: str
    status: str  # "analysed" or "failed"
    accuracy: float | None = None
    chance: float | None = None
    geometry: dict = field(default_factory=dict)
    note: str = ""


def multiclass_checkpoints(models_dir: str | Path) -> list[Path]:
    """The ``.safetensors`` files under ``<models_dir>/multiclass``, sorted by name."""
    return sorted((Path(models_dir) / "multiclass").glob("*.safetensors"))


def class_geometry_results(store, models_dir: str | Path, params: Mapping, log: Callable[[str], None],
                           analyse: Callable) -> list[ClassGeometryResult]:
    """Analyse every multi-class checkpoint on its own dataset; ``analyse(store, path, data,
    params)`` -> (report, key, cached) (``run.analyse``)."""
    out = []
    for path in multiclass_checkpoints(models_dir):
        try:
            data = str(load_checkpoint(path).provenance.get("dataset", ""))
            log(f"[classes] analysing {path.name} on {data}")
            report, _, _ = analyse(store, path, data, dict(params))
        except (CheckpointError, DataError, ValueError, OSError) as exc:
            out.append(ClassGeometryResult(path.stem, "", "failed", note=str(exc)))
            continue
        s = report.summary
        out.append(ClassGeometryResult(path.stem, data, "analysed", accuracy=s["accuracy"].get("test"),
                                       chance=s["accuracy"].get("majority_rate"),
                                       geometry=dict(s.get("class_geometry") or {})))
    return out


def _holds(g: Mapping) -> str:
    """Whether the report's numbers agree with the paper's claim, in a few words."""
    c, dim, slow = int(g["num_classes"]), int(g.get("dimension") or 0), float(g.get("slow_median") or 0.0)
    if g.get("ordered"):
        return "yes" if dim < c - 1 else f"no: {dim} dimensions"
    if dim == c - 1 and round(slow) == c - 1:
        return "yes"
    return f"no: {dim} dimension(s), {slow:g} slow modes"


def _f(value, spec: str) -> str:
    """``value`` formatted, or "-" when the report has none."""
    return "-" if value is None else format(value, spec)


def class_geometry_section(results: Sequence[ClassGeometryResult]) -> str:
    """The "geometry of integration" section (markdown)."""
    lines = ["## 7. More than two classes: the geometry of integration (Aitken et al. 2020)", "",
             "The paper: a network that sorts text into C unordered classes integrates evidence on a "
             "(C − 1)-dimensional attractor with C − 1 slow modes; with ordered classes the attractor has "
             "fewer dimensions. Each checkpoint under `models/multiclass` is analysed on its own dataset; "
             "dimension = principal components for 90% of the points' variance, slow modes = eigenvalues "
             "with ||λ| − 1| ≤ 0.01 (median over points), angles = principal angles between the readout's "
             "C − 1 class differences and the points' top C − 1 components.", ""]
    if not results:
        return "\n".join(lines + ["No multi-class checkpoint was found under `models/multiclass`."])
    head = ("model", "data (C)", "accuracy (chance)", "dimension", "top C−1 variance", "participation ratio",
            "slow modes", "angles", "paper's claim", "holds?")
    rows = []
    for r in results:
        if r.status != "analysed" or not r.geometry.get("applies"):
            rows.append((f"`{r.name}`", r.data or "-", "-", "-", "-", "-", "-", "-", "-", r.note or "not analysed"))
            continue
        g = r.geometry
        rows.append((f"`{r.name}`", f"{r.data} ({g['num_classes']})", f"{_f(r.accuracy, '.1%')} ({_f(r.chance, '.1%')})",
                     _f(g.get("dimension"), "d"), _f(g.get("variance_top"), ".1%"), _f(g.get("participation_ratio"), ".2f"),
                     _f(g.get("slow_median"), "g"), ", ".join(f"{a:.0f}°" for a in g.get("principal_angles_deg") or []),
                     CLAIM[g.get("ordered")], _holds(g)))
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "In words:", ""] + [f"- `{r.name}`: {r.geometry.get('text', r.note)}" for r in results]
    return "\n".join(lines)


#: Known modifiers shown in the table (the paper's examples), in this order.
SHOWN_KNOWN = ("not", "no", "never", "very", "extremely")


def _known_cell(block: Mapping, word: str) -> str:
    found = next((k for k in block.get("known") or [] if k.get("known") == word), None)
    if found is None:
        return "-"
    if found.get("rank") is None:
        return "not in vocabulary"
    return f"#{found['rank']} {found.get('kind', '?')} ({found['ratio']:.2f})"


def modifier_section(summaries: Sequence[tuple[str, Mapping]]) -> str:
    """The "contextual processing" section from ``(model label, report summary)`` pairs: the
    models whose analysis ran the modifier stage (summary block ``modifiers``)."""
    lines = ["## 8. Modifier words: contextual processing (Maheswaranathan & Sussillo 2020)", "",
             "The paper: words such as \"not\" and \"very\" change how the next few words are integrated "
             "(negators flip them, intensifiers scale them up) through transient dynamics off the line "
             "attractor. rnnscope measures, for every frequent word, the gain r it puts on the readout effect "
             "of the valence words 1-5 tokens after it (`analysis/modifiers.py`, `docs/MODIFIERS.md`): "
             "r < 0 negator, 0 <= r < 1 attenuator, r > 1 intensifier. Each known modifier's cell gives its "
             "rank among the candidate words, its kind and its peak ratio.", ""]
    ran = [(label, s["modifiers"]) for label, s in summaries
           if isinstance(s.get("modifiers"), Mapping) and s["modifiers"].get("applies")]
    if not ran:
        return "\n".join(lines + ["No report in this run has the modifier stage (`--param modifiers=true`)."])
    head = ("model", "candidates", "modifiers (negator / intensifier / attenuator)", *SHOWN_KNOWN, "strongest")
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, b in ran:
        kinds = b.get("kind_counts") or {}
        strongest = ", ".join(f"{m['word']} ({m['kind']}, {m['ratio']:.2f})" for m in (b.get("modifiers") or [])[:3])
        lines.append("| " + " | ".join((f"{label}", str(b.get("n_candidates", "-")),
                                        f"{b.get('n_modifiers', 0)} ({kinds.get('negator', 0)} / "
                                        f"{kinds.get('intensifier', 0)} / {kinds.get('attenuator', 0)})",
                                        *(_known_cell(b, w) for w in SHOWN_KNOWN), strongest or "none")) + " |")
    negators = sum((b.get("kind_counts") or {}).get("negator", 0) for _, b in ran)
    lines += ["", f"Negators found across these {len(ran)} models: {negators}. Where the known modifiers rank "
                  "low or act as attenuators, the paper's picture of contextual processing does not hold on that "
                  "model; `docs/MODIFIERS.md` has the toy language, where it does."]
    return "\n".join(lines)
