"""run_analysis on a network with C > 2 classes: it runs, reads the accuracy by argmax, adds the
class geometry block and says in words which binary parts read the last-minus-first logit."""
import numpy as np
import pytest
import torch

from rnnscope.analysis.class_geometry import not_applicable
from rnnscope.analysis.model import RNNClassifier
from rnnscope.analysis.multiclass_data import counting_dataset
from rnnscope.analysis.pipeline import AnalysisParams, run_analysis
from rnnscope.analysis.pipeline_stages import class_chance, network_accuracy
from rnnscope.analysis.report import ARRAY_KEYS, Report
from rnnscope.analysis.training import TrainConfig, train

PARAMS = AnalysisParams(n_docs=150, n_seeds=48, lin_docs=40, n_error_samples=300, accuracy_docs=300, vader=False,
                        attractor_steps=200, n_words=10, n_null=2000)


@pytest.fixture(scope="module")
def analysed():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ds = counting_dataset(3, n_train=3000, n_validation=300, n_test=400, seed=0)
        model, _ = train(ds, TrainConfig(arch="gru", hidden=16, embed=8, epochs=4, lr=0.005, seed=0, threads=1),
                         show_bar=False)
        return model, ds, run_analysis(model, ds, PARAMS)
    finally:
        torch.set_num_threads(threads)


def test_a_three_class_network_is_analysed(analysed, tmp_path):
    model, ds, report = analysed
    s, a = report.summary, report.arrays
    assert model.net.num_classes == 3
    assert set(ARRAY_KEYS) == set(a)
    geo = s["class_geometry"]
    assert geo["applies"] and geo["num_classes"] == 3 and geo["class_names"] == ["alpha", "beta", "gamma"]
    assert geo["ordered"] is False and geo["n_points"] == s["fixed_points"]["n_unique"]
    assert geo["kind"] in ("full", "lower", "none", "mixed") and geo["text"]
    K, D = len(a["fixed_points"]), model.net.state_size
    assert a["geometry_slow_counts"].shape == (K,) and a["geometry_readout_diffs"].shape == (2, D)
    assert a["geometry_angles"].shape == (2,) and set(a["geometry_words"]) >= {"alpha", "beta", "gamma"}
    assert a["geometry_word_effects"].shape == (len(a["geometry_words"]), 2)
    assert any("3-class network" in w and "gamma − alpha" in w for w in s["warnings"])
    assert s["accuracy"]["linearized"] is None and s["timings"]["class_geometry"] >= 0
    assert s["accuracy"]["majority_class"] in ("alpha", "beta", "gamma")
    assert s["accuracy"]["test"] > 0.8 > s["accuracy"]["majority_rate"]
    report.save(tmp_path / "r")
    back = Report.load(tmp_path / "r")
    assert back.summary["class_geometry"]["kind"] == geo["kind"]
    np.testing.assert_array_equal(back.arrays["geometry_slow_counts"], a["geometry_slow_counts"])


def test_multiclass_accuracy_is_the_argmax():
    # A fixed readout: logits = the document's last token's embedding; labels by that argmax.
    net = RNNClassifier("gru", 5, 3, 3, num_classes=3).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.cell.bias_hh_l0[3:6] = -20.0  # z = 0: h' = n = tanh(W_in x)
        net.cell.weight_ih_l0[6:9] = torch.eye(3) * 3
        net.readout.weight.copy_(torch.eye(3))
        net.embedding.weight[2:5] = torch.eye(3)
    seqs = [np.array([2]), np.array([3]), np.array([4]), np.array([2, 4])]
    assert network_accuracy(net, seqs, np.array([0, 1, 2, 2]), 8) == 1.0
    assert network_accuracy(net, seqs, np.array([1, 2, 0, 0]), 8) == 0.0  # the FALSE labels
    chance = class_chance(np.array([0, 1, 1, 2]), 0.5, ["a", "b", "c"])
    assert chance == {"majority_rate": 0.5, "majority_class": "b", "at_or_below_chance": True}


def test_a_binary_network_says_the_geometry_does_not_apply():
    block = not_applicable(2)
    assert block["applies"] is False and "C > 2" in block["text"]
