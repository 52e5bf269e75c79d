"""A schema-complete synthetic report with line-attractor geometry, for tests and demos.

Every array key of ``analysis/report.py`` is present with its documented shape and dtype,
and the arrays agree with each other: the fixed points lie on a curve along the readout,
``fp_pc`` is their projection on ``state_pca_components``, r1 lies near the manifold
axis m, positive words push along +ℓ1 and negative words along -ℓ1. Deterministic in
``seed``. Nothing here is a result: it only lets figures be drawn without a trained model.
"""
from __future__ import annotations

import numpy as np

from rnnscope.analysis.summary import complete


def _orthonormal_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, n)))
    return q.T


def _n_for(variances: np.ndarray, fraction: float) -> int:
    """Number of leading components holding ``fraction`` of the total variance."""
    return int(np.searchsorted(np.cumsum(variances) / variances.sum(), fraction) + 1)


def synthetic_report(n_points: int = 200, state_size: int = 64, embed_dim: int = 16,
                     n_words: int = 60, bins: int = 40, n_steps: int = 2000, seed: int = 0
                     ) -> tuple[dict, dict[str, np.ndarray]]:
    """A (summary, arrays) pair shaped like ``rnnscope.analysis.report.Report``.

    Parameters
    ----------
    n_points : int
        K fixed points (>= 1).
    state_size : int
        D (>= 10).
    embed_dim : int
        E.
    n_words : int
        W listed words, split in thirds positive / negative / neutral.
    bins : int
        B, density bins per axis.
    n_steps : int
        N sampled linearization steps.
    seed : int

    Returns
    -------
    summary : dict (every field of ``rnnscope.analysis.summary``; those not set here are blank)
    arrays : dict of str to ndarray
    """
    rng = np.random.default_rng(seed)  # every helper draws from it in turn: keep their order
    geometry = _line_geometry(rng, n_points, state_size)
    eig, tau = _spectrum(rng, n_points, state_size)
    words = _modes_and_words(rng, n_points, state_size, geometry["m"], n_words)
    density = _density_and_examples(rng, bins)
    errors = rng.lognormal(np.log(0.1), 0.6, size=n_steps).astype(np.float32)
    rand = rng.normal(size=(1000, state_size))
    null = np.abs(rand @ geometry["m"]) / np.linalg.norm(rand, axis=1)
    arrays = _arrays(rng, embed_dim, n_steps, geometry, eig, tau, words, density, errors, null)
    return _summary(arrays, state_size, embed_dim, n_steps), arrays


def _variance_ratios() -> tuple[np.ndarray, np.ndarray]:
    """Unnormalized explained variances of 50 PCs, trained and untrained (50,) each."""
    return np.exp(-np.arange(50) / 1.5), np.exp(-np.arange(50) / 15.0)


def _line_geometry(rng: np.random.Generator, k: int, d: int) -> dict[str, np.ndarray]:
    """K fixed points on a gently bent curve in the PC1/PC2 plane (plus small off-plane
    noise), the PCA basis (10, D) and mean (D,), the manifold axis m and the readout."""
    comps = _orthonormal_rows(rng, 10, d).astype(np.float32)
    mean = (0.1 * rng.normal(size=d)).astype(np.float32)
    theta = np.linspace(-1.0, 1.0, k)
    coords = np.stack([2.0 * theta, 0.3 * theta ** 2, 0.02 * rng.normal(size=k)], axis=1)
    fixed = (mean + coords @ comps[:3] + 0.005 * rng.normal(size=(k, d))).astype(np.float32)
    readout = (1.5 * comps[0] + 0.2 * comps[3]).astype(np.float32)
    return dict(comps=comps, mean=mean, theta=theta, fixed=fixed,
                fp_pc=((fixed - mean) @ comps[:3].T).astype(np.float32), m=comps[0].astype(np.float32),
                readout=readout, readout_bias=np.array([-float(readout @ mean)]))


