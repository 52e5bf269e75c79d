"""Linearization: Jacobians against jacrev, eigenvalues against numpy, ℓ_aᵀ r_b = δ_ab, line attractors."""
import numpy as np
import pytest
import torch
from torch.func import jacrev, vmap

from rnnscope.analysis.cells import ARCHS
from rnnscope.analysis.fixed_points import find_fixed_points
from rnnscope.analysis.linearize import eigenmodes_at, jacobians_at, linearize, time_constants
from rnnscope.analysis.reference_models import (line_attractor_linear, line_attractor_lstm, random_linear_rnn,
                                       trained_like_net)


def sort_like_contract(ev: np.ndarray) -> np.ndarray:
    """|λ| descending, ties (conjugate pairs) by imaginary part descending."""
    return ev[np.lexsort((-ev.imag, -np.round(np.abs(ev), 12)))]


def random_points(net, n=5, scale=0.5, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=scale, size=(n, net.state_size))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linear_rnn_eigenvalues_are_those_of_A(seed):
    net = random_linear_rnn(7, 3, seed=seed, spectral_radius=0.95)
    A = net.cell.weight_hh.detach().numpy()
    B = net.cell.weight_ih.detach().numpy()
    lin = linearize(net, np.zeros((1, 7)), n_modes=7)
    expected = sort_like_contract(np.linalg.eigvals(A))
    assert np.iscomplexobj(expected)  # the random A has complex pairs
    np.testing.assert_allclose(lin.eigvals[0], expected, atol=1e-12)
    assert (np.diff(np.abs(lin.eigvals[0])) <= 1e-12).all()
    np.testing.assert_allclose(lin.tau[0], np.abs(1 / np.log(np.abs(expected))), rtol=1e-10)
    # eigen-pairs, unit norm, R⁻¹ rows, input projections
    R, L = lin.right[0], lin.left[0]
    np.testing.assert_allclose(A @ R, R * lin.eigvals[0][None, :], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(R, axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(L, np.linalg.inv(R), atol=1e-10)
    np.testing.assert_allclose(lin.left_inp[0], L @ B, atol=1e-10)


def test_linear_rnn_end_to_end_fixed_point_and_spectrum():
    net = random_linear_rnn(6, 2, seed=5)
    A = net.cell.weight_hh.detach().numpy()
    res = find_fixed_points(net, np.random.default_rng(0).normal(size=(10, 6)))
    assert res.n_unique == 1
    lin = linearize(net, res.points)
    np.testing.assert_allclose(lin.eigvals[0], sort_like_contract(np.linalg.eigvals(A)), atol=1e-12)
    assert lin.right.shape == (1, 6, 3) and lin.left.shape == (1, 3, 6) and lin.left_inp.shape == (1, 3, 2)


@pytest.mark.parametrize("arch", ARCHS)
def test_jacobians_at_equal_jacrev(arch):
    net = trained_like_net(arch, hidden=6)
    points = random_points(net, 5)
    x = np.random.default_rng(1).normal(size=net.embed_dim)
    f = lambda s, xx: net.step(s[None], xx[None])[0]  # noqa: E731
    s = torch.as_tensor(points)
    xs = torch.as_tensor(x).expand(5, -1)
    for xin, xt in ((None, torch.zeros_like(xs)), (x, xs)):
        j_rec, j_inp = jacobians_at(net, points, xin, chunk=2)  # chunking must not matter
        np.testing.assert_allclose(j_rec, vmap(jacrev(f, argnums=0))(s, xt).detach().numpy(), atol=1e-10)
        np.testing.assert_allclose(j_inp, vmap(jacrev(f, argnums=1))(s, xt).detach().numpy(), atol=1e-10)
        assert j_rec.shape == (5, net.state_size, net.state_size) and j_inp.shape == (5, net.state_size, net.embed_dim)


@pytest.mark.parametrize("arch", ARCHS)
def test_left_and_right_eigenvectors_are_biorthogonal(arch):
    net = trained_like_net(arch, hidden=8, seed=2)
    points = random_points(net, 6, seed=3)
    lin = linearize(net, points, n_modes=4, chunk=4)
    eye = np.eye(4)
    for k in range(6):
        np.testing.assert_allclose(lin.left[k] @ lin.right[k], eye, atol=1e-8)  # ℓ_aᵀ r_b = δ_ab
    np.testing.assert_allclose(np.linalg.norm(lin.right, axis=1), 1.0, atol=1e-12)
    j_rec, j_inp = jacobians_at(net, points)
    for k in range(6):  # J r_a = λ_a r_a and ℓ_aᵀ J = λ_a ℓ_aᵀ for the kept modes
        lam = lin.eigvals[k, :4]
        np.testing.assert_allclose(j_rec[k] @ lin.right[k], lin.right[k] * lam, atol=1e-9)
        np.testing.assert_allclose(lin.left[k] @ j_rec[k], lam[:, None] * lin.left[k], atol=1e-8)
        np.testing.assert_allclose(np.sort(np.abs(lin.eigvals[k]))[::-1], np.abs(lin.eigvals[k]))
        np.testing.assert_allclose(lin.left_inp[k], lin.left[k] @ j_inp[k], atol=1e-10)
    words = np.random.default_rng(0).normal(size=(11, net.embed_dim))
    np.testing.assert_allclose(lin.input_projection(words, mode=1), lin.left_inp[:, 1] @ words.T)


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_eigenmodes_at_one_point_is_the_full_decomposition(arch):
    net = trained_like_net(arch, hidden=7, seed=4)
    point = random_points(net, 1, seed=5)[0]
    m = eigenmodes_at(net, point)
    D = net.state_size
    assert m.right.shape == (D, D) and m.left.shape == (D, D) and m.j_inp.shape == (D, net.embed_dim)
    np.testing.assert_allclose(m.left @ m.right, np.eye(D), atol=1e-8)
    np.testing.assert_allclose((m.right * m.eigvals) @ m.left, m.j_rec, atol=1e-8)  # J = R Λ R⁻¹
    lin = linearize(net, point[None], n_modes=3)
    np.testing.assert_allclose(m.eigvals, lin.eigvals[0], atol=1e-12)
    np.testing.assert_allclose(m.right[:, :3], lin.right[0], atol=1e-10)
    np.testing.assert_allclose(m.left[:3], lin.left[0], atol=1e-8)
    np.testing.assert_allclose(m.tau, time_constants(m.eigvals))


def test_lstm_line_attractor_r1_is_the_tangent():
    la = line_attractor_lstm()
    ts = np.linspace(-2, 2, 9)
    points = np.stack([la.point(t) for t in ts])
    lin = linearize(la.net, points, n_modes=2)
    np.testing.assert_allclose(lin.eigvals, np.tile(la.eigvals, (9, 1)), atol=1e-12)
    assert np.isinf(lin.tau[:, 0]).all()
    np.testing.assert_allclose(lin.tau[:, 1], 1 / np.log(2), rtol=1e-12)
    cos = [abs(np.vdot(lin.right[k, :, 0], la.tangent(t))) for k, t in enumerate(ts)]
    assert min(cos) > 0.99
    np.testing.assert_allclose(cos, 1.0, atol=1e-10)
    # the paper's mechanism: "good" and "bad" words have opposite input projections on mode 1
    good, bad, neutral = la.net.embedding.weight[2:5].detach().numpy()
    proj = lin.input_projection(np.stack([good, bad, neutral]), mode=0).real
    assert (proj[:, 0] * proj[:, 1] < 0).all()
    assert (np.abs(proj[:, 2]) < 1e-12).all()


def test_found_points_on_the_lstm_line_have_r1_along_it():
    la = line_attractor_lstm()
    seeds = np.stack([la.point(t) for t in np.linspace(-1.5, 1.5, 12)])
    seeds += np.random.default_rng(0).normal(scale=0.05, size=seeds.shape)
    res = find_fixed_points(la.net, seeds)
    lin = linearize(la.net, res.points, n_modes=1)
    tangents = np.stack([la.tangent(p[2]) for p in res.points])
    cos = np.abs(np.einsum("kd,kd->k", lin.right[:, :, 0].real, tangents))
    assert res.n_unique >= 10 and cos.min() > 0.99
    np.testing.assert_allclose(np.abs(lin.eigvals[:, 0]), 1.0, atol=1e-4)


def test_linear_line_attractor_r1_is_u():
    net, u = line_attractor_linear(D=5, seed=2)
    lin = linearize(net, np.outer(np.linspace(-1, 1, 4), u), n_modes=2)
    np.testing.assert_allclose(lin.eigvals[:, 0], 1.0, atol=1e-12)
    assert (np.abs(lin.right[:, :, 0] @ u) > 0.99).all()
    np.testing.assert_allclose(np.einsum("kad,kdb->kab", lin.left, lin.right), np.tile(np.eye(2), (4, 1, 1)),
                               atol=1e-8)


def test_time_constants():
    lam = np.array([1.0, -1.0, 1j, 0.0, np.exp(-1 / 5), 0.5 * np.exp(0.3j), 2.0])
    tau = time_constants(lam)
    assert np.isinf(tau[:3]).all() and tau[3] == 0.0
    np.testing.assert_allclose(tau[4:], [5.0, 1 / np.log(2), 1 / np.log(2)])
    assert (tau >= 0).all()


def test_empty_points():
    net = trained_like_net("gru", hidden=4)
    lin = linearize(net, np.zeros((0, 4)))
    assert lin.eigvals.shape == (0, 4) and lin.right.shape == (0, 4, 3) and lin.left_inp.shape == (0, 3, 4)


def test_left_eigenvectors_with_two_threads_at_d256():
    """torch 2.13's oneMKL batched complex LU solve fails at D = 256 with 2 threads (it broke
    the demo LSTM's analysis in the dashboard); the left eigenvectors must not depend on it."""
    from rnnscope.analysis.model import RNNClassifier

    torch.manual_seed(0)
    net = RNNClassifier("lstm", 30, 8, 128).eval()  # state [h; c]: D = 256
    points = 0.3 * np.random.default_rng(0).standard_normal((4, net.state_size))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        lin = linearize(net, points, n_modes=3)
        modes = eigenmodes_at(net, points[0])
    finally:
        torch.set_num_threads(before)
    for k in range(len(points)):
        np.testing.assert_allclose(lin.left[k] @ lin.right[k], np.eye(3), atol=1e-8)
    np.testing.assert_allclose(modes.left @ modes.right, np.eye(net.state_size), atol=1e-8)
