"""rnnscope.app.figures.population: the MDS maps carry each network's coordinates in its
architecture's trace and colour, and the topology table carries each network's topology."""
from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import plotly.utils
import pytest

from rnnscope.analysis.universality import Topology
from rnnscope.app.figures import population as P
from rnnscope.app.figures import style

NAMES = ["gru MR", "lstm MR", "gru IMDB", "<b>vrnn</b>", "lstm IMDB"]
ARCHS = ["gru", "lstm", "gru", "vrnn", "lstm"]
COORDS = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 1.5], [-3.0, 0.25], [2.5, -0.5]])


def as_sent(fig: go.Figure) -> dict:
    return json.loads(json.dumps(fig, cls=plotly.utils.PlotlyJSONEncoder))


def test_mds_map_puts_each_network_in_its_architecture_trace_and_colour():
    fig = P.mds_map(COORDS, NAMES, ARCHS, "cka")
    assert [t.name for t in fig.data] == ["gru", "lstm", "vrnn"]  # first appearance
    for t in fig.data:
        rows = np.asarray(t.customdata)
        np.testing.assert_array_equal(rows, [i for i, a in enumerate(ARCHS) if a == t.name])
        np.testing.assert_array_equal(np.column_stack([t.x, t.y]), COORDS[rows])
        assert t.marker.color == P.ARCH_COLOURS[t.name]
    assert len({t.marker.color for t in fig.data}) == 3
    assert list(fig.data[2].text) == ["&lt;b&gt;vrnn&lt;/b&gt;"]  # names escaped
    assert "1 − CKA" in fig.layout.title.text
    assert fig.layout.yaxis.scaleanchor == "x"
    sent = as_sent(fig)
    assert as_sent(go.Figure(sent)) == sent  # valid plotly, unchanged by validation


def test_one_map_per_distance_with_its_own_coordinates():
    other = COORDS[::-1] * 2
    maps = P.mds_maps({"cka": COORDS, "svcca": other, "topology": np.zeros((5, 2))}, NAMES, ARCHS)
    assert list(maps) == ["cka", "svcca", "topology"]
    gru = [t for t in maps["svcca"].data if t.name == "gru"][0]
    np.testing.assert_array_equal(gru.x, other[[0, 2], 0])
    assert "topology distance" in maps["topology"].layout.title.text
    assert P.arch_colour("ugrnn") == style.QUALITATIVE[2] and P.arch_colour("other") == style.GREY


def test_mds_map_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="5 networks but 4 names"):
        P.mds_map(COORDS, NAMES[:4], ARCHS, "cka")
    with pytest.raises(ValueError, match="2 columns"):
        P.mds_map(np.zeros((5, 3)), NAMES, ARCHS, "cka")


def test_topology_table_rows_hold_each_networks_topology():
    tops = [Topology("line", 4, 6.0, 117.05446), {"kind": "isolated", "n_attractors": 1, "n_slow_modes": 5.0,
                                                  "tau1": 43.83205}, Topology("none", 0, math.nan, math.nan)]
    table = P.topology_table(["a", "b", "c"], ["gru", "lstm", "vrnn"], tops)
    assert [c["id"] for c in table["columns"]] == [c for c, _ in P.TOPOLOGY_COLUMNS]
    assert table["data"][0] == {"network": "a", "arch": "gru", "kind": "line attractor", "n_attractors": 4,
                                "n_slow_modes": 6.0, "tau1": 117.1}
    assert table["data"][1]["kind"] == "isolated stable fixed point(s) with a slow mode"
    assert table["data"][1]["tau1"] == 43.83
    assert table["data"][2]["tau1"] is None and table["data"][2]["n_slow_modes"] is None
    json.dumps(table, allow_nan=False)  # plain JSON for a DataTable
    with pytest.raises(ValueError, match="3 networks but 2 names"):
        P.topology_table(["a", "b"], ["gru", "lstm", "vrnn"], tops)
