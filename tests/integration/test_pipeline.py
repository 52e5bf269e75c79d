"""End to end: train a small RNN on a corpus with planted word valence, run the whole
analysis, and check the report's schema and the paper's findings on it."""
import copy

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from rnnscope.analysis.data import Dataset, Split
from rnnscope.analysis.pipeline import AnalysisParams, run_analysis
from rnnscope.analysis.report import ARRAY_KEYS, REPORT_FORMAT, SUMMARY_KEYS, Report
from rnnscope.analysis.training import TrainConfig, train

POS = [f"good{i}" for i in range(10)]
NEG = [f"bad{i}" for i in range(10)]
FILLER = [f"the{i}" for i in range(40)]

# On this small task the gated networks integrate evidence along a line attractor, as in the
# paper; the 16-unit vanilla RNN instead settles into a few isolated attractors (|λ1| ~ 0.5,
# r1 not along m), so the line-attractor checks are asserted for the gated ones only.
LINE_ATTRACTOR_ARCHS = {"gru", "lstm", "ugrnn"}

PARAMS = AnalysisParams(n_docs=200, n_seeds=64, n_null=2000, lin_docs=100, n_error_samples=2000, n_words=8,
                        n_frequent=40, min_doc_freq=1, vader=False, seed=0)


def _split(n: int, rng: np.random.Generator) -> Split:
    """Filler words plus k+1 words of the document's valence and k-1 of the other."""
    texts, labels = [], rng.integers(0, 2, n)
    for y in labels:
        k = int(rng.integers(1, 4))
        main, other = (POS, NEG) if y else (NEG, POS)
        words = list(rng.choice(FILLER, rng.integers(5, 20))) + list(rng.choice(main, k + 1))
        words += list(rng.choice(other, k - 1))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return Split(texts, labels)


@pytest.fixture(scope="module")
def corpus() -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset("planted", _split(3000, rng), _split(300, rng), _split(600, rng))


def _analyse(arch: str, corpus: Dataset):
    torch.manual_seed(0)
    config = TrainConfig(arch=arch, hidden=16, embed=8, vocab_size=100, epochs=4, batch_size=32, lr=1e-2,
                         patience=2, seed=0)
    model, _ = train(corpus, config, show_bar=False)
    calls = []
    report = run_analysis(model, corpus, PARAMS, progress=lambda f, m: calls.append((f, m)))
    return model, report, calls


ARCH_PARAMS = [pytest.param("gru"), pytest.param("lstm", marks=pytest.mark.slow),
               pytest.param("ugrnn", marks=pytest.mark.slow), pytest.param("vrnn", marks=pytest.mark.slow)]


@pytest.fixture(scope="module", params=ARCH_PARAMS)
def analysed(request, corpus):
    return _analyse(request.param, corpus)


def test_schema_and_shapes(analysed, tmp_path):
    model, report, calls = analysed
    s, a = report.summary, report.arrays
    assert set(SUMMARY_KEYS) <= set(s) and s["format"] == REPORT_FORMAT
    assert set(ARRAY_KEYS) == set(a)
    D, E, H = model.net.state_size, model.net.embed_dim, model.net.hidden_size
    K, W = s["fixed_points"]["n_unique"], len(a["words"])
    assert s["model"] == {"arch": model.arch, "hidden_size": H, "state_size": D, "embed_dim": E,
                          "vocab_size": len(model.vocab), "sha256": model.sha256}
    shapes = {"fixed_points": (K, D), "q": (K,), "theta": (K,), "fp_pc": (K, 3), "eigvals": (K, D),
              "tau_top3": (K, 3), "stable": (K,), "r1": (K, D), "l1": (K, D), "left_inp": (K, 3, E), "m": (D,),
              "mode_coef": (K, E), "mode_index": (K,), "point_is_fixed": (K,), "seed_q": (64,), "seed_class": (64,),
              "readout": (D,), "state_pca_components": (10, D), "state_pca_mean": (D,),
              "input_projection": (K, W), "r1_m_overlap": (K,), "r1_m_null": (2000,), "word_valence": (W,),
              "word_coef": (W,), "word_ids": (W,), "initial_state_pc": (2,), "readout_pc": (2,),
              "density_pos": (60, 60), "density_neg": (60, 60), "density_edges": (2, 61),
              "jinp_x_pc": (W, 2), "jinp_x_point": (1,)}
    for key, shape in shapes.items():
        assert a[key].shape == shape, key
    assert a["eigvals"].dtype == np.complex128 and a["stable"].dtype == bool and a["words"].dtype.kind == "U"
    if model.arch == "lstm":
        assert np.all(a["readout"][H:] == 0)  # the readout sees h only
    assert a["example_traj_pos"].shape[1] == 2 and a["example_traj_neg"].shape[1] == 2
    assert a["density_pos"].sum() == pytest.approx(1, abs=1e-5)
    assert set(s["timings"]) >= {"encode", "accuracy", "states", "pca", "fixed_points", "linearize", "attractor",
                                 "manifold", "baseline", "words",
                                 "projections", "linearization_error", "density", "total"}
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    report.save(tmp_path / "r")
    back = Report.load(tmp_path / "r")
    assert set(back.summary) == set(s) and back.summary["fixed_points"] == s["fixed_points"]
    for key in ARRAY_KEYS:
        np.testing.assert_array_equal(back.arrays[key], a[key])


