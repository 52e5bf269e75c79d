"""The page: a model panel on the left, the analysis views on the right.

``build_layout(svc)`` is called on every page load (Dash calls ``rnnscope.app.layout`` when it is
a function), so the model list shows checkpoints uploaded since the server started.
Graphs start with a blank placeholder; callbacks fill them once a report is on screen.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from dash import dash_table, dcc, html

from rnnscope.analysis.point_modes import PointModes
from rnnscope.analysis.sentence import SentenceTrace
from rnnscope.analysis.summary import Summary
from rnnscope.analysis.summary import read as read_summary
from rnnscope.analysis.words import WordLookup
from rnnscope.app import ids
from rnnscope.app.datasets import dataset_options
from rnnscope.app.figures import style
from rnnscope.app.figures.summary import WORD_SHARE_NOTE
from rnnscope.app.services import DEFAULT_DATASET, DEFAULT_POINT_SET, MAX_SENTENCE_TOKENS, POINT_SETS, Services, finite_or_none

GRAPH_CONFIG = {
    "displaylogo": False,
    "displayModeBar": "hover",
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
    "toImageButtonOptions": {"format": "svg", "scale": 1},
}
EXAMPLE_SENTENCE = ("The plot was dull and the acting was wooden, but the ending was "
                    "wonderful and I loved the music.")


#: What a view says while the selected model has no report on screen (running, cancelled or failed).
NO_REPORT = "no report ready for the selected model"


def placeholder(text: str = NO_REPORT) -> go.Figure:
    """A blank figure with a grey note, shown until the real one arrives."""
    # template "none" keeps the placeholder tiny (the full template is ~6 kB per figure)
    fig = go.Figure(layout=dict(template="none", xaxis=dict(visible=False), yaxis=dict(visible=False),
                                margin=dict(l=10, r=10, t=10, b=10), paper_bgcolor="white",
                                plot_bgcolor="white", font=style.FONT))
    return style.empty_note(fig, text)


def graph(component_id: str, height: int = 340, **kwargs) -> html.Div:
    """A ``dcc.Graph`` in a bordered box, with a placeholder figure."""
    return html.Div(className="graph", children=dcc.Graph(
        id=component_id, figure=placeholder(), config=GRAPH_CONFIG,
        style={"height": f"{height}px"}, **kwargs))


def card(title: str, figref: str | None, caption: str, *children, anchor: str | None = None,
         class_name: str = "") -> html.Section:
    """A titled section with its paper figure reference and a one-line caption."""
    head = [html.H2(title)]
    if figref:
        head.append(html.Span(figref, className="figref"))
    head.append(html.P(caption, className="caption"))
    return html.Section(id=anchor, className=f"card {class_name}".strip(),
                        children=[html.Header(head), *children])


# --------------------------------------------------------------------------- header + sidebar


def topbar() -> html.Header:
    links = [("state-space", "State space"), ("fixed-points", "Fixed points"), ("words", "Words"),
             ("sentence", "Sentence"), ("modifiers", "Modifiers"),
             ("linearization", "Linearization"), ("compare", "Compare")]
    return html.Header(className="topbar", children=[
        html.Div(className="brand", children=["rnn", html.Span("scope")]),
        html.Div("line-attractor dynamics of recurrent sentiment classifiers",
                 className="tagline"),
        html.Nav([html.A(label, href=f"#{anchor}") for anchor, label in links]),
        html.Div(id=ids.JOB_STATUS, className="status"),
    ])


def model_panel(svc: Services) -> html.Section:
    options, value = svc.model_options()
    limit_mib = svc.max_upload_bytes / 2**20
    return html.Section(className="card", children=[
        html.H3("Model"),
        html.Div(className="field", children=[
            html.Label("Checkpoint", htmlFor=ids.MODEL_SELECT),
            dcc.Dropdown(id=ids.MODEL_SELECT, options=options, value=value, clearable=False,
                         searchable=False),
        ]),
        dcc.Upload(id=ids.UPLOAD, className="upload", multiple=False,
                   max_size=-1,  # the server enforces the cap and says so in words
                   children=html.Div([html.B("Upload a checkpoint"),
                                      html.Div("drop or click · .safetensors or .pt")])),
        html.Div(f"Up to {limit_mib:.0f} MiB. Loaded without executing code; "
                 "stored by its sha256.", className="hint"),
        html.Div(id=ids.UPLOAD_ALERT),
        html.Div(className="field", style={"marginTop": "10px"}, children=[
            html.Label("Dataset (states and word sets)", htmlFor=ids.DATASET_SELECT),
            dcc.Dropdown(id=ids.DATASET_SELECT, value=DEFAULT_DATASET, clearable=False,
                         searchable=False, options=dataset_options(svc)),
        ]),
        dcc.Upload(id=ids.DATASET_UPLOAD, className="upload", multiple=False, max_size=-1,
                   children=html.Div([html.B("Upload your own labelled data"),
                                      html.Div("drop or click · .csv, .tsv, .jsonl or .json")])),
        html.Div(f"Up to {limit_mib:.0f} MiB, UTF-8, a text column (text, review or sentence) and a label column "
                 "(label, sentiment or polarity: 0/1, 1/2, -1/1, neg/pos, negative/positive). "
                 "Stored by its sha256; split 80/10/10.", className="hint"),
        html.Div(id=ids.DATASET_UPLOAD_ALERT),
        html.Div(className="field", children=[
            html.Label("Points the views use", htmlFor=ids.POINT_SET_SELECT),
            dcc.Dropdown(id=ids.POINT_SET_SELECT, value=DEFAULT_POINT_SET, clearable=False, searchable=False,
                         options=[{"label": label, "value": value} for value, label, _ in POINT_SETS]),
            html.Div("Slow points (local minima of q above tol) are approximate fixed points too; the "
                     "default keeps those that drift less than 1% of a typical word's step per token.",
                     className="hint"),
        ]),
        html.Div(className="buttons", children=[
            html.Button("Analyse", id=ids.JOB_START, className="btn primary", n_clicks=0),
            html.Button("Cancel", id=ids.JOB_CANCEL, className="btn", n_clicks=0, disabled=True),
        ]),
        html.Progress(id=ids.JOB_PROGRESS, className="job", value="0", max="100"),
        html.Div(id=ids.JOB_STAGE, className="stage"),
        html.Div(id=ids.JOB_ALERT),
    ])


def sidebar(svc: Services) -> html.Aside:
    return html.Aside(className="sidebar", children=[
        model_panel(svc),
        html.Section(className="card", children=[html.H3("Model card"),
                                                 html.Div(id=ids.MODEL_CARD)]),
    ])


# --------------------------------------------------------------------------- views


def state_space_card() -> html.Section:
    return card(
        "State space", "Fig. 2a–b",
        "PCA of the states visited on test documents (trained vs untrained, same documents), "
        "and their density on PC1/PC2 by label with one example document of each sign.",
        html.Div(className="grid-2", children=[graph(ids.FIG_PCA, 360),
                                               graph(ids.FIG_STATE_DENSITY, 360)]),
        anchor="state-space")


def fixed_points_card() -> html.Section:
    return card(
        "Fixed-point manifold and the selected point", "Fig. 2c · 3b–d · 4b",
        "Click a fixed point (here, on τ along θ, or on the r1 panel) to select it. Its "
        "Jacobian is decomposed on the spot: eigenvalues against the unit circle, time "
        "constants τ = |1/ln|λ|| in tokens, and the top right eigenvector r1 on the manifold.",
        html.Div(id=ids.ATTRACTOR_VERDICT, className="verdict", children=NO_REPORT),
        graph(ids.FIG_ATTRACTOR, 300),
        html.Div(id=ids.FP_SUMMARY, className="fp-summary", children="no fixed point selected"),
        html.Div(className="grid-3", children=[
            html.Div(graph(ids.FIG_MANIFOLD, 400), className="span-2"), graph(ids.FIG_EIGVALS, 400),
            graph(ids.FIG_TAU_THETA, 340), graph(ids.FIG_TAU_ALL, 340), graph(ids.FIG_R1_MANIFOLD, 340),
        ]),
        anchor="fixed-points")


def words_card() -> html.Section:
    return card(
        "Word projections", "Fig. 4a · 4c–d",
        "Instantaneous effect J_inp x of positive, negative and neutral words (bag-of-words "
        "logistic-regression sets) at the selected point, with ℓ1; their input projection "
        "ℓ1ᵀ J_inp x across all fixed points; and the overlap of r1 with the manifold axis m "
        "against random directions. Look up any word at the selected point.",
        html.Div(className="grid-3", children=[
            graph(ids.FIG_INPUT_EFFECTS, 360), graph(ids.FIG_PROJECTION_HIST, 360),
            graph(ids.FIG_R1_OVERLAP, 360),
        ]),
        html.Div(className="word-box", children=[
            html.Label("Word lookup", htmlFor=ids.WORD_INPUT, className="label"),
            html.Div(className="word-row", children=[
                dcc.Input(id=ids.WORD_INPUT, type="text", placeholder="type a word, e.g. superb",
                          debounce=0.25, className="text-input", maxLength=200, value="superb"),
                html.Div(id=ids.WORD_RESULT, className="word-result"),
            ]),
        ]),
        anchor="words")


def sentence_card() -> html.Section:
    return card(
        "Sentence explorer", None,
        "Type any text: the network reads it token by token. Above: its trajectory on the analysis's "
        "fixed and slow points, in the PC1/PC2 plane of the visited states, with the readout's "
        "direction and its zero line in that plane; each point is the state after a token, coloured "
        "by P(positive) on one fixed scale for every sentence (unknown words are crosses). Each step "
        "is drawn as where the state would have gone without the token, F(h, 0) (dotted), then the "
        "token's push (arrow). Below: each step's readout change split into the token's push and "
        "that zero-input drift, and beside it the account in words. Move the slider to read a step: the "
        "token's input projection at the nearest fixed point and the one-step linearization error "
        f"there. At most {MAX_SENTENCE_TOKENS} tokens are run.",
        html.Div(className="sentence-row", children=[
            dcc.Textarea(id=ids.SENTENCE_INPUT, value=EXAMPLE_SENTENCE, className="text-input",
                         maxLength=200_000, rows=2),
            html.Button("Run", id=ids.SENTENCE_RUN, className="btn primary", n_clicks=0),
        ]),
        html.Div(id=ids.SENTENCE_ALERT),
        graph(ids.FIG_SENTENCE_TRAJ, 540),
        html.Div(className="grid-2", style={"marginTop": "12px"}, children=[
            graph(ids.FIG_SENTENCE_STEPS, 400),
            html.Div(id=ids.SENTENCE_ACCOUNT, className="sentence-account"),
        ]),
        html.Div(style={"marginTop": "10px"}, children=dcc.Slider(
            id=ids.TOKEN_SLIDER, min=1, max=1, step=1, value=1, marks=None,
            tooltip={"placement": "bottom", "always_visible": False}, updatemode="drag")),
        html.Div(id=ids.TOKEN_DETAIL, className="token-detail"),
        html.Div(id=ids.SENTENCE_TOKENS, className="graph", style={"maxHeight": "420px"}),
        anchor="sentence")


def modifiers_card() -> html.Section:
    return card(
        "Modifiers", "ICML 2020",
        "Words that change how the next few words count (\"not\" flips them, \"very\" scales them up): "
        "for each frequent word of the test split, the ratio r_k of what valence words k = 1 … K tokens "
        "later do to the readout after the word against after a neutral filler in its place, over real "
        "contexts, from the network and from its linearization. Choose a modifier to see where it moves "
        "the state and how the state comes back over the following neutral words (state PC1/PC2, over the "
        "fixed and slow points), against the same contexts with a filler in its place.",
        html.Div(id=ids.MODIFIER_TEXT),
        html.Div(id=ids.MODIFIER_TABLE, style={"marginTop": "8px"}),
        html.Div(className="field", style={"marginTop": "10px", "maxWidth": "360px"}, children=[
            html.Label("Modifier", htmlFor=ids.MODIFIER_SELECT),
            dcc.Dropdown(id=ids.MODIFIER_SELECT, options=[], value=None, clearable=False, searchable=False,
                         placeholder="no modifier on screen"),
        ]),
        html.Div(className="grid-2", children=[graph(ids.FIG_MODIFIER_PATH, 420),
                                               graph(ids.FIG_MODIFIER_PROFILE, 420)]),
        html.Div(id=ids.MODIFIER_DETAIL),
        anchor="modifiers")


def linearization_card() -> html.Section:
    return card(
        "Linearization", "Fig. 5b",
        "One-step relative error of the linear dynamics around the nearest fixed point, "
        "‖F(h,x) − (h* + J_rec(h−h*) + J_inp x)‖ / ‖F(h,x)‖, on sampled test steps; and the "
        "accuracy of the network run entirely on its linearizations.",
        html.Div(className="grid-2", children=[graph(ids.FIG_LINEARIZATION, 320),
                                               html.Div(id=ids.LINEARIZATION_SUMMARY)]),
        anchor="linearization")


def compare_card() -> html.Section:
    return card(
        "Compare models", "Fig. 6",
        "Every model analysed in the store, side by side: input projections by word set, "
        "overlap of r1 with the manifold, time constants and accuracy. Click a model in the table "
        "to open its analysis (also one made with rnnscope analyze on this store).",
        graph(ids.FIG_COMPARE, 560),
        html.P(WORD_SHARE_NOTE, className="hint"),
        html.Div(id=ids.COMPARE_ALERT),
        html.Div(id=ids.COMPARE_TABLE, style={"marginTop": "10px", "overflowX": "auto"}),
        anchor="compare")


def class_geometry_card() -> html.Section:
    return card(
        "Classes", "Aitken et al. 2020",
        "For a network with C > 2 classes: its fixed and slow points in their top principal "
        "components, coloured by the class the network reads at each, with the readout's class "
        "differences; how many slow modes each point has (an unordered C-class integrator needs "
        "C − 1); each word's readout effect per class difference and its projection on each slow "
        "left eigenvector.",
        html.Div(id=ids.CLASS_GEOMETRY_TEXT),
        html.Div(className="grid-2", children=[graph(ids.FIG_CLASS_POINTS, 420), graph(ids.FIG_SLOW_COUNTS, 420)]),
        html.Div(className="grid-2", children=[graph(ids.FIG_CLASS_WORDS, 360), graph(ids.FIG_SLOW_PROJECTIONS, 360)]),
        anchor="classes")


def population_card() -> html.Section:
    return card(
        "Populations", "NeurIPS 2019",
        "Sweeps of many networks (rnnscope sweep: architectures x hidden sizes x seeds), their "
        "progress, and what the networks share: an MDS map by the geometry of their visited states "
        "(1 - CKA, 1 - SVCCA) or by their fixed-point topology, coloured by architecture.",
        dcc.Dropdown(id=ids.SWEEP_SELECT, options=[], placeholder="no sweep in the store yet",
                     clearable=False),
        dcc.Interval(id=ids.SWEEP_POLL, interval=5000),
        html.Div(id=ids.SWEEP_TABLE, style={"marginTop": "10px", "maxHeight": "320px", "overflowY": "auto"}),
        dcc.RadioItems(id=ids.POPULATION_DISTANCE, value="cka", inline=True,
                       options=[{"label": " 1 − CKA ", "value": "cka"}, {"label": " 1 − SVCCA ", "value": "svcca"},
                                {"label": " topology ", "value": "topology"}]),
        html.Div(id=ids.POPULATION_VERDICT, className="hint"),
        html.Div(className="grid-2", children=[
            graph(ids.FIG_POPULATION, 420),
            dash_table.DataTable(id=ids.TOPOLOGY_TABLE, columns=[], data=[], page_size=20,
                                 style_table={"overflowX": "auto"}, style_cell={"fontSize": "12px"})]),
        anchor="population")


def build_layout(svc: Services) -> html.Div:
    """The whole page; the stores hold the report key and the selected fixed point index."""
    return html.Div([
        topbar(),
        html.Div(className="frame", children=[
            sidebar(svc),
            html.Main(className="main", children=[
                state_space_card(), fixed_points_card(), words_card(), sentence_card(), modifiers_card(),
                linearization_card(), compare_card(), class_geometry_card(), population_card(),
            ]),
        ]),
        html.Footer("rnnscope · after Maheswaranathan, Williams, Golub, Ganguli & Sussillo "
                    "(NeurIPS 2019)", className="footer"),
        dcc.Store(id=ids.REPORT),
        dcc.Store(id=ids.SELECTED_FP),
        dcc.Store(id=ids.JOB_REQUEST),
        dcc.Store(id=ids.JOB_RESULT),
        dcc.Store(id=ids.SENTENCE),
        dcc.Store(id=ids.UPLOAD_PAYLOAD),
        dcc.Store(id=ids.UPLOAD_LIMIT, data=svc.max_upload_bytes),
        dcc.Store(id=ids.DATASET_UPLOAD_PAYLOAD),
        dcc.Store(id=ids.OPENED),
    ])


# --------------------------------------------------------------------------- small view pieces


def alert(kind: str, *children) -> html.Div:
    """A coloured message box; ``kind`` is error, warning, success or info."""
    return html.Div(list(children), className=f"alert {kind}", role="alert")


def fmt(value, spec: str = ".3g", missing: str = "–") -> str:
    """A number for display; ``missing`` for None, NaN or inf."""
    value = finite_or_none(value)
    return missing if value is None else format(value, spec)


def pct(value) -> str:
    """A fraction as a percentage with one decimal."""
    value = finite_or_none(value)
    return "–" if value is None else f"{100 * value:.1f}%"


def metric(value: str, name: str) -> html.Div:
    return html.Div([html.Div(value, className="value"), html.Div(name, className="name")],
                    className="metric")


def kv(pairs) -> html.Dl:
    """A definition list from (name, value) pairs, skipping empty values."""
    items = []
    for name, value in pairs:
        if value in (None, "", "–"):
            continue
        items += [html.Dt(name), html.Dd(value)]
    return html.Dl(items, className="kv")


def _mib(n) -> str:
    return f"{n / 2**20:.1f} MiB" if n and n >= 2**20 else f"{int(n or 0) / 1024:.0f} KiB"


def model_card(model, info: dict | None, report) -> list:
    """Architecture, sizes, accuracy and provenance of a model; analysis numbers if analysed."""
    if model is None:
        return [html.Div("No model selected.", className="hint")]
    net = model.net
    n_params = sum(p.numel() for p in net.parameters())
    prov, metrics = model.provenance or {}, model.metrics or {}
    head = html.Div([html.Span(model.arch, className="badge arch"), " ",
                     html.Span(f"H = {net.hidden_size} · D = {net.state_size} · "
                               f"E = {net.embed_dim} · V = {len(model.vocab):,}")],
                    style={"marginBottom": "8px"})
    card = [head, kv([
        ("parameters", f"{n_params / 1e6:.2f} M"),
        ("test accuracy", pct(metrics.get("test_accuracy"))),
        ("validation acc.", pct(metrics.get("validation_accuracy"))),
        ("trained on", str(prov.get("dataset", "")) or None),
        ("seed", str(prov["seed"]) if "seed" in prov else None),
        ("version", str(prov.get("version", "")) or None),
        ("file", f"{info.get('filename', '')} · {_mib(info.get('size'))}" if info else None),
        ("sha256", html.Code(model.sha256[:16] + "…", title=model.sha256) if model.sha256 else None),
    ])]
    if prov.get("command"):
        card.append(html.Details([html.Summary("training command", className="hint"),
                                  html.Code(str(prov["command"])[:500])], className="hint"))
    if report is not None:
        card.append(analysis_numbers(report.summary))
    return card


def analysis_numbers(summary: Mapping | Summary) -> html.Div:
    """Key results of an analysis as metric tiles, with any warnings."""
    s = read_summary(summary)
    acc, fp = s.accuracy, s.fixed_points
    tiles = html.Div(className="metrics", children=[
        metric(pct(acc.test), "test accuracy"),
        metric(pct(acc.linearized), "linearized model"),
        metric(pct(acc.bow), "bag of words"),
        metric(pct(acc.majority_rate), "chance (majority class)"),
        metric(pct(s.data.vocabulary.unk_fraction), "tokens not in the vocabulary"),
        metric(f"{fp.n_fixed} + {fp.n_slow}", f"fixed + slow points ({fp.n_seeds} seeds)"),
        metric(fmt(s.modes.tau_median, ".0f"), "τ of the integration mode (tokens)"),
        metric(fmt(s.projections.r1_m_overlap_median, ".2f"), "median |r1·m|"),
    ])
    read = f" · the last {s.params.get('max_len')} tokens of each" if s.data.truncate == "tail" else ""
    out = [html.H3(f"Analysis on {s.data.name} · {s.data.n_docs} documents{read}", style={"marginTop": "12px"}),
           html.P(["Dynamics: ", html.B(s.attractor.name)], className="verdict-line"), tiles]
    for text in s.warnings:
        out.append(alert("warning", str(text)))
    return html.Div(out)


def attractor_verdict(summary: Mapping | Summary) -> html.Div:
    """The attractor verdict in words, with the numbers behind it (the summary's ``attractor``)."""
    s = read_summary(summary)
    v, fp, modes = s.attractor, s.fixed_points, s.modes
    tone = {"line": "success", "slow": "info", "isolated": "warning", "unstable": "error"}.get(v.kind, "info")
    rules, signs = modes.rule_counts, modes.sign_counts
    return html.Div([
        alert(tone, html.B(v.name.capitalize() + ". "), v.text),
        kv([("points used", f"{fp.n_fixed} fixed + {fp.n_slow} slow ({fp.slow_rule}, q < {fmt(fp.slow_q_max, '.1e')})"),
            ("seeds", ", ".join(f"{c} {k}" for k, c in fp.seed_classes.items() if c)),
            ("slow points drift", (f"{fmt(fp.slow_speed_median, '.3g')} units/token "
                                   f"(one typical step in {fmt(fp.slow_drift_tokens_median, '.0f')} tokens)")
             if fp.n_slow else None),
            ("visited range covered along m", fmt(v.range_coverage, ".0%")),
            ("integration mode", f"near |λ| = 1 along the point set at {rules.get('along the point set', 0)} of "
                                 f"{modes.n_points} points, along it but far from 1 at "
                                 f"{rules.get('along the point set, far from 1', 0)}, no mode along it at "
                                 f"{rules.get('no aligned mode', 0)}; the largest |λ| is that mode at "
                                 f"{modes.n_largest_is_chosen}"),
            ("its sign", f"readout {signs.get('readout', 0)}, manifold {signs.get('manifold', 0)}, "
                         f"undefined {signs.get('none', 0)}"),
            ("τ of the integration mode (median)", f"{fmt(modes.tau_median, '.4g')} tokens")]),
    ])


def status_line(report) -> str:
    """The top bar's one-line summary of the report on screen."""
    if report is None:
        return "no analysis on screen"
    s = read_summary(report.summary)
    acc, vocab = s.accuracy, s.data.vocabulary
    flags = ([f" · at or below chance ({pct(acc.majority_rate)})"] if acc.at_or_below_chance else []) + \
            ([f" · {pct(vocab.unk_fraction)} of tokens unknown"] if vocab.poor else [])
    return (f"{s.model.arch.upper()}-{s.model.hidden_size} on {s.data.name} · test accuracy {pct(acc.test)} · "
            f"{s.fixed_points.n_unique} points: {s.attractor.name}"
            + "".join(flags))


def fp_summary(modes: PointModes, theta: float | None, q: float | None) -> list:
    """One line about the selected point: θ, q, stability, the integration mode's |λ| and τ."""
    lam_max = abs(modes.eigvals[0]) if len(modes.eigvals) else float("nan")
    stable = lam_max < 1
    lam = modes.eigvals[modes.mode] if len(modes.eigvals) else float("nan")
    sign = {"readout": "sign from the readout", "manifold": "sign from the manifold's logit direction",
            "none": "sign undefined: the readout cannot see this mode"}.get(modes.sign_source, "")
    return [
        html.Span(f"fixed point #{modes.index}", className="sel"),
        html.Span(["θ = ", html.B(fmt(theta, "+.3f"))]),
        html.Span(["q = ", html.B(fmt(q, ".2e"))]),
        html.Span(["integration mode |λ| = ", html.B(fmt(abs(lam), ".5f")),
                   " (λ" + str(modes.mode + 1) + ")"]),
        html.Span(["τ = ", html.B(fmt(modes.tau[modes.mode] if len(modes.tau) else None, ".4g")), " tokens"]),
        html.Span(sign, className="hint"),
        html.Span("stable" if stable else f"unstable (|λ| max {lam_max:.4f})",
                  className=f"badge {'stable' if stable else 'unstable'}"),
    ]


def word_result(found: list[WordLookup] | WordLookup | None, index: int | None, more: bool = False) -> list:
    """The word lookup's answer at the selected point, or why not.

    One word: its projection, rank and word set. Several (``found`` a list): one row per
    word, each looked up on its own, and a line saying so (``more``: some were left out).
    """
    found = [found] if isinstance(found, WordLookup) else list(found or [])
    if not found:
        return [html.Div("Select a fixed point and type a word to see its input projection there.",
                         className="hint")]
    if len(found) > 1:
        return _words_table(found, index, more)
    found = found[0]
    word = html.B(found.word)
    if not found.known:
        return [alert("warning", word, " is not in this model's vocabulary (it reads as ",
                      html.Code("<unk>"), ").")]
    value = found.projection
    cls = "pos" if value > 0 else "neg" if value < 0 else "neu"
    out = [html.Div(["ℓ1ᵀ J_inp x for ", word, f" at fixed point #{index}"], className="hint"),
           html.Div(f"{value:+.4f}", className=f"big {cls}"),
           html.Div(f"rank {found.rank:,} of {found.n_ranked:,} vocabulary words "
                    "(1 = most positive)")]
    if found.set_name:
        out.append(html.Div(["in the ", html.B(found.set_name), " word set"], className="hint"))
    return out


def _words_table(found: list[WordLookup], index: int | None, more: bool) -> list:
    """Several words, one row each: ℓ1ᵀ J_inp x at the point, rank, word set."""
    rows = []
    for f in found:
        if not f.known:
            rows.append(html.Tr([html.Td(html.B(f.word)), html.Td(["not in the vocabulary (reads as ",
                                                                   html.Code("<unk>"), ")"], colSpan=3)],
                                className="word-row-item"))
            continue
        cls = "pos" if f.projection > 0 else "neg" if f.projection < 0 else "neu"
        rows.append(html.Tr([html.Td(html.B(f.word)), html.Td(f"{f.projection:+.4f}", className=cls),
                             html.Td(f"{f.rank:,} of {f.n_ranked:,}"), html.Td(f.set_name or "–")],
                            className="word-row-item"))
    head = html.Thead(html.Tr([html.Th(h) for h in ("word", "ℓ1ᵀ J_inp x", "rank (1 = most positive)",
                                                    "word set")]))
    note = (f"Each word looked up on its own at fixed point #{index}, not the phrase: what a phrase does "
            "depends on the order and on the state each word meets (run it in the sentence explorer).")
    if more:
        note += f" Only the first {len(found)} words are shown."
    return [html.Div(note, className="hint"), html.Table([head, html.Tbody(rows)], className="compare")]


def _tok_class(known: bool, current: bool) -> str:
    return "tok" + ("" if known else " unknown") + (" current" if current else "")


def _valence_bg(value: float, scale: float) -> str:
    """Green for a positive push along the slow mode, red for negative, by magnitude."""
    if not math.isfinite(value) or scale <= 0:
        return "transparent"
    alpha = min(1.0, abs(value) / scale) * 0.55
    rgb = "44,160,44" if value > 0 else "214,39,40"
    return f"rgba({rgb},{alpha:.2f})"


def token_strip(trace: SentenceTrace, step: int | None) -> html.Div:
    """The tokens inline, shaded by their input projection; unknown ones dotted."""
    finite = trace.input_projection[np.isfinite(trace.input_projection)]
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    return html.Div(className="tokens-inline", children=[
        html.Span(tok, className=_tok_class(bool(k), i == step),
                  style={"background": _valence_bg(float(p), scale)},
                  title=f"token {i}: input projection {p:+.3f}" + ("" if k else " (unknown word)"))
        for i, (tok, k, p) in enumerate(zip(trace.tokens, trace.known, trace.input_projection))
    ])


def token_detail(trace: SentenceTrace | None, step: int | None) -> list:
    """Everything about one step of the sentence: readout, projection, nearest point, error."""
    if trace is None or not len(trace):
        return [html.Span("Run a sentence to read it token by token.", className="hint")]
    t = int(min(max(step or 0, 0), len(trace) - 1))
    word = trace.tokens[t]
    return [
        html.Div([html.B(f"token {t + 1} of {len(trace)}: "), html.Code(word),
                  html.Span(" (not in the vocabulary: read as <unk>)", className="unk")
                  if not trace.known[t] else ""]),
        kv([("readout after it", f"{trace.logit[t]:+.3f}  (P(positive) = {trace.probability[t]:.3f})"),
            ("input projection ℓ1ᵀ J_inp x", fmt(trace.input_projection[t], "+.4f")),
            ("nearest fixed point", f"#{trace.nearest[t]} at distance "
                                    f"{fmt(trace.nearest_distance[t], '.3g')}"),
            ("one-step linearization error", fmt(trace.linearization_error[t], ".3g"))]),
        token_strip(trace, t),
    ]


def linearization_summary(summary: Mapping | Summary) -> html.Div:
    """Accuracy of the linearized model and the error quantiles, as tiles and a list."""
    s = read_summary(summary)
    acc, lin = s.accuracy, s.linearization
    return html.Div([
        html.Div(className="metrics", children=[
            metric(pct(acc.test), "network accuracy"),
            metric(pct(acc.linearized), "linearized accuracy"),
            metric(pct(lin.agreement), "same label as network"),
            metric(fmt(lin.one_step_rel_error_median, ".3g"), "median one-step error"),
        ]),
        kv([("90th percentile error", fmt(lin.one_step_rel_error_p90, ".3g")),
            ("its recurrent part (median)", fmt(lin.recurrent_part_median, ".3g")),
            ("its input part (median)", fmt(lin.input_part_median, ".3g")),
            ("linearizing at the previous state instead (median)", fmt(lin.previous_state_median, ".3g")),
            ("distance to the nearest point (median)",
             f"{fmt(lin.nearest_dist_median, '.3g')} state units = "
             f"{fmt(lin.nearest_dist_in_steps_median, '.2g')} per-token steps"),
            ("steps sampled", fmt(lin.n_steps, ",.0f")),
            ("documents run linearized", fmt(lin.n_docs, ",.0f"))]),
        html.P("One-step error: ‖F(h,x) − (F(h*,0) + J_rec(h − h*) + J_inp x)‖ / ‖F(h,x)‖ at the nearest "
               "(fixed or slow) point h*. Its recurrent part is the error of the zero-input step alone, its input "
               "part the word's effect against J_inp x; linearizing at the previous state (ICML 2020) keeps the "
               "recurrence exact and linearizes only the word. Each step of the linearized model uses the "
               "Jacobians of the point nearest to its current state; the readout of its final state gives the "
               "label.", className="hint"),
    ])


COMPARE_COLUMNS = (
    ("model", None), ("dataset", None), ("test acc.", ("accuracy", "test")),
    ("linearized acc.", ("accuracy", "linearized")), ("BoW acc.", ("accuracy", "bow")),
    ("dynamics", ("attractor", "name")),
    ("fixed + slow points", ("fixed_points", "n_unique")), ("τ integration mode", ("modes", "tau_median")),
    ("median |r1·m|", ("projections", "r1_m_overlap_median")),
    ("null |r1·m|", ("projections", "r1_m_null_median")),
    ("mean ℓ1ᵀJx + (state units)", ("projections", "mean_positive")),
    ("mean ℓ1ᵀJx − (state units)", ("projections", "mean_negative")),
    ("median lin. error", ("linearization", "one_step_rel_error_median")),
)


def _cell(summary: dict, path) -> str:
    value = summary
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, str):
        return value
    if path[0] == "accuracy":
        return pct(value)
    if path[-1] == "n_unique":
        return fmt(value, ",.0f")
    if path[-1].startswith("tau"):
        return fmt(value, ".0f")
    if path[0] == "linearization":  # relative errors as the figure shows them: 1.15, not 115%
        return fmt(value, ".3g")
    return fmt(value, "+.3f" if "mean" in path[-1] else ".3f")


def compare_table(rows: list[tuple[str, dict]], current_key: str | None) -> html.Table:
    """One row per analysed model (label, summary); the one on screen highlighted."""
    head = html.Thead(html.Tr([html.Th(name) for name, _ in COMPARE_COLUMNS]))
    body = []
    for key, label, summary in rows:
        opener = html.Button(label, id={"type": ids.COMPARE_OPEN, "key": key}, className="link",
                             title="open this analysis", n_clicks=0)
        cells = [html.Td(opener), html.Td(str(summary.get("data", {}).get("name", "")))]
        cells += [html.Td(_cell(summary, path)) for _, path in COMPARE_COLUMNS[2:]]
        body.append(html.Tr(cells, className="current" if key == current_key else ""))
    return html.Table([head, html.Tbody(body)], className="compare")
