"""GPU against the same machine's CPU cores: fixed points, the IMDB analyses, training throughput.

    python bench/gpu.py [--out results.md] [--quick] [--models GLOB] [--data NAME] [--params JSON]
                        [--sizes 256,1024] [--seeds 4096] [--threads N] [--train-batches 50]
                        [--sections fixed-points,analysis,training] [--gpu-budget-mb MiB] [--cpu-budget-mb MiB]
    rnnscope bench gpu ...

One run, one machine, every row on cuda and then on the CPU (all cores unless ``--threads``):

1. **Fixed points**: ``rnnscope bench fixed-points`` rows (our finder; no Adam reference, which
   would take hours on the CPU at this size) for a GRU trained on the synthetic task with 256
   and 1,024 units (``--sizes``; trained once, on the GPU when there is one), 4,096 seeds drawn
   from its visited states, each device in its default memory budget (8 GiB on cuda, 2 GiB on
   the CPU: ``rnnscope.settings.DEFAULT_MEMORY_BUDGET_MB``).
2. **Analyses**: ``rnnscope.analysis.pipeline.run_analysis`` with default ``AnalysisParams`` of each
   model in ``models/imdb/`` on the IMDB dataset (it must be in ``$RNNSCOPE_HOME/data``: the
   script downloads nothing), with the seconds of each stage.
3. **Training throughput**: real tokens per second of the training step (embedding, the
   recurrent layer, readout, loss, backward, clipping, AdamW) of a network shaped like the GRU
   IMDB model (its training config: sizes, batch 64, max_len 400, dropout, lr), over
   ``--train-batches`` length-bucketed batches of IMDB training documents, after 3 warm-up
   batches.

Targets, printed PASS or FAIL (or NOT MEASURED, with the reason):

- the 4,096-seed search at 1,024 units on cuda in under 10 s, reaching ``q < 1e-8`` from at
  least 99% as many seeds as the same search on the CPU (from 99% of all seeds when there is
  no CPU row): a network may have slow points where seeds rightly stop above ``1e-8``
  (measured here on the CPU: 3,875 of 4,096 for this GRU-1,024), so speed is judged at the
  CPU's quality;
- that search's peak GPU memory (``torch.cuda.max_memory_allocated``) within its budget plus
  64 MiB (the network, CUDA library workspaces);
- the same search on the CPU under 4 GiB peak resident memory (the process's, CUDA's host
  memory included);
- each IMDB model's whole analysis on cuda in under 30 s.

Without a GPU it says so in the first lines, runs the CPU rows, reports the GPU targets as not
measured and exits 0. ``--quick`` is a smoke run (sizes 32 and 64, 128 seeds, 3 training
batches; pass ``--models``/``--data``/``--params`` for a small analysis); its targets are not
judged. Section 2 or 3 is skipped with a message when the dataset is not cached.
"""
from __future__ import annotations

import argparse
import copy
import datetime
import glob
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rnnscope.analysis.analysis_params import AnalysisParams
from rnnscope.analysis.checkpoint import load as load_checkpoint
from rnnscope.analysis.data import load as load_data
from rnnscope.analysis.data_splits import DataError
from rnnscope.analysis.fixed_points import find_fixed_points
from rnnscope.analysis.linearize import linearize
from rnnscope.analysis.model import RNNClassifier, pad_batch
from rnnscope.analysis.pipeline import run_analysis
from rnnscope.analysis.training import TrainConfig, _loss, available_cores, bucket_batches, logits
from rnnscope.bench.fixed_points import TRAINING, held_out, lu_gflops, synthetic_network, token_valence, visited_seeds
from rnnscope.bench.fixed_points import bench_network as fixed_point_row
from rnnscope.settings import DEFAULT_MEMORY_BUDGET_MB