def test_fixed_points_and_spectra(analysed):
    model, report, _ = analysed
    s, a = report.summary, report.arrays
    fp = s["fixed_points"]
    assert fp["n_seeds"] == 64 and 0 < fp["n_fixed"] <= fp["n_converged"] <= 64
    assert fp["n_unique"] == fp["n_fixed"] + fp["n_slow"]
    fixed = a["point_is_fixed"]
    assert fixed.sum() == fp["n_fixed"] and (~fixed).sum() == fp["n_slow"]
    assert np.all(a["q"][fixed] < PARAMS.tol) and np.all(a["q"][~fixed] < fp["slow_q_max"])
    # every listed fixed point really is a fixed point of the zero-input dynamics
    pts = torch.as_tensor(a["fixed_points"])
    with torch.no_grad():
        moved = model.net.step(pts, torch.zeros(len(pts), model.net.embed_dim)) - pts
    q = (moved.double() ** 2).mean(1).numpy()
    assert np.all(q[fixed] < PARAMS.tol)
    np.testing.assert_allclose(a["point_speed"], np.sqrt(a["q"] * model.net.state_size))
    assert sum(fp["seed_classes"].values()) == 64
    assert fp["seed_classes"]["fixed"] == fp["n_converged"] - fp["n_outliers"]
    eig = np.abs(a["eigvals"])
    assert np.all(np.diff(eig, axis=1) <= 1e-9)  # sorted by |λ|, descending
    assert s["spectra"]["abs_lambda1_median"] == pytest.approx(np.median(eig[:, 0]))
    if model.arch in LINE_ATTRACTOR_ARCHS:
        assert 0.8 < s["spectra"]["abs_lambda1_median"] < 1.1  # marginally stable: slow integration
    stable = a["stable"]
    assert s["spectra"]["n_stable"] == int(stable.sum()) and np.array_equal(stable, eig[:, 0] < 1)
    tau = a["tau_top3"][stable]  # below |λ| = 1, τ = |1/ln|λ|| falls with |λ|
    assert np.all(np.diff(tau, axis=1) <= 1e-9)
    np.testing.assert_allclose(tau, np.abs(1 / np.log(eig[stable][:, :3])), rtol=1e-9)


def test_word_input_effects_are_jacrev_times_embedding(analysed):
    """Fig. 4a arrays: J_inp x_w at the point nearest θ = 0, in state-PC directions."""
    model, report, _ = analysed
    a = report.arrays
    k = int(a["jinp_x_point"][0])
    assert k == int(np.argmin(np.abs(a["theta"])))
    net = copy.deepcopy(model.net).double()
    point = torch.as_tensor(a["fixed_points"][k], dtype=torch.float64)
    j_inp = torch.func.jacrev(lambda x: net.step(point[None], x[None])[0])(
        torch.zeros(net.embed_dim, dtype=torch.float64))
    emb = net.embedding.weight.detach()[torch.as_tensor(a["word_ids"])]
    expected = (emb @ j_inp.detach().T).numpy() @ a["state_pca_components"][:2].astype(np.float64).T
    np.testing.assert_allclose(a["jinp_x_pc"], expected, rtol=1e-4, atol=1e-6)


