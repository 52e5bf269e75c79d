"""The dashboard computes no science of its own: its per-sentence, per-point and per-word
numbers are the analysis functions' on the same inputs (issue: one home for each formula)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnscope.analysis.linearization_error import nearest_fixed_point, one_step_errors, step_rel_errors
from rnnscope.analysis.model import binary_logit, binary_logit_from_logits, pad_batch
from rnnscope.analysis.point_modes import point_modes_at, word_input_effects
from rnnscope.analysis.sentence import trace_sentence
from rnnscope.analysis.states import collect_states
from rnnscope.analysis.words import rank_of, vocabulary_projection
from rnnscope.app.services import MAX_SENTENCE_TOKENS

TEXT = "not bad at all , a wonderful and moving film"


def test_the_sentence_trace_is_the_analysis_trace(tiny, svc):
    ref = {"key": tiny.key, "sha": tiny.sha, "data": "mr", "points": "auto"}
    shown = svc.sentence(ref, TEXT)
    model, arrays = svc.model_of(tiny.key), svc.report(tiny.key).arrays
    direct = trace_sentence(model, arrays, TEXT, MAX_SENTENCE_TOKENS)
    for name in ("logit", "push", "drift", "input_projection", "linearization_error", "nearest", "states_pc"):
        np.testing.assert_array_equal(getattr(shown, name), getattr(direct, name), err_msg=name)
    # the trace's logit is the one binary-logit rule on the network's own forward pass
    ids = model.encode(TEXT)
    tokens, lengths = pad_batch([ids])
    with torch.no_grad():
        final = binary_logit_from_logits(model.net(tokens, lengths))
    assert shown.logit[-1] == pytest.approx(float(final[0]), abs=1e-5)


def test_the_sentence_error_is_the_reports_one_step_error(tiny, svc):
    """Step t of the trace, linearized at its nearest point, has the error ``one_step_errors``
    gives the same step inside the analysis."""
    model, arrays = svc.model_of(tiny.key), svc.report(tiny.key).arrays
    trace = trace_sentence(model, arrays, TEXT)
    ids = model.encode(TEXT)
    visited = collect_states(model.net, [ids], max_len=None)
    err = one_step_errors(model.net, visited, arrays["fixed_points"], n_samples=10**6)
    order = np.argsort(err["step"])
    np.testing.assert_allclose(err["rel_error"][order], trace.linearization_error, rtol=1e-5)
    np.testing.assert_array_equal(err["nearest"][order], trace.nearest)


def test_a_clicked_point_is_the_reports_point(tiny, svc):
    model, arrays = svc.model_of(tiny.key), svc.report(tiny.key).arrays
    k = len(arrays["fixed_points"]) // 2
    shown = svc.point_modes(tiny.key, k)
    direct = point_modes_at(model.net, arrays, k, max_state=svc.settings.click_max_state)
    np.testing.assert_array_equal(shown.eigvals, arrays["eigvals"][k])
    np.testing.assert_array_equal(shown.r1, direct.r1)
    np.testing.assert_array_equal(shown.j_inp, direct.j_inp)
    assert shown.mode == int(arrays["mode_index"][k]) == direct.mode
    np.testing.assert_array_equal(svc.word_effects(tiny.key, k),
                                  word_input_effects(model.net, arrays["word_ids"], direct.j_inp))


def test_a_looked_up_word_has_the_analysis_rank(tiny, svc):
    model, arrays = svc.model_of(tiny.key), svc.report(tiny.key).arrays
    k = 0
    found = svc.lookup_words({"key": tiny.key, "index": k}, "bad good")
    proj = vocabulary_projection(model, arrays["mode_coef"][k])
    for item in found:
        wid = model.vocab.index[item.word]
        assert item.projection == proj[wid]
        assert (item.rank, item.n_ranked) == rank_of(proj, wid)
    # the report's own input projections are the same numbers for the listed words
    listed = {int(w): i for i, w in enumerate(arrays["word_ids"])}
    for item in found:
        wid = model.vocab.index[item.word]
        if wid in listed:
            assert arrays["input_projection"][k, listed[wid]] == pytest.approx(proj[wid], rel=1e-5, abs=1e-7)


def test_one_binary_logit_rule(tiny, svc):
    """C = 1 reads the logit; C = 2 reads last minus first, as readout_vector's direction does."""
    net = svc.model_of(tiny.key).net
    s = torch.randn(5, net.state_size)
    w = net.readout_vector()
    bias = float(binary_logit(net, torch.zeros(1, net.state_size))[0])
    torch.testing.assert_close(binary_logit(net, s), s @ w + bias)
    assert binary_logit_from_logits(torch.tensor([[1.0, 4.0]])).item() == 3.0
    assert binary_logit_from_logits(torch.tensor([[-2.0]])).item() == -2.0


def test_the_sentence_error_formula_is_the_step_error_formula(tiny, svc):
    model, arrays = svc.model_of(tiny.key), svc.report(tiny.key).arrays
    net = model.net
    trace = trace_sentence(model, arrays, TEXT)
    tok = torch.as_tensor(model.encode(TEXT))[None]
    with torch.no_grad():
        states = net.run(tok)[0]
        prev = torch.cat([net.initial_state(1), states[:-1]])
        points = torch.as_tensor(arrays["fixed_points"], dtype=states.dtype)
        k = nearest_fixed_point(prev, points)
        rel = step_rel_errors(net, prev, net.embedding(tok)[0], points[k])["rel_error"]
    np.testing.assert_array_equal(rel.numpy().astype(np.float64), trace.linearization_error)
