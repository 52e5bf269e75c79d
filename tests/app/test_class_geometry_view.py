"""The Classes card on real analyses: a binary network (the tiny MR GRU) is told in words that
the view does not apply; a GRU trained here on the built-in 3-class counting task is drawn
with the numbers of its report. Also: the built-in and multi-class datasets are listed."""
from __future__ import annotations

import json

import numpy as np
import plotly
import pytest
import torch

from rnnscope.analysis import checkpoint
from rnnscope.analysis.data import load
from rnnscope.analysis.training import TrainConfig, train
from rnnscope.app.callbacks import class_geometry, fixed_points
from rnnscope.app.figures.spectra import SLOW_MODES
from rnnscope.app.datasets import dataset_options
from rnnscope.app.services import dataset_cached


def as_json(value) -> str:
    return json.dumps(value, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


def data_of(fig) -> list[dict]:
    return json.loads(as_json(fig))["data"]


def test_a_binary_network_is_told_the_view_does_not_apply(svc, ref):
    text, *figs = class_geometry.class_geometry_view(svc, ref)
    assert "two classes" in as_json(text) and "does not apply" in as_json(text)
    assert all("binary network" in as_json(f) for f in figs)


@pytest.fixture(scope="module")
def three_class(svc, tmp_path_factory):
    """A GRU-16 trained for one epoch on counting-3 and its analysis in the module's store."""
    model, _ = train(load("counting-3"), TrainConfig(arch="gru", hidden=16, embed=8, epochs=1, batch_size=64,
                                                      seed=0, vocab_size=100), show_bar=False)
    path = tmp_path_factory.mktemp("c3") / "gru-counting3.safetensors"
    checkpoint.save(model, path)
    sha = svc.store.put_checkpoint(path.read_bytes(), path.name)
    key = svc.analyse(sha, "counting-3")
    return {"sha": sha, "key": key, "ref": {"key": key, "sha": sha, "data": "counting-3", "points": "auto"}}


def test_a_three_class_network_is_drawn_from_its_report(svc, three_class):
    report = svc.report(three_class["key"])
    geometry, a = report.summary["class_geometry"], report.arrays
    assert geometry["applies"] and geometry["num_classes"] == 3
    text, points, counts, words, slow = class_geometry.class_geometry_view(svc, three_class["ref"])
    assert geometry["text"] in as_json(text) and "3 classes (alpha, beta, gamma" in as_json(text)
    traces = data_of(points)
    drawn = [t for t in traces if t["name"].startswith("points read as")]
    assert sum(len(t["x"]) for t in drawn) == len(a["fixed_points"])
    for t in drawn:
        c = ["alpha", "beta", "gamma"].index(t["name"].rsplit(" ", 1)[-1])
        assert np.all(a["geometry_point_class"][t["customdata"]] == c)
    assert [t["name"] for t in traces if t["name"].startswith("readout")] == ["readout beta − alpha",
                                                                               "readout gamma − alpha"]
    bar = data_of(counts)[0]
    assert sum(bar["y"]) == len(a["fixed_points"])
    assert dict(zip(bar["x"], bar["y"])) == {int(v): int(n) for v, n in zip(*np.unique(a["geometry_slow_counts"],
                                                                                         return_counts=True))}
    effects = data_of(words)
    assert len(effects) == 2 and sorted(effects[0]["x"]) == sorted(str(w) for w in a["geometry_words"])


def test_the_spectrum_of_a_selected_point_rings_its_slow_modes(svc, three_class, ref):
    """Fig. 3b of a 3-class report rings the eigenvalues within the class geometry's band of
    |λ| = 1, as many as the Classes card counts at that point (independently: the eigenvalues
    of J_rec there); a binary report's Fig. 3b has no such trace."""
    report = svc.report(three_class["key"])
    tol, a = report.summary["class_geometry"]["slow_tol"], report.arrays
    figs = fixed_points.report_figures(svc, three_class["ref"])
    k = figs[-1]["index"]
    slow = [t for t in data_of(figs[2]) if t["name"].startswith(SLOW_MODES)]
    net = svc.model(three_class["sha"]).net
    with torch.no_grad():
        jac = net.jacobians(torch.as_tensor(a["fixed_points"][k:k + 1]))[0][0].double().numpy()
    expected = int(np.sum(np.abs(np.abs(np.linalg.eigvals(jac)) - 1.0) <= tol))
    assert len(slow) == 1 and len(slow[0]["x"]) == expected == int(a["geometry_slow_counts"][k])
    assert f"within {tol:.0%} of 1): {expected}" in slow[0]["name"]
    for other in range(min(len(a["fixed_points"]), 4)):   # a click patches the same trace
        patched = fixed_points.select_point(svc, {"key": three_class["key"], "index": other})[3]
        names = [t["name"] for t in patched.to_plotly_json()["operations"][0]["params"]["value"]]
        assert sum(n.startswith(SLOW_MODES) for n in names) == 1
    binary = fixed_points.report_figures(svc, ref)
    assert not any(t["name"].startswith(SLOW_MODES) for t in data_of(binary[2]))


def test_the_built_in_and_multi_class_datasets_are_listed(svc):
    values = [o["value"] for o in dataset_options(svc)]
    for name in ("toy", "counting-3", "counting-4", "tweets3", "mr-valence3", "mr-valence5"):
        assert name in values
    assert dataset_cached("toy", svc.settings.home) and dataset_cached("counting-4", svc.settings.home)