def test_paper_findings_on_planted_valence(analysed):
    model, report, _ = analysed
    s, a = report.summary, report.arrays
    assert s["accuracy"]["test"] > 0.95 and s["accuracy"]["bow"] > 0.95
    # trained states are lower-dimensional than the untrained network's
    assert s["pca"]["explained_variance_ratio"][0] > s["pca"]["explained_variance_ratio_untrained"][0]
    assert s["pca"]["n_components_90"] <= s["pca"]["n_components_90_untrained"]
    # planted words come out as the word sets
    words = a["words"].tolist()
    assert set(words[:8]) <= set(POS) and set(words[8:16]) <= set(NEG) and set(words[16:]) <= set(FILLER)
    assert np.isclose(np.linalg.norm(a["m"]), 1, atol=1e-5)
    if s["fixed_points"]["n_unique"] >= 3:  # the logit of the fixed points grows along +m
        logit = a["fixed_points"].astype(np.float64) @ a["readout"] + a["readout_bias"][0]
        assert spearmanr(a["fixed_points"] @ a["m"], logit).statistic >= 0
        assert s["manifold"]["m_logit_spearman"] >= 0
    p = s["projections"]
    assert p["r1_m_null_median"] == pytest.approx(np.median(a["r1_m_null"]))
    # valence words move the state along the integration mode more than neutral words
    assert min(p["mean_abs_positive"], p["mean_abs_negative"]) > p["mean_abs_neutral"]
    verdict = s["attractor"]
    if verdict["kind"] in ("line", "slow"):
        # on a continuum, positive words push toward positive, negative the other way
        assert p["mean_positive"] > 0 > p["mean_negative"]
        assert p["r1_m_overlap_median"] > p["r1_m_null_median"]
    else:
        # these 16-unit networks, trained for 4 epochs, hold two attractors (one per label)
        # with saddles between them: the report must not call them a line attractor
        assert verdict["kind"] in ("isolated", "unstable") and not s["manifold"]["is_attractor"]
        assert any(w.startswith("not a line attractor") for w in s["warnings"]) or verdict["n_points"] < 2
    if s["fixed_points"]["n_unique"] >= 2:
        assert np.all(np.abs(a["theta"]) <= 1 + 1e-9) and a["theta"].min() == -1 and a["theta"].max() == 1
    # the linearization is a fair one-step approximation and the linearized model runs
    lin = s["linearization"]
    assert 0 <= lin["one_step_rel_error_median"] < 1
    for part in ("recurrent_part_median", "input_part_median", "previous_state_median"):
        assert 0 <= lin[part] <= lin["one_step_rel_error_median"] + 1
    assert lin["n_steps"] == len(a["one_step_rel_error"]) > 0
    assert 0 <= s["accuracy"]["linearized"] <= 1 and lin["n_docs"] == 100


def test_params_validation():
    assert AnalysisParams.from_dict({"n_seeds": 8}).n_seeds == 8
    assert AnalysisParams().to_dict()["n_seeds"] == 512
    with pytest.raises(ValueError, match="unknown analysis parameter"):
        AnalysisParams.from_dict({"n_sedes": 8})
    for bad in ({"n_seeds": 0}, {"n_seeds": "8"}, {"tol": -1.0}, {"tol": float("nan")}, {"vader": 1},
                {"n_docs": 10**9}):
        with pytest.raises(ValueError):
            AnalysisParams.from_dict(bad)


