"""Fixed-point search: our finder against a FixedPointFinder-style Adam reference.

    python bench/fixed_points.py [--hidden 256] [--seeds 512] [--json] [--quick]
                                 [--archs vrnn,gru,lstm] [--checkpoint PATH --data NAME]
    rnnscope bench fixed-points ...

For each network (by default a vanilla RNN, a GRU and an LSTM with 256 units, trained here
for a few hundred steps on a synthetic sentiment task where every token carries a valence
of ±0.5..1.5 or 0 and the label is the sign of the sum, so the networks learn to integrate;
the trained weights are cached under ``$RNNSCOPE_HOME/bench``), it draws ``--seeds`` seeds
from the states visited on held-out documents and runs, in the same process and from the
same seeds:

- ours: :func:`rnnscope.analysis.fixed_points.find_fixed_points` (relaxation, then inexact
  Newton-Krylov with a float64 line search);
- the reference: :func:`rnnscope.analysis.fixed_points.adam_fixed_points`, configured like
  FixedPointFinder's PyTorch defaults (Adam, learning rate 1.0, ReduceLROnPlateau factor
  0.95 patience 2, float32, up to 5000 iterations, stop when every seed has q < tol);
- with ``--dense``, also our method with dense Jacobians and batched LU solves;
- with ``--fpf-path DIR``, also the real FixedPointFinder (Golub & Sussillo 2018,
  the mattgolub/fixed-point-finder repository, PyTorch version, ``FixedPointFinderTorch``)
  imported from that directory (a checkout; it is never vendored here), for the networks in
  ``--fpf-archs`` (default: the LSTM). Its optimization hyperparameters are its defaults
  (Adam lr 1.0, ReduceLROnPlateau 0.95/2, ``tol_q`` 1e-12 on its ``q = ½|G|²``, ``tol_dq``
  1e-20, 5000 iterations, float32, joint optimization); only ``verbose`` is off and the
  Jacobian computation and eigendecomposition at the unique points (not part of the search)
  are off. Its states are judged with our float64 ``q < tol``. Without ``--fpf-path`` those
  rows are skipped with a printed note.

Both are timed after a small warm-up run (one-time library initialization is excluded for
both) and judged with the same float64 q < 1e-8. Printed per network: state size, seeds
converged (ours / reference), unique fixed points, seconds, the ratio reference / ours and
the peak resident memory of our search (the process's high-water mark, reset before it).

FLOP budget (see ``analysis/fixed_points.py``). One evaluation of F costs
``P = 2 G H (H + E)`` FLOPs per seed (G gates: vanilla 1, GRU 3, LSTM 4; D = H, or 2H for
the LSTM). A dense Newton iteration costs ``(2/3) D³`` per seed for the LU solve plus
building ``J_rec`` (``~10 D²`` memory-bound operations); at D = 512 that is 9e7 FLOPs per
seed, or 46 GFLOP for 512 seeds. Newton-Krylov replaces it with one forward-difference
product ``J v`` per Krylov vector (``P`` each, a batched matrix product at full speed) plus
``~4 j D`` for orthogonalizing the j-th vector; relaxation steps cost ``P`` each. The
table's notes give, per network, the work our finder did in units of F evaluations, the
achieved GFLOP/s, and what one dense Newton iteration over all seeds would cost at the
batched-LU rate measured in this process.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rnnscope.analysis.atomic import atomic_open
from rnnscope.analysis.checkpoint import load as load_checkpoint
from rnnscope.analysis.data import load as load_data
from rnnscope.analysis.fixed_point_dedup import deduplicate
from rnnscope.analysis.fixed_points import adam_fixed_points, find_fixed_points, q_values
from rnnscope.analysis.memory_budget import search_block
from rnnscope.analysis.model import RNNClassifier, pad_batch
from rnnscope.analysis.tokenizer import encode_texts
from rnnscope.settings import Settings

GATES = {"lstm": 4, "gru": 3, "ugrnn": 2, "vrnn": 1}
# steps, learning rate: the vanilla RNN needs a smaller rate and more steps to integrate
TRAINING = {"vrnn": (1000, 1e-3), "gru": (300, 3e-3), "lstm": (300, 3e-3), "ugrnn": (300, 3e-3)}
VOCAB, EMBED, BATCH = 64, 16, 32


# --- synthetic sentiment task --------------------------------------------------------------
def token_valence(vocab_size: int = VOCAB, seed: int = 0) -> np.ndarray:
    """Valence per token id: a third positive (0.5..1.5), a third negative, the rest 0."""
    rng = np.random.default_rng(seed)
    val = np.zeros(vocab_size)
    ids = rng.permutation(np.arange(2, vocab_size))
    k = (vocab_size - 2) // 3
    val[ids[:k]] = rng.uniform(0.5, 1.5, k)
    val[ids[k: 2 * k]] = -rng.uniform(0.5, 1.5, k)
    return val


def documents(valence: np.ndarray, n: int, rng: np.random.Generator, lengths=(10, 41)):
    """``n`` random documents (token ids, 10..40 tokens) and labels ``sum(valence) > 0``."""
    seqs = [rng.integers(2, len(valence), rng.integers(*lengths)) for _ in range(n)]
    return seqs, np.array([float(valence[s].sum() > 0) for s in seqs])


def train_network(arch: str, hidden: int, *, steps: int, lr: float, seed: int = 0,
                  device: str = "cpu") -> tuple[RNNClassifier, float]:
    """Train on the synthetic task with Adam (batch 32) on ``device``; returns the net (on the
    CPU) and its held-out accuracy."""
    valence = token_valence()
    torch.manual_seed(seed)
    net = RNNClassifier(arch, VOCAB, EMBED, hidden).to(device)
    opt = torch.optim.Adam(net.parameters(), lr)
    rng = np.random.default_rng(seed + 1)
    for _ in range(steps):
        seqs, y = documents(valence, BATCH, rng)
        tokens, lengths = pad_batch(seqs)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            net(tokens.to(device), lengths)[:, 0], torch.as_tensor(y, dtype=torch.float32, device=device))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
    net = net.cpu().eval()
    return net, accuracy(net, *held_out(valence))


def held_out(valence: np.ndarray, n: int = 500):
    return documents(valence, n, np.random.default_rng(12345))


@torch.no_grad()
def accuracy(net: RNNClassifier, seqs, y) -> float:
    tokens, lengths = pad_batch(seqs)
    logits = net(tokens.to(net.readout.weight.device), lengths)[:, 0]
    return float(((logits > 0).float().cpu().numpy() == y).mean())


def cache_dir() -> Path:
    return Settings.from_env().home / "bench"


def synthetic_network(arch: str, hidden: int, steps: int, lr: float, use_cache: bool = True,
                      device: str = "cpu") -> tuple[RNNClassifier, dict]:
    """The trained synthetic-task network (on the CPU), from the cache when there (weights
    only), else trained on ``device``."""
    path = cache_dir() / f"fixed_points-{arch}-h{hidden}-s{steps}-lr{lr:g}.pt"
    if use_cache and path.exists():
        blob = torch.load(path, weights_only=True)
        net = RNNClassifier(arch, VOCAB, EMBED, hidden)
        net.load_state_dict(blob["state_dict"])
        return net.eval(), {"accuracy": float(blob["accuracy"]), "train_seconds": float(blob["seconds"]),
                            "cached": True}
    t0 = time.perf_counter()
    net, acc = train_network(arch, hidden, steps=steps, lr=lr, device=device)
    seconds = time.perf_counter() - t0
    if use_cache:
        with atomic_open(path) as fh:
            torch.save({"state_dict": net.state_dict(), "accuracy": acc, "seconds": seconds}, fh)
    return net, {"accuracy": acc, "train_seconds": seconds, "cached": False}


@torch.no_grad()
def visited_seeds(net: RNNClassifier, seqs, n: int, seed: int = 0) -> np.ndarray:
    """``n`` states drawn uniformly from those visited on real tokens of ``seqs``."""
    tokens, lengths = pad_batch(seqs)
    states = net.run(tokens.to(net.readout.weight.device), lengths)
    real = torch.arange(tokens.shape[1])[None, :] < lengths[:, None]
    pool = states[real.to(states.device)].double().cpu().numpy()
    idx = np.random.default_rng(seed).choice(len(pool), size=n, replace=len(pool) < n)
    return pool[idx]


# --- measurement --------------------------------------------------------------------------
def _reset_peak_rss() -> None:
    try:  # Linux: writing 5 resets the high-water mark VmHWM
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def lu_gflops(D: int, device, batch: int = 16) -> float:
    """Batched float64 LU-solve rate measured here: (2/3) D³ per matrix."""
    A = torch.randn(batch, D, D, dtype=torch.float64, device=device) / D ** 0.5
    A.diagonal(dim1=-2, dim2=-1).add_(2.0)
    b = torch.randn(batch, D, 1, dtype=torch.float64, device=device)
    torch.linalg.solve(A, b)
    _sync(device)
    t0 = time.perf_counter()
    torch.linalg.solve(A, b)
    _sync(device)
    return (2 / 3) * D ** 3 * batch / (time.perf_counter() - t0) / 1e9


def forward_flops(net: RNNClassifier) -> float:
    """FLOPs of one F evaluation per seed: ``2 G H (H + E)``."""
    return 2 * GATES.get(net.arch, 1) * net.hidden_size * (net.hidden_size + net.embed_dim)


def timed(fn, device):
    _reset_peak_rss()
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    seconds = time.perf_counter() - t0
    out.peak_gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if cuda else 0.0
    return out, seconds, peak_rss_mb()


def bench_network(name: str, net: RNNClassifier, seeds: np.ndarray, args) -> dict:
    """One table row: our finder (and, unless ``args.reference`` is false, the Adam reference,
    FixedPointFinder with ``--fpf-path``, dense Newton with ``--dense``) on ``seeds`` on
    ``args.device``, our search within ``args.memory_budget`` bytes."""
    device = args.device
    net = net.to(device)
    budget = args.memory_budget
    # warm-up: one-time initialization of the code paths, excluded from the timings
    find_fixed_points(net, seeds[:8], max_iter=2, relax_steps=2, device=device, memory_budget=budget)
    ours, t_ours, rss_ours = timed(lambda: find_fixed_points(net, seeds, tol=args.tol, device=device,
                                                             memory_budget=budget), device)
    P, S, D = forward_flops(net), len(seeds), net.state_size
    st = ours.stats
    work = st["forward_evals"] + st["jvps"]  # F evaluations (a JVP is one forward difference)
    block = search_block(S, D, net.embed_dim, krylov_dim=40, anderson=5, dense=False, budget=budget)[0]
    row = {
        "network": name, "state_size": D, "n_seeds": S, "device": str(device),
        "ours_seconds": round(t_ours, 3), "ours_converged": ours.n_converged, "ours_unique": ours.n_unique,
        "ours_max_q": float(ours.seed_q[ours.seed_converged].max()) if ours.n_converged else None,
        "peak_rss_mb": round(rss_ours, 1), "ours_peak_gpu_mb": round(ours.peak_gpu_mb, 1),
        "memory_budget_mb": round(budget / 2**20, 1), "ours_blocks": -(-S // block),
        "ours_newton_iters_mean": round(float(ours.seed_iters.mean()), 2),
        "ours_relax_steps_mean": round(float(ours.seed_relax_steps.mean()), 1),
        "ours_f_evals_per_seed": round(work / S, 1),
        "ours_gflops": round(work * P / t_ours / 1e9, 2),
        "dense_iteration_seconds_est": round((2 / 3) * D ** 3 * S / 1e9 / args.lu_rate[D], 2),
    }
    if getattr(args, "reference", True):
        row.update(_reference_row(net, seeds, args, t_ours))
    if getattr(args, "fpf", None) is not None and name in args.fpf_archs_set:
        res, t_fpf, rss_fpf = timed(lambda: _run_fpf(args.fpf, net, seeds), device)
        row.update(fpf_seconds=round(t_fpf, 3), fpf_converged=res.n_converged, fpf_unique=res.n_unique,
                   fpf_unique_own=res.own_unique, fpf_iters=res.iters, fpf_peak_rss_mb=round(rss_fpf, 1))
    if args.dense:
        dense, t_dense, _ = timed(lambda: find_fixed_points(net, seeds, tol=args.tol, method="newton",
                                                            device=device, memory_budget=budget), device)
        row.update(dense_seconds=round(t_dense, 3), dense_converged=dense.n_converged,
                   dense_unique=dense.n_unique, dense_newton_iters_mean=round(float(dense.seed_iters.mean()), 2))
    return row


def _reference_row(net: RNNClassifier, seeds: np.ndarray, args, t_ours: float) -> dict:
    """The Adam reference's columns of a row, on the same seeds and device."""
    adam_fixed_points(net, seeds[:8], max_iter=3, device=args.device)  # warm-up
    ref, t_ref, rss_ref = timed(lambda: adam_fixed_points(net, seeds, tol=args.tol, max_iter=args.reference_iters,
                                                          device=args.device), args.device)
    S = len(seeds)
    return {"reference_seconds": round(t_ref, 3), "reference_converged": ref.n_converged,
            "reference_unique": ref.n_unique, "ratio": round(t_ref / t_ours, 1),
            "reference_peak_rss_mb": round(rss_ref, 1), "reference_peak_gpu_mb": round(ref.peak_gpu_mb, 1),
            "reference_iters": int(ref.stats.get("adam_iters", 0)),
            "reference_gflops": round(3 * forward_flops(net) * S * ref.stats.get("adam_iters", 0) / t_ref / 1e9, 2)}


