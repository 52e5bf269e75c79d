"""The population view (issue 15 §2): networks placed by a distance, coloured by architecture,
and a table of each network's fixed-point topology.

Pure functions of arrays (``rnnscope.analysis.universality`` computes them): an MDS map of
the networks by one distance (``1 − CKA``, ``1 − SVCCA`` or the topology distance), one
figure per distance, and the topology table as plain rows and columns for a Dash
``DataTable``.
"""
from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from rnnscope.analysis.attractors import KIND_NAMES
from rnnscope.analysis.cells import ARCHS
from rnnscope.analysis.universality import Topology

from . import _checks, style

#: One colour per architecture, the same in every population figure.
ARCH_COLOURS = {arch: style.QUALITATIVE[i] for i, arch in enumerate(ARCHS)}
#: What each distance is called on the maps.
DISTANCE_LABELS = {"cka": "1 − CKA (linear, visited states)", "svcca": "1 − SVCCA (visited states)",
                   "topology": "topology distance (attractor kind, count, slow modes, log τ1)"}
#: Columns of the topology table: (id, header).
TOPOLOGY_COLUMNS = (("network", "network"), ("arch", "architecture"), ("kind", "attractor verdict"),
                    ("n_attractors", "groups of end states"), ("n_slow_modes", "slow modes (τ > 10 tokens)"),
                    ("tau1", "τ1 (tokens)"))


def arch_colour(arch: str) -> str:
    """The colour of an architecture (``ARCH_COLOURS``; grey for any other name)."""
    return ARCH_COLOURS.get(str(arch), style.GREY)


def _labels(name: str, values, n: int) -> list[str]:
    out = [str(v) for v in values]
    if len(out) != n:
        raise ValueError(f"{n} networks but {len(out)} {name}")
    return out


def mds_map_traces(coords, names: Sequence[str], archs: Sequence[str]) -> list[dict]:
    """One scatter trace per architecture (in order of first appearance), named by it;
    ``customdata`` is each network's row in ``coords``. See :func:`mds_map`."""
    xy = _checks.matrix("coords", coords, cols=2)
    names = _labels("names", names, len(xy))
    archs = _labels("architectures", archs, len(xy))
    traces = []
    for arch in dict.fromkeys(archs):
        rows = np.array([i for i, a in enumerate(archs) if a == arch], np.int32)
        traces.append(dict(
            type="scatter", x=xy[rows, 0].tolist(), y=xy[rows, 1].tolist(), mode="markers+text", name=arch,
            text=[html.escape(names[i]) for i in rows], textposition="top center", customdata=rows.tolist(),
            marker=dict(size=14, color=arch_colour(arch), line=dict(color="white", width=1)),
            hovertemplate="%{text}<br>(%{x:.3g}, %{y:.3g})<extra>" + html.escape(arch) + "</extra>"))
    return traces


def mds_map(coords, names: Sequence[str], archs: Sequence[str], distance: str) -> go.Figure:
    """Networks placed by metric MDS of one distance, coloured by architecture.

    Parameters
    ----------
    coords : ndarray of shape (n, 2)
        ``rnnscope.analysis.universality.mds_embedding`` of the distance, in its units.
    names : sequence of n str
        Each network's label (drawn beside its marker, escaped).
    archs : sequence of n str
        Each network's architecture: the trace it is in and its colour (``ARCH_COLOURS``).
    distance : str
        ``"cka"``, ``"svcca"``, ``"topology"`` (``DISTANCE_LABELS``) or any title.

    Notes
    -----
    Trace names are the architectures; the axes have equal scale (MDS distances are
    distances in the plane).
    """
    label = DISTANCE_LABELS.get(distance, distance)
    return style.quick_figure(mds_map_traces(coords, names, archs), style.layout(
        f"Networks by {label}: MDS", legend=dict(title=dict(text="architecture")),
        xaxis=dict(title=dict(text="MDS 1"), zeroline=False),
        yaxis=dict(title=dict(text="MDS 2"), zeroline=False, scaleanchor="x", scaleratio=1)))


def mds_maps(coords_by_distance: Mapping[str, np.ndarray], names: Sequence[str],
             archs: Sequence[str]) -> dict[str, go.Figure]:
    """:func:`mds_map` for each distance: ``{distance: figure}``, in the mapping's order."""
    return {k: mds_map(v, names, archs, k) for k, v in coords_by_distance.items()}


def _number(value, digits: int = 4) -> float | None:
    """A finite number rounded to ``digits`` significant digits; None otherwise (not JSON)."""
    v = float(value)
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}")


def topology_table(names: Sequence[str], archs: Sequence[str],
                   topologies: Sequence[Topology | Mapping]) -> dict:
    """The topology of each network as plain data for a Dash ``DataTable``.

    Parameters
    ----------
    names, archs : sequences of n str
    topologies : sequence of n ``Topology`` (or dicts with its fields)

    Returns
    -------
    dict ``columns`` (``[{"id", "name"}]``, ``TOPOLOGY_COLUMNS``) and ``data`` (one dict per
    network: the verdict in words, counts, τ1 in tokens to 4 significant digits; None where
    a number is missing or infinite).
    """
    n = len(topologies)
    names, archs = _labels("names", names, n), _labels("architectures", archs, n)
    rows = []
    for name, arch, top in zip(names, archs, topologies):
        t = top.to_dict() if isinstance(top, Topology) else dict(top)
        rows.append({"network": name, "arch": arch, "kind": KIND_NAMES.get(t["kind"], t["kind"]),
                     "n_attractors": int(t["n_attractors"]), "n_slow_modes": _number(t["n_slow_modes"]),
                     "tau1": _number(t["tau1"])})
    return {"columns": [{"id": i, "name": h} for i, h in TOPOLOGY_COLUMNS], "data": rows}
