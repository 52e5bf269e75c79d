"""The ``modifiers`` stage of run_analysis, end to end, against known answers.

- The toy GRU (``models/toy/gru-toy.safetensors``) on its own language, where "not" flips
  the next 4 tokens and "very" doubles the next one: the report must name "not" a negator
  and "very" an intensifier, and a filler word no modifier: with contexts of 3 tokens and 2
  settling tokens, and with the stage's defaults (whole documents as contexts, 10 settling
  tokens).
- A linear line attractor (F(s, x) = A s + B x, readout along the line): a probe's effect
  does not depend on the state, so no word can modify it: the report says there is none.
- A network with 3 classes, the stage switched off, and a vocabulary with no word seen often
  enough: ``applies`` false and the reason in words.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnnscope.analysis import checkpoint
from rnnscope.analysis.data import Dataset, Split, load
from rnnscope.analysis.model import Model, RNNClassifier
from rnnscope.analysis.modifier_stage import NotApplicable, modifier_analysis
from rnnscope.analysis.multiclass_data import counting_dataset
from rnnscope.analysis.pipeline import AnalysisParams, run_analysis
from rnnscope.analysis.reference_models import line_attractor_linear, linear_rnn
from rnnscope.analysis.report import ARRAY_KEYS, Report
from rnnscope.analysis.tokenizer import Tokenizer, Vocab, build_vocab, encode_texts
from rnnscope.analysis.toy_language import FILLER

TOY_MODEL = Path(__file__).resolve().parents[2] / "models" / "toy" / "gru-toy.safetensors"
SMALL = dict(n_docs=150, n_seeds=32, n_null=200, lin_docs=50, n_error_samples=300, n_words=8, n_frequent=20,
             min_doc_freq=1, vader=False, accuracy_docs=300)
TOY = AnalysisParams(**SMALL, modifier_context_len=3, modifier_settle=2)


@pytest.fixture(scope="module")
def toy():
    torch.set_num_threads(1)
    model, dataset = checkpoint.load(TOY_MODEL), load("toy")
    messages = []
    report = run_analysis(model, dataset, TOY, progress=lambda f, m: messages.append(m))
    return model, dataset, report, messages


def test_toy_gru_report_names_not_a_negator_very_an_intensifier_and_no_filler(toy):
    _, _, report, messages = toy
    s, a = report.summary["modifiers"], report.arrays
    print(s["text"])
    assert s["applies"] and s["n_candidates"] == 18 and s["linearized"]
    kind = dict(zip(a["modifier_words"].tolist(), a["modifier_kind"].tolist()))
    assert kind["not"] == "negator" and kind["very"] == "intensifier"
    assert all(kind[w] == "none" for w in FILLER if w in kind) and "the" in kind  # fillers are no modifiers
    rows = {r["word"]: r for r in s["modifiers"]}
    assert rows["not"]["ratio"] < -0.5 and rows["not"]["reach"] == 4            # flips the next 4 tokens
    assert rows["very"]["ratio"] > 1.3 and rows["very"]["peak"] == 1           # doubles the next one
    assert [w for w in a["modifier_words"][:2]] == ["not", "very"]              # the two strongest
    known = {k["token"]: k for k in s["known"]}
    assert (known["not"]["rank"], known["not"]["kind"]) == (1, "negator") and known["very"]["kind"] == "intensifier"
    assert s["known_missing"] == ["never", "extremely", "no", "n't"]
    assert "'not' (negator" in s["text"] and "'very' (intensifier" in s["text"]
    assert s["kind_counts"]["negator"] == 1
    assert s["n_modifiers"] == len(s["modifiers"]) == int((a["modifier_kind"] != "none").sum())
    # the arrays agree with the summary: ratio at the peak, linearized ratio, reach
    for r in s["modifiers"]:
        i = a["modifier_words"].tolist().index(r["word"])
        assert a["modifier_ratio"][i, r["peak"] - 1] == pytest.approx(r["ratio"])
        assert a["modifier_ratio_linear"][i, r["peak"] - 1] == pytest.approx(r["ratio_linear"])
        assert a["modifier_reach"][i] == r["reach"] and a["modifier_kind"][i] == r["kind"]
    assert any("modifier words: screening 18 words" in m for m in messages)
    assert report.summary["timings"]["modifiers"] > 0


def test_toy_gru_with_the_default_modifier_parameters():
    """The defaults (contexts up to 400 tokens: whole toy documents, many of them ending
    inside a "not" window; 10 settling tokens) find the same two modifiers at the top. Before
    the detection compared each word with a filler in its slot, these settings called every
    filler an attenuator and ranked "very" last of 18 (``tests/unit/test_modifier_survey.py``
    has that false case)."""
    torch.set_num_threads(1)
    report = run_analysis(checkpoint.load(TOY_MODEL), load("toy"), AnalysisParams(**SMALL))
    s, a = report.summary["modifiers"], report.arrays
    print(s["text"])
    kind = dict(zip(a["modifier_words"].tolist(), a["modifier_kind"].tolist()))
    assert a["modifier_words"][:2].tolist() == ["not", "very"]
    assert (kind["not"], kind["very"]) == ("negator", "intensifier")
    assert all(kind[w] == "none" for w in FILLER)


def test_toy_gru_dynamics_and_paths_of_the_strongest_modifiers(toy):
    _, _, report, _ = toy
    s, a = report.summary["modifiers"], report.arrays
    M, T = len(a["modifier_top"]), 5 - 1 + 2   # T = K − 1 fillers before the probe + H settling tokens
    assert M == 3 and [d["word"] for d in s["dynamics"]] == a["modifier_words"][a["modifier_top"]].tolist()
    assert a["modifier_words"][a["modifier_top"][0]] == "not"
    assert a["modifier_path"].shape == (3, T + 2, 2) and a["modifier_base_path"].shape == (T + 2, 2)
    assert a["modifier_decay_curve"].shape == (3, T + 1) and a["modifier_parts"].shape == (3, 3)
    # both paths start at the contexts' mean end state; the modifier moves it away from where a
    # filler in its slot leaves it, the fillers bring the two together again
    np.testing.assert_allclose(a["modifier_path"][:, 0], np.repeat(a["modifier_base_path"][:1], 3, 0), atol=1e-6)
    jump = np.linalg.norm(a["modifier_path"][0, 1] - a["modifier_base_path"][1])
    end = np.linalg.norm(a["modifier_path"][0, -1] - a["modifier_base_path"][-1])
    assert jump > 0.5 and end < jump
    # "not" lives in fast modes: removing its slow-mode part leaves nearly all of its effect (docs/MODIFIERS.md)
    d = s["dynamics"][0]
    assert d["parts"]["fast"] > d["parts"]["slow"] and d["remaining"]["slow"] > 0.8
    # keeping the state out of the top modifiers' subspace removes it (tests/unit/test_modifiers.py)
    assert s["subspace"]["dim"] >= 1 and s["subspace"]["energy"] >= 0.9 and d["remaining"]["subspace"] < 0.2
    assert a["modifier_remaining"].shape == (3, 3)
    np.testing.assert_allclose(a["modifier_remaining"][0], [d["remaining"][k] for k in ("slow", "fastest", "subspace")])
    assert a["modifier_decay_tokens"][0] == d["decay_tokens"] and 0 < d["decay_tokens"] <= T


def test_toy_report_survives_save_and_load(toy, tmp_path):
    _, _, report, _ = toy
    report.save(tmp_path / "r")
    back = Report.load(tmp_path / "r")
    assert set(ARRAY_KEYS) == set(back.arrays)
    assert back.summary["modifiers"]["text"] == report.summary["modifiers"]["text"]
    for key in ARRAY_KEYS:
        if key.startswith("modifier_"):
            np.testing.assert_array_equal(back.arrays[key], report.arrays[key])


def _linear_model() -> tuple[Model, Dataset]:
    """A linear line attractor along u (``line_attractor_linear``'s A) with the readout along
    u: good moves the state +u, bad −u, the other words (fillers, "not", "very") move it along
    a decaying mode off the line."""
    line, u = line_attractor_linear(D=4, seed=0)
    A = line.cell.weight_hh.detach().numpy()
    lam, R = np.linalg.eig(A)
    other = R[:, int(np.argsort(-np.abs(lam))[1])].real
    tokens = ["<pad>", "<unk>", "good", "bad", "not", "very", "the", "a", "film", "plot"]
    net = linear_rnn(A, np.column_stack([u, other]), vocab_size=len(tokens))
    net.arch = "vrnn"  # for the untrained comparison network of the pipeline (a vanilla RNN of that size)
    emb = np.zeros((len(tokens), 2))
    emb[2, 0], emb[3, 0] = 1.0, -1.0
    emb[4:, 1] = np.linspace(0.2, 0.8, len(tokens) - 4)
    with torch.no_grad():
        net.embedding.weight.copy_(torch.as_tensor(emb))
        net.readout.weight[0] = torch.as_tensor(u)
    rng = np.random.default_rng(0)

    def split(n):
        docs = [" ".join(rng.choice(tokens[2:], int(rng.integers(6, 14)))) for _ in range(n)]
        labels = np.array([int(d.split().count("good") > d.split().count("bad")) for d in docs])
        return Split(docs, labels)

    return Model(net, Vocab(tokens), Tokenizer()), Dataset("linear", split(300), split(60), split(200))


def test_a_linear_line_attractor_has_no_modifiers_and_says_so():
    model, dataset = _linear_model()
    report = run_analysis(model, dataset, AnalysisParams(**{**SMALL, "n_seeds": 16}))
    s, a = report.summary["modifiers"], report.arrays
    print(s["text"])
    assert s["applies"] and s["n_candidates"] == 8 and s["n_modifiers"] == 0 and s["modifiers"] == []
    assert s["text"].startswith("No modifiers among 8 candidate words")
    assert set(a["modifier_kind"]) == {"none"}
    exact = a["modifier_exact"]
    np.testing.assert_allclose(a["modifier_ratio"][exact], 1.0, atol=1e-6)   # a probe counts the same after any word
    assert len(a["modifier_top"]) == 0 and a["modifier_path"].shape[0] == 0 and s["dynamics"] == []
    assert "'not' #" in s["text"] and "(not a modifier)" in s["text"]        # known ones named, not detected
    assert set(ARRAY_KEYS) == set(a)


def test_a_three_class_network_is_told_in_words():
    torch.manual_seed(0)
    dataset = counting_dataset(3, n_train=300, n_validation=60, n_test=200)
    vocab = build_vocab((Tokenizer()(t) for t in dataset.train.texts), max_size=100)
    net = RNNClassifier("gru", len(vocab), 4, 6, num_classes=3).eval()  # untrained: the stage must not run
    report = run_analysis(Model(net, vocab, Tokenizer()), dataset, AnalysisParams(**{**SMALL, "n_seeds": 8}))
    s = report.summary["modifiers"]
    assert s["applies"] is False and s["text"].startswith("A 3-class network") and "binary readout" in s["text"]
    assert s["modifiers"] == [] and report.arrays["modifier_words"].shape == (0,)
    assert "modifiers" not in report.summary["timings"]


def test_stage_off_and_empty_vocabulary_are_said_in_words():
    model, dataset = _linear_model()
    seqs = encode_texts(dataset.test.texts, model.tokenizer, model.vocab)
    D = model.net.state_size
    comps, mean = np.eye(2, D), np.zeros(D)
    out = modifier_analysis(model, seqs, np.zeros((0, D)), np.zeros((0, D)), comps, mean,
                            AnalysisParams(modifier_min_count=10**6))
    assert isinstance(out, NotApplicable) and "seen 1000000 times" in out.text and "no candidate" in out.text
    assert out.to_dict()["applies"] is False and out.arrays()["modifier_ratio"].shape == (0, 0)
    # without points the readout ratios are measured, the linearized ones and the dynamics are not
    found = modifier_analysis(model, seqs, np.zeros((0, D)), np.zeros((0, D)), comps, mean, AnalysisParams())
    d = found.to_dict()
    assert d["applies"] and not d["linearized"] and "found no fixed or slow point" in d["text"]
    assert np.all(np.isnan(found.arrays()["modifier_ratio_linear"])) and d["dynamics"] == []
    off = run_analysis(model, dataset, AnalysisParams(**{**SMALL, "n_seeds": 8, "modifiers": False}))
    assert off.summary["modifiers"]["applies"] is False and "'modifiers' is off" in off.summary["modifiers"]["text"]
