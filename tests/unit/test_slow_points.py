"""Seed classes, the chosen point set and coverage, with known answers."""
import numpy as np
import pytest

from rnnscope.analysis.fixed_points import find_fixed_points
from rnnscope.analysis.reference_models import drifting_line, isolated_slow_point
from rnnscope.analysis.slow_points import (auto_slow_q, choose_point_set, classify_seeds, range_coverage,
                                  typical_step)


def test_typical_step_and_auto_bound():
    states = np.array([[1.0, 0.0], [1.0, 2.0], [4.0, 2.0]])
    prev = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    assert typical_step(states, prev) == pytest.approx(2.0)
    # a slow point drifting 1% of a 2-unit step per token in D = 4: q = 0.02² / 4
    assert auto_slow_q(2.0, 4) == pytest.approx(1e-4)
    assert auto_slow_q(float("nan"), 4) == 0.0


def test_fixed_points_are_fixed_and_fixed_only_rule():
    net = isolated_slow_point(0.9, D=3)
    fp = find_fixed_points(net, np.random.default_rng(0).normal(size=(16, 3)), tol=1e-8)
    ps = choose_point_set(fp, step=1.0, slow_q_max=0)
    assert ps.slow_rule == "fixed only" and ps.n_slow == 0 and ps.n_fixed == fp.n_unique
    assert np.all(ps.seed_class == "fixed")
    assert ps.class_counts()["fixed"] == 16


def test_drifting_line_seeds_are_slow_and_the_bound_selects_them():
    speed = 1e-3
    net = drifting_line(speed, D=3)
    fp = find_fixed_points(net, np.random.default_rng(1).normal(size=(24, 3)), tol=1e-8)
    q_line = speed ** 2 / 3
    classes = classify_seeds(fp, slow_q_max=1e-3)
    assert np.all(classes == "slow")
    np.testing.assert_allclose(fp.seed_q, q_line, rtol=1e-3)  # q is the same all along the line
    below = choose_point_set(fp, step=1.0, slow_q_max=0.5 * q_line)   # bound below their q: none used
    above = choose_point_set(fp, step=1.0, slow_q_max=2 * q_line)
    assert below.n_slow == 0 and above.n_slow > 0
    assert len(below.candidates) == len(above.candidates) > 0  # the sweep still sees them
    # auto rule: the line drifts 1e-3 per token, faster than 1% of a 0.05-unit step (5e-4): not slow
    assert choose_point_set(fp, step=0.05).n_slow == 0
    assert choose_point_set(fp, step=1.0).n_slow > 0  # 1% of 1 unit = 1e-2 > 1e-3


def test_high_speed_minimum_is_stalled_not_slow():
    net = drifting_line(0.5, D=3)  # q = 0.083 > 1e-3: a minimum of q, but not slow
    fp = find_fixed_points(net, np.random.default_rng(2).normal(size=(8, 3)), tol=1e-8)
    assert np.all(classify_seeds(fp, slow_q_max=1e-3) == "stalled")


def test_range_coverage():
    axis = np.array([1.0, 0.0])
    states = np.stack([np.linspace(0, 100, 1001), np.zeros(1001)], 1)  # 5-95%: [5, 95]
    pts = np.array([[10.0, 3.0], [12.0, 0.0], [50.0, 0.0]])
    # intervals [9, 11] ∪ [11, 13] ∪ [49, 51] = 4 + 2 = 6 of 90
    assert range_coverage(pts, axis, states, reach=1.0) == pytest.approx(6 / 90)
    assert range_coverage(np.zeros((0, 2)), axis, states, 1.0) == 0.0
    dense = np.stack([np.linspace(0, 100, 200), np.zeros(200)], 1)
    assert range_coverage(dense, axis, states, reach=1.0) == pytest.approx(1.0)


def test_max_points_thins_the_set_evenly_and_keeps_its_ends():
    from rnnscope.analysis.reference_models import line_attractor_linear

    net, u = line_attractor_linear(D=4)
    seeds = np.outer(np.linspace(-3, 3, 40), u) + 0.1 * np.random.default_rng(0).normal(size=(40, 4))
    fp = find_fixed_points(net, seeds, tol=1e-10)
    full = choose_point_set(fp, step=1.0, slow_q_max=0)
    thin = choose_point_set(fp, step=1.0, slow_q_max=0, max_points=5)
    assert full.n_found == len(full.points) > 5
    assert thin.n_found == full.n_found and len(thin.points) == 5 and thin.n_fixed == 5
    t_full, t_thin = full.points @ u, thin.points @ u
    assert t_thin.min() == t_full.min() and t_thin.max() == t_full.max()


def test_rows_locate_every_point_among_the_candidates():
    from rnnscope.analysis.reference_models import line_attractor_linear

    net, u = line_attractor_linear(D=4)
    seeds = np.outer(np.linspace(-3, 3, 40), u) + 0.1 * np.random.default_rng(0).normal(size=(40, 4))
    fp = find_fixed_points(net, seeds, tol=1e-10)
    thin = choose_point_set(fp, step=1.0, slow_q_max=0, max_points=5)
    np.testing.assert_array_equal(thin.candidates[thin.rows], thin.points)
    np.testing.assert_array_equal(thin.candidates_q[thin.rows], thin.q)
