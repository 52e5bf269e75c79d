"""Modifier detection over a whole vocabulary against the rest of the analysis, in one run.

    python bench/modifiers.py [--checkpoint models/imdb/gru-imdb.safetensors] [--data imdb]
                              [--min-count 1] [--max-words 20000] [--refine 1000]
                              [--contexts 32] [--settle 10] [--probes 6]
                              [--skip-analysis] [--check-exact N] [--top 20]
    rnnscope bench modifiers ...

Issue 14: detecting modifier words over a 20,000-word vocabulary on the IMDB GRU must not
take longer than the rest of the analysis. In one process, on the same model and dataset,
this script times

1. the analysis: ``rnnscope.analysis.pipeline.run_analysis`` with default
   ``AnalysisParams`` (its stage timings are printed too); its point set (report arrays
   ``fixed_points``, ``l1``) is the one the detection uses. The analysis has a small
   modifier stage of its own (``modifiers``, ``rnnscope.analysis.modifier_stage``: the
   frequent words screened, a few measured exactly); "the rest of the analysis" is its
   total less that stage;
2. the detection (``rnnscope.analysis.modifier_survey``): encoding the test split, the
   candidates (words seen ``--min-count`` times in it, at most ``--max-words``; the
   defaults take every word of the IMDB models' 20,000-token vocabulary that occurs), the
   contexts, fillers and probes, the screen of every candidate and the exact measurement of
   the ``--refine`` strongest (``detect_modifiers(refine=...)``),

and prints both, their ratio (detection / rest of the analysis), the FLOP budget, the known
modifiers' ranks and the top of the ranking; then (not timed) each candidate's own settled readout
increment ("own", its valence), the known modifiers' rank among the more neutral half of
the candidates (|own| at most the median) and the top of that half. ``--skip-analysis``
times the detection alone, with a small fixed-point search (``quick_points``, timed apart)
for the point set.
``--check-exact N`` also measures the N most frequent candidates exactly (not timed as part
of the detection) and prints how well the screen ranked them. ``--compare-baselines N``
measures them exactly against both baselines, a filler in the candidate's slot (the
detection's) and the slot left out (the rule before analysis version 10), and prints the
quantiles of r_1 and how many come out modifiers: a reference without bias puts the median
word at r_1 ≈ 1.

FLOP budget. One step of the network costs ``c = 2 G D_h (D_h + E)`` FLOPs per row (G gates:
GRU 3, LSTM 4; D_h hidden units, E embedding size; element-wise gate arithmetic left out).
With N contexts, K distances, P probes and H settling tokens, the exact measurement of one
word is about ``N K (P (H + 1) + H + 1) + N K`` steps: the probe runs (every probe and its H
settling tokens, and the settling without a probe, at K distances, after the K − 1 fillers)
dominate, plus N K vector-Jacobian products (about 3 steps each) for the linearized
measure. The screen costs N steps per word, an N K D contraction, and once a backward pass
through the probe runs of the contexts (about 3 words' worth).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time

import numpy as np
import torch
from scipy.stats import spearmanr

from rnnscope.analysis.analysis_params import AnalysisParams
from rnnscope.analysis.checkpoint import load as load_checkpoint
from rnnscope.analysis.data import load as load_data
from rnnscope.analysis.modifier_survey import KNOWN_MODIFIERS, SurveyParams, known_modifier_ranks, own_effects, \
    quick_points, survey_setup
from rnnscope.analysis.modifiers import detect_modifiers, frequent_words, screen_ratios
from rnnscope.analysis.pipeline import run_analysis
from rnnscope.analysis.tokenizer import encode_texts

GATES = {"lstm": 4, "gru": 3, "ugrnn": 2, "vrnn": 1}
#: The pipeline's own modifier stage (``rnnscope.analysis.modifier_stage``, a small survey):
#: its seconds are left out of "the rest of the analysis".
MODIFIER_STAGE = "modifiers"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rnnscope bench modifiers", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default="models/imdb/gru-imdb.safetensors")
    p.add_argument("--data", default="imdb", help="dataset name or path (default imdb)")
    p.add_argument("--min-count", type=int, default=1, help="candidates: words seen this often in the test split")
    p.add_argument("--max-words", type=int, default=20000, help="at most this many candidates (most frequent)")
    p.add_argument("--refine", type=int, default=1000, help="candidates measured exactly after the screen")
    p.add_argument("--contexts", type=int, default=32)
    p.add_argument("--settle", type=int, default=10)
    p.add_argument("--probes", type=int, default=6)
    p.add_argument("--skip-analysis", action="store_true", help="time the detection alone")
    p.add_argument("--check-exact", type=int, default=0, metavar="N",
                   help="also measure the N most frequent candidates exactly and compare with the screen")
    p.add_argument("--compare-baselines", type=int, default=0, metavar="N",
                   help="measure the N most frequent candidates against both baselines (slot filler, slot left out)")
    p.add_argument("--top", type=int, default=20, help="rows of the ranking to print")
    return p.parse_args(argv)


def flop_budget(net, params: SurveyParams, n_words: int) -> list[str]:
    """The FLOP budget lines (module docstring) for ``n_words`` candidates."""
    N, K, P, H = params.n_contexts, params.max_distance, params.n_probes, params.settle
    c = 2 * GATES[net.arch] * net.hidden_size * (net.hidden_size + net.embed_dim)
    exact = N * K * (P * (H + 1) + H + 1) + N * K + 3 * N * K
    screen = N
    once = 3 * exact
    refine = min(params.refine or n_words, n_words)
    total_exact, total_two = n_words * exact * c, (n_words * screen + once + refine * exact) * c
    D, E = net.hidden_size, net.embed_dim
    return [f"one step: c = 2*{GATES[net.arch]}*{D}*({D}+{E}) = {c:.3g} FLOP/row",
            f"exact, per word: N*K*(P*(H+1)+H+1) + N*K + 3*N*K = {N}*{K}*({P}*{H + 1}+{H + 1}) + 4*{N}*{K} "
            f"= {exact:,} steps = {exact * c / 1e9:.2f} GFLOP",
            f"all {n_words:,} words exactly: {total_exact / 1e12:.1f} TFLOP",
            f"screen: {screen} steps per word + {once:,} once; then {refine:,} words exactly: "
            f"{total_two / 1e12:.2f} TFLOP ({total_exact / total_two:.0f}x less)"]


def analysis_stage(model, dataset) -> tuple[float, dict, np.ndarray, np.ndarray]:
    """Seconds of ``run_analysis`` (defaults), its stage timings and its point set."""
    t = time.perf_counter()
    report = run_analysis(model, dataset, AnalysisParams())
    seconds = time.perf_counter() - t
    return seconds, report.summary.get("timings", {}), report.arrays["fixed_points"], report.arrays["l1"]


def detection_stage(model, dataset, args, params: SurveyParams, points=None, l1=None) -> dict:
    """The detection, timed per stage (module docstring); returns the timings and results."""
    times, t = {}, time.perf_counter()
    seqs = encode_texts(dataset.test.texts, model.tokenizer, model.vocab)
    times["encode test split"] = time.perf_counter() - t
    if points is None:
        t = time.perf_counter()
        points, l1 = quick_points(model.net.eval(), seqs, seed=params.seed)
        times["quick_points (not in the total)"] = time.perf_counter() - t
    t = time.perf_counter()
    candidates = frequent_words(seqs, min_count=params.min_count, max_words=params.max_words)
    setup = survey_setup(model, seqs, points, l1, params, candidates)
    times["contexts, fillers, probes"] = time.perf_counter() - t
    t = time.perf_counter()
    effects = detect_modifiers(model.net.eval(), setup, candidates, refine=params.refine)
    times[f"screen all + exact {min(params.refine or len(candidates), len(candidates))}"] = time.perf_counter() - t
    total = sum(v for k, v in times.items() if "not in the total" not in k)
    return dict(times=times, total=total, effects=effects, setup=setup, candidates=candidates, seqs=seqs)


def check_exact(model, det: dict, n: int) -> list[str]:
    """Exact measurement of the ``n`` most frequent candidates against the screen."""
    net, setup, cands = model.net.eval(), det["setup"], det["candidates"]
    sub = cands[:n]
    t = time.perf_counter()
    exact = detect_modifiers(net, setup, sub)
    seconds = time.perf_counter() - t
    screened = screen_ratios(net, setup, cands)
    screen_strength = np.nanmax(np.abs(screened - 1), 1)
    place = np.empty(len(cands), np.int64)
    place[np.argsort(-screen_strength, kind="stable")] = np.arange(len(cands))
    ex = np.nanmax(np.abs(exact.ratio_readout - 1), 1)
    n_top = min(50, n)
    top = np.argsort(-ex, kind="stable")[:n_top]
    refine = det["effects"].exact.sum()
    return [f"exact on the {n} most frequent candidates: {seconds:.1f} s ({seconds / n * 1e3:.0f} ms per word)",
            f"screen vs exact on them: Spearman of max_k|r_k - 1| {spearmanr(ex, screen_strength[:n]).statistic:.3f}; "
            f"rms of r_k - r_k(screen) {np.sqrt(np.nanmean((exact.ratio_readout - screened[:n]) ** 2)):.3f}",
            f"of their exact top {n_top}, {np.mean(place[top] < refine) * 100:.0f}% are among the {refine} words the "
            f"screen sent to the exact measurement"]


def compare_baselines(model, det: dict, n: int) -> list[str]:
    """Quantiles of r_1 over the ``n`` most frequent candidates, measured exactly against a
    filler in the slot and against the slot left out (the contexts' end states)."""
    net, setup, sub = model.net.eval(), det["setup"], det["candidates"][:n]
    head = f"r_1 of the {len(sub)} most frequent candidates, by baseline"
    lines = [f"{head:<58}    10%    25%    50%    75%    90%  modifiers"]
    for name, run in (("a filler in the slot (the detection's)", setup),
                      ("the slot left out (before version 10)", dataclasses.replace(setup, baseline=setup.start))):
        effects = detect_modifiers(net, run, sub)
        q = np.nanquantile(effects.ratio_readout[:, 0], [0.1, 0.25, 0.5, 0.75, 0.9])
        lines.append(f"  {name:<56}" + "".join(f"{x:7.3f}" for x in q) + f"  {int((effects.kind != 'none').sum()):>9}")
    return lines


def known_table(det: dict, tokens) -> list[str]:
    """One line per candidate that is a known modifier, best rank first."""
    rows, missing = known_modifier_ranks(det["effects"], tokens, own=det["own"])
    n_half = int((np.abs(det["own"]) <= np.median(np.abs(det["own"]))).sum())
    out = [f"{'known':<9} {'token':<10} {'rank':>11} {f'neutral/{n_half}':>13} {'own':>6} {'exact':>5} {'kind':<11} "
           f"{'r_1..r_5 readout':<30} {'positive probes':<30} {'negative probes':<30} r_1 linear"]
    for r in rows:
        fmt = lambda a: " ".join(f"{x:5.2f}" for x in a)  # noqa: E731
        out.append(f"{r.known:<9} {r.token:<10} {f'{r.rank}/{r.of}':>11} {r.rank_neutral or '-':>13} {r.own:6.2f} "
                   f"{str(r.exact):>5} {r.kind:<11} {fmt(r.ratio_readout):<30} {fmt(r.ratio_positive):<30} "
                   f"{fmt(r.ratio_negative):<30} {r.ratio_linear[0]:.2f}")
    if missing:
        out.append(f"not candidates: {', '.join(missing)}")
    return out


def ranking_table(det: dict, tokens, top: int, neutral_only: bool = False) -> list[str]:
    """The first ``top`` rows of the ranking (of its more neutral half: |own| <= median)."""
    e, own = det["effects"], det["own"]
    order = e.ranking()
    if neutral_only:
        order = order[(np.abs(own) <= np.median(np.abs(own)))[order]]
    out = [f"{'rank':>4} {'token':<15} {'own':>6} {'kind':<11} {'exact':>5} r_1..r_5 readout"]
    for i, r in enumerate(order[:top], 1):
        out.append(f"{i:>4} {tokens[int(e.word_ids[r])]:<15} {own[r]:6.2f} {e.kind[r]:<11} {str(bool(e.exact[r])):>5} "
                   + " ".join(f"{x:5.2f}" for x in e.ratio_readout[r]))
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table; returns 0."""
    args = parse_args(argv)
    params = SurveyParams(min_count=args.min_count, max_words=args.max_words, n_contexts=args.contexts,
                          settle=args.settle, n_probes=args.probes, refine=args.refine)
    t = time.perf_counter()
    model, dataset = load_checkpoint(args.checkpoint), load_data(args.data, fetch_missing=False)
    print(f"modifier detection vs the analysis: {args.checkpoint} ({model.arch}, D={model.net.state_size}), "
          f"data {args.data} ({len(dataset.test)} test documents), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; loading {time.perf_counter() - t:.1f} s (not timed below)")
    analysis = None if args.skip_analysis else analysis_stage(model, dataset)
    det = detection_stage(model, dataset, args, params, *(analysis[2:] if analysis else ()))
    n_words = len(det["candidates"])
    print("\nFLOP budget (N contexts, K distances, P probes, H settling tokens: "
          f"{params.n_contexts}, {params.max_distance}, {params.n_probes}, {params.settle}):")
    print("\n".join("  " + line for line in flop_budget(model.net, params, n_words)))
    print(f"\n{'stage':<44} {'seconds':>8}")
    rest = None
    if analysis:
        for name, sec in analysis[1].items():
            print(f"  analysis: {name:<34} {sec:8.1f}")
        print(f"{'analysis (run_analysis, default params)':<44} {analysis[0]:8.1f}")
        stage = float(analysis[1].get(MODIFIER_STAGE, 0.0))
        rest = analysis[0] - stage
        print(f"{f'rest of the analysis (less its {MODIFIER_STAGE!r} stage)':<44} {rest:8.1f}")
    for name, sec in det["times"].items():
        print(f"  detection: {name:<33} {sec:8.1f}")
    print(f"{f'detection ({n_words:,} candidate words)':<44} {det['total']:8.1f}")
    if analysis:
        ratio = det["total"] / rest
        print(f"{'ratio detection / rest of the analysis':<44} {ratio:8.2f}  "
              f"({'meets' if ratio <= 1 else 'MISSES'} the target: at most 1)")
    tokens = model.vocab.tokens
    t = time.perf_counter()
    det["own"] = own_effects(model.net.eval(), det["setup"], det["candidates"])
    print(f"\neach candidate's own settled readout increment ('own', logits; for the tables, not timed above): "
          f"{time.perf_counter() - t:.1f} s")
    if args.check_exact:
        print("\n" + "\n".join(check_exact(model, det, args.check_exact)))
    if args.compare_baselines:
        print("\n" + "\n".join(compare_baselines(model, det, args.compare_baselines)))
    setup = det["setup"]
    print(f"\nprobes: {', '.join(tokens[i] for i in setup.probe_ids)}; fillers: "
          f"{', '.join(tokens[i] for i in np.unique(setup.between.cpu().numpy()))}")
    print(f"\nknown modifiers ({', '.join(KNOWN_MODIFIERS)}; n't = every token ending in it):")
    print("\n".join(known_table(det, tokens)))
    print(f"\ntop {args.top} of the ranking:")
    print("\n".join(ranking_table(det, tokens, args.top)))
    print(f"\ntop {args.top} of the more neutral half (|own| <= its median, {np.median(np.abs(det['own'])):.3f}):")
    print("\n".join(ranking_table(det, tokens, args.top, neutral_only=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
