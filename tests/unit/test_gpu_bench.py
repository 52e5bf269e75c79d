"""bench/gpu.py without a GPU: the --quick smoke run on the CPU (it says there is no GPU,
prints every table and exits 0) and the PASS/FAIL rules on hand-made rows. Its three sections
on an emulated device (what keeps the script usable unchanged on a GPU machine) are in
tests/emulated/test_gpu_bench_sections.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnscope.bench import gpu
from tests.corpus import SMALL_PARAMS, train_tiny

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_bench")
    data, ckpt = train_tiny(root)
    return root, data, ckpt


def test_quick_run_without_a_gpu_says_so_and_prints_the_cpu_rows(tiny):
    root, data, ckpt = tiny
    out = root / "results.md"
    env = {**os.environ, "RNNSCOPE_HOME": str(root / "home"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), "--quick", "--threads", "1",
                           "--models", str(ckpt), "--data", str(data), "--params", json.dumps(SMALL_PARAMS),
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=600, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("**No GPU here**: torch")
    text = out.read_text()
    assert text in proc.stdout
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    fixed = [r for r in rows if r.startswith("| gru-32 ") or r.startswith("| gru-64 ")]
    assert len(fixed) == 2 and all("| 128 | cpu |" in r for r in fixed)
    assert [r.split(" | ")[5] for r in fixed] == ["128", "128"]  # converged
    assert any(r.startswith("| gru-tiny | cpu |") for r in rows)
    assert any(r.startswith("| gru-8 (as ") and "| cpu | 3 |" in r for r in rows)
    targets = [r for r in rows if "NOT MEASURED" in r]
    assert len(targets) == 4 and all(r.endswith("| --quick sizes |") for r in targets)


def test_a_missing_dataset_skips_those_sections_in_words(tmp_path):
    args = gpu.parse_args(["--quick", "--data", str(tmp_path / "nothing.csv")])
    notes = []
    assert gpu._data_sections(args, ["cpu"], notes) == ([], [])
    assert notes[0].startswith(f"Analyses and training skipped: dataset '{tmp_path / 'nothing.csv'}' is not available")


def _fp_row(device, seconds=8.0, converged=4096, gpu_mb=5000.0, rss_mb=1500.0, D=1024, S=4096):
    return {"device": device, "n_seeds": S, "state_size": D, "ours_seconds": seconds, "ours_converged": converged,
            "ours_peak_gpu_mb": gpu_mb, "memory_budget_mb": 8192.0 if device == "cuda" else 2048.0,
            "peak_rss_mb": rss_mb}


def test_targets_pass_fail_or_are_not_measured():
    good = [_fp_row("cuda"), _fp_row("cpu", seconds=40.0)]
    analyses = [{"device": "cuda", "model": "gru-imdb", "seconds": 12.0},
                {"device": "cuda", "model": "lstm-imdb", "seconds": 31.0},
                {"device": "cpu", "model": "x", "seconds": 99}]
    v = gpu.judge(good, analyses, cuda=True, quick=False)
    assert [r for _, r, _ in v] == ["PASS", "PASS", "PASS", "PASS", "FAIL"]
    assert v[0][2] == "8.00 s, 4,096 of 4,096 at q < 1e-8 (CPU: 4,096)" and v[4][0].startswith("whole analysis of lstm")
    # convergence is judged against the CPU's on the same seeds: 3,840 is 99.2% of the CPU's 3,870
    like_cpu = gpu.judge([_fp_row("cuda", converged=3840), _fp_row("cpu", converged=3870)], [], cuda=True, quick=False)
    assert like_cpu[0][1] == "PASS"
    worse = gpu.judge([_fp_row("cuda", converged=3800), _fp_row("cpu", converged=3870)], [], cuda=True, quick=False)
    assert worse[0][1] == "FAIL"
    slow = gpu.judge([_fp_row("cuda", seconds=10.5), _fp_row("cpu", rss_mb=4200.0)], [], cuda=True, quick=False)
    assert [r for _, r, _ in slow] == ["FAIL", "PASS", "FAIL", "NOT MEASURED"]
    few = gpu.judge([_fp_row("cuda", converged=4000, gpu_mb=8300.0)], [], cuda=True, quick=False)
    assert [r for _, r, _ in few[:2]] == ["FAIL", "FAIL"]  # no CPU row: 97.7% of seeds; 8,300 MiB > 8,192 + 64
    small = gpu.judge([_fp_row("cuda", D=256)], [], cuda=True, quick=False)
    assert small[0][1:] == ("NOT MEASURED", "no such row")
    none = gpu.judge([_fp_row("cpu")], [], cuda=False, quick=False)
    assert [(r, d) for _, r, d in none] == [("NOT MEASURED", "no GPU"), ("NOT MEASURED", "no GPU"),
                                            ("PASS", "1,500 MiB peak, 8.0 s"), ("NOT MEASURED", "no GPU")]


def test_sections_are_chosen_by_name():
    assert gpu.parse_args([]).sections == {"fixed-points", "analysis", "training"}
    assert gpu.parse_args(["--sections", "analysis"]).sections == {"analysis"}
    assert gpu.parse_args([]).sizes == [256, 1024] and gpu.parse_args(["--quick"]).sizes == [32, 64]
    with pytest.raises(SystemExit):
        gpu.parse_args(["--sections", "analysis,plots"])
