"""Sentence explorer: a typed text's trajectory on the fixed points, token by token, and
what moved its readout (the bars and the account in words).

``run`` traces the text once (``Services.sentence``, cached by report key and text) and
draws it; the token slider then only moves the "current token" ring with a ``Patch`` and
rewrites the step's details, reading the cached trace.
"""
from __future__ import annotations

import html as html_text

import numpy as np
from dash import Input, Output, Patch, State, html, no_update

from rnnscope.app import figures, ids
from rnnscope.app.callbacks import figure_output
from rnnscope.app.callbacks.modifiers import modifier_words
from rnnscope.app.layout import alert, fmt, placeholder, token_detail
from rnnscope.app.sentence_account import readout_account
from rnnscope.analysis.sentence import SentenceTrace
from rnnscope.app.services import MAX_SENTENCE_CHARS, MAX_SENTENCE_TOKENS, Services, clip_sentence, report_or_none

#: Rows shown in the per-token table (the trace itself runs up to MAX_SENTENCE_TOKENS).
TABLE_ROWS = 400


def trajectory_figure(trace: SentenceTrace, report, step: int = 0):
    """The explorer figure: the trajectory on the report's points, with the readout's zero
    line in the same PC plane and each token's push."""
    a = report.arrays
    traj = np.vstack([trace.start_pc[None, :], trace.states_pc])
    has_points = len(a["fp_pc"]) > 0
    zero = (figures.readout_zero_offset(a["readout"], a["readout_bias"][0], a["state_pca_mean"])
            if len(a["state_pca_components"]) >= 2 and np.any(a["readout"]) else None)
    return figures.sentence_trajectory(
        traj, trace.tokens, trace.logit, drift_pc=trace.drift_pc, push=trace.push,
        points_pc=a["fp_pc"] if has_points else None,
        point_logit=a["fixed_points"].astype(np.float64) @ a["readout"].astype(np.float64) + a["readout_bias"][0]
        if has_points else None,
        point_is_fixed=a.get("point_is_fixed") if has_points else None,
        readout_pc=a.get("readout_pc"), readout_zero=zero, unknown=~trace.known, step=step)


def steps_figure(trace: SentenceTrace, modifiers: set[str] | frozenset = frozenset()):
    """Each token's readout change: its push and the zero-input drift, beside the linear
    integrator's push; tokens in ``modifiers`` (the report's modifier words) are marked."""
    modifier = np.fromiter((t in modifiers for t in trace.tokens), bool, len(trace.tokens))
    return figures.sentence_readout_steps(trace.tokens, trace.logit, trace.push, trace.drift,
                                          trace.start_logit, unknown=~trace.known, linear_push=trace.linear_push,
                                          modifier=modifier)


def _ring_index(fig) -> int:
    """Index of the "current token" ring in the explorer figure of a report."""
    return next(i for i, t in enumerate(fig.data) if t.name == "current token")


def token_table(trace: SentenceTrace) -> html.Div:
    """Per-token numbers: readout, P(positive), the token's push and the zero-input drift,
    input projection, nearest point, error."""
    head = html.Thead(html.Tr([html.Th(h) for h in (
        "#", "token", "readout", "P(+)", "push", "linear push", "drift", "ℓ1ᵀ J_inp x", "nearest FP",
        "lin. error")]))
    rows = []
    for t in range(min(len(trace), TABLE_ROWS)):
        proj = trace.input_projection[t]
        cls = "pos" if proj > 0 else "neg" if proj < 0 else ""
        rows.append(html.Tr([
            html.Td(t + 1),
            html.Td(trace.tokens[t], className="" if trace.known[t] else "unk",
                    title="" if trace.known[t] else "not in the vocabulary"),
            html.Td(f"{trace.logit[t]:+.3f}"), html.Td(f"{trace.probability[t]:.3f}"),
            html.Td(f"{trace.push[t]:+.3f}", className="pos" if trace.push[t] > 0 else "neg"),
            html.Td(fmt(trace.linear_push[t], "+.3f")), html.Td(f"{trace.drift[t]:+.3f}"),
            html.Td(fmt(proj, "+.4f"), className=cls), html.Td(f"#{trace.nearest[t]}"),
            html.Td(fmt(trace.linearization_error[t], ".3g")),
        ]))
    note = (html.Div(f"first {TABLE_ROWS} of {len(trace)} tokens shown", className="hint")
            if len(trace) > TABLE_ROWS else None)
    return html.Div([html.Table([head, html.Tbody(rows)], className="compare"), note],
                    style={"maxHeight": "420px", "overflowY": "auto"})


