"""Modifier detection, the deflection's modes and the ablation, against known answers.

Hand-built networks first, whose answers are exact. The state is (h, n, m): h integrates
the valence input with a gain ``1 + g n``, n and m are two memories that the word "not"
writes (n' = λ_n n + z, m' = λ_m m + z) and that decay under every other token. Only n
modulates. g = −2 makes "not" a negator (the next word counts with the opposite sign),
g = +1 an intensifier, g = 0 nothing modulates. The readout is h. At the fixed points
(h, 0, 0) J_rec = diag(1, λ_n, λ_m): the integration mode is h, and whether the modulating
memory n is the slow mode or the fast one is set by λ_n and λ_m.

Then the GRU trained on the toy language (``models/toy/gru-toy.safetensors``).
"""
import functools
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rnnscope.analysis import checkpoint
from rnnscope.analysis import modifiers as mod
from rnnscope.analysis.class_geometry import slow_mode_counts
from rnnscope.analysis.fixed_points import find_fixed_points
from rnnscope.analysis.linearize import eigenmodes_at, linearize
from rnnscope.analysis.modifier_dynamics import ModifierSubspace, mode_masks, modifier_dynamics, modifier_subspace, \
    plane_cosines
from rnnscope.analysis.model import RNNClassifier
from rnnscope.analysis.slow_points import choose_point_set, typical_step
from rnnscope.analysis.states import collect_states, draw_seeds, untrained_like
from rnnscope.analysis.toy_language import FILLER, VALENCE, token_contributions, toy_split

WORDS = ["<pad>", "<unk>", "good", "bad", "not", "the", "a", "awesome"]
GOOD, BAD, NOT, THE, A, AWESOME = 2, 3, 4, 5, 6, 7
EMBED = [[0, 0], [0, 0], [1, 0], [-1, 0], [0, 1], [0, 0], [0, 0], [2, 0]]  # (valence, "not")


class MemoryCell(nn.Module):
    """h' = h + (1 + g n^p) v, n' = λ_n n + z, m' = λ_m m + z, for x = (v, z) (p = 1 unless
    ``power`` says otherwise)."""

    def __init__(self, gain: float, lam_n: float, lam_m: float, power: int = 1):
        super().__init__()
        self.gain, self.lam_n, self.lam_m, self.power = gain, lam_n, lam_m, power
        self.hidden_size = self.state_size = 3
        self.unused = nn.Parameter(torch.zeros(1))  # gives the cell a dtype and device

    def hidden(self, s):
        return s

    def step(self, s, x):
        h, n, m = s[:, :1], s[:, 1:2], s[:, 2:]
        v, z = x[:, :1], x[:, 1:]
        return torch.cat([h + (1 + self.gain * n ** self.power) * v, self.lam_n * n + z, self.lam_m * m + z], 1)

    def jacobians(self, s, x):
        one = lambda a, b: self.step(a[None], b[None])[0]  # noqa: E731
        return torch.func.vmap(torch.func.jacrev(one, argnums=(0, 1)))(s, x)


def memory_net(gain: float, lam_n: float = 0.0, lam_m: float = 0.0, power: int = 1) -> RNNClassifier:
    net = RNNClassifier("vrnn", len(WORDS), 2, 3)
    net.cell = MemoryCell(gain, lam_n, lam_m, power)
    with torch.no_grad():
        net.embedding.weight.copy_(torch.tensor(EMBED, dtype=torch.float32))
        net.readout.weight.copy_(torch.tensor([[1.0, 0.0, 0.0]]))
        net.readout.bias.zero_()
    return net.eval()


def memory_setup(net: RNNClassifier, settle: int = 5) -> mod.ProbeSetup:
    """40 contexts of random words other than "not" (so they end on the line n = m = 0),
    probes good/bad, fillers the/a, the line of fixed points (h, 0, 0), h in [-20, 20]."""
    rng = np.random.default_rng(0)
    docs = [rng.choice([GOOD, BAD, THE, A, AWESOME], 10) for _ in range(80)]
    contexts = mod.sample_contexts(docs, 40, seed=1)
    points = np.column_stack([np.linspace(-20, 20, 41), np.zeros(41), np.zeros(41)])
    modes = mod.point_integration_modes(net, points)
    return mod.probe_setup(net, mod.context_states(net, contexts), [GOOD, BAD], [THE, A], points, modes.left,
                           settle=settle)


