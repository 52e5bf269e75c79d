"""Attractor verdicts on hand-built networks where the answer is known (true and false cases)."""
import numpy as np
import pytest
import torch

from rnnscope.analysis.attractors import (VerdictRule, attractor_verdict, extent, inner_extent, spread_sample,
                                 tolerance_half_width, tolerance_sweep, iterate_zero_input)
from rnnscope.analysis.fixed_points import find_fixed_points, q_values
from rnnscope.analysis.linearize import linearize
from rnnscope.analysis.model import RNNClassifier
from rnnscope.analysis.reference_models import (drifting_line, isolated_slow_point, line_attractor_linear,
                                       line_attractor_lstm, saddle_line, linear_rnn)
from rnnscope.analysis.slow_points import choose_point_set

TOL = 1e-8


def _verdict(net, points, rule=VerdictRule()):
    q = q_values(net, points)
    lin = linearize(net, points, n_modes=1)
    return attractor_verdict(net, points, q, lin.eigvals, tol=TOL, rule=rule), q


def test_extent_is_the_spread_along_the_first_axis():
    t = np.linspace(-2, 3, 11)
    pts = np.outer(t, [0.6, 0.8, 0.0]) + 1e-9 * np.random.default_rng(0).normal(size=(11, 3))
    assert extent(pts) == pytest.approx(5.0, abs=1e-6)
    assert extent(pts[:1]) == 0.0
    # two tight groups 10 apart: global extent 10, inner extent ~0, two groups
    pair = np.concatenate([np.zeros((5, 3)), np.full((5, 3), 10 / np.sqrt(3))])
    inner, n = inner_extent(pair + 1e-6 * np.random.default_rng(1).normal(size=pair.shape), 0.2)
    assert n == 2 and inner < 1e-4


def test_tolerance_half_width_formula():
    assert tolerance_half_width(1e-8, 256, 0.994) == pytest.approx(np.sqrt(1e-8 * 256) / 0.006)
    assert tolerance_half_width(1e-8, 4, 1.0) == np.inf


def test_isolated_stable_point_with_a_slow_mode_is_not_a_line():
    """(a) q < 1e-8 points spread along r1 of one stable point (|λ1| = 0.99): isolated."""
    lam1, D = 0.99, 4
    net = isolated_slow_point(lam1, D=D)
    hw = np.sqrt(TOL * D) / (1 - lam1)
    t = np.linspace(-0.95 * hw, 0.95 * hw, 41)
    pts = np.outer(t, np.eye(D)[0])
    v, q = _verdict(net, pts)
    assert np.all(q < TOL)                       # every point passes the fixed-point test ...
    assert extent(pts) == pytest.approx(1.9 * hw)  # ... and they look like a short line
    assert v.kind == "isolated" and v.n_attractors == 1
    assert v.extent_ratio < 1e-6
    assert v.tolerance_half_width == pytest.approx(hw)
    assert v.abs_lambda_slow == pytest.approx(lam1)
    assert v.tau_slow == pytest.approx(1 / abs(np.log(lam1)))
    assert not v.is_continuous
    assert "isolated" in v.text.lower() and "not a line attractor" in v.text


def test_isolated_point_end_to_end_from_the_finder():
    net = isolated_slow_point(0.99, D=4)
    seeds = np.random.default_rng(0).normal(size=(64, 4))
    fp = find_fixed_points(net, seeds, tol=TOL, polish_steps=0)
    assert fp.n_converged == 64
    v, _ = _verdict(net, fp.points)
    assert v.kind == "isolated" and v.n_attractors == 1


def test_exact_line_attractor_is_a_line_with_its_extent():
    """(b) a linear network with eigenvalue exactly 1 along u: a line of extent 6."""
    net, u = line_attractor_linear(D=5)
    pts = np.outer(np.linspace(-3, 3, 30), u)
    v, q = _verdict(net, pts)
    assert np.all(q < 1e-25)
    assert v.kind == "line" and v.is_continuous
    assert v.extent_initial == pytest.approx(6.0, abs=1e-9)
    assert v.extent_final == pytest.approx(6.0, abs=1e-6)
    assert v.extent_ratio == pytest.approx(1.0, abs=1e-6) and v.inner_ratio > 0.9
    assert v.fixed_fraction == 1.0
    assert v.text.startswith("Line attractor")


def test_curved_lstm_line_attractor_is_a_line():
    la = line_attractor_lstm()
    pts = np.stack([la.point(t) for t in np.linspace(-2, 2, 25)])
    v, _ = _verdict(la.net, pts)
    assert v.kind == "line"
    assert v.extent_ratio == pytest.approx(1.0, abs=1e-9)


def _bistable_vrnn(D=3):
    """Vanilla RNN s' = tanh(W s), W = diag(2, 0.5, 0.3): stable points at ±x* e_0 (x* = tanh(2 x*))."""
    net = RNNClassifier("vrnn", 6, 2, D).double()
    with torch.no_grad():
        for p in net.cell.parameters():
            p.zero_()
        net.cell.weight_hh_l0.copy_(torch.diag(torch.tensor([2.0, 0.5, 0.3], dtype=torch.float64)))
    x = 1.0
    for _ in range(200):
        x = np.tanh(2 * x)
    return net, x


