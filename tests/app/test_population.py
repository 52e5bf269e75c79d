"""The Populations card's callbacks on a real store: a tiny sweep on MR run here
(``tests/sweep_helpers.py``), before and after its comparison; hostile values in words."""
from __future__ import annotations

import json

import numpy as np
import plotly
import pytest

from rnnscope.analysis import data
from rnnscope.app.callbacks import population as view
from rnnscope.app.figures.population import arch_colour
from rnnscope.app.services import Services
from rnnscope.settings import Settings
from rnnscope.workers import population, sweeps
from rnnscope.workers.store import ArtifactStore
from tests.sweep_helpers import tiny_spec


@pytest.fixture(scope="module")
def swept(rnnscope_home, tmp_path_factory):
    """A Services on a store holding one analysed tiny sweep (4 networks), not yet compared."""
    data.fetch("mr", rnnscope_home)
    env = {"RNNSCOPE_STORE": str(tmp_path_factory.mktemp("population") / "store"),
           "RNNSCOPE_HOME": str(rnnscope_home)}
    mp = pytest.MonkeyPatch()
    for name, value in env.items():
        mp.setenv(name, value)
    mp.delenv("REDIS_URL", raising=False)
    store = ArtifactStore(env["RNNSCOPE_STORE"], redis_url="")
    spec = tiny_spec()
    sweeps.run_here(spec, store)
    yield {"svc": Services(Settings.from_env()), "store": store, "spec": spec, "id": spec.sweep_id()}
    mp.undo()


def test_the_sweep_is_listed_with_its_progress_and_cells(swept):
    options, value, idle = view.list_sweeps(swept["svc"], None)
    assert value == swept["id"] and options[0]["label"] == "mr · gru, vrnn · hidden 8 · 2 seed(s) · 4/4 done"
    assert idle  # every cell done: the page stops polling
    table = json.loads(json.dumps(view.sweep_table(swept["svc"], value), cls=plotly.utils.PlotlyJSONEncoder))
    text = json.dumps(table)
    assert "4 of 4 networks trained and analysed" in text
    for cell in swept["spec"].cells():
        assert sweeps.cell_name(cell) in text
    assert view.list_sweeps(swept["svc"], "f" * 64)[1] == swept["id"]  # an unknown choice: the newest
    unfinished = sweeps.open_sweep(swept["store"], tiny_spec(seeds=3))[0]  # one more cell per arch, none run
    options, value, idle = view.list_sweeps(swept["svc"], swept["id"])
    assert not idle and value == swept["id"] and unfinished in [o["value"] for o in options]
    swept["store"].root.joinpath("sweeps", f"{unfinished}.json").unlink()


def test_before_the_comparison_the_view_says_how_to_get_it_then_shows_it(swept):
    fig, columns, rows, said = view.population_view(swept["svc"], swept["id"], "cka")
    assert rows == [] and "not compared yet" in json.dumps(said, cls=plotly.utils.PlotlyJSONEncoder)
    key = population.compare_sweep(swept["store"], swept["id"], n_docs=population.N_DOCS)
    doc = swept["store"].get_json(key)
    for distance in ("cka", "svcca", "topology"):
        fig, columns, rows, said = view.population_view(swept["svc"], swept["id"], distance)
        traces = fig["data"] if isinstance(fig, dict) else fig.to_plotly_json()["data"]
        assert [t["name"] for t in traces] == ["gru", "vrnn"]
        for t in traces:  # each network where the MDS put it, coloured by its architecture
            assert t["marker"]["color"] == arch_colour(t["name"])
            for row, x, y in zip(t["customdata"], t["x"], t["y"]):
                assert doc["archs"][row] == t["name"]
                assert np.allclose([x, y], doc["mds"][distance][row])
        assert [r["network"] for r in rows] == doc["names"] and len(rows) == 4
        assert doc["verdict"]["text"] in said
    d = np.array(doc["distances"]["cka"])
    assert d.shape == (4, 4) and np.allclose(d, d.T) and np.all(np.diag(d) == 0) and np.all(d[~np.eye(4, dtype=bool)] > 0)


@pytest.mark.parametrize("sweep_id", [None, "", "../../etc", "F" * 64, "0" * 64, 5, ["a"], {"x": 1}])
def test_a_sweep_id_the_page_never_sends_is_answered_in_words(swept, sweep_id):
    assert "No sweep selected" in str(view.sweep_table(swept["svc"], sweep_id))
    fig, columns, rows, said = view.population_view(swept["svc"], sweep_id, "cka")
    assert rows == [] and said is None


@pytest.mark.parametrize("distance", [None, "euclid", 3, ["cka"]])
def test_an_unknown_distance_shows_cka(swept, distance):
    population.compare_sweep(swept["store"], swept["id"])
    fig, *_ = view.population_view(swept["svc"], swept["id"], distance)
    title = (fig["layout"] if isinstance(fig, dict) else fig.to_plotly_json()["layout"])["title"]["text"]
    assert "CKA" in title


def test_a_running_job_shows_its_progress_and_stage():
    row = {"state": "PROGRESS", "fraction": 0.456, "message": "epoch 3/8, batch 10/161, loss 0.61"}
    assert view._state(row) == "running 46%: epoch 3/8, batch 10/161, loss 0.61"
    assert view._state({"state": "PENDING"}) == "pending" and view._state({"state": "done"}) == "done"
