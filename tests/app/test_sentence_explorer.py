"""The sentence explorer's callbacks on the tiny real model: the trajectory on the points with
the readout's zero line, the per-token readout split and the account in words.

Expected numbers are recomputed here from the network (its steps and its readout), not read
back from the dashboard code.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from rnnscope.app.callbacks import sentence
from tests.app.test_callbacks import _traces


def expected_split(model, text: str) -> dict:
    """push_t = ℓ(F(s, x_t)) − ℓ(F(s, 0)), drift_t = ℓ(F(s, 0)) − ℓ(s), straight from the net."""
    net = model.net
    ids = torch.as_tensor(model.encode(text))[None]
    with torch.no_grad():
        states = net.run(ids)[0]
        prev = torch.cat([net.initial_state(1), states[:-1]])
        zero = net.step(prev, torch.zeros(len(prev), net.embed_dim))
        logit = lambda s: net.logits_from_state(s)[..., 0].double().numpy()  # noqa: E731 (one output)
        return {"logit": logit(states), "push": logit(states) - logit(zero),
                "drift": logit(zero) - logit(prev), "start": float(logit(prev[:1])[0])}


def _text(component) -> str:
    """The visible text of Dash components (nested children), space-joined."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(_text(c) for c in component)
    return _text(getattr(component, "children", None))


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"[+-]\d+\.\d\d", text)]


def test_trace_splits_every_step_into_push_and_drift(svc, tiny, ref):
    model = svc.model_of(tiny.key)
    assert model.net.num_classes == 1
    text = "not bad at all"
    want = expected_split(model, text)
    trace = svc.sentence(ref, text)
    np.testing.assert_allclose(trace.logit, want["logit"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trace.push, want["push"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trace.drift, want["drift"], rtol=1e-5, atol=1e-6)
    assert trace.start_logit == pytest.approx(want["start"], abs=1e-6)
    a = svc.report(tiny.key).arrays
    final = model.net.run(torch.as_tensor(model.encode(text))[None])[0, -1].detach().numpy()
    gaps = np.linalg.norm(a["fixed_points"] - final, axis=1)
    assert trace.end_point == int(gaps.argmin())
    assert trace.end_point_logit == pytest.approx(
        float(a["fixed_points"][trace.end_point] @ a["readout"] + a["readout_bias"][0]), abs=1e-4)


def test_explain_shows_the_split_and_says_it_in_words(svc, tiny, ref):
    text = "not bad at all"
    *_, store = sentence.run(svc, text, ref)
    bars, account = sentence.explain(svc, store)
    want = expected_split(svc.model_of(tiny.key), text)
    data = {t["name"]: t for t in _traces(bars)}
    np.testing.assert_allclose(np.asarray(data["token's push"]["y"], float), want["push"], atol=1e-5)
    np.testing.assert_allclose(np.asarray(data["zero-input drift"]["y"], float), want["drift"], atol=1e-5)
    words = _text(account)
    side = "positive" if want["logit"][-1] > 0 else "negative"
    assert f"Ends {side}: readout {want['logit'][-1]:+.2f}" in words
    largest = int(np.argmax(np.abs(want["push"])))
    token = svc.model_of(tiny.key).tokenizer(text)[largest]
    assert f"“{token}” (token {largest + 1}) {want['push'][largest]:+.2f}" in words
    assert f"all 4 together {want['push'].sum():+.2f}" in words
    assert f"moved it by {want['drift'].sum():+.2f} in all" in words
    numbers = _numbers(words)
    assert want["logit"][-1] == pytest.approx(numbers[0], abs=0.006)


def test_run_draws_the_points_the_zero_line_and_one_colour_scale(svc, tiny, ref):
    a = svc.report(tiny.key).arrays
    scales = []
    for text in ("not bad at all", "a wonderful , moving film"):
        fig = sentence.run(svc, text, ref)[0]
        names = [t.get("name") for t in _traces(fig)]
        assert f"fixed points ({int(a['point_is_fixed'].sum())})" in names
        assert "readout = 0" in names and "readout" in names and "initial state" in names
        axis = fig["layout"]["coloraxis"]
        scales.append((axis["cmin"], axis["cmax"]))
    assert scales == [(0.0, 1.0), (0.0, 1.0)]


@pytest.mark.parametrize("hostile", [None, 5, "x", {}, {"key": "0" * 64, "text": "good"},
                                     {"key": ["a"], "text": "good"}])
def test_explain_answers_anything_the_page_could_send(svc, hostile):
    bars, account = sentence.explain(svc, hostile)
    assert "Run a sentence" in _text(account)


def test_explain_of_a_text_with_no_tokens(svc, tiny):
    bars, account = sentence.explain(svc, {"key": tiny.key, "text": "   "})
    assert "Run a sentence" in _text(account)