class _FPFCell(torch.nn.Module):
    """``net.cell`` with the ``output, h_n = rnn(input, h0)`` interface FixedPointFinder calls
    (batch first, one time step, the whole state ``s``, ``[h; c]`` for the LSTM, as ``h``)."""

    batch_first = True

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, inputs, s_1xbxd):
        f = self.cell.step(s_1xbxd[0], inputs[:, 0, :])
        return f[:, None, :], f[None]


class _FPFResult:
    pass


def load_fpf(path: str):
    """``FixedPointFinderTorch`` from a FixedPointFinder checkout at ``path``."""
    path = str(Path(path).expanduser().resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
    from FixedPointFinderTorch import FixedPointFinderTorch  # lazy: importable only once --fpf-path is on sys.path
    return FixedPointFinderTorch


def _run_fpf(fpf_cls, net: RNNClassifier, seeds: np.ndarray, tol: float = 1e-8):
    cell = copy.deepcopy(net.cell).float()
    finder = fpf_cls(_FPFCell(cell), verbose=False, do_compute_jacobians=False, do_decompose_jacobians=False)
    inputs = np.zeros((1, net.embed_dim), dtype=np.float32)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Freezing model parameters..."
        unique_fps, all_fps = finder.find_fixed_points(np.asarray(seeds, dtype=np.float32), inputs)
    xstar = np.asarray(all_fps.xstar, dtype=np.float64)
    q = q_values(net, xstar)
    conv = q < tol
    out = _FPFResult()
    out.n_converged = int(conv.sum())
    order = np.argsort(q[conv], kind="stable")
    out.n_unique = int(len(deduplicate(torch.as_tensor(xstar[conv][order]), 1e-3)[1])) if conv.any() else 0
    out.own_unique = int(unique_fps.n)
    out.iters = int(np.max(all_fps.n_iters)) if len(xstar) else 0
    return out


def format_table(rows: list[dict], dense: bool) -> str:
    """The rows as a plain-text table and a note per network (``-`` where the reference did not run)."""
    head = ("network", "D", "seeds", "converged ours/ref", "unique ours/ref", "seconds ours/ref", "ratio",
            "peak RSS MB", "peak GPU MB", "blocks")
    lines = []
    for r in rows:
        ref = "reference_seconds" in r
        cells = [r["network"], str(r["state_size"]), str(r["n_seeds"]),
                 f"{r['ours_converged']}/{r['reference_converged'] if ref else '-'}",
                 f"{r['ours_unique']}/{r['reference_unique'] if ref else '-'}",
                 f"{r['ours_seconds']:.2f}/{format(r['reference_seconds'], '.1f') if ref else '-'}",
                 f"{r['ratio']:.1f}x" if ref else "-", f"{r['peak_rss_mb']:.0f}", f"{r['ours_peak_gpu_mb']:.0f}",
                 f"{r['ours_blocks']} ({r['memory_budget_mb']:.0f} MiB)"]
        lines.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in lines]
    out.append("")
    for r in rows:
        note = (f"{r['network']}: ours {r['ours_f_evals_per_seed']:.0f} F-evaluations/seed "
                f"(relax {r['ours_relax_steps_mean']:.0f} steps, {r['ours_newton_iters_mean']:.1f} Newton iterations "
                f"on average), {r['ours_gflops']:.1f} GFLOP/s; ")
        if "reference_seconds" in r:
            note += f"reference {r['reference_iters']} Adam iterations, {r['reference_gflops']:.1f} GFLOP/s; "
        note += (f"one dense Newton iteration over all seeds ~{r['dense_iteration_seconds_est']:.1f} s at the "
                 f"measured LU rate")
        if dense and "dense_seconds" in r:
            note += (f"; dense Newton ran {r['dense_seconds']:.2f} s, {r['dense_converged']} converged, "
                     f"{r['dense_unique']} unique, {r['dense_newton_iters_mean']:.1f} iterations")
        out.append(note)
    fpf = [r for r in rows if "fpf_seconds" in r]
    if fpf:
        out += ["", "FixedPointFinder (Golub, PyTorch, default hyperparameters) on the same seeds, judged by float64 "
                    "q < tol:"]
        for r in fpf:
            out.append(f"{r['network']}: converged ours/FPF {r['ours_converged']}/{r['fpf_converged']}, unique "
                       f"{r['ours_unique']}/{r['fpf_unique']} (FPF's own unique count {r['fpf_unique_own']}), seconds "
                       f"{r['ours_seconds']:.2f}/{r['fpf_seconds']:.1f} ({r['fpf_seconds'] / max(r['ours_seconds'], 1e-9):.1f}x), "
                       f"FPF {r['fpf_iters']} Adam iterations, peak RSS {r['fpf_peak_rss_mb']:.0f} MB")
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fixed_points", description=__doc__.split("\n")[0])
    p.add_argument("--archs", default="vrnn,gru,lstm", help="comma-separated architectures (synthetic task)")
    p.add_argument("--hidden", type=int, default=256, help="hidden units H (default 256)")
    p.add_argument("--seeds", type=int, default=512, help="seeds per network (default 512)")
    p.add_argument("--tol", type=float, default=1e-8, help="q below which a seed has converged")
    p.add_argument("--reference-iters", type=int, default=5000, help="Adam iterations (default 5000)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="PATH",
                   help="benchmark this checkpoint instead (repeatable); seeds from --data")
    p.add_argument("--data", default=None, help="dataset whose test documents give the checkpoints' seeds")
    p.add_argument("--dense", action="store_true", help="also run the dense-Jacobian Newton method")
    p.add_argument("--quick", action="store_true", help="small smoke run: H 32, 64 seeds, short training")
    p.add_argument("--no-cache", action="store_true", help="retrain the synthetic networks")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="run our finder only (the Adam reference takes hours at 4,096 seeds x D 1,024 on a CPU)")
    p.add_argument("--memory-budget-mb", type=int, default=None,
                   help="MiB our search may hold at once on the device (default: RNNSCOPE_MEMORY_BUDGET_MB)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of the table")
    p.add_argument("--fpf-path", default=None, metavar="DIR",
                   help="a FixedPointFinder checkout (the mattgolub/fixed-point-finder repository): also run it")
    p.add_argument("--fpf-archs", default="lstm", help="networks to run FixedPointFinder on (default lstm)")
    args = p.parse_args(argv)
    if args.quick:
        args.hidden, args.seeds, args.reference_iters = min(args.hidden, 32), min(args.seeds, 64), 500
    args.memory_budget = (args.memory_budget_mb * 2**20 if args.memory_budget_mb
                          else Settings.from_env().memory_budget_bytes)
    return args


