"""The Modifiers card and the modifier marks of the sentence explorer, on real analyses.

The toy GRU (``models/toy/gru-toy.safetensors``) analysed in this module's store: "not" and
"very" are its modifiers (``tests/unit/test_modifier_stage.py``), and the card draws their
deflection from the report's arrays. A 3-class network and the tiny MR GRU are told in words
what applies; selector values the page never sends are answered in words; report.html
escapes a hostile word.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import plotly
import pytest
import torch

from rnnscope.analysis import checkpoint
from rnnscope.analysis.model import Model, RNNClassifier
from rnnscope.analysis.multiclass_data import counting_dataset
from rnnscope.analysis.report import Report
from rnnscope.analysis.tokenizer import Tokenizer, build_vocab
from rnnscope.app.callbacks import modifiers, sentence
from rnnscope.app.report_html import render_report_html
from rnnscope.app.services import Services
from rnnscope.settings import Settings
from tests.app.tiny import TINY_PARAMS

TOY_MODEL = Path(__file__).resolve().parents[2] / "models" / "toy" / "gru-toy.safetensors"
HOSTILE = "<img src=x onerror=alert(1)>"


def as_json(value) -> str:
    return json.dumps(value, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


def data_of(fig) -> list[dict]:
    return json.loads(as_json(fig))["data"]


def _decode(obj):
    """JSON object hook: plotly's base64 typed arrays back to lists."""
    if set(obj) >= {"dtype", "bdata"}:
        arr = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
        return arr.reshape([int(n) for n in str(obj["shape"]).split(",")]).tolist() if "shape" in obj else arr.tolist()
    return obj


def trace(fig, name: str) -> dict:
    """The trace ``name`` of a callback's figure as the page receives it (arrays decoded)."""
    return next(t for t in json.loads(as_json(fig), object_hook=_decode)["data"] if t["name"] == name)


@pytest.fixture(scope="module")
def toy_svc(tiny):
    """Services whose analyses read 3-token contexts and settle 2 tokens (the toy GRU's
    documents are 6-16 tokens long)."""
    return Services(Settings.from_env(), analysis_params={**TINY_PARAMS, "modifier_context_len": 3,
                                                          "modifier_settle": 2})


@pytest.fixture(scope="module")
def toy(toy_svc):
    torch.set_num_threads(1)
    sha = toy_svc.store.put_checkpoint(TOY_MODEL.read_bytes(), TOY_MODEL.name)
    key = toy_svc.analyse(sha, "toy")
    return {"key": key, "sha": sha, "data": "toy", "points": "auto"}


def test_toy_card_ranks_not_and_very_and_draws_the_deflection_from_the_report(toy_svc, toy):
    report = toy_svc.report(toy["key"])
    a, block = report.arrays, report.summary["modifiers"]
    text, table, options, value = modifiers.modifiers_view(toy_svc, toy)
    assert json.dumps(block["text"], ensure_ascii=False)[1:-1] in as_json(text)
    cells = re.findall(r'"children": "([^"]*)"', as_json(table))
    assert cells[cells.index("not") + 1] == "negator" and cells[cells.index("very") + 1] == "intensifier"
    assert "the" not in cells  # a filler is no modifier
    top = a["modifier_words"][a["modifier_top"]].tolist()
    assert [o["label"] for o in options] == [f"{n + 1}. {w}" for n, w in enumerate(top)] and value == 0
    assert top[0] == "not"
    for m in range(len(top)):
        path, profile, detail = modifiers.modifier_view(toy_svc, toy, m)
        word = top[m]
        step, after = trace(path, "the modifier's step"), trace(path, f"after '{word}'")
        base, points = trace(path, "a filler in its place"), trace(path, "fixed and slow points")
        np.testing.assert_allclose(np.c_[base["x"], base["y"]], a["modifier_base_path"], rtol=0, atol=0)
        np.testing.assert_allclose(np.c_[after["x"], after["y"]], a["modifier_path"][m, 1:], rtol=0, atol=0)
        np.testing.assert_allclose(np.c_[step["x"], step["y"]], a["modifier_path"][m, :2], rtol=0, atol=0)
        np.testing.assert_allclose(np.c_[points["x"], points["y"]], a["fp_pc"][:, :2], rtol=0, atol=0)
        row = int(a["modifier_top"][m])
        np.testing.assert_allclose(trace(profile, "readout ratio")["y"], a["modifier_ratio"][row])
        decay = int(a["modifier_decay_tokens"][m])
        said = f"decays to 1/e in {decay} tokens" if decay >= 0 else "does not decay to 1/e within the tokens measured"
        assert word in as_json(detail) and said in as_json(detail)
        left = f"{a['modifier_remaining'][m, 2]:.0%}"
        assert "out of the modifier subspace" in as_json(detail) and left in as_json(detail), as_json(detail)