#: The targets of issue 15.
TARGET_FP = {"seeds": 4096, "state_size": 1024, "seconds": 10.0, "converged": 0.99}
TARGET_ANALYSIS_SECONDS = 30.0
TARGET_CPU_BYTES = 4 * 2**30
GPU_SLACK_MB = 64
WARM_BATCHES = 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="gpu", description=__doc__.split("\n")[0])
    p.add_argument("--out", default=None, help="also write the markdown report to this file")
    p.add_argument("--quick", action="store_true", help="smoke run: sizes 32,64, 128 seeds, 3 training batches")
    p.add_argument("--models", default="models/imdb/*.safetensors", help="checkpoints to analyse (a glob)")
    p.add_argument("--data", default="imdb", help="dataset of the analyses and the training rows (must be cached)")
    p.add_argument("--params", default="{}", help="AnalysisParams overrides as JSON (default: none)")
    p.add_argument("--sizes", default=None, help="hidden units of the fixed-point networks (default 256,1024; "
                                                  "--quick: 32,64)")
    p.add_argument("--seeds", type=int, default=4096, help="fixed-point seeds")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: every available core)")
    p.add_argument("--train-batches", type=int, default=50, help="timed training batches per device")
    p.add_argument("--sections", default="fixed-points,analysis,training",
                   help="which of fixed-points, analysis, training to run (default all three)")
    p.add_argument("--gpu-budget-mb", type=int, default=DEFAULT_MEMORY_BUDGET_MB["cuda"])
    p.add_argument("--cpu-budget-mb", type=int, default=DEFAULT_MEMORY_BUDGET_MB["cpu"])
    args = p.parse_args(argv)
    args.sizes = [int(x) for x in (args.sizes or ("32,64" if args.quick else "256,1024")).split(",") if x]
    if args.quick:
        args.seeds, args.train_batches = min(args.seeds, 128), min(args.train_batches, 3)
    args.threads = args.threads or available_cores()
    args.sections = set(args.sections.split(","))
    unknown = args.sections - {"fixed-points", "analysis", "training"}
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def environment(args: argparse.Namespace, cuda: bool) -> dict:
    """What the rows were measured on."""
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "gpu": torch.cuda.get_device_name(0) if cuda else None, "torch": torch.__version__,
            "cuda": torch.version.cuda, "cpu_threads": args.threads, "cores": available_cores(),
            "quick": args.quick}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _budget(args, device: str) -> int:
    return (args.gpu_budget_mb if device == "cuda" else args.cpu_budget_mb) * 2**20


# --------------------------------------------------------------------------- 1. fixed points