@figure_output
def run(svc: Services, text: str | None, report_ref: dict | None) -> tuple:
    """-> (figure, table, slider max, slider value, alert, detail, sentence store)."""
    report = report_or_none(svc, report_ref)
    if report is None:
        return placeholder(), None, 1, 1, None, token_detail(None, None), None
    raw_chars = len(text) if isinstance(text, str) else 0
    text = clip_sentence(text)
    trace = svc.sentence(report_ref, text)
    if not len(trace):
        return (placeholder("type a sentence"), None, 1, 1,
                alert("info", "No tokens: type some words."), token_detail(None, None),
                {"key": report_ref["key"], "text": text})  # a report, no tokens: explain says type
    messages = []
    if raw_chars > len(text) and len(text) == MAX_SENTENCE_CHARS:
        messages.append(alert("warning", f"The text is longer than {MAX_SENTENCE_CHARS:,} characters; only "
                                         "that much was read."))
    if trace.dropped:
        messages.append(alert("warning", f"The text has {len(trace) + trace.dropped:,} tokens; only "
                                         f"the first {MAX_SENTENCE_TOKENS:,} were run."))
    unknown = [t for t, k in zip(trace.tokens, trace.known) if not k]
    if unknown:
        shown = ", ".join(sorted(set(unknown))[:12])
        messages.append(alert("info", f"{len(unknown)} token(s) not in the vocabulary, read as "
                                      f"<unk>: {shown}"))
    last = len(trace) - 1
    fig = trajectory_figure(trace, report, last)
    svc.memo.get(("sentence-ring", report_ref["key"], text), lambda: _ring_index(fig))
    # the slider counts tokens from 1, as the table and the detail panel do
    return (fig, token_table(trace), len(trace), len(trace),
            messages or None, token_detail(trace, last),
            {"key": report_ref["key"], "text": text})


@figure_output
def explain(svc: Services, sentence_ref: dict | None) -> tuple:
    """-> (the per-token readout bars, the account in words) of the sentence on screen
    (``sentence_ref`` as ``run`` stores it; anything else gives the empty views)."""
    report = report_or_none(svc, sentence_ref) if isinstance(sentence_ref, dict) else None
    if report is None:
        return placeholder(), readout_account(None)  # no report on screen: it says so (NO_REPORT)
    trace = svc.sentence(sentence_ref, sentence_ref.get("text", ""))
    if not len(trace):
        return placeholder("type a sentence"), readout_account(None)
    return steps_figure(trace, modifier_words(report)), readout_account(trace)


def step(svc: Services, index, sentence_ref: dict | None) -> tuple:
    """-> (figure patch moving the current-token ring, detail) for slider position ``index``
    (1-based: token 1 is the first, as in the table and the detail panel)."""
    if not isinstance(sentence_ref, dict) or report_or_none(svc, sentence_ref) is None:
        return no_update, no_update
    trace = svc.sentence(sentence_ref, sentence_ref.get("text", ""))
    if not len(trace):
        return no_update, no_update
    position = index if type(index) is int else 1  # 1-based, as the page shows it
    t = min(max(position - 1, 0), len(trace) - 1)
    # the traces before the ring depend on the sentence too (e.g. whether any push is positive)
    ring = svc.memo.get(("sentence-ring", sentence_ref["key"], clip_sentence(sentence_ref.get("text", ""))),
                        lambda: _ring_index(trajectory_figure(trace, svc.report(sentence_ref["key"]))))
    patch = Patch()
    patch["data"][ring]["x"] = [float(trace.states_pc[t, 0])]
    patch["data"][ring]["y"] = [float(trace.states_pc[t, 1])]
    patch["data"][ring]["text"] = [html_text.escape(trace.tokens[t])]
    patch["data"][ring]["customdata"] = [t]
    return patch, token_detail(trace, t)


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.FIG_SENTENCE_TRAJ, "figure"), Output(ids.SENTENCE_TOKENS, "children"),
                  Output(ids.TOKEN_SLIDER, "max"), Output(ids.TOKEN_SLIDER, "value"),
                  Output(ids.SENTENCE_ALERT, "children"), Output(ids.TOKEN_DETAIL, "children"),
                  Output(ids.SENTENCE, "data"),
                  Input(ids.SENTENCE_RUN, "n_clicks"), Input(ids.SENTENCE_INPUT, "n_blur"),
                  Input(ids.REPORT, "data"), State(ids.SENTENCE_INPUT, "value"))
    def _run(_clicks, _blur, report_ref, text):
        return run(svc, text, report_ref)

    @app.callback(Output(ids.FIG_SENTENCE_STEPS, "figure"), Output(ids.SENTENCE_ACCOUNT, "children"),
                  Input(ids.SENTENCE, "data"))
    def _explain(sentence_ref):
        return explain(svc, sentence_ref)

    @app.callback(Output(ids.FIG_SENTENCE_TRAJ, "figure", allow_duplicate=True),
                  Output(ids.TOKEN_DETAIL, "children", allow_duplicate=True),
                  Input(ids.TOKEN_SLIDER, "value"), State(ids.SENTENCE, "data"),
                  prevent_initial_call=True)
    def _step(index, sentence_ref):
        return step(svc, index, sentence_ref)
