"""``rnnscope reproduce``: the paper's Table 1 and line-attractor findings on real data.

    rnnscope reproduce --data imdb,mr,tweets --arch lstm,gru,ugrnn,vrnn [--out docs]
                       [--models-dir models] [--train-missing] [--seeds 512] [--quick]
                       [--format png|svg] [--store DIR]

For each (dataset, architecture) it reuses ``<models-dir>/<dataset>/<arch>-<dataset>.safetensors``
(MR also ``<models-dir>/demo/<arch>-mr.safetensors``), or trains it with ``--train-missing``,
else reports it missing; fits the bag-of-words baseline per dataset; analyses every model
through the cached job layer (a second run computes nothing); writes one summary figure per
model to ``<out>/figures/<arch>-<dataset>.<format>`` and the document ``<out>/REPRODUCTION.md``
(see :mod:`rnnscope.app.reproduction.run` and :mod:`rnnscope.app.reproduction.markdown`). Exit status 0 on success (missing models are reported in the
document, not errors), 2 on bad input.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

DEFAULT_DATA = "imdb,mr,tweets"
DEFAULT_ARCHS = "lstm,gru,ugrnn,vrnn"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``reproduce``."""
    parser = subparsers.add_parser(
        "reproduce", help="reproduce the paper's Table 1 and line-attractor findings (docs/REPRODUCTION.md)",
        description="Analyse one model per dataset and architecture, fit the bag-of-words baselines, "
                    "draw a summary figure per model and write REPRODUCTION.md beside the paper's "
                    "Table 1. Everything heavy is cached by content in the artifact store.")
    parser.add_argument("--data", default=DEFAULT_DATA, metavar="NAMES",
                        help=f"comma-separated datasets: registered names or local paths (default {DEFAULT_DATA})")
    parser.add_argument("--arch", default=DEFAULT_ARCHS, metavar="ARCHS",
                        help=f"comma-separated architectures (default {DEFAULT_ARCHS})")
    parser.add_argument("--out", default="docs", metavar="DIR",
                        help="where REPRODUCTION.md and figures/ go (default docs)")
    parser.add_argument("--models-dir", default="models", metavar="DIR",
                        help="root of <dataset>/<arch>-<dataset>.safetensors (default models)")
    parser.add_argument("--train-missing", action="store_true",
                        help="train checkpoints that are not there (else they are reported missing)")
    parser.add_argument("--seeds", type=int, default=None, help="fixed-point seeds per model (default 512)")
    parser.add_argument("--docs", type=int, default=None,
                        help="held-out documents whose states are collected (default 1000)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small analyses and one training epoch (not for conclusions)")
    parser.add_argument("--format", default="png", choices=("png", "svg"), help="figure format (default png)")
    parser.add_argument("--store", default=None, metavar="DIR",
                        help="artifact store (default $RNNSCOPE_STORE or $RNNSCOPE_HOME/store)")
    parser.set_defaults(func=run)
    return parser


def _split(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError(f"--{what} needs at least one name")
    if len(set(items)) != len(items):
        raise ValueError(f"--{what} lists a name twice: {text!r}")
    return items


def command_line(args: argparse.Namespace) -> str:
    """The ``rnnscope reproduce`` line that regenerates this run (non-default options only)."""
    parts = ["rnnscope", "reproduce", "--data", args.data, "--arch", args.arch]
    for flag, value, default in (("--out", args.out, "docs"), ("--models-dir", args.models_dir, "models"),
                                 ("--seeds", args.seeds, None), ("--docs", args.docs, None),
                                 ("--format", args.format, "png")):
        if value != default:
            parts += [flag, str(value)]
    parts += [flag for flag, on in (("--train-missing", args.train_missing), ("--quick", args.quick)) if on]
    return shlex.join(parts)


# lazy imports: `rnnscope --help` imports every command module (app/cli.py) and runs in 0.2-0.3 s
# without numpy; the reproduction (training, analysis, figures: torch, scikit-learn, plotly) would
# add 6.3 s if imported at the top (measured with -X importtime on the 2-core machine), so each
# function imports what it uses.
def run(args: argparse.Namespace) -> int:
    """Run the reproduction and write the document; 0 on success, 2 on bad input."""
    from rnnscope.analysis.data import DataError
    from rnnscope.workers.store import StoreError

    try:
        return _reproduce(args)
    except (DataError, StoreError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _reproduce(args: argparse.Namespace) -> int:
    from rnnscope.app.reproduction.markdown import write_markdown
    from rnnscope.app.reproduction.run import ARCHS, run_reproduction
    from rnnscope.workers.store import ArtifactStore

    datasets, archs = _split(args.data, "data"), _split(args.arch, "arch")
    bad = [a for a in archs if a not in ARCHS]
    if bad:
        raise ValueError(f"unknown architecture(s) {', '.join(bad)}; choose from {', '.join(ARCHS)}")
    params = {k: v for k, v in (("n_seeds", args.seeds), ("n_docs", args.docs)) if v is not None}
    store = ArtifactStore(args.store) if args.store else ArtifactStore.from_env()
    repro = run_reproduction(datasets, archs, out_dir=args.out, models_dir=args.models_dir,
                             train_missing=args.train_missing, params=params, quick=args.quick,
                             store=store, figure_format=args.format, command=command_line(args),
                             progress_for=_bar)
    path = write_markdown(repro, Path(args.out) / "REPRODUCTION.md")
    done = sum(m.status == "analysed" for m in repro.models)
    print(f"{done} of {len(repro.models)} models analysed in {repro.seconds:.0f} s; wrote {path}")
    return 0


def _bar(label: str):
    """A tqdm progress callback for one analysis (closed when it reaches 1.0)."""
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=label, unit="‰", file=sys.stderr, leave=False,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")

    def progress(fraction: float, message: str) -> None:
        bar.n = round(1000 * fraction)
        bar.set_postfix_str(message, refresh=False)
        bar.refresh()
        if fraction >= 1.0:  # the job's last call
            bar.close()

    return progress
