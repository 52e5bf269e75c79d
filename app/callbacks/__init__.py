"""Thin callbacks, one module per view.

Each module exposes plain functions (``svc`` and the callback's inputs in, the outputs
out), which the tests call directly, and ``register(app, svc)``, which wires them to the
components named in ``rnnscope.app.ids``.

``figure_output`` wraps the functions that build figures. plotly validates a named
template (``plotly_white``) by deep-copying it into every new figure, which costs far more
(~50x on a busy CPU) than building the figure itself; inside the wrapper figures are built
with the empty ``"none"`` template and the ``plotly_white`` JSON, serialized once, is put
back into each outgoing figure, so the page looks the same and a click stays fast.

``per_report`` also builds a view's outputs once per stored report: a report never changes
under its content key, so switching back to a model costs a cache lookup, not a rebuild.
"""
from __future__ import annotations

import functools
import threading

import plotly.graph_objects as go

from rnnscope.app.figures import style
from rnnscope.app.services import report_or_none

_LOOK = style.look_json()  # the look the figures ask for
_lock = threading.Lock()
_active = 0


class _plain_template:
    """While any wrapped call runs, ``style.layout`` hands out the empty template."""

    def __enter__(self):
        global _active
        with _lock:
            if _active == 0:
                style.TEMPLATE = "none"
            _active += 1

    def __exit__(self, *exc):
        global _active
        with _lock:
            _active -= 1
            if _active == 0:
                style.TEMPLATE = style.LOOK


def restyle(value):
    """Figures in ``value`` (a figure, a figure dict, or a tuple/list of outputs) as dicts
    carrying the ``plotly_white`` template; anything else unchanged. Placeholders (figures
    without traces) keep their minimal look."""
    if isinstance(value, (tuple, list)):
        return type(value)(restyle(v) for v in value)
    if isinstance(value, go.Figure):
        value = value.to_plotly_json()
    if isinstance(value, dict) and "layout" in value and value.get("data"):
        value["layout"]["template"] = _LOOK
    return value


def figure_output(fn):
    """Decorator: build figures with the cheap template, send them with the real one."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _plain_template():
            out = fn(*args, **kwargs)
        return restyle(out)
    return wrapper


def per_report(fn):
    """``figure_output`` for ``fn(svc, report_ref)``, memoized per report key in ``svc.memo``.

    Only for views that depend on nothing but the stored report under ``report_ref["key"]``
    (content-addressed, immutable). While that report cannot be read (not stored yet, or
    a bad ref) every call builds afresh, so a placeholder is never cached.
    """
    built = figure_output(fn)

    @functools.wraps(fn)
    def wrapper(svc, report_ref):
        if report_or_none(svc, report_ref) is None:
            return built(svc, report_ref)
        return svc.memo.get(("view", fn.__qualname__, report_ref["key"]), lambda: built(svc, report_ref))
    return wrapper
