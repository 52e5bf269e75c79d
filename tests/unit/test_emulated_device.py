"""The emulated-device tests (tests/emulated) run in a process of their own, and the test
session itself can still fork children that use autograd (as the dashboard's embedded jobs do).

The device emulator registers a torch backend for the whole process; after a backward beside
it, autograd has started its device threads and a forked child's first backward raises
"Unable to handle autograd's threading in combination with fork-based multiprocessing". In one
session with the browser tests, that made every uploaded checkpoint's analysis job fail.
"""
from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def _backward() -> None:
    w = torch.ones(3, requires_grad=True)
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, 2.0, 2.0]


def test_a_forked_child_of_the_session_can_run_autograd():
    """What an embedded analysis job does: fork after the parent ran a backward, backward again."""
    _backward()
    child = multiprocessing.get_context("fork").Process(target=_backward)
    child.start()
    child.join()
    assert child.exitcode == 0


def test_the_emulated_device_suite_passes_in_its_own_process():
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/emulated", "--emulated-device", "-q",
                           "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True)
    tail = proc.stdout[-8000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    assert " passed" in proc.stdout.splitlines()[-1], tail