def _spectrum(rng: np.random.Generator, k: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (K, D) complex, by decreasing modulus, the top one just below 1, and
    their time constants tau = |1 / log|lambda|| (K, D) in steps."""
    lam1 = 1.0 - 10 ** rng.uniform(-3.0, -2.0, size=k)
    rest = 0.8 * rng.uniform(size=(k, d - 1)) * np.exp(1j * rng.uniform(-np.pi, np.pi, (k, d - 1)))
    eig = np.concatenate([lam1[:, None], rest], axis=1)
    eig = np.take_along_axis(eig, np.argsort(-np.abs(eig), axis=1, kind="stable"), axis=1)
    with np.errstate(divide="ignore"):
        tau = np.abs(1.0 / np.log(np.abs(eig)))
    return eig, tau


def _modes_and_words(rng: np.random.Generator, k: int, d: int, m: np.ndarray,
                     n_words: int) -> dict[str, np.ndarray]:
    """r1 near m and l1 near r1 (K, D); W words in thirds positive / negative / neutral,
    their valence (W,), strength along +l1 (W,), projections (K, W) and J_inp x in 2 PCs (W, 2)."""
    r1 = m + 0.2 * rng.normal(size=(k, d)) / np.sqrt(d)
    r1 = (r1 / np.linalg.norm(r1, axis=1, keepdims=True)).astype(np.float32)
    l1 = (r1 + 0.3 * rng.normal(size=(k, d)) / np.sqrt(d)).astype(np.float32)
    third = n_words // 3
    valence = np.array([1] * third + [-1] * third + [0] * (n_words - 2 * third), dtype=np.int8)
    strength = np.where(valence == 0, 0.02, 0.3) * valence + 0.02 * rng.normal(size=n_words)
    projection = (strength[None, :] * (1 + 0.1 * rng.normal(size=(k, n_words)))).astype(np.float32)
    jinp_dir = np.stack([strength, 0.1 * rng.normal(size=n_words)], axis=1)
    return dict(r1=r1, l1=l1, valence=valence, strength=strength, projection=projection, jinp_dir=jinp_dir)


def _density_and_examples(rng: np.random.Generator, b: int) -> dict:
    """State densities of each class on a B x B grid, the grid's edges (2, B + 1), and one
    61-step example trajectory of each class in PC1/PC2 (by sign: 1 positive, -1 negative)."""
    edges = np.stack([np.linspace(-3, 3, b + 1), np.linspace(-1.5, 1.5, b + 1)])
    cx, cy = np.meshgrid((edges[0, 1:] + edges[0, :-1]) / 2, (edges[1, 1:] + edges[1, :-1]) / 2,
                         indexing="ij")
    dens = {s: np.exp(-((cx - 1.2 * s) ** 2 / 0.6 + (cy - 0.3 * (cx / 2) ** 2) ** 2 / 0.02))
            for s in (1, -1)}
    steps = np.arange(61)[:, None] / 60
    traj = {s: np.hstack([2.2 * s * steps, 0.3 * steps ** 2]) + 0.03 * rng.normal(size=(61, 2))
            for s in (1, -1)}
    return dict(edges=edges, dens=dens, traj=traj)


def _arrays(rng: np.random.Generator, e: int, n_steps: int, g: dict, eig: np.ndarray, tau: np.ndarray,
            w: dict, density: dict, errors: np.ndarray, null: np.ndarray) -> dict[str, np.ndarray]:
    """Every array of the report, from the parts above (``g``: ``_line_geometry``, ``w``:
    ``_modes_and_words``); draws the point residuals, J_inp's left vectors and the seeds' q."""
    k, d = g["fixed"].shape
    n_words = len(w["valence"])
    evr, evr_u = _variance_ratios()
    dens, traj = density["dens"], density["traj"]
    comps, mean, readout, r1 = g["comps"], g["mean"], g["readout"], w["r1"]
    return dict(
        fixed_points=g["fixed"], q=10 ** rng.uniform(-12, -9, size=k), theta=g["theta"], fp_pc=g["fp_pc"],
        eigvals=eig, tau_top3=tau[:, :3], stable=np.abs(eig[:, 0]) < 1, r1=r1, l1=w["l1"],
        left_inp=(0.1 * rng.normal(size=(k, 3, e))).astype(np.float32), m=g["m"], readout=readout,
        readout_bias=g["readout_bias"], state_pca_components=comps, state_pca_mean=mean,
        explained_variance_ratio=evr / evr.sum(),
        explained_variance_ratio_untrained=evr_u / evr_u.sum(),
        fp_pca_explained_variance_ratio=np.array([0.95, 0.03, 0.01, 0.005, 0.003, 0.002]),
        initial_state_pc=((np.zeros(d, np.float32) - mean) @ comps[:2].T).astype(np.float32),
        readout_pc=(comps[:2] @ readout / np.linalg.norm(readout)).astype(np.float32),
        density_pos=(dens[1] / dens[1].sum()).astype(np.float32),
        density_neg=(dens[-1] / dens[-1].sum()).astype(np.float32), density_edges=density["edges"],
        example_traj_pos=traj[1].astype(np.float32), example_traj_neg=traj[-1].astype(np.float32),
        words=np.array([f"word{i}" for i in range(n_words)]), word_valence=w["valence"],
        word_coef=w["strength"].astype(np.float64), word_ids=np.arange(2, n_words + 2, dtype=np.int64),
        input_projection=w["projection"], r1_m_overlap=np.abs(r1 @ g["m"]).astype(np.float64),
        r1_m_null=null.astype(np.float64), one_step_rel_error=errors,
        one_step_nearest_dist=np.abs(rng.normal(size=n_steps)).astype(np.float32),
        jinp_x_pc=w["jinp_dir"].astype(np.float32), jinp_x_point=np.array([k // 2], dtype=np.int64),
        one_step_rel_error_recurrent=(0.4 * errors).astype(np.float32),
        one_step_rel_error_input=(0.8 * errors).astype(np.float32),
        one_step_rel_error_previous=(0.7 * errors).astype(np.float32),
        seed_q=np.concatenate([10 ** rng.uniform(-12, -9, 2 * k), 10 ** rng.uniform(-7, -5, 2 * k)]),
        seed_class=np.array(["fixed"] * (2 * k) + ["slow"] * k + ["stalled"] * k),
        attractor_curve_steps=np.array([1, 10, 100, 1000, 3000]),
        attractor_curve_extent=np.array([6.0, 6.0, 5.98, 5.9, 5.8]),
        attractor_curve_inner=np.array([6.0, 5.0, 3.0, 1.0, 0.5]),
        sweep_tolerance=10.0 ** np.arange(-12, -2), sweep_n_points=np.linspace(0, k, 10).astype(np.int64),
        sweep_extent=np.linspace(0, 6, 10), sweep_extent_ratio=np.linspace(0.2, 1.0, 10),
        sweep_inner_ratio=np.linspace(0.0, 0.2, 10), sweep_continuous=np.arange(10) >= 3,
    )


def _summary(arrays: dict[str, np.ndarray], d: int, e: int, n_steps: int) -> dict:
    """The complete summary of a synthetic report whose arrays are ``arrays``."""
    k, errors = len(arrays["fixed_points"]), arrays["one_step_rel_error"]
    evr, evr_u = _variance_ratios()
    return complete(dict(
        model=dict(arch="lstm", hidden_size=d // 2, state_size=d, embed_dim=e, vocab_size=1000,
                   sha256=""),
        data=dict(name="synthetic", n_docs=100, n_states=5000),
        accuracy=dict(test=0.875, linearized=0.86, bow=0.885),
        pca=dict(explained_variance_ratio=(evr / evr.sum())[:10].tolist(),
                 explained_variance_ratio_untrained=(evr_u / evr_u.sum())[:10].tolist(),
                 n_components_90=_n_for(evr, 0.9), n_components_90_untrained=_n_for(evr_u, 0.9)),
        fixed_points=dict(n_seeds=4 * k, n_converged=2 * k, n_unique=k, n_fixed=k, n_slow=0, tol=1e-8,
                          slow_q_max=1e-6, q_median=float(np.median(arrays["q"])), seconds=1.5),
        attractor=dict(kind="line", name="line attractor", text="Line attractor: a synthetic report."),
        projections=dict(r1_m_overlap_median=float(np.median(arrays["r1_m_overlap"])),
                         r1_m_null_median=float(np.median(arrays["r1_m_null"]))),
        linearization=dict(one_step_rel_error_median=float(np.median(errors)),
                           one_step_rel_error_p90=float(np.percentile(errors, 90)),
                           n_steps=n_steps),
    ))
