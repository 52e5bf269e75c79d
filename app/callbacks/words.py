"""Word projections (Fig. 4c, 4d) and the word lookup at the selected fixed point."""
from __future__ import annotations

from dash import Input, Output

from rnnscope.app import figures, ids
from rnnscope.app.callbacks import per_report
from rnnscope.app.layout import NO_REPORT, placeholder, word_result
from rnnscope.app.services import MAX_LOOKUP_WORDS, Services, point_index, report_or_none


@per_report
def word_figures(svc: Services, report_ref: dict | None) -> tuple:
    """-> (Fig. 4c, Fig. 4d) of the report on screen."""
    report = report_or_none(svc, report_ref)
    if report is None or not len(report.arrays["fixed_points"]):
        note = "no fixed points" if report is not None else NO_REPORT
        return placeholder(note), placeholder(note)
    a = report.arrays
    means = figures.mean_projections(a["input_projection"], a["word_valence"])
    return (figures.input_projection_histograms(means[1], means[-1], means[0]),
            figures.overlap_vs_null(a["r1_m_overlap"], a["r1_m_null"]))


def lookup(svc: Services, word: str | None, selection: dict | None) -> list:
    """The lookup panel for ``word`` at the selected fixed point: each word of it, on its own."""
    index = point_index(report_or_none(svc, selection), selection)
    if index is None:  # nothing selected, or a selection the page never sends
        return word_result(None, None)
    found = svc.lookup_words(selection, word, MAX_LOOKUP_WORDS + 1)  # one more: were some left out?
    return word_result(found[:MAX_LOOKUP_WORDS], index, more=len(found) > MAX_LOOKUP_WORDS)


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.FIG_PROJECTION_HIST, "figure"), Output(ids.FIG_R1_OVERLAP, "figure"),
                  Input(ids.REPORT, "data"))
    def _figures(report_ref):
        return word_figures(svc, report_ref)

    @app.callback(Output(ids.WORD_RESULT, "children"), Input(ids.WORD_INPUT, "value"),
                  Input(ids.SELECTED_FP, "data"))
    def _lookup(word, selection):
        return lookup(svc, word, selection)
