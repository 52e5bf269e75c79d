"""The memory budget of the fixed-point search, the Jacobians and the linearization
(``rnnscope.analysis.memory_budget``), measured.

Known answers for the chunk sizes, then peaks measured in a child process: the high-water
mark of its resident memory (``VmHWM``, reset before each call) minus its resident memory
just before the call, with glibc told to give every block of 64 KiB or more back to the
system when freed (``MALLOC_MMAP_THRESHOLD_``), so that resident memory follows what is
allocated. Each computation runs on a hand-built network with a small budget, where the
peak must stay within the budget plus the outputs it returns plus :data:`SLACK`, and again
with the budget lifted (one chunk), where the peak must exceed that bound: the chunking is
what keeps it there. The chunked results must equal the unchunked ones.
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnscope.analysis.fixed_points import find_fixed_points
from rnnscope.analysis.linearize import jacobians_at, linearize
from rnnscope.analysis.memory_budget import (DEFAULT_MEMORY_BUDGET, MemoryBudgetError, block_bytes, grad_ratio_bytes,
                                             jacobian_bytes, linearize_bytes, rows_within, search_block)
from rnnscope.analysis.reference_models import trained_like_net
from rnnscope.settings import Settings

MiB = 2**20
#: What a measured peak may exceed budget + outputs by: Python objects, LAPACK's per-matrix
#: workspace, the allocator's rounding (measured: the chunked peaks stayed 0.6-10.5 MiB below
#: budget + outputs; the unchunked ones were 41-175 MiB above).
SLACK = 4 * MiB
#: The cases: (name, budget in MiB). Each also runs with the budget lifted.
CASES = {"linearize": 16, "jacobians": 8, "dense": 32, "krylov": 24}
UNLIMITED = 2**40


# --------------------------------------------------------------------------- known answers

def test_chunk_sizes_follow_the_stated_formulas():
    D, E = 1024, 64
    assert jacobian_bytes(D, E) == 32 * D * (D + E)
    assert linearize_bytes(D, E) == 8 * D * (7 * D + 2 * E) == 59_768_832  # 57 MiB
    assert grad_ratio_bytes(D) == 8 * D * 28
    # Krylov block: the line search's 12 trial points dominate: 8 D (8 + 12 (2 + 12))
    assert block_bytes(D, E, krylov_dim=40, anderson=5) == 8 * D * 176
    assert block_bytes(D, E, krylov_dim=100, anderson=5) == 8 * D * (8 + 2 * 101 + 12)
    assert block_bytes(D, E, krylov_dim=40, anderson=5, dense=True) == 8 * D * (8 + 4 * (D + E))
    # 4,096 seeds at D = 1,024: 128 MiB of state; the CPU default budget's other 1,920 MiB hold
    # 1,396 seeds of 1.4 MiB, so 3 equal blocks of 1,366; the GPU default (8 GiB) one block
    assert search_block(4096, D, E, krylov_dim=40, anderson=5, dense=False, budget=DEFAULT_MEMORY_BUDGET) == \
        (1366, (DEFAULT_MEMORY_BUDGET - 128 * MiB) // grad_ratio_bytes(D))
    assert search_block(4096, D, E, krylov_dim=40, anderson=5, dense=False, budget=8192 * MiB)[0] == 4096
    # the dense method: 34 MiB a seed at D = 1,024: 1,920 MiB hold 56, and 74 blocks of 56
    assert search_block(4096, D, E, krylov_dim=40, anderson=5, dense=True, budget=DEFAULT_MEMORY_BUDGET)[0] == 56
    assert rows_within(10, 3, "x") == 3 and rows_within(3, 3, "x") == 1


def test_a_row_larger_than_the_budget_is_refused_in_words():
    with pytest.raises(MemoryBudgetError, match=r"one fixed-point seed at D = 1,024 needs 1\.4 MiB, more than "
                                                r"the memory budget of 1\.0 MiB; raise RNNSCOPE_MEMORY_BUDGET_MB"):
        search_block(1, 1024, 64, krylov_dim=40, anderson=5, dense=False, budget=MiB)
    with pytest.raises(MemoryBudgetError, match="search state of 4,096 seeds at D = 1,024 needs 128.0 MiB"):
        search_block(4096, 1024, 64, krylov_dim=40, anderson=5, dense=False, budget=100 * MiB)
    net = trained_like_net("gru", hidden=64, embed=4)
    pts = np.zeros((3, 64))
    with pytest.raises(MemoryBudgetError, match="the linearization at one point of D = 64 needs"):
        linearize(net, pts, memory_budget=linearize_bytes(64, 4) - 1)
    assert linearize(net, pts, memory_budget=linearize_bytes(64, 4)).eigvals.shape == (3, 64)
    with pytest.raises(MemoryBudgetError, match="the Jacobians at one point of D = 64 needs"):
        jacobians_at(net, pts, memory_budget=1000)
    with pytest.raises(MemoryBudgetError, match="search state of 3 seeds"):
        find_fixed_points(net, pts, memory_budget=1000)


def test_the_budget_setting_defaults_per_device_and_is_validated():
    assert Settings.from_env({}).memory_budget_bytes == DEFAULT_MEMORY_BUDGET == 2048 * MiB
    assert Settings.from_env({"RNNSCOPE_DEVICE": "cuda"}).memory_budget_bytes == 8192 * MiB
    assert Settings.from_env({"RNNSCOPE_MEMORY_BUDGET_MB": "64", "RNNSCOPE_DEVICE": "cuda"}).memory_budget_bytes == \
        64 * MiB
    for bad in ("0", "-5", "lots"):
        with pytest.raises(ValueError, match="RNNSCOPE_MEMORY_BUDGET_MB must be a positive integer"):
            Settings.from_env({"RNNSCOPE_MEMORY_BUDGET_MB": bad})


# --------------------------------------------------------------------------- measured peaks

def _rss(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _measure(fn):
    """``fn()`` and the peak of resident memory above the level just before it, bytes."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident size
    before = _rss("VmRSS:")
    out = fn()
    return out, _rss("VmHWM:") - before


