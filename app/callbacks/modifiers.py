"""Modifiers (Maheswaranathan & Sussillo, ICML 2020): the ranked modifier words of the report
(kind, peak ratio, linearized ratio, reach, decay), and for a chosen one its deflection of
the state and its return on the state-PC plane over the report's points, with the path the
same contexts take with a filler in its place, and its ratio over the following tokens. Where the analysis
does not apply (C > 2 classes, no candidate words, stage off) or found no modifier, the
views say so in words.

The selector's value is an index into the report's ``modifier_top`` (the modifiers whose
paths were measured); anything else the client sends is answered in words.
"""
from __future__ import annotations

import numpy as np
from dash import Input, Output, html

from rnnscope.app import ids
from rnnscope.app.callbacks import figure_output, per_report
from rnnscope.app.figures import modifiers as figs
from rnnscope.app.layout import alert, fmt, placeholder
from rnnscope.app.services import Services, report_or_none

#: Modifiers shown in the table (the report holds every candidate).
TABLE_ROWS = 50
#: Characters of an unexpected selector value quoted back.
QUOTE_CHARS = 40
OLD_REPORT = ("This report was made before modifier words were part of the analysis: run the analysis again "
              "to measure them.")


def block(report) -> dict | None:
    """The report's ``modifiers`` summary block, or None for a report made before it existed."""
    value = report.summary.get("modifiers")
    return value if isinstance(value, dict) and "applies" in value else None


def modifier_words(report) -> set[str]:
    """The words the report found to be modifiers (kind other than none); empty when none
    were measured."""
    a = report.arrays if report is not None else {}
    if "modifier_words" not in a or "modifier_kind" not in a:
        return set()
    return {str(w) for w, k in zip(a["modifier_words"], a["modifier_kind"]) if str(k) != "none"}


def _table(a) -> html.Div:
    """The ranked modifiers: word, kind, ratio and linearized ratio at the peak, reach, decay."""
    rows = np.flatnonzero(a["modifier_kind"] != "none")
    decay = dict(zip(a["modifier_top"].tolist(), a["modifier_decay_tokens"].tolist()))
    head = html.Thead(html.Tr([html.Th(h) for h in (
        "#", "word", "kind", "peak ratio r_k*", "linearized r_k*", "at k*", "reach (tokens)", "decay to 1/e (tokens)",
        "own effect (logit)")]))
    body = []
    for n, i in enumerate(rows[:TABLE_ROWS], 1):
        k = int(a["modifier_peak"][i]) - 1
        d = decay.get(int(i))
        body.append(html.Tr([
            html.Td(n), html.Td(str(a["modifier_words"][i])), html.Td(str(a["modifier_kind"][i])),
            html.Td(fmt(a["modifier_ratio"][i, k], "+.2f")), html.Td(fmt(a["modifier_ratio_linear"][i, k], "+.2f")),
            html.Td(k + 1), html.Td(int(a["modifier_reach"][i])),
            html.Td("–" if d is None else (str(d) if d >= 0 else "not within the tokens measured")),
            html.Td(fmt(a["modifier_own"][i], "+.2f"))]))
    note = (html.Div(f"the {TABLE_ROWS} strongest of {len(rows)} modifiers shown", className="hint")
            if len(rows) > TABLE_ROWS else None)
    return html.Div([html.Table([head, html.Tbody(body)], className="compare"), note],
                    style={"maxHeight": "380px", "overflowY": "auto"})


@per_report
def modifiers_view(svc: Services, report_ref: dict | None) -> tuple:
    """-> (text, table, selector options, selector value)."""
    report = report_or_none(svc, report_ref)
    if report is None:
        return None, None, [], None
    mod = block(report)
    if mod is None:
        return html.P(OLD_REPORT, className="hint"), None, [], None
    if not mod["applies"]:
        return html.P(mod["text"]), None, [], None
    a = report.arrays
    top = [str(a["modifier_words"][i]) for i in a["modifier_top"]]
    options = [{"label": f"{n + 1}. {w}", "value": n} for n, w in enumerate(top)]
    text = html.Div([html.P(mod["text"]), html.P(
        f"{mod['n_candidates']} candidate words, {mod['n_exact']} measured exactly; probes "
        f"({', '.join(mod['probes'])}) 1-{mod['max_distance']} tokens after each, {mod['n_contexts']} contexts, "
        f"{mod['settle']} settling tokens. A ratio r_k of 1: the words after it count as after a filler in its "
        "place; above 1: an intensifier; below 0: a negator.", className="hint")])
    table = _table(a) if mod["n_modifiers"] else html.P("No modifier found: nothing to list.", className="hint")
    return text, table, options, (0 if options else None)


