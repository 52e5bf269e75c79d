"""Integration-mode choice and its sign, on networks where the right answer is known."""
import numpy as np
import pytest

from rnnscope.analysis.linearize import linearize
from rnnscope.analysis.modes import local_tangents, select_integration_modes
from rnnscope.analysis.reference_models import isolated_slow_point, line_attractor_linear, linear_rnn, saddle_line


def _select(net, points, readout, **kw):
    lin = linearize(net, points, n_modes=min(4, net.state_size))
    modes = select_integration_modes(lin.eigvals, lin.right, lin.left, lin.left_inp, points, readout, **kw)
    return modes, lin


def test_unstable_off_manifold_mode_above_the_line_mode_is_not_chosen():
    """The largest |λ| is 1.2 off the line; the integration mode is λ = 1 along it."""
    net, u, v = saddle_line(1.2, D=4)
    pts = np.outer(np.linspace(-2, 2, 15), u)
    modes, lin = _select(net, pts, u, along_set=True, manifold_axis=u, logit_monotone=True)
    assert np.allclose(np.abs(lin.eigvals[:, 0]), 1.2)  # the paper's rule would take this one
    assert np.all(modes.rule == "along the point set")
    np.testing.assert_allclose(modes.eigval, 1.0, atol=1e-12)
    assert not modes.largest_is_chosen.any()
    np.testing.assert_allclose(modes.alignment, 1.0, atol=1e-9)
    np.testing.assert_allclose(modes.direction, np.tile(u, (15, 1)), atol=1e-9)  # signed by the readout
    assert np.all(modes.sign_source == "readout")
    # input x moves the state by u x: its projection is +x (the left vector of λ = 1 is u)
    np.testing.assert_allclose(modes.projection(np.array([[1.0], [-2.0]])), np.tile([1.0, -2.0], (15, 1)),
                               atol=1e-9)


def test_sign_follows_the_readout_and_flips_with_it():
    net, u = line_attractor_linear(D=4)
    pts = np.outer(np.linspace(-1, 1, 9), u)
    a, _ = _select(net, pts, u, along_set=True)
    b, _ = _select(net, pts, -u, along_set=True)
    np.testing.assert_allclose(a.coef, -b.coef, atol=1e-12)
    np.testing.assert_allclose(a.direction, -b.direction, atol=1e-12)
    assert np.all(a.coef[:, 0] > 0)  # B = u: the input pushes towards +u, where w = u grows


def _rotation_net(radius=0.995, angle=0.2, readout_in_plane=True):
    """Linear net with a stable complex pair radius·e^{±i angle} in (e0, e1) and 0.3 on e2."""
    c, s = np.cos(angle), np.sin(angle)
    A = np.zeros((3, 3))
    A[:2, :2] = radius * np.array([[c, -s], [s, c]])
    A[2, 2] = 0.3
    B = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    net = linear_rnn(A, B)
    w = np.array([1.0, 0.0, 0.0]) if readout_in_plane else np.array([0.0, 0.0, 1.0])
    return net, w, A, B


def test_complex_pair_is_one_2d_mode_with_a_phase_independent_projection():
    net, w, A, B = _rotation_net()
    pts = np.zeros((1, 3))
    modes, lin = _select(net, pts, w, along_set=False)
    assert modes.is_pair[0] and modes.rule[0] == "slowest"
    assert abs(modes.eigval[0]) == pytest.approx(0.995) and modes.eigval[0].imag > 0
    # the push of x inside the pair's plane along the readout's direction there is w·(B x)
    xs = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_allclose(modes.projection(xs)[0], xs @ B.T @ w, atol=1e-12)
    # multiplying r by e^{iφ} and ℓ by e^{-iφ} (the eigensolver's freedom) changes nothing
    phase = np.exp(1j * 0.7)
    right, left, left_inp = lin.right.copy(), lin.left.copy(), lin.left_inp.copy()
    right[:, :, :2] *= phase
    left[:, :2] /= phase
    left_inp[:, :2] /= phase
    turned = select_integration_modes(lin.eigvals, right, left, left_inp, pts, w, along_set=False)
    np.testing.assert_allclose(turned.coef, modes.coef, atol=1e-12)
    # the real part of ℓ1ᵀ J_inp x alone is phase-dependent (what the old rule reported)
    assert not np.allclose(np.real(left_inp[0, 0]), np.real(lin.left_inp[0, 0]))


def test_mode_the_readout_cannot_see_has_no_sign():
    net, w, *_ = _rotation_net(readout_in_plane=False)
    modes, _ = _select(net, np.zeros((1, 3)), w, along_set=False)
    assert modes.visibility[0] == pytest.approx(0.0, abs=1e-12)
    assert modes.sign_source[0] == "none"


def test_invisible_mode_is_signed_by_the_manifold_when_the_logit_rises_along_it():
    net, u = line_attractor_linear(D=4)
    w = np.linalg.svd(u[None])[2][1]  # orthogonal to u: the readout cannot see the line mode
    pts = np.outer(np.linspace(-1, 1, 9), u)
    modes, _ = _select(net, pts, w, along_set=True, manifold_axis=-u, logit_monotone=True)
    assert np.all(modes.sign_source == "manifold")
    np.testing.assert_allclose(modes.direction, np.tile(-u, (9, 1)), atol=1e-9)
    none, _ = _select(net, pts, w, along_set=True, manifold_axis=-u, logit_monotone=False)
    assert np.all(none.sign_source == "none")


def test_isolated_point_takes_the_slowest_stable_mode():
    net = isolated_slow_point(0.99, D=4)
    modes, _ = _select(net, np.zeros((1, 4)), np.eye(4)[0], along_set=False)
    assert modes.rule[0] == "slowest" and modes.eigval[0] == pytest.approx(0.99)


def _select_all(net, points, readout, **kw):
    lin = linearize(net, points, n_modes=net.state_size)
    return select_integration_modes(lin.eigvals, lin.right, lin.left, lin.left_inp, points, readout, **kw)


def test_no_mode_along_the_set_is_said():
    """Points spread evenly over five fast modes (each holds 1/sqrt(5) < 0.5 of the tangent)."""
    net = isolated_slow_point(0.99, D=6)
    direction = np.r_[0.0, np.ones(5)] / np.sqrt(5)
    modes = _select_all(net, np.outer(np.linspace(-1, 1, 9), direction), np.eye(6)[0], along_set=True)
    assert np.all(modes.rule == "no aligned mode")
    np.testing.assert_allclose(modes.eigval, 0.99)  # then the slowest mode
    np.testing.assert_allclose(modes.alignment, 0.0, atol=1e-9)


def test_aligned_mode_far_from_one_is_taken_when_none_near_one_is():
    """Points along e_1 (λ = 0.5): no mode near 1 lies along them, but that one does."""
    net = isolated_slow_point(0.99, D=4)
    modes = _select_all(net, np.outer(np.linspace(-1, 1, 9), np.eye(4)[1]), np.eye(4)[1], along_set=True)
    assert np.all(modes.rule == "along the point set, far from 1")
    np.testing.assert_allclose(modes.eigval, 0.5)
    np.testing.assert_allclose(modes.alignment, 1.0)


def test_local_tangents_follow_a_curve():
    t = np.linspace(0, np.pi / 2, 50)
    pts = np.stack([np.cos(t), np.sin(t), 0 * t], 1)
    tan = local_tangents(pts, 4)
    true = np.stack([-np.sin(t), np.cos(t), 0 * t], 1)
    assert np.all(np.abs(np.sum(tan * true, 1)) > 0.99)
