"""rnnscope: reverse-engineer recurrent sentiment classifiers (fixed points, line attractors).

The Python API, without Dash or Celery::

    import rnnscope
    model = rnnscope.load_checkpoint("models/demo/lstm-mr.safetensors")
    report = rnnscope.run_analysis(model, rnnscope.load_dataset("mr"))
    summary = rnnscope.read_summary(report.summary)
    summary.attractor.text      # the attractor verdict in words
    summary.modes.tau_median    # τ of the integration mode, tokens

The subpackages are ``rnnscope.analysis`` (the science, pure functions), ``rnnscope.workers``
(jobs and the artifact store) and ``rnnscope.app`` (dashboard and command line); in the
repository they are the folders ``analysis/``, ``workers/`` and ``app/``. The names below are
imported on first use (PEP 562), so ``import rnnscope.app.cli`` does not pay for torch and
scikit-learn before it needs them.
"""
from __future__ import annotations

import importlib

#: public name -> (module, attribute)
_API = {
    "load_checkpoint": ("rnnscope.analysis.checkpoint", "load"),
    "save_checkpoint": ("rnnscope.analysis.checkpoint", "save"),
    "CheckpointError": ("rnnscope.analysis.checkpoint", "CheckpointError"),
    "load_dataset": ("rnnscope.analysis.data", "load"),
    "DataError": ("rnnscope.analysis.data", "DataError"),
    "run_analysis": ("rnnscope.analysis.pipeline", "run_analysis"),
    "AnalysisParams": ("rnnscope.analysis.pipeline", "AnalysisParams"),
    "Report": ("rnnscope.analysis.report", "Report"),
    "Summary": ("rnnscope.analysis.summary", "Summary"),
    "read_summary": ("rnnscope.analysis.summary", "read"),
}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'rnnscope' has no attribute {name!r}")
    module, attribute = _API[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
