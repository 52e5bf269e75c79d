"""The Populations card in real headless Chromium: a tiny sweep on MR (4 networks, run here and
compared, ``tests/sweep_helpers.py``) is listed with its progress, its MDS map draws every
network where the comparison put it, coloured by architecture, the topology table has a row
per network, and the distance can be switched."""
from __future__ import annotations

import numpy as np
import pytest

from rnnscope.analysis import data
from rnnscope.app import ids
from rnnscope.app.dashboard import create_app
from rnnscope.app.figures.population import arch_colour
from rnnscope.settings import Settings
from rnnscope.workers import population, sweeps
from rnnscope.workers.store import ArtifactStore
from tests.browser.test_dashboard import TIMEOUT, wait_for
from tests.sweep_helpers import tiny_spec

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def swept(rnnscope_home, tmp_path_factory):
    data.fetch("mr", rnnscope_home)
    root = tmp_path_factory.mktemp("population-browser")
    mp = pytest.MonkeyPatch()
    for name, value in {"RNNSCOPE_STORE": str(root / "store"), "RNNSCOPE_HOME": str(rnnscope_home),
                        "RNNSCOPE_DEMO_DIR": str(root / "no-demos")}.items():
        mp.setenv(name, value)
    mp.delenv("REDIS_URL", raising=False)
    store = ArtifactStore(str(root / "store"), redis_url="")
    spec = tiny_spec()
    sweeps.run_here(spec, store)
    doc = store.get_json(population.compare_sweep(store, spec.sweep_id()))
    yield {"doc": doc, "spec": spec}
    mp.undo()


def drawn(duo) -> list[dict]:
    return duo.driver.execute_script("""
        const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        if (!gd || !gd._fullData) { return []; }
        return gd._fullData.map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y),
                                       row: Array.from(t.customdata), color: t.marker.color}));
    """, ids.FIG_POPULATION)


def title(duo) -> str:
    return duo.driver.execute_script("""
        const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
        return gd && gd._fullLayout ? gd._fullLayout.title.text : '';
    """, ids.FIG_POPULATION)


def test_the_population_view_draws_the_sweep(dash_duo, swept):
    doc = swept["doc"]
    app = create_app(Settings.from_env())
    dash_duo.start_server(app)
    duo = dash_duo
    duo.wait_for_contains_text(f"#{ids.SWEEP_SELECT}", "4/4 done", timeout=TIMEOUT)
    duo.wait_for_contains_text(f"#{ids.SWEEP_TABLE}", "4 of 4 networks trained and analysed", timeout=TIMEOUT)
    for cell in swept["spec"].cells():
        assert sweeps.cell_name(cell) in duo.find_element(f"#{ids.SWEEP_TABLE}").text

    for distance, words in (("cka", "CKA"), ("topology", "topology")):
        if distance != "cka":
            duo.find_element(f"#{ids.POPULATION_DISTANCE} input[value='{distance}']").click()
        wait_for(duo, lambda: words in title(duo) and len(drawn(duo)) == 2,
                 message=f"the map by {distance} is not drawn: {title(duo)!r}")
        traces = drawn(duo)
        assert sorted(t["name"] for t in traces) == ["gru", "vrnn"]
        for t in traces:
            assert t["color"] == arch_colour(t["name"])
            for row, x, y in zip(t["row"], t["x"], t["y"]):
                assert doc["archs"][row] == t["name"] and np.allclose([x, y], doc["mds"][distance][row])
    rows = duo.find_elements(f"#{ids.TOPOLOGY_TABLE} tbody tr")
    assert len(rows) == 1 + 4  # the header row and one per network
    assert doc["verdict"]["text"][:40] in duo.find_element(f"#{ids.POPULATION_VERDICT}").text
    assert not duo.get_logs(), duo.get_logs()