def test_a_hand_built_negator_is_detected_with_its_exact_ratios():
    net = memory_net(gain=-2.0)
    setup = memory_setup(net)
    effects = mod.detect_modifiers(net, setup, [GOOD, BAD, NOT, THE, A, AWESOME])
    assert mod.strongest_words(net, setup, [THE, GOOD, BAD, AWESOME], n=2).tolist() == [AWESOME, BAD]
    row = effects.row(NOT)
    np.testing.assert_allclose(effects.ratio_readout[row], [-1, 1, 1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(effects.ratio_linear[row], [-1, 1, 1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(effects.ratio_positive[row], [-1, 1, 1, 1, 1], atol=1e-6)   # flips both
    np.testing.assert_allclose(effects.ratio_negative[row], [-1, 1, 1, 1, 1], atol=1e-6)
    assert effects.kind[row] == "negator" and effects.peak[row] == 1 and effects.reach[row] == 1
    assert effects.modifiers().tolist() == [row]
    others = [effects.row(w) for w in (GOOD, BAD, THE, A, AWESOME)]
    np.testing.assert_allclose(effects.ratio_readout[others], 1.0, atol=1e-6)
    np.testing.assert_allclose(effects.profile(NOT, GOOD), [-1, 1, 1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(effects.base_readout[:, 0], 1.0, atol=1e-6)  # one "good" = +1 logit
    assert effects.text(WORDS).startswith("1 modifier: not (negator, ratio -1.00 at 1, reach 1)")


def test_a_slow_memory_gives_a_decaying_negation_and_an_intensifier_scales():
    slow = memory_net(gain=-2.0, lam_n=0.9)
    effects = mod.detect_modifiers(slow, memory_setup(slow), [NOT, THE])
    expected = 1 - 2 * 0.9 ** np.arange(5)                            # [-1, -0.8, -0.62, ...]
    np.testing.assert_allclose(effects.ratio_readout[0], expected, atol=1e-5)
    assert effects.kind[0] == "negator" and effects.reach[0] == 5
    booster = memory_net(gain=1.0)
    effects = mod.detect_modifiers(booster, memory_setup(booster), [NOT, THE])
    np.testing.assert_allclose(effects.ratio_readout[0], [2, 1, 1, 1, 1], atol=1e-6)
    assert effects.kind.tolist() == ["intensifier", "none"]


class PositiveOnlyCell(MemoryCell):
    """h' = h + (1 + g n (1 + v) / 2) v: "not" modulates positive words (v = 1) only."""

    def step(self, s, x):
        h, n, m = s[:, :1], s[:, 1:2], s[:, 2:]
        v, z = x[:, :1], x[:, 1:]
        return torch.cat([h + (1 + self.gain * n * (1 + v) / 2) * v, self.lam_n * n + z, self.lam_m * m + z], 1)


def test_polarity_ratios_see_a_negator_of_positive_words_only():
    net = memory_net(gain=-2.0)
    net.cell = PositiveOnlyCell(-2.0, 0.0, 0.0)
    effects = mod.detect_modifiers(net, memory_setup(net), [NOT, THE])
    np.testing.assert_allclose(effects.ratio_positive[0], [-1, 1, 1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(effects.ratio_negative[0], 1.0, atol=1e-6)       # "not bad" still counts -1
    np.testing.assert_allclose(effects.ratio_readout[0], [0, 1, 1, 1, 1], atol=1e-6)   # pooled: an attenuator
    assert effects.kind[0] == "attenuator"


def test_a_network_without_modifiers_says_so():
    net = memory_net(gain=0.0)                                        # "not" still moves n and m
    effects = mod.detect_modifiers(net, memory_setup(net), [GOOD, BAD, NOT, THE, A, AWESOME])
    np.testing.assert_allclose(effects.ratio_readout, 1.0, atol=1e-6)
    np.testing.assert_allclose(effects.ratio_linear, 1.0, atol=1e-6)
    assert set(effects.kind) == {"none"} and effects.modifiers().size == 0
    assert effects.text(WORDS).startswith("No modifiers")


def test_screen_is_exact_for_a_gain_linear_in_the_deflection_and_blind_to_a_quadratic_one():
    words = [THE, A, GOOD, BAD, AWESOME, NOT]
    net = memory_net(gain=-2.0, lam_n=0.9)
    setup = memory_setup(net)
    screened = mod.screen_ratios(net, setup, words)
    np.testing.assert_allclose(screened[-1], 1 - 2 * 0.9 ** np.arange(5), atol=1e-5)   # first order is exact here
    np.testing.assert_allclose(screened[:-1], 1.0, atol=1e-6)
    effects = mod.detect_modifiers(net, setup, words, refine=1)      # screen all, measure the top 1 exactly
    assert effects.exact.tolist() == [False] * 5 + [True]
    assert effects.ranking()[0] == 5 and effects.kind.tolist() == ["none"] * 5 + ["negator"]
    assert np.isnan(effects.ratio_linear[:5]).all() and np.isnan(effects.effect_readout[:5]).all()
    np.testing.assert_allclose(effects.ratio_screen, screened)
    # False case: a gain 1 - 2 n^2 has no first-order term at n = 0, so the screen misses
    # "not" (ratio 1) although it flips the next word; only an exact measurement finds it.
    square = memory_net(gain=-2.0, power=2)
    setup = memory_setup(square)
    np.testing.assert_allclose(mod.screen_ratios(square, setup, words)[-1], 1.0, atol=1e-6)
    missed = mod.detect_modifiers(square, setup, words, refine=1)    # screen ties: the first word is measured
    assert missed.exact.tolist() == [True] + [False] * 5 and missed.kind[-1] == "none"
    found = mod.detect_modifiers(square, setup, words)
    np.testing.assert_allclose(found.ratio_readout[-1], [-1, 1, 1, 1, 1], atol=1e-6)
    assert found.exact.all() and np.isnan(found.ratio_screen).all()


@pytest.mark.parametrize("lam_n, lam_m, slow_left, fastest_left", [
    (0.9, 0.0, 0.0, 1.0),    # the modulating memory is the slow mode: removing it removes the effect
    (0.0, 0.9, 1.0, 0.0),    # it is the fast mode: removing the slow mode changes nothing
])
def test_ablation_removes_the_effect_only_along_the_modes_that_carry_it(lam_n, lam_m, slow_left, fastest_left):
    net = memory_net(gain=-2.0, lam_n=lam_n, lam_m=lam_m)
    dyn = modifier_dynamics(net, memory_setup(net), NOT, n_modes=1)
    assert dyn.remaining_readout["slow"] == pytest.approx(slow_left, abs=1e-6)
    assert dyn.remaining_readout["fastest"] == pytest.approx(fastest_left, abs=1e-6)
    assert dyn.remaining_linear["slow"] == pytest.approx(slow_left, abs=1e-6)
    # the modifier subspace of "not" alone is the line of d_0 = (0, 1, 1): removing it removes all
    assert dyn.subspace_dim == 1 and dyn.remaining_readout["subspace"] == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(dyn.deflection_norm, math.sqrt(2))  # d_0 = (0, 1, 1)
    np.testing.assert_allclose(dyn.abs_eigvals[0], [1.0, 0.9, 0.0], atol=1e-9)
    np.testing.assert_allclose(dyn.cosines[0], [0, 1 / math.sqrt(2), 1 / math.sqrt(2)], atol=1e-9)
    np.testing.assert_allclose(dyn.parts["integration"], 0.0, atol=1e-9)
    np.testing.assert_allclose(dyn.parts["slow"], 1 / math.sqrt(2), atol=1e-9)
    # transient (0, λ_n^t, λ_m^t) / √2 falls below 1/e when 0.9^t <= √2 / e: after 7 tokens
    assert dyn.decay_tokens == 7
    np.testing.assert_allclose(dyn.decay_curve[:3], 0.9 ** np.arange(3) / math.sqrt(2) * [math.sqrt(2), 1, 1],
                               atol=1e-6)


def test_the_modifier_subspace_is_the_span_of_the_deflections_and_removing_it_removes_their_effect():
    net = memory_net(gain=-2.0, lam_n=0.9)
    setup = memory_setup(net)
    sub = modifier_subspace(net, setup, [NOT])
    assert sub.dim == 1 and sub.shares[0] == pytest.approx(1.0)
    np.testing.assert_allclose(np.abs(sub.basis[:, 0]), [0, 1 / math.sqrt(2), 1 / math.sqrt(2)], atol=1e-7)
    # False case: the valence words' deflections lie along the integration line (h, 0, 0),
    # orthogonal to d_0 of "not": a subspace built from them keeps all of the modification.
    valence = modifier_subspace(net, setup, [GOOD, BAD])
    assert valence.dim == 1 and abs(valence.basis[0, 0]) == pytest.approx(1.0)
    dyn = modifier_dynamics(net, setup, NOT, n_modes=1, subspace=valence)
    assert dyn.remaining_readout["subspace"] == pytest.approx(1.0, abs=1e-6)
    assert modifier_subspace(net, setup, [THE]).dim == 0  # a word that does not move the state spans nothing


def test_mode_sets_close_complex_pairs_and_cosines_see_planes():
    eig = np.array([1.0, 0.8 + 0.3j, 0.8 - 0.3j, 0.5, 0.1])
    masks = mode_masks(eig, integration=0, n_modes=1)
    assert masks["integration"].tolist() == [True, False, False, False, False]
    assert masks["slow"].tolist() == [False, True, True, False, False]     # the pair, both members
    assert masks["fast"].tolist() == [False, False, False, True, True]
    assert masks["fastest"].tolist() == [False, False, False, False, True]
    r = np.zeros((3, 2), complex)
    r[:, 0] = [1, 1j, 0] / np.sqrt(2)                                       # plane e1, e2
    r[:, 1] = [0, 0, 1]
    cos = plane_cosines(r, np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]))
    np.testing.assert_allclose(cos, [[1, 0], [1 / math.sqrt(2), 1 / math.sqrt(2)]], atol=1e-12)


def test_inputs_frequency_filter_contexts_and_fillers():
    seqs = [np.array([2, 3, 3, 4]), np.array([3, 5, 0, 1]), np.array([3, 5])]
    assert mod.frequent_words(seqs, min_count=2).tolist() == [3, 5]      # no <pad>, <unk>
    assert mod.frequent_words(seqs, min_count=1, max_words=3).tolist() == [3, 5, 2]  # ties by id
    contexts = mod.sample_contexts(seqs, 50, seed=0, min_len=2)
    assert all(2 <= len(c) and any(np.array_equal(c, s[: len(c)]) for s in seqs) for c in contexts)
    assert [c.tolist() for c in contexts] == [c.tolist() for c in mod.sample_contexts(seqs, 50, seed=0, min_len=2)]
    fill = mod.draw_fillers([5, 6], 4, 3, seed=0)
    assert fill.shape == (4, 3) and set(fill.ravel()) <= {5, 6}
    ratio = np.array([[-1.0, -0.9, 1.0], [1.05, 1.1, 0.9], [0.5, 1.0, 1.0], [np.nan] * 3])
    kind, peak, strength, reach = mod.classify(ratio, 0.25)
    assert kind.tolist() == ["negator", "none", "attenuator", "none"]
    assert peak[:3].tolist() == [1, 2, 1] and reach.tolist() == [2, 0, 1, 0]
    assert np.isnan(strength[3])


# --------------------------------------------------------------------------- the toy GRUs
TOY_DIR = Path(__file__).resolve().parents[2] / "models" / "toy"
#: The issue's claims are asserted on both: the 64-unit GRU the other modifier tests read,
#: and the 100-unit one the issue names (``models/toy/README.md``: its seed sweep).
TOY_MODELS = {"gru64": TOY_DIR / "gru-toy.safetensors", "gru100": TOY_DIR / "gru100-toy.safetensors"}


@functools.cache
def _toy(name: str) -> dict:
    """One toy GRU's analysis, computed once per test session (the fixtures share it).
    One torch thread: on a shared 2-core machine two threads made the fixed-point search
    1.5-5 times slower (10 s with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _toy_analysis(TOY_MODELS[name])
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=sorted(TOY_MODELS))
def any_toy(request):
    """Each toy GRU in turn (the issue's claims hold for both)."""
    return _toy(request.param)


@pytest.fixture(scope="module")
def toy():
    """The 64-unit toy GRU (what is asserted as measured on it alone)."""
    return _toy("gru64")


@pytest.fixture(scope="module")
def toy100():
    """The 100-unit toy GRU (what is asserted as measured on it alone)."""
    return _toy("gru100")


def _toy_analysis(path: Path) -> dict:
    """A toy GRU, its fixed points (48 seeds from the states of 300 held-out documents),
    their integration modes, and the probe setup: 80 real contexts at the attractor's centre
    (prefixes of held-out documents whose exact sum is 0 and that end in no modifier),
    probes good/bad/awesome/awful, filler words between and after (10 settling tokens)."""
    t0 = time.perf_counter()
    model = checkpoint.load(path)
    net = model.net.eval()
    seqs = [model.encode(t) for t in toy_split(300, seed=99).texts]
    visited = collect_states(net, seqs)
    fp = find_fixed_points(net, draw_seeds(visited, 48, 0), tol=1e-8)
    points = choose_point_set(fp, typical_step(visited.states, visited.previous())).points
    modes = mod.point_integration_modes(net, points)
    words = lambda c: model.vocab.decode(c)  # noqa: E731
    contexts = [c for c in mod.sample_contexts(seqs, 2000, seed=1)
                if token_contributions(words(c)).sum() == 0 and not {"not", "very"} & set(words(c)[-4:])][:80]
    ids = lambda ws: model.vocab.encode(list(ws))  # noqa: E731
    setup = mod.probe_setup(net, mod.context_states(net, contexts), ids(VALENCE), ids(FILLER), points,
                            modes.left, settle=10)
    effects = mod.detect_modifiers(net, setup, np.arange(2, len(model.vocab)))
    print(f"{path.name}: {len(points)} points, {len(contexts)} contexts, {time.perf_counter() - t0:.1f} s")
    return dict(model=model, net=net, points=points, modes=modes, setup=setup, effects=effects,
                id={w: int(model.vocab.index[w]) for w in model.vocab.tokens[2:]})


def test_toy_gru_integrates_along_a_slow_mode_the_readout_sees(any_toy):
    net, modes = any_toy["net"], any_toy["modes"]
    lam = np.abs(modes.eigval)
    print("integration |λ| median", np.median(lam), "visibility median", np.median(modes.visibility))
    assert np.median(lam) == pytest.approx(1.0, abs=0.01)
    assert np.median(modes.visibility) > 1 / math.sqrt(net.state_size)  # above chance for a random direction
    # False case: the same GRU untrained has no slow mode at its fixed point.
    fresh = untrained_like(net, seed=0)
    fixed = find_fixed_points(fresh, np.zeros((1, net.state_size), np.float32), tol=1e-8).points
    assert np.abs(eigenmodes_at(fresh, fixed[0]).eigvals[0]) < 0.9


def test_toy_gru_finds_not_as_negator_and_very_as_intensifier(any_toy):
    effects, id_ = any_toy["effects"], any_toy["id"]
    model = any_toy["model"]
    print(effects.text(model.vocab.tokens))
    for r in effects.ranking():
        print(model.vocab.tokens[effects.word_ids[r]], effects.kind[r], effects.ratio_readout[r].round(2),
              effects.ratio_linear[r].round(2))
    no, very = effects.row(id_["not"]), effects.row(id_["very"])
    assert effects.kind[no] == "negator" and effects.reach[no] == 4       # the language's span
    assert np.all(effects.ratio_readout[no, :4] < -0.7) and effects.ratio_readout[no, 4] == pytest.approx(1, abs=0.2)
    assert effects.kind[very] == "intensifier" and effects.peak[very] == 1 and effects.reach[very] == 1
    assert effects.ratio_readout[very, 0] > 1.3 and effects.ratio_linear[very, 0] > 1.5
    np.testing.assert_allclose(effects.ratio_readout[very, 1:], 1, atol=0.1)
    assert effects.modifiers()[:2].tolist() == [no, very] or effects.modifiers()[:2].tolist() == [very, no]
    fillers = [effects.row(id_[w]) for w in FILLER]
    assert set(effects.kind[fillers]) == {"none"}
    np.testing.assert_allclose(effects.ratio_readout[fillers], 1, atol=0.2)


def test_toy_gru64_linearized_measure_sees_the_negation(toy):
    """On the 64-unit GRU the paper's linearized measure ℓ1ᵀ J_inp x agrees in sign with the
    readout at every distance of the negation window."""
    no = toy["effects"].row(toy["id"]["not"])
    print("linearized ratio of 'not':", toy["effects"].ratio_linear[no].round(2))
    assert np.all(toy["effects"].ratio_linear[no, :4] < 0)


def test_toy_gru100_linearized_measure_misses_part_of_the_negation(toy100, toy):
    """On the 100-unit GRU it does not, and the spectrum says why: about a third of its modes
    lie within 1% of |λ| = 1 at the median point, so ℓ1 is one eigenvector out of a large,
    nearly degenerate slow subspace and the increment along it is not the readout's. The
    readout measure (the previous test) is the one the ranking uses; this records that the
    linearized column must not be read alone on such a network. False case for the
    spectrum: the 64-unit GRU has far fewer modes that slow."""
    no = toy100["effects"].row(toy100["id"]["not"])
    linear = toy100["effects"].ratio_linear[no, :4]
    print("linearized ratio of 'not':", linear.round(2))
    assert not np.all(linear < 0) and np.all(toy100["effects"].ratio_readout[no, :4] < -0.7)
    slow = {name: np.median(slow_mode_counts(linearize(t["net"], t["points"], n_modes=t["net"].state_size).eigvals))
            for name, t in (("gru100", toy100), ("gru64", toy))}
    print("modes within 1% of 1, median over the points:", slow)
    assert slow["gru100"] >= 0.25 * toy100["net"].state_size > slow["gru64"]


def test_toy_gru_counts_good_as_one_and_against_after_not(any_toy):
    effects, id_ = any_toy["effects"], any_toy["id"]
    base = effects.base_readout.mean(0)                                   # (P,) good, bad, awesome, awful
    in_good = base / base[0]
    print("effects in units of one 'good':", in_good.round(2), "(language: 1, -1, 2, -2)")
    np.testing.assert_allclose(in_good, [1, -1, 2, -2], atol=0.45)
    after_not = effects.profile(id_["not"], id_["good"])
    print("'good' k tokens after 'not':", after_not.round(2))
    np.testing.assert_allclose(after_not[:4], -1, atol=0.5)               # flipped within 4 tokens
    assert after_not[4] == pytest.approx(1, abs=0.3)                      # and counted again at 5
    after_the = effects.profile(id_["the"], id_["good"])                  # false case: a filler flips nothing
    np.testing.assert_allclose(after_the, 1, atol=0.2)


def test_toy_gru_not_lives_in_fast_modes_not_in_the_top_modes(any_toy):
    """The issue expects that removing the modifier's deflection along the top (slowest)
    modes removes most of its effect. On neither GRU does it: "not" must flip exactly the
    next 4 tokens, and the networks hold that window in fast, non-normal modes (a shift
    register) while their top modes are slow memories the deflection hardly touches. What
    does remove it is keeping the state out of the modifier subspace (the next test)."""
    net, setup, id_ = any_toy["net"], any_toy["setup"], any_toy["id"]
    dyn = modifier_dynamics(net, setup, id_["not"], n_modes=3)
    summary = dyn.summary()
    print("not:", summary)
    assert summary["parts"]["slow"] < 0.3 < summary["parts"]["fast"]
    assert dyn.remaining_readout["slow"] > 0.8                             # top-mode ablation leaves it


def test_toy_gru64_not_fades_through_its_fastest_modes(toy):
    """On the 64-unit GRU the three fastest modes carry much of the negation, and its trace
    outlasts the 4-token window by a few tokens (the 100-unit GRU spreads it wider: its
    fastest three carry little, and the trace takes 12 tokens to fall to 1/e)."""
    dyn = modifier_dynamics(toy["net"], toy["setup"], toy["id"]["not"], n_modes=3)
    print("not: fastest modes removed leave", dyn.remaining_readout["fastest"], "; 1/e after", dyn.decay_tokens)
    assert dyn.remaining_readout["fastest"] < 0.7
    assert 4 <= dyn.decay_tokens <= 10


def test_toy_gru_keeping_the_state_out_of_the_modifier_subspace_removes_the_modification(any_toy):
    """The paper's ablation: the deflections of the modifiers ("not", "very") span a
    low-dimensional subspace; keeping the state out of it removes most of what each does to
    the next words. False cases: the top directions of the filler words' deflections, and a
    random subspace, each of the same dimension, leave the modification in place."""
    net, setup, id_ = any_toy["net"], any_toy["setup"], any_toy["id"]
    sub = modifier_subspace(net, setup, [id_["not"], id_["very"]])
    print("modifier subspace:", sub.summary())
    assert 1 <= sub.dim <= 4 and sub.shares[: sub.dim].sum() >= 0.9
    spanned = modifier_subspace(net, setup, [id_[w] for w in FILLER])  # their top directions, as many
    fillers = ModifierSubspace(spanned.basis[:, : sub.dim], spanned.shares, spanned.word_ids)
    basis = np.linalg.qr(np.random.default_rng(0).standard_normal((net.state_size, sub.dim)))[0]
    random = ModifierSubspace(basis, np.zeros(0), np.zeros(0, np.int64))
    for word in ("not", "very"):
        left = {name: modifier_dynamics(net, setup, id_[word], n_modes=3, subspace=s).remaining_readout["subspace"]
                for name, s in (("modifiers", sub), ("fillers", fillers), ("random", random))}
        print(word, "left after removing each subspace:", left)
        assert left["modifiers"] < 0.15
        assert left["fillers"] > 0.8 and left["random"] > 0.8