def test_no_converged_fixed_point_gives_an_empty_but_valid_report(corpus, tmp_path):
    from rnnscope.analysis.model import Model, RNNClassifier
    from rnnscope.analysis.tokenizer import Tokenizer, build_vocab

    tok = Tokenizer()
    vocab = build_vocab((tok(t) for t in corpus.train.texts), max_size=100)
    torch.manual_seed(0)
    net = RNNClassifier("lstm", len(vocab), 8, 8)
    with torch.no_grad():  # input and forget gates saturated open, g > 0: c grows by ~0.76 a step forever
        net.cell.weight_hh_l0.zero_()
        net.cell.bias_ih_l0.zero_()
        net.cell.bias_hh_l0.zero_()
        net.cell.bias_ih_l0[:16] = 50.0
        net.cell.bias_ih_l0[16:24] = 1.0
    model = Model(net, vocab, tok)
    report = run_analysis(model, corpus, AnalysisParams.from_dict({**PARAMS.to_dict(), "n_seeds": 16}))
    s, a = report.summary, report.arrays
    assert s["fixed_points"]["n_converged"] == 0 and s["fixed_points"]["n_unique"] == 0
    assert any("no fixed point" in w for w in s["warnings"])
    assert set(ARRAY_KEYS) == set(a)
    assert a["fixed_points"].shape == (0, 16) and a["left_inp"].shape == (0, 3, 8)
    assert a["input_projection"].shape == (0, len(a["words"]))
    assert s["accuracy"]["linearized"] is None and s["manifold"]["m_readout_cosine"] is None
    assert a["density_pos"].shape == (60, 60) and len(a["one_step_rel_error"]) == 0
    report.save(tmp_path / "r")
    assert Report.load(tmp_path / "r").summary["fixed_points"]["n_unique"] == 0


def _verdict_last(n: int, rng: np.random.Generator) -> Split:
    """20-30 filler words, then one valence word: only a document's last token carries its label."""
    labels = rng.integers(0, 2, n)
    texts = [" ".join([*rng.choice(FILLER, int(rng.integers(20, 31))), str(rng.choice(POS if y else NEG))])
             for y in labels]
    return Split(texts, labels)


def test_a_tail_trained_model_is_analysed_on_the_ends_of_documents():
    from rnnscope.analysis.model import Model

    rng = np.random.default_rng(1)
    data = Dataset("verdict", _verdict_last(600, rng), _verdict_last(150, rng), _verdict_last(300, rng))
    config = TrainConfig(arch="gru", hidden=16, embed=8, vocab_size=100, max_len=4, truncate="tail", epochs=8,
                         batch_size=32, lr=1e-2, patience=4, seed=0)
    model, _ = train(data, config, show_bar=False)
    assert model.truncate == "tail" and model.metrics["test_accuracy"] > 0.9
    params = AnalysisParams.from_dict({**PARAMS.to_dict(), "max_len": 4, "n_docs": 100, "n_seeds": 16})
    report = run_analysis(model, data, params)
    assert report.summary["data"]["truncate"] == "tail"
    assert report.summary["accuracy"]["test"] > 0.9  # read as trained: the last 4 tokens hold the verdict
    assert report.summary["data"]["n_states"] == 4 * 100  # 4 tokens of each of the 100 documents
    # FALSE case: the same weights said to be head-trained are read on the first 4 tokens, all filler.
    head = Model(model.net, model.vocab, model.tokenizer, provenance={"config": {"truncate": "head"}})
    report = run_analysis(head, data, params)
    assert report.summary["data"]["truncate"] == "head" and report.summary["accuracy"]["test"] < 0.65


@pytest.mark.parametrize("provenance, expected", [({}, "head"), ({"config": {"truncate": "tail"}}, "tail"),
                                                  ({"config": {"truncate": "middle"}}, "head"),
                                                  ({"config": ["tail"]}, "head"), ({"config": None}, "head")])
def test_model_truncation_from_untrusted_provenance(provenance, expected):
    from rnnscope.analysis.model import Model, RNNClassifier

    model = Model(RNNClassifier("gru", 10, 2, 2), vocab=None, provenance=provenance)
    assert model.truncate == expected
    ids = np.arange(10)
    assert model.window(ids, 3).tolist() == ([7, 8, 9] if expected == "tail" else [0, 1, 2])
    assert model.window(ids, 50).tolist() == ids.tolist()
