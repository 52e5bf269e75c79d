"""The dashboard's callbacks, called as plain functions on a tiny real model and report.

The model is a GRU trained on MR and analysed by ``rnnscope.workers.jobs.full_analysis`` with small
parameters (``tests/app/tiny.py``); every expected number is recomputed here from the
model with the analysis functions, independently of the dashboard code.
"""
from __future__ import annotations

import base64
import dataclasses
import types
import hashlib
import io
import json

import numpy as np
import pytest
import torch
from dash import Patch, no_update

from rnnscope.app.callbacks import compare, fixed_points, linearization, model as model_cb, sentence, \
    state_space, words
from rnnscope.analysis.summary import complete
from rnnscope.app.model_cache import LRU
from rnnscope.app.services import MAX_LOOKUP_WORDS, MAX_SENTENCE_TOKENS
from rnnscope.app.uploads import UploadError, decode_upload
from rnnscope.settings import Settings
from tests.app.tiny import train_tiny

MAX_FIGURE_BYTES = 500_000


def _payload(obj) -> int:
    """Bytes of the JSON Dash would send for ``obj``."""
    return len(_json(obj))


def _upload(data: bytes, filename: str) -> dict:
    return {"contents": "data:application/octet-stream;base64," + base64.b64encode(data).decode(),
            "filename": filename}


def _json(fig) -> str:
    import plotly.utils

    return json.dumps(fig, cls=plotly.utils.PlotlyJSONEncoder)


def _decode(obj):
    """JSON object hook: plotly's base64 typed arrays back to lists."""
    if set(obj) >= {"dtype", "bdata"}:
        arr = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
        if "shape" in obj:
            arr = arr.reshape([int(n) for n in str(obj["shape"]).split(",")])
        return arr.tolist()
    return obj


def _traces(fig) -> list[dict]:
    """A figure's traces as plain JSON dicts (go.Figure, dict, or a Patch that replaces
    the traces; arrays decoded)."""
    if isinstance(fig, Patch):
        ops = [op for op in fig.to_plotly_json()["operations"] if op["location"] == ["data"]]
        fig = {"data": ops[-1]["params"]["value"]}
    return json.loads(_json(fig), object_hook=_decode)["data"]


def _trace(fig, name):
    """The trace called ``name``, with attribute access (``t.x``, ``t.marker.symbol``)."""
    trace = next(t for t in _traces(fig) if t.get("name") == name)
    return json.loads(json.dumps(trace), object_hook=lambda d: types.SimpleNamespace(**d))


# --------------------------------------------------------------------------- model panel


def test_demo_model_is_listed_and_selected(svc, tiny):
    options, default = svc.model_options()
    assert default == tiny.sha
    assert {"label": "GRU · MR (demo)", "value": tiny.sha} in options


def test_stored_analysis_resolves_at_once_and_missing_one_becomes_a_job(svc, tiny, ref):
    report, request, message = model_cb.resolve_analysis(svc, tiny.sha, "mr")
    assert report == ref and request is no_update and message is None
    # a server allowed to download (``--fetch-data``): tweets may not be cached in this test's home
    fetching = dataclasses.replace(svc, settings=dataclasses.replace(svc.settings, fetch_data=True))
    report, request, _ = model_cb.resolve_analysis(fetching, tiny.sha, "tweets")
    assert request["sha"] == tiny.sha and request["data"] == "tweets"
    # the views leave the previous report at once: the ref names the selection, with no key
    assert report == {"key": None, "sha": tiny.sha, "data": "tweets", "points": "auto"}
    card, status = model_cb.card_and_status(svc, tiny.sha, report)
    assert status == "no report ready for the selected model on tweets"
    assert "GRU-16" not in status and "Analysis on" not in str(card)
    for view in (state_space.state_space_figures, linearization.linearization_view, words.word_figures):
        for out in view(svc, report):
            assert out is None or not _traces(out)  # placeholders only