@pytest.mark.parametrize("selected", [None, "../x", 10**9, [0], True, -1, 1.5, {"key": 0}])
def test_selector_values_the_page_never_sends_are_answered_in_words(toy_svc, toy, selected):
    path, profile, detail = modifiers.modifier_view(toy_svc, toy, selected)
    assert "choose a modifier from the list" in as_json(path) and "choose a modifier" in as_json(profile)
    assert "is not one of this report's 3 modifiers" in as_json(detail)
    assert data_of(path) == []


def test_the_sentence_explorer_marks_the_modifier_tokens(toy_svc, toy):
    ref = {"key": toy["key"], "text": "the plot was not good and very bad"}
    found = modifiers.modifier_words(toy_svc.report(toy["key"]))
    assert {"not", "very"} <= found and not {"the", "good"} & found
    fig, _ = sentence.explain(toy_svc, ref)
    names = trace(fig, "token's push")["customdata"]
    tokens = ref["text"].split()
    assert names == [f"{i} {t}" + (" (modifier)" if t in found else "") for i, t in enumerate(tokens, 1)]
    assert "4 not (modifier)" in names and "7 very (modifier)" in names and "5 good" in names


def test_a_binary_network_without_modifiers_says_so_and_old_reports_are_told(svc, ref):
    report = svc.report(ref["key"])
    block = report.summary["modifiers"]
    assert block["applies"]  # the tiny MR GRU is binary: the stage ran on it
    text, table, options, _ = modifiers.modifiers_view(svc, ref)
    assert json.dumps(block["text"], ensure_ascii=False)[1:-1] in as_json(text)
    # the tiny GRU (16 units, 3 epochs) changes how no word after another counts by 25%: none found
    assert block["n_modifiers"] == 0 and block["text"].startswith("No modifiers among")
    assert "No modifier found" in as_json(table) and options == []
    path, _, detail = modifiers.modifier_view(svc, ref, 0)
    assert "no modifier found" in as_json(path) and detail is None
    old = Report({k: v for k, v in report.summary.items() if k != "modifiers"}, report.arrays)
    assert modifiers.block(old) is None
    assert modifiers.modifier_words(Report(old.summary, {})) == set()


@pytest.fixture(scope="module")
def three_class(svc, tmp_path_factory):
    """An untrained 3-class GRU on counting-3, analysed in the module's store."""
    torch.manual_seed(0)
    data = counting_dataset(3, n_train=300, n_validation=60, n_test=200)
    vocab = build_vocab((Tokenizer()(t) for t in data.train.texts), max_size=100)
    path = tmp_path_factory.mktemp("c3") / "gru-three.safetensors"
    checkpoint.save(Model(RNNClassifier("gru", len(vocab), 4, 6, num_classes=3), vocab, Tokenizer()), path)
    sha = svc.store.put_checkpoint(path.read_bytes(), path.name)
    key = svc.analyse(sha, "counting-3")
    return {"key": key, "sha": sha, "data": "counting-3", "points": "auto"}


def test_a_three_class_network_is_told_in_words(svc, three_class):
    text, table, options, value = modifiers.modifiers_view(svc, three_class)
    assert "A 3-class network" in as_json(text) and table is None and options == [] and value is None
    path, profile, detail = modifiers.modifier_view(svc, three_class, 0)
    assert "does not apply to this analysis" in as_json(path) and detail is None


def test_report_html_escapes_a_hostile_modifier_word(toy_svc, toy, tmp_path):
    report = toy_svc.report(toy["key"])
    summary = json.loads(json.dumps(report.summary).replace("'not'", f"'{HOSTILE}'"))
    block = summary["modifiers"]
    for rows in (block["modifiers"], block["dynamics"], block["known"]):
        for r in rows:
            for key in ("word", "token"):
                if r.get(key) == "not":
                    r[key] = HOSTILE
    arrays = dict(report.arrays)
    arrays["modifier_words"] = np.where(arrays["modifier_words"] == "not", HOSTILE, arrays["modifier_words"])
    page = render_report_html(Report(summary, arrays))
    assert HOSTILE not in page and "onerror=alert(1)>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 4  # text, table, known, dynamics, figures
    assert 'id="modifier-path"' in page and 'id="modifier-table"' in page
