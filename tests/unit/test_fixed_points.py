"""Fixed-point finder: known answers on hand-built networks, q recomputed independently."""
import doctest

import numpy as np
import pytest
import torch

import rnnscope.analysis.fixed_points as fp_module
from rnnscope.analysis.cells import ARCHS
from rnnscope.analysis.fixed_points import FixedPointFinder, adam_fixed_points, find_fixed_points, q_values
from rnnscope.analysis.krylov import gmres
from rnnscope.analysis.reference_models import (LinearCell, drifting_line, identity_rnn, line_attractor_linear, line_attractor_lstm,
                                       linear_rnn, random_linear_rnn, trained_like_net)

TOL = 1e-8
METHODS = ("newton-krylov", "newton")


def independent_q(net, states, x=None) -> np.ndarray:
    """q = |s - F(s, x)|² / D straight from the definition, on a float64 copy of the net."""
    net64 = _double(net)
    s = torch.as_tensor(np.asarray(states), dtype=torch.float64)
    xs = torch.zeros(len(s), net.embed_dim, dtype=torch.float64) if x is None else \
        torch.as_tensor(np.asarray(x), dtype=torch.float64).expand(len(s), -1)
    with torch.no_grad():
        diff = (s - net64.step(s, xs)).numpy()
    return (diff ** 2).sum(1) / net.state_size


def _double(net):
    import copy
    return copy.deepcopy(net).double()


def visited_states(net, n_docs=24, length=12, seed=0) -> np.ndarray:
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(2, net.embedding.num_embeddings, (n_docs, length), generator=gen)
    return net.run(tokens).reshape(-1, net.state_size).numpy()


@pytest.mark.parametrize("method", METHODS)
def test_linear_rnn_has_one_fixed_point_at_zero(method):
    net = random_linear_rnn(6, 2, seed=1)
    seeds = np.random.default_rng(0).normal(scale=2.0, size=(25, 6))
    res = find_fixed_points(net, seeds, method=method)
    assert res.n_seeds == 25 and res.n_converged == 25 and res.seed_converged.all()
    assert res.n_unique == 1 and res.points.shape == (1, 6)
    np.testing.assert_allclose(res.points[0], 0.0, atol=1e-4)  # q < 1e-8 means |s| ~ 1e-4 at most
    assert (res.seed_unique_index == 0).all()
    np.testing.assert_allclose(res.seed_q, independent_q(net, res.seed_points), rtol=1e-9, atol=1e-18)
    assert (independent_q(net, res.points) < TOL).all()


def test_linear_rnn_with_input_converges_to_known_point():
    A = np.array([[0.5, 0.2, 0.0], [-0.1, 0.3, 0.1], [0.0, 0.4, -0.2]])
    B = np.array([[1.0, 0.0], [0.5, -1.0], [0.0, 2.0]])
    x = np.array([0.3, -0.7])
    net = linear_rnn(A, B)
    expected = np.linalg.solve(np.eye(3) - A, B @ x)  # s* = A s* + B x
    res = find_fixed_points(net, np.random.default_rng(1).normal(size=(8, 3)), x=x, tol=1e-14)
    assert res.n_unique == 1
    np.testing.assert_allclose(res.points[0], expected, atol=1e-6)
    np.testing.assert_allclose(res.x, x)
    assert (independent_q(net, res.seed_points, x) < 1e-14).all()


