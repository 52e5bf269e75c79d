"""Fixed-point manifold: main axis, LLE coordinate and readout alignment on known curves."""
import numpy as np
import pytest
from scipy.stats import spearmanr

from rnnscope.analysis.manifold import fit_manifold, knn_components, lle_coordinate, main_axis
from rnnscope.analysis.pca import fit_pca, n_components_for, project, variance_in_subspace


def _curve(K=200, D=40, noise=1e-3, seed=0):
    """Points along a gently bent curve in a random 3-D subspace of R^D; t is the coordinate."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1, 1, K)
    Q, _ = np.linalg.qr(rng.normal(size=(D, D)))
    local = np.stack([3 * t, 0.5 * t ** 2, 0.2 * np.sin(3 * t)], 1)
    return t, local @ Q[:3] + noise * rng.normal(size=(K, D)), Q


def test_axis_and_theta_follow_the_curve():
    t, pts, Q = _curve()
    readout = 2 * Q[0] + Q[7]
    mf = fit_manifold(pts, readout)
    assert mf.theta_method == "lle"
    assert abs(mf.m @ Q[0]) > 0.99  # PC1 of the points is the long direction of the curve
    assert np.isclose(np.linalg.norm(mf.m), 1)
    assert mf.m @ readout > 0 and mf.m_logit_spearman > 0.99
    assert abs(spearmanr(mf.theta, t).statistic) > 0.99
    assert mf.theta.min() == -1 and mf.theta.max() == 1
    assert spearmanr(mf.theta, pts @ readout).statistic > 0.99  # theta grows with the readout
    assert mf.m_readout_cosine == pytest.approx(mf.m @ readout / np.linalg.norm(readout))
    assert mf.explained_variance_ratio[0] > 0.95


def test_signs_flip_with_the_readout():
    t, pts, Q = _curve()
    a, b = fit_manifold(pts, Q[0]), fit_manifold(pts, -Q[0])
    np.testing.assert_allclose(a.m, -b.m)
    np.testing.assert_allclose(a.theta, -b.theta, atol=1e-9)
    assert a.theta_readout_spearman > 0.99 and b.theta_readout_spearman > 0.99
    assert a.m_logit_spearman > 0.99 and b.m_logit_spearman > 0.99


def test_variance_in_top2_state_pcs():
    t, pts, Q = _curve(noise=0)
    plane = Q[:2]
    mf = fit_manifold(pts, Q[0], state_components=plane)
    inside = variance_in_subspace(pts, plane)
    assert mf.variance_in_top2_state_pcs == pytest.approx(inside)
    # the third local coordinate (0.2 sin 3t) carries the only variance outside the plane
    local = np.stack([3 * t, 0.5 * t ** 2, 0.2 * np.sin(3 * t)], 1)
    expected = local[:, :2].var(0).sum() / local.var(0).sum()
    assert inside == pytest.approx(expected, rel=1e-9)
    assert variance_in_subspace(pts, Q[:3]) == pytest.approx(1.0)


def test_few_points_fall_back_to_projection():
    rng = np.random.default_rng(1)
    pts = np.outer([0.0, 1.0, 2.5], rng.normal(size=6))
    w = pts[2] - pts[0]
    mf = fit_manifold(pts, w)
    assert mf.theta_method == "projection"
    np.testing.assert_allclose(mf.theta, [-1, 2 * (1 / 2.5) - 1, 1], atol=1e-9)
    one = fit_manifold(pts[:1], w)
    np.testing.assert_allclose(one.m, w / np.linalg.norm(w))
    assert one.theta.tolist() == [0.0]
    with pytest.raises(ValueError, match="K >= 1"):
        fit_manifold(np.zeros((0, 6)), w)


def test_main_axis_of_a_line():
    d = np.array([3.0, 4.0, 0.0]) / 5
    pts = np.outer(np.linspace(-1, 1, 9), d)
    m, evr = main_axis(pts, np.array([0.0, -1.0, 0.0]))
    np.testing.assert_allclose(m, -d, atol=1e-12)  # signed toward the readout
    assert evr[0] == pytest.approx(1.0)


def test_pca_helpers():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5)) * np.array([10, 3, 1, 0.1, 0.01])
    p = fit_pca(X, 50)
    assert len(p.explained_variance_ratio_) == 5
    assert n_components_for(p.explained_variance_ratio_, 0.9) == 1
    assert n_components_for([0.5, 0.3], 0.9) == 3
    np.testing.assert_allclose(project(X, p.components_, p.mean_, 7)[:, :5], p.transform(X), atol=1e-9)
    assert project(X, p.components_, p.mean_, 7).shape == (500, 7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_theta_on_noisy_dense_curves(seed):
    # noise comparable to the spacing between neighbours: 10-neighbour LLE folds here
    t, pts, Q = _curve(K=512, D=128, noise=1e-3, seed=seed)
    mf = fit_manifold(pts, Q[0])
    assert mf.theta_method == "lle"
    assert abs(spearmanr(mf.theta, t).statistic) > 0.99


def test_lle_on_a_subsample_places_every_point():
    t, pts, Q = _curve(K=800, D=20, noise=1e-4, seed=3)
    theta = lle_coordinate(pts, max_fit=300)
    assert theta.shape == (800,)
    assert abs(spearmanr(theta, t).statistic) > 0.99


def test_separate_clusters_fall_back_to_the_projection():
    # two clumps at the ends of a line, nothing in between: no neighbourhood path joins them
    rng = np.random.default_rng(0)
    d = rng.normal(size=16)
    d /= np.linalg.norm(d)
    t = np.concatenate([rng.uniform(-1, -0.8, 60), rng.uniform(0.8, 1, 60)])
    pts = np.outer(t, d) + 1e-3 * rng.normal(size=(120, 16))
    assert knn_components(pts, 20) == 2
    mf = fit_manifold(pts, d)
    assert mf.theta_method == "projection" and mf.knn_components == 2
    assert spearmanr(mf.theta, t).statistic > 0.99
    t2, curve, Q = _curve(K=200, D=20, noise=1e-4)
    assert knn_components(curve, 20) == 1
