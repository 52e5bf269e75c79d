"""Every torch stage runs on the network's device: with the network on another device than the
CPU, no operator mixes that device with the CPU (what CUDA refuses), and the results are the
CPU's.

No GPU here, so the other device is emulated (``tests/emulated/device_emulation.py``): a device torch
treats as an accelerator, whose tensors hold CPU values; every operator is checked with
CUDA's rules (CPU scalars and CPU index tensors may join, ``.to``/``copy_`` move, anything
else mixed is a mismatch) and ``.numpy()`` of a device tensor fails as on CUDA. First the
emulator's own known answers (what it flags, what it lets through), then training, state
collection, the fixed points (three methods), Jacobians, linearization, the attractor
iteration and a whole analysis, each on the emulated device against the CPU.
"""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnscope.analysis import training
from rnnscope.analysis.attractors import attractor_verdict, iterate_zero_input
from rnnscope.analysis.data import load
from rnnscope.analysis.fixed_points import find_fixed_points, grad_ratios, q_values
from rnnscope.analysis.linearize import eigenmodes_at, jacobians_at, linearize
from rnnscope.analysis.pipeline import AnalysisParams, run_analysis
from rnnscope.analysis.reference_models import trained_like_net
from rnnscope.analysis.states import collect_states, draw_seeds, untrained_like
from rnnscope.analysis.training import TrainConfig, train
from tests.corpus import SMALL_PARAMS, write_corpus
from tests.emulated.device_emulation import FAKE, OnDevice, emulated_device

ARCHS = ("vrnn", "gru", "ugrnn", "lstm")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def moved(net):
    """A copy of ``net`` on the emulated device (call inside ``emulated_device()``)."""
    return copy.deepcopy(net).to(FAKE)


