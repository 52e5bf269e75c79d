"""The survey on a real model: fillers, probes, the known modifiers' ranks, screening.

On the toy GRU (``models/toy/gru-toy.safetensors``) the answers are known: the fillers are
the language's filler words, the probes its valence words, "not" is the strongest modifier
(a negator of positive and negative words alike) and "very" an intensifier. Contexts are
short (at most 4 tokens) and the probe settles for 2 tokens (the GRU was trained on
documents of 6-16 tokens; the stage's defaults, whole documents and 10 tokens, are tested in
``tests/unit/test_modifier_stage.py``).
"""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnscope.analysis import checkpoint
from rnnscope.analysis.modifier_survey import KNOWN_MODIFIERS, SurveyParams, _known_group, known_modifier_ranks, \
    neutral_words, own_effects, quick_points, survey_modifiers
from rnnscope.analysis.modifiers import context_states, detect_modifiers, draw_fillers, frequent_words, probe_setup, \
    sample_contexts
from rnnscope.analysis.toy_language import FILLER, VALENCE, toy_split

TOY_MODEL = Path(__file__).resolve().parents[2] / "models" / "toy" / "gru-toy.safetensors"
PARAMS = SurveyParams(n_contexts=64, n_probes=4, min_context=1, max_context=4, settle=2, min_count=5, refine=None)


@pytest.fixture(scope="module")
def toy():
    torch.set_num_threads(1)
    model = checkpoint.load(TOY_MODEL)
    seqs = [model.encode(t) for t in toy_split(400, seed=99).texts]
    points, l1 = quick_points(model.net.eval(), seqs, n_docs=60, n_seeds=8)
    return model, seqs, points, l1


def test_known_groups_take_contractions_for_nt():
    assert [_known_group(t) for t in ("not", "didn't", "n't", "nothing", "very", "verily")] == \
        ["not", "n't", "n't", None, "very", None]
    assert _known_group("didn't", ("not",)) is None


def test_neutral_words_are_the_fillers(toy):
    model, seqs, _, _ = toy
    net = model.net.eval()
    start = context_states(net, sample_contexts(seqs, 64, 0, min_len=1, max_len=4))
    words = frequent_words(seqs, min_count=5)
    # The modifiers have no valence of their own either: that is why the survey leaves the
    # known modifiers out of the fillers.
    assert {"not", "very"} <= set(model.vocab.decode(neutral_words(net, start, words, 14)))
    skip = model.vocab.encode(["the", "not", "very"])
    neutral = model.vocab.decode(neutral_words(net, start, words, 10, exclude=skip))
    assert set(neutral) <= set(FILLER) and "the" not in neutral
    loud = model.vocab.decode(neutral_words(net, start, words, len(words))[-4:])   # the least neutral
    assert set(loud) == set(VALENCE)