def _subspace_words(mod: dict) -> str:
    """'(k dimensions spanned by the deflections of the top M)' from the summary's subspace block."""
    sub = mod.get("subspace") or {}
    dim, n = sub.get("dim"), len(mod.get("dynamics") or [])
    return f"({dim} dimensions spanned by the top {n} modifiers' deflections)" if dim is not None else ""


def _why_nothing(mod: dict | None) -> str:
    """A short note for the figures when there is no modifier path to draw."""
    if mod is None:
        return "not in this report: run the analysis again"
    if not mod["applies"]:
        return "does not apply to this analysis (see the text)"
    if not mod["n_modifiers"]:
        return "no modifier found"
    return "no fixed or slow point: the paths were not measured"


@figure_output
def modifier_view(svc: Services, report_ref: dict | None, selected) -> tuple:
    """-> (deflection figure, ratio profile, detail) of the selected modifier."""
    report = report_or_none(svc, report_ref)
    if report is None:
        return placeholder(), placeholder(), None
    mod, a = block(report), report.arrays
    top = a.get("modifier_top", np.zeros(0, np.int64)) if mod is not None else np.zeros(0, np.int64)
    if not len(top):
        note = _why_nothing(mod)
        return placeholder(note), placeholder(note), None
    if type(selected) is not int or not 0 <= selected < len(top):  # bool, str, list, huge ints
        shown = repr(selected)[:QUOTE_CHARS]
        return (placeholder("choose a modifier from the list"), placeholder("choose a modifier from the list"),
                alert("warning", f"{shown} is not one of this report's {len(top)} modifiers: "
                                 "choose one from the list."))
    row = int(top[selected])
    word = str(a["modifier_words"][row])
    decay = int(a["modifier_decay_tokens"][selected])
    parts, remaining = a["modifier_parts"][selected], a["modifier_remaining"][selected]
    detail = html.Div([html.P([html.B(word), f" ({a['modifier_kind'][row]}): ",
                               f"its deflection lies {fmt(parts[0], '.0%')} along the integration mode, "
                               f"{fmt(parts[1], '.0%')} along the {mod['n_modes']} slow modes and "
                               f"{fmt(parts[2], '.0%')} along the fast ones (‖part‖ / ‖deflection‖; they need not add "
                               f"up). Removing its slow-mode part leaves {fmt(remaining[0], '.0%')} of the "
                               "modification, "
                               f"removing the fastest modes' part {fmt(remaining[1], '.0%')}, "
                               f"keeping the state out of the modifier subspace {_subspace_words(mod)} "
                               f"{fmt(remaining[2], '.0%')}. "
                               + (f"It decays to 1/e in {decay} tokens." if decay >= 0
                                  else "It does not decay to 1/e within the tokens measured.")])],
                      className="hint")
    return (figs.modifier_deflection(a["fp_pc"], a["modifier_path"][selected], a["modifier_base_path"], word,
                                     decay_tokens=decay),
            figs.modifier_profile(a["modifier_ratio"][row], a["modifier_ratio_linear"][row], word), detail)


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.MODIFIER_TEXT, "children"), Output(ids.MODIFIER_TABLE, "children"),
                  Output(ids.MODIFIER_SELECT, "options"), Output(ids.MODIFIER_SELECT, "value"),
                  Input(ids.REPORT, "data"))
    def _modifiers(report_ref):
        return modifiers_view(svc, report_ref)

    @app.callback(Output(ids.FIG_MODIFIER_PATH, "figure"), Output(ids.FIG_MODIFIER_PROFILE, "figure"),
                  Output(ids.MODIFIER_DETAIL, "children"),
                  Input(ids.MODIFIER_SELECT, "value"), Input(ids.REPORT, "data"))
    def _modifier(selected, report_ref):
        return modifier_view(svc, report_ref, selected)