def test_job_returns_the_report_key_and_reports_progress(svc, tiny, ref):
    seen = []
    report, message = model_cb.run_analysis_job(svc, seen.append, {"sha": tiny.sha, "data": "mr"})
    assert report == ref and message is None
    percents = [int(p) for p, _ in seen]
    assert percents[-1] == 100 and percents == sorted(percents)


def test_a_finished_job_shows_only_if_its_model_is_still_selected(tiny, ref):
    assert model_cb.accept_result(ref, tiny.sha, "mr") == ref
    assert model_cb.accept_result(ref, "f" * 64, "mr") is no_update  # the user moved on
    assert model_cb.accept_result(ref, tiny.sha, "imdb") is no_update
    assert model_cb.accept_result(None, tiny.sha, "mr") is no_update


def test_point_set_choice_is_its_own_analysis(svc, tiny, ref):
    """Fixed points only is another analysis (another key); a finished job of one point set
    never shows under another; a value the page did not offer means the default."""
    assert model_cb.accept_result(ref, tiny.sha, "mr", "fixed") is no_update
    assert model_cb.accept_result(ref, tiny.sha, "mr", "../../etc") == ref  # unknown -> default
    report, request, _ = model_cb.resolve_analysis(svc, tiny.sha, "mr", None, {"evil": 1})
    assert report == ref and request is no_update
    report, request, _ = model_cb.resolve_analysis(svc, tiny.sha, "mr", None, "fixed")
    if report["key"] is None:  # not stored yet in this store: it becomes a job for that set
        assert request["points"] == "fixed"
        report, _ = model_cb.run_analysis_job(svc, lambda _: None, request)
    assert report["points"] == "fixed" and report["key"] != ref["key"]
    fp = svc.report(report["key"]).summary["fixed_points"]
    assert fp["slow_rule"] == "fixed only" and fp["n_slow"] == 0 and fp["slow_q_max"] == 0


def test_job_failure_is_an_alert_not_an_exception(svc, tiny, monkeypatch):
    from rnnscope.analysis.data import DataError

    def broken(*_args, **_kw):
        raise DataError("mr.csv line 3: no label column")
    monkeypatch.setattr(svc, "analyse", broken)
    report, message = model_cb.run_analysis_job(svc, lambda _: None, {"sha": tiny.sha, "data": "mr"})
    assert report is no_update
    assert message.className == "alert error"
    assert "no label column" in str(message.children)
    assert "gru-mr.safetensors" in str(message.children)  # which analysis failed


def test_dataset_must_be_a_listed_name_never_a_path(svc, tiny):
    report, request, message = model_cb.resolve_analysis(svc, tiny.sha, "/etc/passwd")
    assert report is None and request is no_update  # nothing on screen for it
    assert "Choose one of the listed datasets" in str(message.children)
    report, message = model_cb.run_analysis_job(svc, lambda _: None, {"sha": tiny.sha, "data": "/etc/passwd"})
    assert report is no_update and "/etc/passwd" not in str(message.children)
    assert svc.stored_analysis(tiny.sha, "../mr") is None
    with pytest.raises(ValueError, match="listed datasets"):
        svc.analyse(tiny.sha, "/etc/passwd")


def test_upload_of_garbage_returns_the_loader_message(svc):
    from rnnscope.analysis.checkpoint import CheckpointError, load_bytes

    garbage = b"\x00garbage" * 100
    with pytest.raises(CheckpointError) as refused:
        load_bytes(garbage, "x.safetensors")
    options_before = svc.model_options()[0]
    options, value, message = model_cb.accept_upload(svc, _upload(garbage, "x.safetensors"))
    assert options is no_update and value is no_update
    assert message.className == "alert error"
    assert message.children == ["Upload refused: ", str(refused.value)]
    assert svc.model_options()[0] == options_before