def test_q_values_is_the_definition():
    net = random_linear_rnn(5, 2, seed=3)
    A = net.cell.weight_hh.detach().numpy()
    s = np.random.default_rng(2).normal(size=(7, 5))
    np.testing.assert_allclose(q_values(net, s), ((s - s @ A.T) ** 2).mean(1), rtol=1e-12)
    x = np.array([1.0, -2.0])
    Bx = net.cell.weight_ih.detach().numpy() @ x
    np.testing.assert_allclose(q_values(net, s, x), ((s - s @ A.T - Bx) ** 2).mean(1), rtol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_identity_recurrence_nothing_moves(method):
    net = identity_rnn(D=4, E=2)
    seeds = np.random.default_rng(0).normal(size=(12, 4))
    res = find_fixed_points(net, seeds, method=method)
    assert np.array_equal(res.seed_points, seeds)
    assert (res.seed_q == 0).all() and (res.seed_iters == 0).all() and (res.seed_relax_steps == 0).all()
    assert res.n_unique == 12  # every seed is its own fixed point
    np.testing.assert_array_equal(np.sort(res.seed_unique_index), np.arange(12))


def test_duplicate_seeds_give_one_point():
    net = trained_like_net("gru", hidden=10)
    base = visited_states(net)[5]
    seeds = base + np.random.default_rng(0).normal(scale=1e-7, size=(6, 10))
    res = find_fixed_points(net, seeds)
    assert res.n_converged == 6 and res.n_unique == 1
    assert (res.seed_unique_index == 0).all()


def test_unique_tol_merges_or_separates():
    net = identity_rnn(D=3)
    seeds = np.array([[0.0, 0, 0], [5e-4, 0, 0], [0.1, 0, 0], [0.1, 2e-4, 0]])
    res = find_fixed_points(net, seeds, unique_tol=1e-3)
    assert res.n_unique == 2
    assert res.seed_unique_index[0] == res.seed_unique_index[1] != res.seed_unique_index[2]
    assert res.seed_unique_index[2] == res.seed_unique_index[3]
    assert find_fixed_points(net, seeds, unique_tol=1e-5).n_unique == 4


@pytest.mark.parametrize("method", METHODS)
def test_lstm_line_attractor_points_lie_on_the_curve(method):
    la = line_attractor_lstm()
    rng = np.random.default_rng(0)
    t = np.linspace(-2.5, 2.5, 30)
    seeds = np.stack([la.point(ti) for ti in t]) + rng.normal(scale=0.05, size=(30, 4))
    res = find_fixed_points(la.net, seeds, method=method)
    assert res.n_converged == 30
    assert la.on_curve(res.points).max() < 1e-3
    assert res.n_unique >= 25  # a continuum: seeds stay spread along the line
    assert np.ptp(res.points[:, 2]) > 4.0  # c0 = t covers the range of the seeds
    assert (independent_q(la.net, res.points) < TOL).all()


@pytest.mark.parametrize("method", METHODS)
def test_linear_line_attractor_with_singular_jacobian(method):
    net, u = line_attractor_linear(D=4)
    seeds = np.random.default_rng(4).normal(size=(15, 4))
    res = find_fixed_points(net, seeds, method=method, relax_steps=0)  # Newton on an exactly singular I - A
    assert res.n_converged == 15
    off_line = res.points - np.outer(res.points @ u, u)
    assert np.linalg.norm(off_line, axis=1).max() < 1e-3


@pytest.mark.parametrize("anderson", [0, 5])
@pytest.mark.parametrize("arch", ARCHS)
def test_converged_points_have_q_below_tol_for_every_cell(arch, anderson):
    net = trained_like_net(arch, hidden=12)
    states = visited_states(net)
    seeds = states[np.random.default_rng(1).choice(len(states), 48, replace=False)]
    res = find_fixed_points(net, seeds, anderson=anderson)
    q = independent_q(net, res.seed_points)
    assert res.n_converged >= 45
    assert (q[res.seed_converged] < TOL).all()
    assert (res.seed_converged == (q < TOL)).all()
    np.testing.assert_allclose(res.q, independent_q(net, res.points), rtol=1e-9, atol=1e-18)
    np.testing.assert_allclose(res.seed_q, q, rtol=1e-9, atol=1e-18)
    assert res.points.shape == (res.n_unique, net.state_size) and res.n_unique >= 1
    kept = res.seed_unique_index >= 0
    np.testing.assert_allclose(res.points[res.seed_unique_index[kept]], res.seed_points[kept], atol=1e-3)


@pytest.mark.parametrize("arch", ["gru", "lstm"])
def test_finder_converges_from_visited_states_without_relaxation(arch):
    """Newton alone (both linear solvers) converges from raw visited states."""
    net = trained_like_net(arch, hidden=12)
    seeds = visited_states(net, seed=2)[:40]
    for method in METHODS:
        res = find_fixed_points(net, seeds, method=method, relax_steps=0)
        assert res.n_converged >= 38, (method, res.seed_status)
        assert (res.seed_iters[res.seed_converged] > 0).any()


def test_slow_point_is_reported_as_stalled_not_converged():
    """A network whose visited states sit near a minimum of q above tol (a slow point):
    without the second relaxation, seeds end there, reported as stalled, with q at the
    minimum, like the reference's, and a vanishing gradient ratio (a local minimum of q)."""
    net = trained_like_net("lstm", hidden=12, seed=3)
    seeds = visited_states(net, seed=2)[:12]
    res = find_fixed_points(net, seeds, retry_relax_steps=0)
    stalled = res.seed_status == "stalled"
    assert stalled.sum() >= 10 and not res.seed_converged[stalled].any()
    np.testing.assert_allclose(res.seed_q[stalled], 8.04e-5, rtol=1e-2)  # the slow point's q
    assert (res.seed_q[stalled] < q_values(net, seeds)[stalled]).all()
    assert (res.seed_grad_ratio[stalled] < 1e-6).all()


def test_relaxation_after_a_stall_reaches_the_attractor_past_the_slow_point():
    """The same seeds: the long plain relaxation after Newton's stall carries them past the
    slow point (hundreds of steps, far more than the first relaxation takes) to a stable
    fixed point, where Newton converges; the gradient ratio there is not small."""
    net = trained_like_net("lstm", hidden=12, seed=3)
    seeds = visited_states(net, seed=2)[:12]
    res = find_fixed_points(net, seeds)
    assert res.seed_converged.all() and (res.seed_status == "converged").all()
    assert (independent_q(net, res.seed_points) < TOL).all()
    assert (res.seed_relax_steps > 100).all()
    # a stable point: iterating the dynamics from it stays there
    s = torch.as_tensor(res.points)
    with torch.no_grad():
        for _ in range(200):
            s = _double(net).step(s, torch.zeros(len(s), net.embed_dim, dtype=torch.float64))
    np.testing.assert_allclose(s.numpy(), res.points, atol=1e-3)
    assert (res.seed_grad_ratio > 1e-3).all()


def test_line_of_slow_points_is_stalled_with_tiny_grad_ratio():
    """drifting_line: no fixed point; q >= speed²/D everywhere with equality (and zero
    gradient) on the line {t e_0}. Every seed must end on it, ``stalled``, ratio ~0."""
    speed, D = 1e-3, 3
    net = drifting_line(speed, D=D)
    seeds = np.random.default_rng(0).normal(size=(10, D))
    res = find_fixed_points(net, seeds)
    assert res.n_converged == 0 and (res.seed_status == "stalled").all()
    # float32 rounding of F(s) − s far along the line: 1.1e-3 relative on one seed of this CPU
    # (3.3297e-7 against 3.3333e-7), 1e-4 on another; off the line q is larger by orders
    np.testing.assert_allclose(res.seed_q, speed ** 2 / D, rtol=5e-3)
    assert (res.seed_grad_ratio < 1e-6).all()


def test_grad_ratio_is_the_definition_and_zero_at_an_exact_root():
    """For F(s) = A s the ratio is |(I - A)ᵀ (I - A) s| / |(I - A) s|; 0 where G = 0."""
    net = random_linear_rnn(5, 2, seed=4)
    A = net.cell.weight_hh.detach().numpy()
    M = np.eye(5) - A
    s = np.random.default_rng(3).normal(size=(6, 5))
    s[0] = 0.0  # the root: G = 0
    G = s @ M.T
    expected = np.linalg.norm(G @ M, axis=1) / np.maximum(np.linalg.norm(G, axis=1), 1e-300)
    expected[0] = 0.0
    np.testing.assert_allclose(fp_module.grad_ratios(net, s), expected, rtol=1e-10, atol=1e-300)
    res = find_fixed_points(net, s)
    assert res.seed_converged.all() and res.seed_grad_ratio.shape == (6,)
    # converged points of a nonsingular map: the ratio is G's image under Mᵀ, at least σ_min
    smin = np.linalg.svd(M, compute_uv=False).min()
    r = res.seed_grad_ratio
    assert ((r == 0) | (r >= smin * (1 - 1e-6))).all()
    np.testing.assert_allclose(adam_fixed_points(net, s[:2], max_iter=5).seed_grad_ratio.shape, (2,))


def test_statuses_say_why_a_seed_stopped():
    """max_iter when the budget runs out while q still falls; nonfinite for NaN seeds."""
    net = trained_like_net("gru", hidden=8, seed=1)
    seeds = visited_states(net)[:6] * 3.0
    res = find_fixed_points(net, np.vstack([seeds, np.full((1, 8), np.nan)]), max_iter=1, relax_steps=0,
                            retry_relax_steps=0, lm_iter=1, tol=1e-30, polish_steps=0)
    assert res.seed_status[-1] == "nonfinite"
    assert set(res.seed_status[:-1]) <= {"max_iter"}
    assert np.isfinite(res.seed_grad_ratio[:-1]).all()


def test_lm_window_stop_rule_stalls_only_on_a_plateau():
    """LM alone on the drifting line: q reaches its floor speed²/D, then the window sees no
    progress and the seed is stalled well before a large budget is spent."""
    net = drifting_line(1e-3, D=3)
    seeds = np.random.default_rng(1).normal(size=(4, 3))
    res = find_fixed_points(net, seeds, max_iter=0, relax_steps=0, retry_relax_steps=0, lm_iter=1000,
                            lm_window=10)
    assert (res.seed_status == "stalled").all()
    assert (res.seed_iters < 1000).all()


def test_float32_network_and_tensor_seeds():
    net = trained_like_net("lstm", hidden=8, dtype=torch.float32)
    seeds = torch.as_tensor(visited_states(net)[:20])
    res = find_fixed_points(net, seeds)
    assert res.points.dtype == np.float64 and res.n_converged == 20
    assert next(net.parameters()).dtype == torch.float32  # the net is untouched


def test_far_away_fixed_point_is_an_outlier():
    A = np.diag([0.5, 0.5])
    net = linear_rnn(A)
    net.cell.bias.data[:] = torch.tensor([50.0, 0.0], dtype=torch.float64)  # s* = (100, 0)
    seeds = np.random.default_rng(0).normal(scale=0.1, size=(10, 2))
    res = find_fixed_points(net, seeds)
    assert res.n_converged == 10 and res.n_outliers == 10 and res.n_unique == 0
    assert res.seed_outlier.all() and (res.seed_unique_index == -1).all()
    kept = find_fixed_points(net, seeds, outlier_threshold=None)
    assert kept.n_unique == 1
    np.testing.assert_allclose(kept.points[0], [100.0, 0.0], atol=1e-3)


def test_nonfinite_seed_is_reported_not_fatal():
    net = random_linear_rnn(3, 1, seed=0)
    seeds = np.array([[1.0, 0.0, 0.0], [np.nan, 0.0, 0.0], [0.0, 2.0, 1.0]])
    res = find_fixed_points(net, seeds)
    assert list(res.seed_converged) == [True, False, True]
    assert res.seed_status[1] == "nonfinite" and res.seed_unique_index[1] == -1
    assert res.n_unique == 1


def test_divergent_map_is_not_converged():
    """F(s) = 2 s + 1 has its only fixed point at -1: seeds get there or are reported."""
    net = linear_rnn(np.diag([2.0, 2.0]))
    net.cell.bias.data[:] = 1.0
    res = find_fixed_points(net, np.random.default_rng(0).normal(size=(5, 2)), outlier_threshold=None)
    assert res.n_converged == 5  # Newton does not care about stability
    np.testing.assert_allclose(res.points, [[-1.0, -1.0]], atol=1e-4)


def test_progress_reports_fractions():
    net = trained_like_net("gru", hidden=8)
    seen = []
    find_fixed_points(net, visited_states(net)[:30], progress=lambda f, m: seen.append((f, m)))
    assert seen and all(0.0 <= f <= 1.0 for f, _ in seen)
    assert seen[-1][0] == 1.0
    assert all(isinstance(m, str) for _, m in seen)


def test_adam_reference_finds_the_linear_fixed_point():
    net = linear_rnn(np.diag([0.5, -0.3, 0.2]))
    seeds = np.random.default_rng(0).normal(size=(6, 3))
    res = adam_fixed_points(net, seeds, max_iter=3000)
    assert res.method == "adam" and res.n_converged == 6 and res.n_unique == 1
    np.testing.assert_allclose(res.points[0], 0.0, atol=1e-3)
    assert (res.seed_relax_steps == 0).all() and (res.seed_iters < res.stats["adam_iters"] + 1).all()
    same = find_fixed_points(net, seeds, method="adam", max_iter=3000)
    np.testing.assert_array_equal(same.seed_points, res.seed_points)


def test_fixed_point_finder_estimator():
    net = trained_like_net("ugrnn", hidden=8)
    seeds = visited_states(net)[:20]
    finder = FixedPointFinder(tol=1e-9, unique_tol=1e-3)
    assert finder.get_params()["tol"] == 1e-9 and not hasattr(finder, "fixed_points_")
    assert finder.fit(net, seeds) is finder
    K = finder.fixed_points_.shape[0]
    assert finder.fixed_points_.shape == (K, 8) and finder.q_.shape == (K,) and K >= 1
    assert finder.n_iter_.shape == (20,) and finder.converged_.shape == (20,)
    assert (finder.q_ < 1e-9).all() and finder.converged_.sum() == finder.result_.n_converged
    same = find_fixed_points(net, seeds, tol=1e-9)
    np.testing.assert_array_equal(same.points, finder.fixed_points_)  # deterministic


def test_bad_arguments():
    net = identity_rnn()
    with pytest.raises(ValueError, match="method"):
        find_fixed_points(net, np.zeros((1, 4)), method="bfgs")
    with pytest.raises(ValueError, match="input size"):
        find_fixed_points(net, np.zeros((1, 4)), x=np.zeros(5))
    with pytest.raises(ValueError, match="precision"):
        find_fixed_points(net, np.zeros((1, 4)), precision="half")


def test_empty_seed_set():
    res = find_fixed_points(identity_rnn(), np.zeros((0, 4)))
    assert res.n_seeds == 0 and res.points.shape == (0, 4) and res.n_unique == 0


def test_gmres_solves_batched_systems():
    rng = np.random.default_rng(0)
    A = torch.as_tensor(rng.normal(size=(5, 30, 30)) / 30 ** 0.5 + 2 * np.eye(30))
    b = torch.as_tensor(rng.normal(size=(5, 30)))
    y, k = gmres(lambda v: torch.bmm(A, v[:, :, None])[..., 0], b, max_dim=30, rtol=1e-12)
    np.testing.assert_allclose(torch.bmm(A, y[:, :, None])[..., 0].numpy(), b.numpy(), atol=1e-9)
    assert k <= 30
    # a singular system that is consistent: GMRES returns a solution, no NaN
    S = torch.diag(torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64))[None]
    y, _ = gmres(lambda v: torch.bmm(S, v[:, :, None])[..., 0], torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64))
    np.testing.assert_allclose(y.numpy(), [[1.0, 0.5, 0.0]], atol=1e-12)


def test_linear_cell_interface():
    cell = LinearCell(np.eye(2) * 0.5, np.ones((2, 1)))
    s, x = torch.ones(3, 2, dtype=torch.float64), torch.ones(3, 1, dtype=torch.float64)
    assert torch.allclose(cell.step(s, x), torch.full((3, 2), 1.5, dtype=torch.float64))
    j_rec, j_inp = cell.jacobians(s, x)
    assert j_rec.shape == (3, 2, 2) and j_inp.shape == (3, 2, 1)
    with torch.no_grad():
        out = cell.sequence(torch.ones(2, 4, 1, dtype=torch.float64), torch.tensor([1, 4]))
    np.testing.assert_allclose(out.numpy(), [[1.0, 1.0], [1.875, 1.875]])


def test_docstring_examples():
    assert doctest.testmod(fp_module, raise_on_error=False).failed == 0
