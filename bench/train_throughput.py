"""Training throughput per architecture, against a matmul peak measured in the same run.

    python bench/train_throughput.py [--hidden 128] [--embed 64] [--batch-size 64]
                                     [--seq-len 50] [--threads 1,2] [--steps 30] [--device cpu]

For each architecture and thread count it times full training steps (the exact step of
:mod:`rnnscope.analysis.training`: embedding, fused recurrent kernel, readout, BCE loss, backward,
gradient clipping, AdamW) on random tokens of a fixed length, and prints:

- tokens/s: real tokens processed per second of training;
- FLOP/token: training FLOPs per token, counted as 3 x the forward (one forward, and a
  backward that costs about two forwards: gradients with respect to inputs and weights);
- GFLOP/s achieved = tokens/s x FLOP/token, and its ratio to the peak;
- the peak: a square float32 ``torch.mm`` (n = 2048) timed in this process with the same
  thread count, just before each row, 2 n^3 FLOPs per product.

Forward FLOPs per token (a multiply-add counts 2), with G gates (LSTM 4, GRU 3, UGRNN 2,
vanilla 1) each a matmul of the input (E) and the hidden state (H):

    forward = 2 G H (E + H)   +   2 H / T  (readout, once per document of T tokens)

Element-wise gate arithmetic (about 10 H per token) and the embedding lookup are left out;
they move memory rather than do arithmetic. The estimated epoch times use the token
counts of the real training splits (MR: 221,989 tokens at max_len 60; IMDB: 5,100,214 at
max_len 400, with the rnnscope-words/1 tokenizer).
"""
from __future__ import annotations

import argparse
import sys
import time

import torch


from rnnscope.analysis.model import RNNClassifier  # noqa: E402
from rnnscope.analysis.training import _loss, logits  # noqa: E402

GATES = {"lstm": 4, "gru": 3, "ugrnn": 2, "vrnn": 1}
EPOCH_TOKENS = {"MR": 221_989, "IMDB": 5_100_214}


def forward_flops_per_token(arch: str, hidden: int, embed: int, seq_len: int) -> float:
    """Forward FLOPs per token: ``2 G H (E + H) + 2 H / T`` (see the module docstring)."""
    return 2 * GATES[arch] * hidden * (embed + hidden) + 2 * hidden / seq_len


def train_flops_per_token(arch: str, hidden: int, embed: int, seq_len: int) -> float:
    """Training FLOPs per token: 3 x forward (forward + backward of about two forwards)."""
    return 3 * forward_flops_per_token(arch, hidden, embed, seq_len)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(n: int = 2048, repeats: int = 5, device: str = "cpu") -> float:
    """Best-of-``repeats`` float32 ``torch.mm`` rate in GFLOP/s (2 n^3 FLOPs per product).

    On CUDA, n is raised to 8192 so the product runs well past launch overhead; TF32 stays
    off (PyTorch's default for matmul), so this is the plain fp32 rate the RNN kernels use.
    """
    dev = torch.device(device)
    n = max(n, 8192) if dev.type == "cuda" else n
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    torch.mm(a, b)  # warm up
    _sync(dev)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        _sync(dev)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def train_tokens_per_second(arch: str, hidden: int, embed: int, batch_size: int, seq_len: int,
                            steps: int, vocab: int = 10000, seed: int = 0, device: str = "cpu") -> float:
    """Tokens per second of full training steps on random tokens of length ``seq_len``."""
    dev = torch.device(device)
    torch.manual_seed(seed)
    net = RNNClassifier(arch, vocab, embed, hidden).to(device=dev, dtype=torch.float32)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    tokens = torch.randint(2, vocab, (batch_size, seq_len), device=dev)
    lengths = torch.full((batch_size,), seq_len, dtype=torch.int64)
    labels = torch.randint(0, 2, (batch_size,), device=dev)

    def step() -> None:
        loss = _loss(logits(net, tokens, lengths, dropout=0.1), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()

    for _ in range(3):
        step()
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(dev)
    return steps * batch_size * seq_len / (time.perf_counter() - t0)


def measure(args: argparse.Namespace) -> list[dict]:
    """One row per (threads, arch) with tokens/s, FLOP/token, GFLOP/s, peak and ratio."""
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for arch in args.archs:
            # The peak is re-measured next to each row, so that a machine whose load
            # changes during the run still yields a like-for-like ratio.
            peak = matmul_peak_gflops(n=args.peak_n, device=args.device)
            tps = train_tokens_per_second(arch, args.hidden, args.embed, args.batch_size, args.seq_len, args.steps,
                                          device=args.device)
            flops = train_flops_per_token(arch, args.hidden, args.embed, args.seq_len)
            achieved = tps * flops / 1e9
            rows.append({"threads": threads, "arch": arch, "tokens_per_s": tps, "flop_per_token": flops,
                         "gflops": achieved, "peak_gflops": peak, "ratio": achieved / peak,
                         **{f"epoch_s_{k}": n / tps for k, n in EPOCH_TOKENS.items()}})
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a fixed-width text table."""
    head = (f"{'threads':>7} {'arch':<6} {'tokens/s':>10} {'FLOP/token':>11} {'GFLOP/s':>8} "
            f"{'peak GFLOP/s':>12} {'ratio':>6} {'MR epoch s':>10} {'IMDB epoch s':>12}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['threads']:>7} {r['arch']:<6} {r['tokens_per_s']:>10.0f} {r['flop_per_token']:>11.3g} "
                     f"{r['gflops']:>8.2f} {r['peak_gflops']:>12.1f} {r['ratio']:>6.3f} "
                     f"{r['epoch_s_MR']:>10.1f} {r['epoch_s_IMDB']:>12.0f}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="train_throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--archs", default="lstm,gru,ugrnn,vrnn", help="comma-separated architectures")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--embed", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=50, help="tokens per document (all equal)")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per row")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--peak-n", type=int, default=2048, help="matrix size of the matmul peak (CPU)")
    args = parser.parse_args(argv)
    args.archs = [a for a in args.archs.split(",") if a]
    unknown = [a for a in args.archs if a not in GATES]
    if unknown:
        parser.error(f"unknown architecture(s) {', '.join(unknown)}; expected {', '.join(GATES)}")
    args.threads = [int(t) for t in args.threads.split(",") if t]
    for name in ("hidden", "embed", "batch_size", "seq_len", "steps", "peak_n"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not args.threads or min(args.threads) < 1:
        parser.error("--threads must list positive integers")
    if args.device != "cpu" and not (args.device.startswith("cuda") and torch.cuda.is_available()):
        parser.error(f"device {args.device!r} is not available (cpu, or cuda[:N] with a GPU)")
    return args


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({torch.get_num_threads()} threads available to torch by default)"


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table; returns 0."""
    args = parse_args(argv)
    print(f"training throughput: H={args.hidden} E={args.embed} batch={args.batch_size} "
          f"T={args.seq_len} steps={args.steps}, torch {torch.__version__}, float32, {_device_name(args.device)}")
    print("FLOP/token = 3 x forward; forward = 2*G*H*(E+H) + 2*H/T, G = 4 lstm, 3 gru, 2 ugrnn, 1 vrnn; "
          f"peak = float32 torch.mm (n={args.peak_n} on CPU, >= 8192 on GPU) in this process")
    print(format_table(measure(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