def fixed_point_rows(args: argparse.Namespace, devices: list[str]) -> list[dict]:
    """``bench fixed-points`` rows of a synthetic-task GRU per size and device (same net, same seeds)."""
    rows = []
    steps, lr = TRAINING["gru"]
    for hidden in args.sizes:
        net, _ = synthetic_network("gru", hidden, max(50, steps // 5) if args.quick else steps, lr,
                                   device=devices[0])
        seeds = visited_seeds(net, held_out(token_valence(), 200)[0], args.seeds)
        for device in devices:
            opts = argparse.Namespace(device=device, tol=1e-8, dense=False, reference=False, fpf=None,
                                      memory_budget=_budget(args, device),
                                      lu_rate={net.state_size: lu_gflops(net.state_size, device)})
            print(f"fixed points: GRU-{hidden}, {args.seeds} seeds on {device} ...", file=sys.stderr, flush=True)
            rows.append(fixed_point_row(f"gru-{hidden}", copy.deepcopy(net), seeds, opts))
    return rows


# --------------------------------------------------------------------------- 2. analyses

def _warm_up(net, device: str) -> None:
    """One-time initialization (CUDA context, cuBLAS/cuSOLVER handles, kernels) outside the timings."""
    with torch.no_grad():
        states = net.run(torch.ones(2, 3, dtype=torch.long, device=device), torch.tensor([3, 2]))
    s = states[:, -1].double().cpu().numpy()
    find_fixed_points(net, s, max_iter=2, relax_steps=2)
    linearize(net, s[:1])
    _sync(device)


def analysis_rows(args: argparse.Namespace, devices: list[str], dataset) -> list[dict]:
    """The whole analysis of each model on each device: seconds, stages, a few results to compare."""
    params = AnalysisParams(**json.loads(args.params))
    rows = []
    for path in sorted(glob.glob(args.models)):
        model = load_checkpoint(path)
        for device in devices:
            model.net.to(device)
            _warm_up(model.net, device)
            print(f"analysis: {Path(path).name} on {device} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            report = run_analysis(model, dataset, params)
            _sync(device)
            seconds = time.perf_counter() - t0
            s = report.summary
            rows.append({"model": Path(path).stem, "device": device, "seconds": round(seconds, 2),
                         "stages": {k: round(v, 2) for k, v in s["timings"].items() if k != "total"},
                         "accuracy": s["accuracy"]["test"], "points": s["fixed_points"]["n_unique"],
                         "verdict": s["attractor"]["kind"]})
        model.net.cpu()
    return rows


# --------------------------------------------------------------------------- 3. training

def training_rows(args: argparse.Namespace, devices: list[str], dataset, model) -> list[dict]:
    """Tokens per second of ``model``'s training step (its config) on real documents, per device."""
    cfg = TrainConfig.from_dict(model.provenance.get("config", {}))
    n_docs = (args.train_batches + WARM_BATCHES) * cfg.batch_size
    ids = [model.encode(t)[: cfg.max_len] for t in dataset.train.texts[:n_docs]]
    ids = [x if len(x) else np.array([1]) for x in ids]
    labels = torch.as_tensor(np.asarray(dataset.train.labels[:n_docs]))
    batches = bucket_batches(np.array([len(x) for x in ids]), cfg.batch_size, np.random.default_rng(0),
                             cfg.bucket_batches)
    rows = []
    for device in devices:
        torch.manual_seed(cfg.seed)
        net = RNNClassifier(cfg.arch, len(model.vocab), cfg.embed, cfg.hidden, model.net.num_classes).to(device)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        net.train()

        def step(idx) -> int:
            tokens, lens = pad_batch([ids[i] for i in idx])
            loss = _loss(logits(net, tokens.to(device), lens, cfg.dropout), labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            opt.step()
            return int(lens.sum())

        for idx in batches[:WARM_BATCHES]:
            step(idx)
        _sync(device)
        t0 = time.perf_counter()
        tokens = sum(step(idx) for idx in batches[WARM_BATCHES: WARM_BATCHES + args.train_batches])
        _sync(device)
        seconds = time.perf_counter() - t0
        rows.append({"model": f"{cfg.arch}-{cfg.hidden} (as {model.provenance.get('dataset', '?')})",
                     "device": device, "batches": len(batches[WARM_BATCHES: WARM_BATCHES + args.train_batches]),
                     "tokens": tokens, "seconds": round(seconds, 3), "tokens_per_second": round(tokens / seconds)})
    return rows


# --------------------------------------------------------------------------- targets and report

def judge(fp_rows: list[dict], an_rows: list[dict], *, cuda: bool, quick: bool) -> list[tuple[str, str, str]]:
    """``(target, PASS | FAIL | NOT MEASURED, detail)`` for each target of the module docstring."""
    why = "--quick sizes" if quick else ("no GPU" if not cuda else None)
    size = (TARGET_FP["seeds"], TARGET_FP["state_size"])
    fp = {r["device"]: r for r in fp_rows if (r["n_seeds"], r["state_size"]) == size}
    name = f"{size[0]:,} seeds x {size[1]:,} units"
    out = []
    gpu = fp.get("cuda") if why is None else None
    if gpu is None:
        out.append((f"fixed points, {name}, on the GPU under {TARGET_FP['seconds']:g} s", "NOT MEASURED",
                    why or "no such row"))
        out.append(("peak GPU memory of that search within its budget", "NOT MEASURED", why or "no such row"))
    else:
        cpu_conv = fp["cpu"]["ours_converged"] if "cpu" in fp else size[0]
        fast = (gpu["ours_seconds"] < TARGET_FP["seconds"]
                and gpu["ours_converged"] >= TARGET_FP["converged"] * cpu_conv)
        against = f" (CPU: {fp['cpu']['ours_converged']:,})" if "cpu" in fp else ""
        out.append((f"fixed points, {name}, on the GPU under {TARGET_FP['seconds']:g} s", "PASS" if fast else "FAIL",
                    f"{gpu['ours_seconds']:.2f} s, {gpu['ours_converged']:,} of {size[0]:,} at q < 1e-8{against}"))
        fits = gpu["ours_peak_gpu_mb"] <= gpu["memory_budget_mb"] + GPU_SLACK_MB
        out.append(("peak GPU memory of that search within its budget", "PASS" if fits else "FAIL",
                    f"{gpu['ours_peak_gpu_mb']:,.0f} MiB, budget {gpu['memory_budget_mb']:,.0f} MiB + {GPU_SLACK_MB}"))
    cpu = fp.get("cpu") if not quick else None
    if cpu is None:
        out.append(("the same search on the CPU under 4 GiB resident", "NOT MEASURED", "--quick sizes" if quick
                    else "no such row"))
    else:
        ok = cpu["peak_rss_mb"] * 2**20 < TARGET_CPU_BYTES
        out.append(("the same search on the CPU under 4 GiB resident", "PASS" if ok else "FAIL",
                    f"{cpu['peak_rss_mb']:,.0f} MiB peak, {cpu['ours_seconds']:.1f} s"))
    gpu_an = [r for r in an_rows if r["device"] == "cuda"] if why is None else []
    for r in gpu_an:
        ok = r["seconds"] < TARGET_ANALYSIS_SECONDS
        out.append((f"whole analysis of {r['model']} on the GPU under {TARGET_ANALYSIS_SECONDS:g} s",
                    "PASS" if ok else "FAIL", f"{r['seconds']:.1f} s"))
    if not gpu_an:
        out.append((f"whole analysis of an IMDB model on the GPU under {TARGET_ANALYSIS_SECONDS:g} s", "NOT MEASURED",
                    why or "no analysis rows"))
    return out


def _table(head: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
           ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def markdown(env: dict, fp_rows, an_rows, tr_rows, verdicts, notes: list[str]) -> str:
    """The report: environment, the three tables, the targets."""
    lines = [f"## GPU benchmark, {env['date']}", "",
             f"GPU: {env['gpu'] or 'none'}; torch {env['torch']} (CUDA {env['cuda']}); CPU rows with "
             f"{env['cpu_threads']} threads of {env['cores']} cores" + ("; --quick sizes" if env["quick"] else ""), ""]
    lines += notes + ([""] if notes else [])
    lines += ["### Fixed points (`rnnscope bench fixed-points`, ours only, q < 1e-8)", ""]
    lines += _table(["network", "D", "seeds", "device", "seconds", "converged", "unique", "max q", "blocks (budget)",
                     "peak GPU MiB", "peak RSS MiB", "F-evals/seed", "GFLOP/s"],
                    [[r["network"], r["state_size"], r["n_seeds"], r["device"], f"{r['ours_seconds']:.2f}",
                      r["ours_converged"], r["ours_unique"], f"{r['ours_max_q']:.1e}" if r["ours_max_q"] else "-",
                      f"{r['ours_blocks']} ({r['memory_budget_mb']:.0f} MiB)", f"{r['ours_peak_gpu_mb']:.0f}",
                      f"{r['peak_rss_mb']:.0f}", f"{r['ours_f_evals_per_seed']:.0f}", f"{r['ours_gflops']:.1f}"]
                     for r in fp_rows])
    lines += ["", "### Whole analysis (`run_analysis`)", ""]
    lines += _table(["model", "device", "seconds", "accuracy", "points", "verdict", "slowest stages (s)"],
                    [[r["model"], r["device"], f"{r['seconds']:.1f}", f"{r['accuracy']:.4f}", r["points"], r["verdict"],
                      ", ".join(f"{k} {v:.1f}" for k, v in sorted(r["stages"].items(), key=lambda kv: -kv[1])[:4])]
                     for r in an_rows])
    lines += ["", "### Training throughput", ""]
    lines += _table(["network", "device", "batches", "tokens", "seconds", "tokens/s"],
                    [[r["model"], r["device"], r["batches"], r["tokens"], f"{r['seconds']:.2f}",
                      f"{r['tokens_per_second']:,}"] for r in tr_rows])
    lines += ["", "### Targets", ""] + _table(["target", "result", "measured"], [list(v) for v in verdicts])
    return "\n".join(lines) + "\n"


def _data_sections(args, devices: list[str], notes: list[str]) -> tuple[list[dict], list[dict]]:
    """Sections 2 and 3, or a note saying why they were skipped."""
    try:
        dataset = load_data(args.data, fetch_missing=False)
    except (DataError, OSError) as exc:
        notes.append(f"Analyses and training skipped: dataset {args.data!r} is not available here ({exc}).")
        return [], []
    models = sorted(glob.glob(args.models))
    if not models:
        notes.append(f"Analyses and training skipped: no checkpoint matches {args.models!r}.")
        return [], []
    an_rows = analysis_rows(args, devices, dataset) if "analysis" in args.sections else []
    if "training" not in args.sections:
        return an_rows, []
    loaded = [load_checkpoint(p) for p in models]
    model = next((m for m in loaded if m.arch == "gru"), loaded[0])
    return an_rows, training_rows(args, devices, dataset, model)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    devices = ["cuda", "cpu"] if cuda else ["cpu"]
    notes = [] if cuda else [f"**No GPU here**: torch {torch.__version__} sees no CUDA device "
                             f"(torch.cuda.is_available() is False); only the CPU rows follow and the GPU "
                             f"targets are not measured."]
    print(notes[0] if notes else f"GPU: {torch.cuda.get_device_name(0)}", flush=True)
    env = environment(args, cuda)
    fp_rows = fixed_point_rows(args, devices) if "fixed-points" in args.sections else []
    an_rows, tr_rows = _data_sections(args, devices, notes) if args.sections - {"fixed-points"} else ([], [])
    verdicts = judge(fp_rows, an_rows, cuda=cuda, quick=args.quick)
    text = markdown(env, fp_rows, an_rows, tr_rows, verdicts, notes)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