def _problem(case: str):
    """The network and the rows of ``case``: GRU-256 (E = 16), a GRU's trained-like weights."""
    net = trained_like_net("gru", hidden=256, embed=16, seed=0, dtype=torch.float32)
    rng = np.random.default_rng(0)
    n = {"linearize": 32, "jacobians": 48, "dense": 128, "krylov": 1024}[case]
    return net, rng.normal(size=(n, 256)) * (0.3 if case in ("linearize", "jacobians") else 0.5)


def _run(case: str, budget: int):
    """The computation of ``case`` within ``budget`` bytes -> (arrays to compare, output bytes)."""
    net, rows = _problem(case)
    if case == "linearize":
        lin, peak = _measure(lambda: linearize(net, rows, n_modes=8, memory_budget=budget))
        arrays = {"eigvals": lin.eigvals, "right": lin.right, "left": lin.left, "left_inp": lin.left_inp}
        return arrays, peak, sum(a.nbytes for a in (*arrays.values(), lin.tau, lin.points))
    if case == "jacobians":
        (j_rec, j_inp), peak = _measure(lambda: jacobians_at(net, rows, memory_budget=budget))
        return {"j_rec": j_rec, "j_inp": j_inp}, peak, j_rec.nbytes + j_inp.nbytes
    kw = dict(method="newton", precision="double") if case == "dense" else dict(method="newton-krylov")
    res, peak = _measure(lambda: find_fixed_points(net, rows, relax_steps=0, memory_budget=budget, **kw))
    arrays = {"seed_points": res.seed_points, "points": res.points, "seed_q": res.seed_q,
              "n_converged": np.array(res.n_converged), "newton_iters": np.array(res.stats["newton_iters"])}
    return arrays, peak, res.seed_points.nbytes * 2 + res.points.nbytes


def _child(out_dir: Path) -> None:
    """Every case, chunked and unchunked, in this (fresh) process; writes results.json and arrays."""
    torch.set_num_threads(1)
    for case in CASES:  # warm up each code path on a small problem first (one-time allocations)
        net, rows = _problem(case)
        _run(case, UNLIMITED) if case in ("linearize", "jacobians") else \
            find_fixed_points(net, rows[:4], relax_steps=0, max_iter=2,
                              method="newton" if case == "dense" else "newton-krylov")
    results = {}
    for case, budget_mb in CASES.items():
        for label, budget in (("chunked", budget_mb * MiB), ("unchunked", UNLIMITED)):
            t0 = time.perf_counter()
            arrays, peak, out_bytes = _run(case, budget)
            results[f"{case}/{label}"] = {"peak": peak, "outputs": out_bytes, "seconds": time.perf_counter() - t0}
            np.savez(out_dir / f"{case}-{label}.npz", **arrays)
    (out_dir / "results.json").write_text(json.dumps(results))


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    out = tmp_path_factory.mktemp("memory")
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run([sys.executable, __file__, str(out)], check=True, env=env, timeout=900)
    results = json.loads((out / "results.json").read_text())

    def load(case: str, label: str) -> dict:
        with np.load(out / f"{case}-{label}.npz") as f:
            return {k: f[k] for k in f.files}
    return results, load


@pytest.mark.parametrize("case", list(CASES))
def test_peak_stays_within_the_budget_only_when_chunked(measured, case):
    results, _ = measured
    budget = CASES[case] * MiB
    chunked, unchunked = results[f"{case}/chunked"], results[f"{case}/unchunked"]
    assert chunked["peak"] <= budget + chunked["outputs"] + SLACK, (case, chunked)
    # the same work in one chunk needs more than the bound: the chunking is what keeps it there
    assert unchunked["peak"] > budget + unchunked["outputs"] + SLACK, (case, unchunked)


@pytest.mark.parametrize("case", ["linearize", "jacobians", "dense"])
def test_chunked_results_equal_the_unchunked_ones(measured, case):
    _, load = measured
    a, b = load(case, "chunked"), load(case, "unchunked")
    for key in set(a) - {"n_converged", "newton_iters"}:
        assert a[key].shape == b[key].shape
        assert np.allclose(a[key], b[key], rtol=0, atol=1e-12), (case, key, np.abs(a[key] - b[key]).max())
    if case == "dense":
        assert int(a["n_converged"]) == 128 and int(a["newton_iters"]) > int(b["newton_iters"])  # 10 blocks vs 1


def test_newton_krylov_blocks_find_the_same_fixed_points(measured):
    """Newton-Krylov's float32 products round differently for different row counts (MKL,
    fewer than ~100 rows), so blocks change the last bits of its steps: every seed converges
    either way, to the same place within the search's ``unique_tol`` (1e-3; measured: at most
    1.5e-4, median 7e-6, on a network whose slow modes let q < 1e-8 hold over a spread)."""
    _, load = measured
    a, b = load("krylov", "chunked"), load("krylov", "unchunked")
    assert int(a["n_converged"]) == int(b["n_converged"]) == 1024
    assert (a["seed_q"] < 1e-8).all() and (b["seed_q"] < 1e-8).all()
    assert np.abs(a["seed_points"] - b["seed_points"]).max() < 1e-3


if __name__ == "__main__":
    _child(Path(sys.argv[1]))
