"""Input projections and r1·m overlap on hand-built linearizations with known answers."""
import numpy as np
import pytest

from rnnscope.analysis.projections import (abs_cosine, input_projection, mean_projection_by_set, null_overlap,
                                  overlap_percentile, r1_m_overlap)


def _linear_system(seed=0, D=6, E=4):
    """A linear map h' = A h + B x with chosen eigenvectors R and eigenvalues (1, 0.5, ...)."""
    rng = np.random.default_rng(seed)
    R = rng.normal(size=(D, D))
    lam = np.array([1.0, 0.5, 0.3, 0.2, 0.1, 0.05])[:D]
    A = R @ np.diag(lam) @ np.linalg.inv(R)
    B = rng.normal(size=(D, E))
    return R, lam, A, B


def test_input_projection_is_the_integrated_amount_along_r1():
    R, lam, A, B = _linear_system()
    L = np.linalg.inv(R)  # rows: left eigenvectors, L @ R = I
    left_inp = (L[:2] @ B)[None]  # one fixed point, modes 1 and 2: (1, 2, E)
    words = np.random.default_rng(1).normal(size=(5, 4))
    proj = input_projection(left_inp, words)  # (1, 5)
    # Feed each word once, then let the linear system run with no input: only mode 1
    # (lambda = 1) survives, and what is left is proj * r1.
    for w, x in enumerate(words):
        h = B @ x
        for _ in range(200):
            h = A @ h
        np.testing.assert_allclose(h, proj[0, w] * R[:, 0], atol=1e-8)
    np.testing.assert_allclose(input_projection(left_inp, words, mode=1), (L[1] @ B @ words.T)[None])


def test_projection_shapes_and_complex_left_inp():
    rng = np.random.default_rng(0)
    li = rng.normal(size=(3, 2, 4)) + 1j * rng.normal(size=(3, 2, 4))
    emb = rng.normal(size=(7, 4))
    out = input_projection(li, emb)
    assert out.shape == (3, 7) and out.dtype == np.float64
    np.testing.assert_allclose(out, li.real[:, 0] @ emb.T)


def test_mean_projection_by_set():
    proj = np.array([[1.0, 3.0, -2.0, 0.1], [3.0, 1.0, -4.0, -0.1]])
    out = mean_projection_by_set(proj, np.array([1, 1, -1, 0]))
    assert out == {"mean_positive": 2.0, "mean_negative": -3.0, "mean_neutral": 0.0}
    assert np.isnan(mean_projection_by_set(proj, np.array([1, 1, 1, 1]))["mean_neutral"])


def test_overlap_known_values():
    m = np.array([1.0, 0.0, 0.0])
    r1 = np.array([[2.0, 0, 0], [-1.0, 0, 0], [0, 5.0, 0], [1.0, 1.0, 0], [0, 0, 0]])
    out = r1_m_overlap(r1, m)
    np.testing.assert_allclose(out[:4], [1, 1, 0, 1 / np.sqrt(2)])
    assert np.isnan(out[4])
    np.testing.assert_allclose(abs_cosine(np.array([[1 + 2j, 0, 0]]), m), [1.0])  # real part


@pytest.mark.parametrize("dim,median", [(2, np.sqrt(0.5)), (3, 0.5)])
def test_null_median_matches_theory(dim, median):
    # D = 2: |cos| of a uniform angle, median cos(pi/4); D = 3: |v1| is uniform on [0, 1]
    null = null_overlap(dim, 200000, seed=0)
    assert np.median(null) == pytest.approx(median, abs=0.005)
    np.testing.assert_array_equal(null, null_overlap(dim, 200000, seed=0))


def test_null_shrinks_with_dimension_and_percentile():
    null = null_overlap(128, 20000, seed=1)
    assert np.mean(null ** 2) == pytest.approx(1 / 128, rel=0.05)  # E[cos^2] = 1/D
    assert overlap_percentile(np.array([0.9, 0.95]), null) == 100.0
    assert overlap_percentile(np.array([np.median(null)]), null) == pytest.approx(50, abs=1)
    assert np.isnan(overlap_percentile(np.array([np.nan]), null))
    with pytest.raises(ValueError):
        null_overlap(0)


def test_readout_share_is_the_settled_logit_change_over_the_points_logit_range():
    """A linear line attractor (λ1 = 1 along r1): feed one word at a point on the line, let
    the system settle, and the logit moved by readout_share × the points' logit range;
    the share does not change when the state is scaled (as an LSTM's cell state is) or
    when the mode's sign is flipped."""
    from rnnscope.analysis.projections import readout_share

    R, lam, A, B = _linear_system(seed=2)
    L = np.linalg.inv(R)
    norm = np.linalg.norm(R[:, 0])
    u, l1 = R[:, 0] / norm, L[0] * norm  # unit direction, its covector with l1 · u = 1
    w = np.random.default_rng(3).normal(size=6)
    points = np.linspace(-3, 3, 7)[:, None] * u  # (K, D) on the line
    words = np.random.default_rng(4).normal(size=(5, 4))
    proj = np.tile(words @ (l1 @ B), (7, 1))  # (K, W): the same push at every point (linear)
    share = readout_share(proj, np.tile(u, (7, 1)), w, points)
    span = np.ptp(points @ w)
    for k, s in enumerate(points):
        for j, x in enumerate(words):
            h = s + B @ x
            for _ in range(400):
                h = A @ h  # no input
            settled = (h - s) @ w  # the logit change once the fast modes decayed
            assert share[k, j] == pytest.approx(settled / span, rel=1e-6, abs=1e-9)
    scaled = readout_share(100 * proj, np.tile(u, (7, 1)), w, 100 * points)
    np.testing.assert_allclose(scaled, share, rtol=1e-12)  # p and the range scale alike
    flipped = readout_share(-proj, -np.tile(u, (7, 1)), w, points)
    np.testing.assert_allclose(flipped, share, rtol=1e-12)
    assert np.isnan(readout_share(proj[:1], u[None], w, points[:1])).all()  # one point: no range
    assert np.isnan(readout_share(proj, np.tile(u, (7, 1)), np.zeros(6), points)).all()
