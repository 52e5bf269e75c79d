"""Classes (geometry of integration, Aitken et al. 2020): for a network with C > 2 classes,
its points in their top principal components coloured by the class read there, the slow
modes per point against C − 1, and each word's effect per class difference and on each
slow left eigenvector; a binary network's card says in words that this does not apply."""
from __future__ import annotations

from dash import Input, Output, html

from rnnscope.app import ids
from rnnscope.app.callbacks import per_report
from rnnscope.app.figures import class_geometry as figs
from rnnscope.app.layout import placeholder
from rnnscope.app.services import Services, report_or_none

BINARY = ("This network has one output (two classes): the geometry of integration of several classes "
          "does not apply. Its line attractor is in the views above.")


@per_report
def class_geometry_view(svc: Services, report_ref: dict | None) -> tuple:
    """-> (text, points figure, slow-mode counts, word effects, slow projections)."""
    report = report_or_none(svc, report_ref)
    if report is None:
        return None, placeholder(), placeholder(), placeholder(), placeholder()
    geometry = report.summary.get("class_geometry") or {}
    if not geometry.get("applies"):
        note = "binary network: see the views above"
        return (html.P(BINARY, className="hint"), placeholder(note), placeholder(note), placeholder(note),
                placeholder(note))
    a, names = report.arrays, list(geometry["class_names"])
    if not len(a["fixed_points"]):
        return (html.P(geometry["text"]), placeholder("no points found"), placeholder("no points found"),
                placeholder("no points found"), placeholder("no points found"))
    words = [str(w) for w in a["geometry_words"]]
    order = "ordered" if geometry.get("ordered") else "unordered" if geometry.get("ordered") is False else "of unknown order"
    text = html.Div([html.P(geometry["text"]), html.P(
        f"{len(names)} classes ({', '.join(names)}, {order}); principal angles between the readout's "
        f"C − 1 differences and the points' top C − 1 PCs: "
        f"{', '.join(f'{x:.1f}°' for x in geometry.get('principal_angles_deg', []))}.", className="hint")])
    return (text,
            figs.class_points(a["fixed_points"], a["geometry_components"], a["geometry_point_class"],
                              a["geometry_readout_diffs"], names, a["geometry_explained_variance_ratio"]),
            figs.slow_mode_counts(a["geometry_slow_counts"], len(names), float(geometry["slow_tol"])),
            figs.word_effects(words, a["geometry_word_class"], a["geometry_word_effects"], names)
            if words else placeholder("no words listed"),
            figs.slow_projections(words, a["geometry_slow_projection"]) if words else placeholder("no words listed"))


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.CLASS_GEOMETRY_TEXT, "children"), Output(ids.FIG_CLASS_POINTS, "figure"),
                  Output(ids.FIG_SLOW_COUNTS, "figure"), Output(ids.FIG_CLASS_WORDS, "figure"),
                  Output(ids.FIG_SLOW_PROJECTIONS, "figure"), Input(ids.REPORT, "data"))
    def _class_geometry(report_ref):
        return class_geometry_view(svc, report_ref)