def networks(args):
    """Yield (name, net, seeds, info) for the synthetic networks or the checkpoints."""
    if args.checkpoint:
        for path in args.checkpoint:
            model = load_checkpoint(path)
            if args.data is None:
                raise SystemExit("--checkpoint needs --data (the dataset whose test documents give the seeds)")
            test = load_data(args.data).test
            seqs = [s for s in encode_texts(test.texts[:300], model.tokenizer, model.vocab, max_len=200) if len(s)]
            net = model.net.eval()
            yield Path(path).stem, net, visited_seeds(net, seqs, args.seeds), {"accuracy": None}
        return
    valence = token_valence()
    for arch in args.archs.split(","):
        steps, lr = TRAINING[arch]
        if args.quick:
            steps = max(50, steps // 5)
        net, info = synthetic_network(arch, args.hidden, steps, lr, use_cache=not args.no_cache, device=args.device)
        seqs, _ = held_out(valence, 200)
        yield arch, net, visited_seeds(net, seqs, args.seeds), info


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows, rates = [], {}
    args.fpf = load_fpf(args.fpf_path) if args.fpf_path else None
    args.fpf_archs_set = set(args.fpf_archs.split(","))
    if args.fpf is None:
        print("FixedPointFinder rows skipped: pass --fpf-path DIR (a checkout of "
              "the mattgolub/fixed-point-finder repository) to run it", file=sys.stderr)
    for name, net, seeds, info in networks(args):
        D = net.state_size
        if D not in rates:
            rates[D] = lu_gflops(D, args.device)
        args.lu_rate = rates
        if not args.json:
            trained = ""
            if info.get("accuracy") is not None:
                how = "cached" if info.get("cached") else "trained in {:.0f} s".format(info["train_seconds"])
                trained = f", synthetic-task accuracy {info['accuracy']:.3f} ({how})"
            what = "ours and the reference" if args.reference else "ours"
            print(f"{name}: D={D}{trained}; running {what} ...", file=sys.stderr, flush=True)
        row = bench_network(name, net, seeds, args)
        row["accuracy"] = info.get("accuracy")
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        reference = (f"reference: Adam lr 1.0, plateau x0.95/2, float32, <= {args.reference_iters} iterations"
                     if args.reference else "no reference (--no-reference)")
        print(f"fixed points, q < {args.tol:g}, {torch.get_num_threads()} threads, device {args.device}, memory "
              f"budget {args.memory_budget / 2**20:.0f} MiB; {reference}")
        print(format_table(rows, args.dense))
    return 0


if __name__ == "__main__":
    sys.exit(main())