def test_upload_of_a_pickle_is_refused_without_running_it(svc, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buffer = io.BytesIO()
    torch.save({"format": "rnnscope/1", "config": {}, "state_dict": {}, "x": Evil()}, buffer)
    options, value, message = model_cb.accept_upload(svc, _upload(buffer.getvalue(), "evil.pt"))
    assert value is no_update and message.className == "alert error"
    assert not marker.exists()


@pytest.mark.parametrize("payload", [None, {}, {"contents": "no comma"},
                                     {"contents": "data:x;base64,@@@", "filename": "a.pt"}])
def test_malformed_upload_payloads_are_refused(svc, payload):
    _, value, message = model_cb.accept_upload(svc, payload)
    assert value is no_update and message.className == "alert error"


def test_upload_over_the_cap_is_refused_before_decoding():
    with pytest.raises(UploadError, match="larger than the 1000 bytes upload limit"):
        decode_upload("data:x;base64," + base64.b64encode(b"a" * 2000).decode(), 1000)


def test_upload_of_a_real_checkpoint_is_stored_by_sha256(svc, tmp_path):
    path = tmp_path / "other.safetensors"
    train_tiny(path, arch="ugrnn", seed=1, epochs=2)
    data = path.read_bytes()
    options, sha, message = model_cb.accept_upload(svc, _upload(data, "../../etc/other.safetensors"))
    assert sha == hashlib.sha256(data).hexdigest()
    assert message.className == "alert success"
    assert isinstance(options, Patch)
    assert svc.store.checkpoint_path(sha).read_bytes() == data
    labels = {o["value"]: o["label"] for o in svc.model_options()[0]}
    assert labels[sha] == f"other.safetensors · {sha[:8]}"  # the path part is dropped
    again, sha2, _ = model_cb.accept_upload(svc, _upload(data, "other.safetensors"))
    assert sha2 == sha and again.to_plotly_json()["operations"] == []  # not listed twice
    # Compare names an upload's analysis by its file name (issue 12 item 9), a demo's by its model
    assert svc.upload_report_label(complete({"model": {"sha256": sha}, "data": {"name": "tweets"}})) == "other tweets"
    assert svc.upload_report_label(complete({"model": {"sha256": "0" * 64, "arch": "gru", "hidden_size": 8},
                                             "data": {"name": "mr"}})) == "GRU-8 mr"  # no name stored


def test_model_card_shows_architecture_and_analysis(svc, tiny, ref):
    card, status = model_cb.card_and_status(svc, tiny.sha, ref)
    text = str(card)
    assert "gru" in text and "H = 16" in text and "V = 2,000" in text
    acc = svc.report(tiny.key).summary["accuracy"]["test"]
    assert f"{100 * acc:.1f}%" in text and f"{100 * acc:.1f}%" in status


# --------------------------------------------------------------------------- fixed points


def test_clicking_fixed_point_i_shows_the_spectrum_of_point_i(svc, tiny, ref):
    from rnnscope.analysis.linearize import linearize

    report = svc.report(tiny.key)
    points = report.arrays["fixed_points"]
    assert len(points) >= 2, "the tiny analysis found fewer than two fixed points"
    expected = linearize(svc.model_of(tiny.key).net, points).eigvals
    for i in (0, len(points) - 1):
        selection = fixed_points.select_from_click(ref, {"points": [{"customdata": i}]})
        assert selection == {"key": tiny.key, "index": i}
        _, _, summary, eig, tau, effects, r1 = fixed_points.select_point(svc, selection)
        lam = _trace(eig, f"fixed point {i}")
        np.testing.assert_allclose(lam.x, expected[i].real, atol=1e-5)
        np.testing.assert_allclose(lam.y, expected[i].imag, atol=1e-5)
        np.testing.assert_allclose(lam.x, report.arrays["eigvals"][i].real, atol=1e-5)
        tau_i = np.sort(np.abs(1 / np.log(np.abs(expected[i]))))[::-1]
        np.testing.assert_allclose(_trace(tau, f"fixed point {i}").y, tau_i, rtol=1e-3)
        assert _trace(r1, f"fixed point {i}").customdata == [i]
        assert f"fixed point #{i}" in str(summary)


def test_first_view_of_a_report_equals_a_click_on_its_default_point(svc, tiny, ref):
    figs = fixed_points.report_figures(svc, ref)
    selection = figs[7]
    patches = fixed_points.select_point(svc, selection)
    for fig, patch in zip(figs[2:6], patches[3:]):
        assert _traces(fig) == _traces(patch)


def test_fixed_point_indices_reach_the_browser_as_plain_lists(svc, tiny, ref):
    """clickData can only carry a trace's customdata when it is a JSON list in the page."""
    k = len(svc.report(tiny.key).arrays["theta"])
    figs = fixed_points.report_figures(svc, ref)
    r1_patch = fixed_points.select_point(svc, figs[7])[6]
    for fig in (figs[0], figs[1], figs[5], r1_patch):
        plain = json.loads(_json(fig if not isinstance(fig, Patch) else fig.to_plotly_json()))
        data = plain["data"] if "data" in plain else plain["operations"][0]["params"]["value"]
        assert data[0]["customdata"] == list(range(k))


def test_highlight_patch_moves_the_ring_to_the_selected_point(svc, tiny):
    report = svc.report(tiny.key)
    k = len(report.arrays["theta"]) - 1
    manifold, tau = fixed_points.select_point(svc, {"key": tiny.key, "index": k})[:2]
    fig, tau_fig = fixed_points.report_figures(svc, {"key": tiny.key})[:2]
    ops = {tuple(op["location"]): op["params"]["value"] for op in manifold.to_plotly_json()["operations"]}
    ring = next(i for i, t in enumerate(_traces(fig)) if t.get("name") == "selected")
    assert ops[("data", ring, "x")] == [pytest.approx(float(report.arrays["fp_pc"][k, 0]))]
    assert ops[("data", ring, "customdata")] == [k]
    ops = {tuple(op["location"]): op["params"]["value"] for op in tau.to_plotly_json()["operations"]}
    ring = next(i for i, t in enumerate(_traces(tau_fig)) if t.get("name") == "selected")
    assert ops[("data", ring, "x")] == [pytest.approx(float(report.arrays["theta"][k]))]


def test_word_effects_project_with_the_input_jacobian(svc, tiny):
    from rnnscope.analysis.linearize import jacobians_at

    report, model = svc.report(tiny.key), svc.model_of(tiny.key)
    point = report.arrays["fixed_points"][:1]
    _, j_inp = jacobians_at(model.net, point)
    emb = model.net.embedding.weight.detach().numpy()[report.arrays["word_ids"]]
    np.testing.assert_allclose(svc.word_effects(tiny.key, 0), emb @ np.asarray(j_inp)[0].T,
                               rtol=1e-4, atol=1e-6)


def test_bad_clicks_and_selections_change_nothing(svc, ref):
    assert fixed_points.select_from_click(ref, None) is no_update
    assert fixed_points.select_from_click(ref, {"points": []}) is no_update
    for selection in ({"key": ref["key"], "index": 10**6}, {"key": "0" * 64, "index": 0},
                      {"key": ref["key"], "index": "1"}, None):
        assert fixed_points.select_point(svc, selection) == (no_update,) * 7


# --------------------------------------------------------------------------- words


def test_word_lookup_matches_the_report_and_ranks_in_the_vocabulary(svc, tiny):
    report, model = svc.report(tiny.key), svc.model_of(tiny.key)
    a = report.arrays
    k, w = 0, 0
    found = svc.lookup_word({"key": tiny.key, "index": k}, str(a["words"][w]).upper())
    assert found.known and found.word == str(a["words"][w])
    assert found.projection == pytest.approx(float(a["input_projection"][k, w]), rel=1e-4, abs=1e-6)
    assert found.set_name == {1: "positive", -1: "negative", 0: "neutral"}[int(a["word_valence"][w])]
    emb = model.net.embedding.weight.detach().numpy().astype(np.float64)
    all_proj = emb[2:] @ a["mode_coef"][k].astype(np.float64)  # the integration mode, signed
    assert found.rank == 1 + int((all_proj > found.projection).sum())
    assert found.n_ranked == len(model.vocab) - 2


def test_unknown_word_is_said_to_be_unknown(svc, tiny):
    panel = words.lookup(svc, "zzqxvplonk", {"key": tiny.key, "index": 0})
    assert "not in this model's vocabulary" in str(panel)


def test_each_word_of_a_phrase_is_looked_up_on_its_own(svc, tiny):
    """"not bad" answers for "not" and for "bad" (it answered for "not" only), says that
    each word is read alone, and says when words were left out."""
    model, a = svc.model_of(tiny.key), svc.report(tiny.key).arrays
    k = 1
    emb = model.net.embedding.weight.detach().numpy().astype(np.float64)
    found = svc.lookup_words({"key": tiny.key, "index": k}, "Not bad NOT zzqxvplonk")
    assert [(f.word, f.known) for f in found] == [("not", True), ("bad", True), ("zzqxvplonk", False)]
    for f in found[:2]:
        assert f.projection == pytest.approx(emb[model.vocab.index[f.word]] @ a["mode_coef"][k].astype(np.float64),
                                             rel=1e-5, abs=1e-7)
    panel = str(words.lookup(svc, "not bad", {"key": tiny.key, "index": k}))
    assert panel.count("word-row-item") == 2 and "looked up on its own" in panel and "Only the first" not in panel
    many = " ".join([w for w in model.vocab.index if w.isalpha()][:MAX_LOOKUP_WORDS + 3])
    panel = str(words.lookup(svc, many, {"key": tiny.key, "index": k}))
    assert panel.count("word-row-item") == MAX_LOOKUP_WORDS and f"Only the first {MAX_LOOKUP_WORDS} words" in panel
    assert svc.lookup_word({"key": tiny.key, "index": k}, "not bad").word == "not"  # one word: the first


def test_figures_go_out_with_the_white_template_and_leave_the_figures_module_as_it_was(svc, ref):
    from rnnscope.app.figures import style

    fig = json.loads(_json(state_space.state_space_figures(svc, ref)[0]))
    assert fig["layout"]["template"]["layout"]["plot_bgcolor"] == "white"
    assert style.TEMPLATE == "plotly_white"


def test_word_figures_are_small(svc, ref):
    for fig in words.word_figures(svc, ref):
        assert _traces(fig) and _payload(fig) < MAX_FIGURE_BYTES


# --------------------------------------------------------------------------- sentences


def test_sentence_gives_one_point_per_token_and_marks_unknown_tokens(svc, tiny, ref):
    text = "The acting was wonderful , but the zzqxvplonk plot was dull ."
    fig, table, slider_max, value, alerts, detail, store = sentence.run(svc, text, ref)
    model = svc.model_of(tiny.key)
    tokens = model.tokenizer(text)
    tok_trace = _trace(fig, "tokens")
    assert len(tok_trace.x) == len(tokens) == 12
    assert list(tok_trace.marker.symbol) == ["x" if t == "zzqxvplonk" else "circle" for t in tokens]
    assert "zzqxvplonk" in str(alerts) and "not in the vocabulary" in str(alerts)
    assert slider_max == value == len(tokens)  # 1-based, as the table and the detail panel
    assert store == {"key": tiny.key, "text": text}
    # the readout after the last token is the network's own prediction
    trace = svc.sentence(ref, text)
    assert trace.probability[-1] == pytest.approx(float(model.predict_proba([text])[0]), abs=1e-5)


def test_sentence_steps_match_the_analysis_functions(svc, tiny, ref):
    from rnnscope.analysis.linearization_error import linearized_step
    from rnnscope.analysis.pca import project

    report, model = svc.report(tiny.key), svc.model_of(tiny.key)
    a, net = report.arrays, model.net
    text = "a gripping , beautifully shot film"
    trace = svc.sentence(ref, text)
    ids = model.encode(text)
    states = net.run(torch.as_tensor(ids)[None])[0]
    np.testing.assert_allclose(trace.states_pc, project(states.numpy(), a["state_pca_components"],
                                                        a["state_pca_mean"], 2), atol=1e-4)
    prev = torch.cat([net.initial_state(1), states[:-1]])
    points = torch.as_tensor(a["fixed_points"])
    dist = torch.cdist(prev, points)
    assert (trace.nearest == dist.argmin(1).numpy()).all()
    h_star = points[trace.nearest]
    with torch.no_grad():
        lin = linearized_step(net, prev, net.embedding(torch.as_tensor(ids)), h_star)
    err = (torch.linalg.vector_norm(states - lin, dim=1) / torch.linalg.vector_norm(states, dim=1))
    np.testing.assert_allclose(trace.linearization_error, err.numpy(), rtol=1e-4, atol=1e-7)
    x = net.embedding.weight.detach().numpy()[ids].astype(np.float64)
    # the signed projection on the report's integration mode at each step's nearest point
    expected = np.einsum("te,te->t", a["mode_coef"][trace.nearest].astype(np.float64), x)
    np.testing.assert_allclose(trace.input_projection, expected, rtol=1e-5)
    # ... which is the report's own input_projection for the listed words
    listed = {int(w): j for j, w in enumerate(a["word_ids"])}
    for t, wid in enumerate(ids):
        if int(wid) in listed:
            assert trace.input_projection[t] == pytest.approx(
                float(a["input_projection"][trace.nearest[t], listed[int(wid)]]), rel=1e-4, abs=1e-6)


def test_slider_moves_the_current_token_ring(svc, ref):
    text = "not bad at all"
    fig, *_, store = sentence.run(svc, text, ref)
    patch, detail = sentence.step(svc, 2, store)  # the slider at 2: the second token, "bad"
    ring = next(i for i, t in enumerate(_traces(fig)) if t.get("name") == "current token")
    ops = {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}
    trace = svc.sentence(ref, text)
    assert ops[("data", ring, "x")] == [pytest.approx(float(trace.states_pc[1, 0]))]
    assert ops[("data", ring, "text")] == ["bad"]
    assert "token 2 of 4" in str(detail)
    for hostile in (0, -5, 99, "2", None, 1.5):  # clamped or the first token, never an error
        assert "of 4" in str(sentence.step(svc, hostile, store)[1])


def test_long_text_is_cut_at_the_cap_with_a_message(svc, ref):
    text = "good " * (MAX_SENTENCE_TOKENS + 25)
    fig, _, slider_max, _, alerts, _, _ = sentence.run(svc, text, ref)
    assert len(_trace(fig, "tokens").x) == MAX_SENTENCE_TOKENS
    assert slider_max == MAX_SENTENCE_TOKENS
    assert f"only the first {MAX_SENTENCE_TOKENS:,} were run" in str(alerts)


def test_empty_sentence_says_so(svc, ref):
    assert "No tokens" in str(sentence.run(svc, "   ", ref)[4])


# --------------------------------------------------------------------------- other views


def test_views_of_the_report_are_small_and_complete(svc, ref):
    figs = [*state_space.state_space_figures(svc, ref), *fixed_points.report_figures(svc, ref)[:6],
            linearization.linearization_view(svc, ref)[0], compare.compare_view(svc, ref)[0]]
    for fig in figs:
        assert _traces(fig)
        assert _payload(fig) < MAX_FIGURE_BYTES


def test_views_without_a_report_are_placeholders(svc):
    for fig in (*state_space.state_space_figures(svc, None), linearization.linearization_view(svc, None)[0]):
        assert not _traces(fig)
    assert fixed_points.report_figures(svc, {"key": "not a key"})[7] is None


def test_report_views_are_built_once_per_report(svc, ref):
    views = (state_space.state_space_figures, fixed_points.report_figures, linearization.linearization_view,
             words.word_figures)
    for view in views:
        first, misses = view(svc, ref), svc.memo.misses
        again = view(svc, dict(ref))  # an equal ref from another page: served from the memo
        assert again is first and svc.memo.misses == misses, view.__name__
    missing = {"key": "0" * 64, "sha": ref["sha"], "data": "mr"}  # not stored: never memoized
    assert state_space.state_space_figures(svc, missing) is not state_space.state_space_figures(svc, missing)


def test_compare_lists_every_stored_analysis(svc, tiny, ref):
    rows = svc.analysed_reports(keep=tiny.key)  # the one on screen, of its model and dataset
    assert tiny.key in [key for key, _, _ in rows]
    fig, table = compare.compare_view(svc, ref)
    assert "GRU-16 mr" in str(table)  # the demo, by its model
    shares = compare.word_shares(svc, tiny.key)
    a = svc.report(tiny.key).arrays
    w = a["readout"].astype(np.float64)
    share = a["input_projection"] * (a["r1"].astype(np.float64) @ w)[:, None] / np.ptp(a["fixed_points"] @ w)
    i = [k for k, _, _ in rows].index(tiny.key)
    for name, code in (("positive", 1), ("negative", -1), ("neutral", 0)):
        expected = share[:, a["word_valence"] == code].mean()
        assert shares[name] == pytest.approx(expected, rel=1e-5)
        assert list(_trace(fig, name).y)[i] == pytest.approx(expected, rel=1e-5)
    acc = _trace(fig, "network")
    assert list(acc.y)[[k for k, _, _ in rows].index(tiny.key)] == pytest.approx(
        svc.report(tiny.key).summary["accuracy"]["test"])


def test_lru_keeps_the_most_recent_entries():
    cache = LRU(2)
    calls = []
    for key in ("a", "b", "a", "c", "b"):
        cache.get(key, lambda k=key: calls.append(k) or k.upper())
    assert calls == ["a", "b", "c", "b"] and len(cache) == 2


def test_serve_binds_loopback_by_default():
    from rnnscope.app.cli import build_parser
    from rnnscope.app.commands.serve import is_loopback

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.debug) == ("127.0.0.1", 8050, False)
    assert all(map(is_loopback, ("127.0.0.1", "localhost", "::1", "127.0.1.1")))
    assert not any(map(is_loopback, ("0.0.0.0", "192.168.1.4", "::", "example.org")))


