"""bench/gpu.py's three sections with their tensors on the emulated device
(tests/emulated/device_emulation.py): what keeps the script usable unchanged on a GPU machine."""
from __future__ import annotations

import json

import pytest
import torch

from rnnscope.analysis.data import load
from rnnscope.bench import gpu
from tests.corpus import SMALL_PARAMS, train_tiny
from tests.emulated.device_emulation import FAKE, emulated_device


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_bench")
    data, ckpt = train_tiny(root)
    return root, data, ckpt


def test_the_sections_keep_their_tensors_on_the_device(tiny, tmp_path, monkeypatch):
    """The fixed-point, analysis and training sections with ``devices = [the emulated one]``:
    no operator mixes it with the CPU, and every row is there."""
    root, data, ckpt = tiny
    monkeypatch.setenv("RNNSCOPE_HOME", str(tmp_path))
    args = gpu.parse_args(["--quick", "--threads", "1", "--sizes", "16", "--seeds", "32", "--models", str(ckpt),
                           "--data", str(data), "--params", json.dumps(SMALL_PARAMS), "--train-batches", "2"])
    torch.set_num_threads(1)
    dataset = load(str(data))
    device = str(FAKE)
    with emulated_device() as emu:
        fp = gpu.fixed_point_rows(args, [device])
        an = gpu.analysis_rows(args, [device], dataset)
        tr = gpu.training_rows(args, [device], dataset, gpu.load_checkpoint(ckpt))
    assert emu.mismatches == [], [str(m) for m in emu.mismatches[:3]]
    assert [(r["device"], r["n_seeds"], r["ours_converged"]) for r in fp] == [(device, 32, 32)]
    assert [(r["model"], r["device"]) for r in an] == [("gru-tiny", device)] and an[0]["accuracy"] > 0.9
    assert tr[0]["device"] == device and tr[0]["batches"] == 2 and tr[0]["tokens"] > 0