def states_of(net, n: int = 12, seed: int = 0) -> np.ndarray:
    """``n`` states the CPU network visits on random tokens."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        tokens = torch.randint(2, net.embedding.num_embeddings, (n, 6), generator=gen)
        return net.run(tokens)[:, -1].double().numpy()


def assert_same(a, b, what: str = "") -> None:
    """Dataclasses, dicts, arrays and numbers equal field by field (bit for bit)."""
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            if f.name not in ("seconds",):
                assert_same(getattr(a, f.name), getattr(b, f.name), f"{what}.{f.name}")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for k in a:
            if k not in ("seconds", "timings"):
                assert_same(a[k], b[k], f"{what}[{k}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{what}[{i}]")
    elif isinstance(a, (np.ndarray, float)):
        assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=np.asarray(a).dtype.kind in "fc"), what
    else:
        assert a == b, what


# --------------------------------------------------------------------------- the emulator

def test_the_emulator_flags_what_cuda_refuses_and_lets_through_what_it_allows():
    with emulated_device() as emu:
        x = torch.arange(6.0, device=FAKE)
        assert isinstance(x, OnDevice) and x.device == FAKE
        doubled = x * torch.tensor(2.0)  # a 0-dim CPU tensor is a scalar
        picked = x[torch.tensor([0, 2])]  # CPU index tensors
        x[torch.tensor([False, True, False, False, False, False])] = -1.0
        back = x.cpu() + torch.ones(6)  # moved first
        assert emu.mismatches == []
        np.testing.assert_array_equal(doubled.cpu().numpy(), 2 * np.arange(6.0))
        np.testing.assert_array_equal(picked.cpu().numpy(), [0.0, 2.0])
        np.testing.assert_array_equal(back.numpy(), [1.0, 0.0, 3.0, 4.0, 5.0, 6.0])
        x + torch.ones(6)  # a CPU vector in a device operator: CUDA's "same device" error
        with pytest.raises(RuntimeError):
            x.numpy()  # .cpu() first, as on CUDA
    assert [(m.op, m.devices) for m in emu.mismatches] == [("aten.add.Tensor", ("cpu", "emulated:0"))]
    assert "x + torch.ones(6)" in emu.mismatches[0].where
    with pytest.raises(RuntimeError, match="used outside emulated_device"):
        x.cpu()


def forgetful_step(net, s):
    """F(s, 0) with the zero input made on the CPU (the bug the emulator is for)."""
    return net.cell.step(s, torch.zeros(s.shape[0], net.embed_dim, dtype=s.dtype))


def careful_step(net, s):
    return net.cell.step(s, torch.zeros(s.shape[0], net.embed_dim, dtype=s.dtype, device=s.device))


def test_a_tensor_made_without_the_nets_device_is_caught_with_its_line():
    net = trained_like_net("gru", hidden=8, embed=4, dtype=torch.float32)
    s = torch.as_tensor(states_of(net), dtype=torch.float32)
    expected = careful_step(net, s)
    with emulated_device() as emu:
        dev = moved(net)
        good = careful_step(dev, s.to(FAKE)).cpu()
        assert emu.mismatches == []
        forgetful_step(dev, s.to(FAKE))
    assert emu.mismatches and all("forgetful_step" in m.where for m in emu.mismatches)
    assert torch.equal(good, expected)


# --------------------------------------------------------------------------- the stages

def test_training_runs_every_step_on_the_device(tmp_path, monkeypatch):
    """TrainConfig(device="cuda") goes through ``resolve_device``; here it returns the emulated
    device. Same batches, same initial weights: a GRU/LSTM/vanilla layer on a non-CPU device
    runs torch's per-step cell kernels (emulated here with CUDA's gate equations), not the
    CPU's fused loop, so those weights agree to rounding; the UGRNN's own loop is identical."""
    data = load(str(write_corpus(tmp_path / "corpus.csv", n=160)))
    for arch in ARCHS:
        cfg = TrainConfig(arch=arch, hidden=8, embed=8, epochs=2, batch_size=32, lr=2e-2, patience=5, seed=0,
                          vocab_size=60)
        cpu, cpu_hist = train(data, cfg, show_bar=False)
        monkeypatch.setattr(training, "resolve_device", lambda device: FAKE)
        with emulated_device() as emu:
            dev, dev_hist = train(data, cfg, show_bar=False)
        monkeypatch.undo()
        assert emu.mismatches == [], (arch, [str(m) for m in emu.mismatches[:3]])
        print(f"{arch}: {emu.ops} operators on the emulated device")
        assert emu.ops > 1000
        for (name, a), b in zip(cpu.net.state_dict().items(), dev.net.state_dict().values()):
            assert not isinstance(b, OnDevice) and b.device.type == "cpu"  # train hands back a CPU model
            tol = 0 if arch == "ugrnn" else 1e-5
            assert torch.allclose(a, b, rtol=0, atol=tol), (arch, name, (a - b).abs().max())
        assert cpu_hist["validation_accuracy"] == dev_hist["validation_accuracy"]


def test_states_are_collected_on_the_device():
    net = trained_like_net("lstm", hidden=6, embed=4, dtype=torch.float32).eval()
    docs = [np.array([2, 5, 7]), np.array([], dtype=np.int64), np.arange(2, 14)]
    expected = collect_states(net, docs, labels=np.array([1, 0, 1]), batch_size=2)
    with emulated_device() as emu:
        dev = moved(net)
        got = collect_states(dev, docs, labels=np.array([1, 0, 1]), batch_size=2)
        fresh = untrained_like(dev, seed=3)
        assert all(p.device == FAKE for p in fresh.parameters())
    assert emu.mismatches == []
    assert_same(expected, got)
    assert_same(draw_seeds(expected, 5, 0), draw_seeds(got, 5, 0))


@pytest.mark.parametrize("arch", ARCHS)
def test_fixed_points_jacobians_and_modes_run_on_the_device(arch):
    net = trained_like_net(arch, hidden=6, embed=4, dtype=torch.float32)
    seeds = states_of(net)
    x = np.full(4, 0.1)

    def stages(n):
        out = {m: find_fixed_points(n, seeds, method=m, max_iter=200 if m == "adam" else None)
               for m in ("newton-krylov", "newton", "adam")}
        pts = out["newton-krylov"].points
        out["linearize"] = linearize(n, pts, n_modes=3, x=x)
        out["jacobians"] = jacobians_at(n, pts, x)
        out["modes"] = eigenmodes_at(n, pts[0])
        out["q"] = q_values(n, seeds, x)
        out["ratios"] = grad_ratios(n, seeds)
        return out

    expected = stages(net)
    with emulated_device() as emu:
        got = stages(moved(net))
    assert emu.mismatches == [], [str(m) for m in emu.mismatches[:3]]
    for key in expected:
        assert_same(expected[key], got[key], key)
    assert expected["newton-krylov"].n_converged == len(seeds)


def test_the_attractor_iteration_runs_on_the_device():
    net = trained_like_net("gru", hidden=6, embed=4, dtype=torch.float32)
    fp = find_fixed_points(net, states_of(net, 24))
    lin = linearize(net, fp.points)
    expected = (attractor_verdict(net, fp.points, fp.q, lin.eigvals, tol=1e-8),
                iterate_zero_input(net, fp.points, 50))
    with emulated_device() as emu:
        dev = moved(net)
        got = (attractor_verdict(dev, fp.points, fp.q, lin.eigvals, tol=1e-8), iterate_zero_input(dev, fp.points, 50))
    assert emu.mismatches == []
    assert_same(expected[0], got[0], "verdict")
    for a, b in zip(expected[1], got[1]):
        assert_same(a, b, "iteration")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("placement")
    data = load(str(write_corpus(Path(root) / "corpus.csv")))
    model, _ = train(data, TrainConfig(arch="gru", hidden=8, embed=8, epochs=3, batch_size=32, lr=2e-2, patience=6,
                                       seed=0, vocab_size=100), show_bar=False)
    return model, data


def test_a_whole_analysis_runs_on_the_device(tiny_model):
    """run_analysis with the network on the device: no mixed operator, and the report's
    arrays and summary are the CPU's (the scikit-learn and numpy stages get host copies)."""
    model, data = tiny_model
    params = AnalysisParams(**SMALL_PARAMS)
    expected = run_analysis(model, data, params)
    with emulated_device() as emu:
        got = run_analysis(dataclasses.replace(model, net=moved(model.net)), data, params)
    print(f"{emu.ops} operators on the emulated device")
    assert emu.mismatches == [], [str(m) for m in emu.mismatches[:3]]
    assert emu.ops > 10_000
    assert_same(expected.arrays, got.arrays, "arrays")
    assert_same({k: v for k, v in expected.summary.items() if k != "timings"},
                {k: v for k, v in got.summary.items() if k != "timings"}, "summary")


def test_a_multi_class_analysis_runs_on_the_device():
    data = load("counting-3")
    small = dataclasses.replace(data, **{name: dataclasses.replace(split, texts=split.texts[:n], labels=split.labels[:n])
                                         for name, split, n in (("train", data.train, 600),
                                                                ("validation", data.validation, 100),
                                                                ("test", data.test, 200))})
    model, _ = train(small, TrainConfig(arch="gru", hidden=8, embed=8, epochs=2, batch_size=32, lr=2e-2, seed=0,
                                        vocab_size=100), show_bar=False)
    with emulated_device() as emu:
        run_analysis(dataclasses.replace(model, net=moved(model.net)), small, AnalysisParams(**SMALL_PARAMS))
    assert emu.mismatches == [], [str(m) for m in emu.mismatches[:3]]