def test_two_isolated_points_far_apart_are_not_a_line():
    """Global extent is kept (the distance between the points) but each group collapses."""
    net, x = _bistable_vrnn()
    pts = np.concatenate([np.outer(np.linspace(-1e-4, 1e-4, 9), np.eye(3)[1]) + s * x * np.eye(3)[0]
                          for s in (-1, 1)])
    v, q = _verdict(net, pts)
    assert np.all(q < TOL)
    assert v.extent_ratio > 0.99                 # the two ends stay apart ...
    assert v.kind == "isolated" and v.n_attractors == 2  # ... but nothing in between survives
    assert v.inner_ratio < 1e-6


def test_drifting_line_of_slow_points_is_a_slow_manifold_with_its_speed():
    """(c) no fixed point; slow points with a known constant drift speed: slow manifold."""
    speed, D = 1e-3, 3
    net = drifting_line(speed, D=D)
    seeds = np.random.default_rng(0).normal(size=(48, D)) * [5, 1, 1]
    fp = find_fixed_points(net, seeds, tol=TOL)
    assert fp.n_converged == 0
    ps = choose_point_set(fp, step=1.0, slow_q_max=1e-5)
    assert ps.n_fixed == 0 and ps.n_slow >= 10
    np.testing.assert_allclose(ps.speed, speed, rtol=1e-3)  # the solver stops near the valley floor
    np.testing.assert_allclose(ps.drift_tokens, 1.0 / speed, rtol=1e-3)
    np.testing.assert_allclose(ps.points[:, 1:], 0, atol=1e-3)  # they lie on the line
    lin = linearize(net, ps.points, n_modes=1)
    v = attractor_verdict(net, ps.points, ps.q, lin.eigvals, tol=TOL)
    assert v.kind == "slow" and v.fixed_fraction == 0.0
    assert v.extent_ratio == pytest.approx(1.0, abs=1e-6)
    assert v.displacement == pytest.approx(speed * v.n_steps, rel=1e-3)  # drifts, keeps its shape
    assert v.text.startswith("Slow manifold")


def test_saddle_line_is_unstable():
    net, u, _ = saddle_line(1.2)
    pts = np.outer(np.linspace(-2, 2, 20), u) + 1e-9 * np.random.default_rng(0).normal(size=(20, 3))
    v, _ = _verdict(net, pts)
    assert v.kind == "unstable" and v.unstable_fraction == 1.0


def test_slowly_expanding_line_is_unstable_not_a_line():
    """λ = 1.001 along u: every point t u moves out by 0.1% per token (x20 over 3000 steps)."""
    D = 3
    u = np.ones(D) / np.sqrt(D)
    U = np.linalg.qr(np.column_stack([u, np.eye(D)[:, :2]]))[0]
    U[:, 0] = u if U[:, 0] @ u > 0 else -u
    net = linear_rnn(U @ np.diag([1.001, 0.5, 0.3]) @ U.T)
    pts = np.outer(np.linspace(-1, 1, 11), u)
    v, _ = _verdict(net, pts)
    assert v.kind == "unstable" and v.extent_ratio == pytest.approx(1.001 ** 3000, rel=1e-6)
    assert "spreads them out" in v.text


def test_no_points_is_said():
    net = isolated_slow_point()
    v = attractor_verdict(net, np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4), complex), tol=TOL)
    assert v.kind == "none" and "No fixed or slow point" in v.text


def test_iterate_zero_input_matches_matrix_powers():
    A = np.array([[0.9, 0.1], [0.0, 0.5]])
    net = linear_rnn(A)
    pts = np.array([[1.0, 2.0], [-1.0, 0.5]])
    end, snaps = iterate_zero_input(net, pts, 30, record=(10,))
    np.testing.assert_allclose(snaps[10], pts @ np.linalg.matrix_power(A, 10).T, atol=1e-14)
    np.testing.assert_allclose(end, pts @ np.linalg.matrix_power(A, 30).T, atol=1e-14)


def test_spread_sample_keeps_the_extremes():
    pts = np.outer(np.random.default_rng(0).permutation(np.arange(100.0)), [1.0, 0.0])
    idx = spread_sample(pts, 10)
    assert len(idx) == 10 and {0.0, 99.0} <= set(pts[idx, 0])


def test_tolerance_sweep_counts_and_continuity():
    net, u = line_attractor_linear(D=4)
    pts = np.outer(np.linspace(-3, 3, 20), u)
    q = np.logspace(-12, -4, 20)  # pretend speeds: the sweep only reads them
    sample = np.arange(20)
    end, _ = iterate_zero_input(net, pts, 100)
    sw = tolerance_sweep(pts, q, end, sample, np.array([1e-13, 1e-8, 1e-3]))
    assert sw["n_points"].tolist() == [0, int(np.sum(q < 1e-8)), 20]
    assert sw["continuous"].tolist() == [False, True, True]
    assert sw["extent"][2] == pytest.approx(6.0)