def test_serve_refuses_a_bad_port(capsys):
    from rnnscope.app.cli import main

    assert main(["serve", "--port", "70000"]) == 2
    assert "--port must be in 1..65535" in capsys.readouterr().err


def test_upload_cap_is_enforced_by_the_server(tiny):
    from rnnscope.app.dashboard import create_app, max_request_bytes

    settings = dataclasses.replace(Settings.from_env(), max_upload_bytes=1000)
    app = create_app(settings)
    limit = app.server.config["MAX_CONTENT_LENGTH"]
    assert limit == max_request_bytes(settings.max_upload_bytes) >= settings.max_upload_bytes * 4 // 3
    client = app.server.test_client()
    response = client.post("/_dash-update-component", data=b"x" * (limit + 1),
                           content_type="application/json")
    assert response.status_code == 413


def test_linearization_errors_are_one_unit_everywhere():
    """The figure's x axis is the relative error (1.15); the cards must say 1.15, not 115.12%."""
    from rnnscope.app.layout import compare_table, linearization_summary

    summary = complete({"linearization": {"one_step_rel_error_median": 1.1512, "input_part_median": 0.5}})
    text = str(linearization_summary(summary))
    assert "1.15" in text and "115" not in text and "0.5" in text
    assert "1.15" in str(compare_table([("k" * 64, "LSTM-128 mr", {"linearization": summary["linearization"]})],
                                       None))


def test_manifold_points_say_q_kind_and_integration_mode_on_hover(svc, tiny, ref):
    a = svc.report(tiny.key).arrays
    manifold = fixed_points.report_figures(svc, ref)[0]
    points = next(t for t in manifold["data"] if t.get("name") == "fixed points")
    assert "%{text}" in points["hovertemplate"] and len(points["text"]) == len(a["fixed_points"])
    k = 0
    kind = "fixed" if a["point_is_fixed"][k] else "slow"
    assert points["text"][k] == (f"q {a['q'][k]:.1e} ({kind}) · integration mode |λ| "
                                 f"{abs(a['mode_eigval'][k]):.4f}, τ {a['mode_tau'][k]:.4g} tokens")