def test_survey_ranks_not_first_and_very_as_intensifier_on_the_toy_gru(toy):
    model, seqs, points, l1 = toy
    effects, setup = survey_modifiers(model, seqs, points, l1, PARAMS)
    tokens = model.vocab.tokens
    assert set(model.vocab.decode(setup.probe_ids)) == set(VALENCE)
    assert set(model.vocab.decode(setup.between.unique().cpu().numpy())) <= set(FILLER)
    own = own_effects(model.net.eval(), setup, effects.word_ids)
    rows, missing = known_modifier_ranks(effects, tokens, own=own)
    for r in rows:
        print(r.known, r.rank, r.of, r.kind, r.ratio_readout.round(2), r.ratio_positive.round(2),
              r.ratio_negative.round(2))
    assert missing == ["never", "extremely", "no", "n't"]
    no, very = rows
    assert (no.token, no.rank, no.kind, no.reach) == ("not", 1, "negator", 4)
    assert np.all(no.ratio_positive[:4] < -0.3) and np.all(no.ratio_negative[:4] < -0.3)  # flips both
    assert very.token == "very" and very.rank <= 3 and very.kind == "intensifier" and very.ratio_readout[0] > 1.2
    assert no.exact and very.exact and no.of == len(effects.word_ids) == 18
    assert abs(no.own) < 0.5 * abs(own[effects.row(model.vocab.index["good"])])  # "not" has little valence
    (a,), _ = known_modifier_ranks(effects, tokens, known=("a",), own=own)
    assert no.rank_neutral == 0 < a.rank_neutral        # the more neutral half is 9 of the 12 fillers
    valence = dict(zip(model.vocab.decode(effects.word_ids), own))
    assert valence["awesome"] > valence["good"] > 0 > valence["bad"] > valence["awful"]
    # False case: a filler taken as a "known modifier" ranks below them and is no modifier.
    (the,), _ = known_modifier_ranks(effects, tokens, known=("the",))
    assert the.rank > very.rank and the.kind == "none"
    # Screening all 18 words and measuring 3 exactly keeps "not" first and exact.
    screened, _ = survey_modifiers(model, seqs, points, l1, SurveyParams(**{**PARAMS.__dict__, "refine": 3}))
    (first, *_), _ = known_modifier_ranks(screened, tokens)
    assert (first.token, first.rank, first.exact) == ("not", 1, True) and screened.exact.sum() == 3
    assert set(KNOWN_MODIFIERS) >= {"not", "very"}


def test_a_filler_in_the_slot_keeps_a_pending_modifier_from_shifting_every_baseline(toy):
    """Contexts that end in "not" or "very" (real prefixes with the modifier appended). The
    detection compares each candidate with a filler in its slot, so the probe sits at the same
    distance from the pending modifier in both runs: the fillers are no modifiers and "not"
    and "very" are what they are. False case: the baseline that leaves the slot out (the
    contexts' end states themselves), where every candidate moves the probe one token further
    from the pending modifier: all 12 fillers come out as modifiers and "very" is lost."""
    model, seqs, points, l1 = toy
    net = model.net.eval()
    ids = lambda ws: model.vocab.encode(list(ws))  # noqa: E731
    contexts = [np.append(c, ids([("not", "very")[i % 2]])) for i, c in
                enumerate(sample_contexts(seqs, 64, 3, min_len=1, max_len=4))]
    setup = probe_setup(net, context_states(net, contexts), ids(VALENCE), ids(FILLER), points, l1, settle=2)
    words = ["not", "very", *FILLER]
    kinds = {}
    left_out = dataclasses.replace(setup, baseline=setup.start)
    for name, run in (("filler in the slot", setup), ("slot left out", left_out)):
        effects = detect_modifiers(net, run, np.asarray(ids(words)))
        kinds[name] = {w: effects.kind[effects.row(model.vocab.index[w])] for w in words}
        print(name, kinds[name], effects.ratio_readout[:3].round(2))
    good = kinds["filler in the slot"]
    assert (good["not"], good["very"]) == ("negator", "intensifier") and all(good[w] == "none" for w in FILLER)
    bad = kinds["slot left out"]
    assert all(bad[w] != "none" for w in FILLER) and bad["very"] != "intensifier"


def test_the_baseline_is_one_filler_step_from_the_contexts(toy):
    model, seqs, points, l1 = toy
    net = model.net.eval()
    start = context_states(net, sample_contexts(seqs, 8, 0, min_len=1, max_len=4))
    fillers = model.vocab.encode(list(FILLER))
    setup = probe_setup(net, start, model.vocab.encode(list(VALENCE)), fillers, points, l1, seed=4)
    assert set(setup.slot.tolist()) <= set(fillers) and setup.slot.shape == (8,)
    assert setup.slot.tolist() == draw_fillers(fillers, 8, 1, seed=6)[:, 0].tolist()   # seed + 2
    with torch.no_grad():
        torch.testing.assert_close(setup.baseline, net.step(start, net.embedding(setup.slot)))
