"""Populations: the sweeps in the store (``rnnscope sweep``), their progress, and the
comparison of their networks (``rnnscope.workers.population``): an MDS map by a geometry or
topology distance, the topology table and the universality verdict in words.

Progress comes from the store (what is trained, what is analysed) and, with ``REDIS_URL``,
from each cell's Celery job. The comparison is computed by ``rnnscope sweep`` when its cells
are done; the page shows the stored one for the cells analysed now, or says how to get it.
"""
from __future__ import annotations

import re

from dash import Input, Output, html, no_update

from rnnscope.app import ids
from rnnscope.app.callbacks import figure_output
from rnnscope.app.figures import population as population_figures
from rnnscope.app.layout import alert, placeholder
from rnnscope.app.services import Services
from rnnscope.workers import population, sweeps
from rnnscope.workers.store import ArtifactNotFound

#: Sweeps listed in the dropdown (newest first).
MAX_LISTED = 50
DISTANCES = ("cka", "svcca", "topology")
_SWEEP_ID = re.compile(r"[0-9a-f]{64}")
COLUMNS = (("cell", "network"), ("state", "state"), ("test acc", "test_accuracy"), ("attractor", "attractor"),
           ("points", "points"), ("τ1 (tokens)", "tau1"), ("slow modes", "slow_modes"))


def sweep_options(svc: Services) -> tuple[list[dict], bool]:
    """Dropdown options of the stored sweeps (data, architectures, sizes, seeds, cells done),
    and whether any sweep still has cells to do."""
    options, unfinished = [], False
    for sweep_id in svc.store.list_sweeps()[:MAX_LISTED]:
        try:
            spec = sweeps.SweepSpec.from_dict(svc.store.get_sweep(sweep_id)["spec"])
        except (ArtifactNotFound, ValueError, KeyError):
            continue  # removed meanwhile, or written by another version: not listed
        done = sum(s["done"] for s in sweeps.states(svc.store, spec))
        unfinished = unfinished or done < len(spec.cells())
        options.append({"value": sweep_id, "label": f"{spec.data} · {', '.join(spec.archs)} · hidden "
                        f"{', '.join(map(str, spec.hidden))} · {spec.seeds} seed(s) · {done}/{len(spec.cells())} done"})
    return options, unfinished


def list_sweeps(svc: Services, current) -> tuple:
    """-> (options, value, poll disabled): the sweeps, the one shown kept (else the newest);
    the 5 s refresh stops once no sweep has cells left to do (it costs every open page three
    requests per tick), and the page lists sweeps started later when it is reloaded."""
    options, unfinished = sweep_options(svc)
    values = [o["value"] for o in options]
    return options, current if current in values else (values[0] if values else None), not unfinished


def _rows(svc: Services, sweep_id: str) -> list[dict]:
    """One row per cell: from the Celery jobs when ``REDIS_URL`` is set, else from the store."""
    if svc.settings.redis_url:
        # lazy: the Celery task module is needed only in distributed mode
        from rnnscope.workers import sweep_queue

        return sweep_queue.status(svc.store, sweep_id)
    spec = sweeps.SweepSpec.from_dict(svc.store.get_sweep(sweep_id)["spec"])
    rows = []
    for state in sweeps.states(svc.store, spec):
        what = "done" if state["done"] else "trained, not analysed" if state["checkpoint"] else "waiting"
        rows.append({**sweeps.summary_row(svc.store, state), "state": what})
    return rows


def _known(svc: Services, sweep_id) -> bool:
    return isinstance(sweep_id, str) and bool(_SWEEP_ID.fullmatch(sweep_id)) and sweep_id in svc.store.list_sweeps()


def sweep_table(svc: Services, sweep_id) -> html.Div:
    """The cells of the sweep with their state and results, or a line saying there is none."""
    if not _known(svc, sweep_id):
        return html.Div("No sweep selected: run rnnscope sweep --arch gru,lstm --seeds 3 --data mr, "
                        "then pick it here.", className="hint")
    rows = _rows(svc, sweep_id)
    done = sum(r["state"] == "done" for r in rows)
    head = html.Thead(html.Tr([html.Th(name) for name, _ in COLUMNS]))
    body = [html.Tr([html.Td(r["cell"]), html.Td(_state(r)), html.Td(_fmt(r["test_accuracy"], ".4f")),
                     html.Td(r["attractor"] or "–"), html.Td(_fmt(r["points"], "d")), html.Td(_fmt(r["tau1"], ".1f")),
                     html.Td(_fmt(r["slow_modes"], ".0f"))]) for r in rows]
    return html.Div([html.Div(f"{done} of {len(rows)} networks trained and analysed", className="hint"),
                     html.Table([head, html.Tbody(body)], className="compare")])


def _state(row: dict) -> str:
    """``done``, ``waiting``, ... or, for a running job, its progress and stage."""
    if row["state"] == "PROGRESS":
        return f"running {100 * row.get('fraction', 0.0):.0f}%: {str(row.get('message', ''))[:60]}"
    return row["state"].lower()


def _fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


@figure_output
def population_view(svc: Services, sweep_id, distance) -> tuple:
    """-> (MDS figure, table columns, table rows, verdict) of the sweep's stored comparison."""
    distance = distance if distance in DISTANCES else "cka"
    if not _known(svc, sweep_id):
        return placeholder("no sweep selected"), [], [], None
    doc = population.latest(svc.store, sweep_id)
    if doc is None:
        return (placeholder("not compared yet"), [], [],
                alert("info", "The networks analysed so far are not compared yet: rnnscope sweep compares "
                              "them when its cells are done (rerun the same command to compare the ones "
                              "analysed now)."))
    fig = population_figures.mds_map(doc["mds"][distance], doc["names"], doc["archs"], distance)
    table = population_figures.topology_table(doc["names"], doc["archs"], population.read_topologies(doc))
    said = (f"{len(doc['names'])} networks, {doc['n_states']:,} shared states on {doc['n_docs']:,} documents. "
            f"Geometry separates the architectures while topology does not: {doc['verdict']['text']}")
    return fig, table["columns"], table["data"], said


def register(app, svc: Services) -> None:
    @app.callback(Output(ids.SWEEP_SELECT, "options"), Output(ids.SWEEP_SELECT, "value"),
                  Output(ids.SWEEP_POLL, "disabled"),
                  Input(ids.SWEEP_POLL, "n_intervals"), Input(ids.SWEEP_SELECT, "value"))
    def _list(_n, current):
        options, value, idle = list_sweeps(svc, current)
        return options, (no_update if value == current else value), idle

    @app.callback(Output(ids.SWEEP_TABLE, "children"), Input(ids.SWEEP_SELECT, "value"),
                  Input(ids.SWEEP_POLL, "n_intervals"))
    def _table(sweep_id, _n):
        return sweep_table(svc, sweep_id)

    @app.callback(Output(ids.FIG_POPULATION, "figure"), Output(ids.TOPOLOGY_TABLE, "columns"),
                  Output(ids.TOPOLOGY_TABLE, "data"), Output(ids.POPULATION_VERDICT, "children"),
                  Input(ids.SWEEP_SELECT, "value"), Input(ids.POPULATION_DISTANCE, "value"),
                  Input(ids.SWEEP_POLL, "n_intervals"))
    def _population(sweep_id, distance, _n):
        return population_view(svc, sweep_id, distance)
