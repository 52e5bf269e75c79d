"""``rnnscope analyze``: the full analysis of one checkpoint, here, cached in the store.

    rnnscope analyze CKPT --data NAME|PATH --out DIR [--seeds 512] [--docs 1000]
                     [--param KEY=VALUE ...] [--store DIR]

Runs ``rnnscope.workers.jobs.full_analysis`` in this process (no Redis needed). The checkpoint is
copied into the artifact store by its sha256 and the report is stored under its content
key, so running the same command again computes nothing and says so. Writes
``DIR/report.json``, ``DIR/arrays.npz`` and ``DIR/report.html``. A single-file dataset is
copied into the store too (``rnnscope.app.datasets.store_cli_dataset``), so the dashboard on that
store lists it and opens this analysis from Compare. Prints the attractor verdict, the
modifier words (or why they were not measured), the share of the dataset's tokens the model
reads as ``<unk>`` and the accuracy against chance.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``analyze``."""
    parser = subparsers.add_parser(
        "analyze", help="fixed points, linearization and line attractor report of a checkpoint",
        description="Analyse a checkpoint on a dataset: visited states, fixed points, "
                    "eigenmodes, line attractor, word projections. Results are cached by "
                    "content in the artifact store ($RNNSCOPE_STORE).")
    parser.add_argument("checkpoint", metavar="CKPT", help="checkpoint file (.safetensors or .pt)")
    parser.add_argument("--data", required=True, metavar="NAME|PATH",
                        help="registered dataset (imdb, mr, tweets) or a local file/directory")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write the report")
    parser.add_argument("--seeds", type=int, default=None, help="fixed-point seeds (default 512)")
    parser.add_argument("--docs", type=int, default=None,
                        help="held-out documents whose states are collected (default 1000)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="any other AnalysisParams field, e.g. --param tol=1e-9 "
                             "(VALUE read as JSON, else as text); repeatable")
    parser.add_argument("--store", default=None, metavar="DIR",
                        help="artifact store (default $RNNSCOPE_STORE or $RNNSCOPE_HOME/store)")
    parser.set_defaults(func=run)
    return parser


def parse_key_values(items: list[str], flag: str = "--param") -> dict:
    """``KEY=VALUE`` options as a dict, each VALUE read as JSON (else kept as text)."""
    out = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        try:
            out[name.strip()] = json.loads(raw)
        except ValueError:
            out[name.strip()] = raw
    return out


def parse_params(args: argparse.Namespace) -> dict:
    """``AnalysisParams`` overrides from ``--seeds``, ``--docs`` and ``--param K=V``."""
    params = parse_key_values(args.param)
    if args.seeds is not None:
        params["n_seeds"] = args.seeds
    if args.docs is not None:
        params["n_docs"] = args.docs
    return params


# lazy imports: `rnnscope --help` imports every command module (app/cli.py) and runs in 0.2-0.3 s
# without numpy; the analysis stack (checkpoint, jobs, store, datasets, report_html: torch,
# scikit-learn, plotly) would add 5.8 s if imported at the top (measured with -X importtime on the
# 2-core machine), so each function imports what it uses.
def run(args: argparse.Namespace) -> int:
    """Analyse, print where the report is; 0 on success, 2 on bad input."""
    from rnnscope.analysis.checkpoint import CheckpointError
    from rnnscope.analysis.data import DataError
    from rnnscope.workers.store import StoreError

    try:
        return _analyze(args)
    except (CheckpointError, DataError, StoreError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _analyze(args: argparse.Namespace) -> int:
    from rnnscope.analysis.checkpoint import load
    from rnnscope.analysis.data_checks import fit_lines
    from rnnscope.analysis.summary import read as read_summary
    from rnnscope.app.datasets import store_cli_dataset
    from rnnscope.workers import jobs
    from rnnscope.workers.store import ArtifactStore

    params = parse_params(args)
    jobs.resolve_params(params)  # fail on a typo before any work
    path = Path(args.checkpoint)
    model = load(path)  # validates everything before the bytes enter the store
    store = ArtifactStore(args.store) if args.store else ArtifactStore.from_env()
    sha = store.put_checkpoint(path.read_bytes(), path.name)
    print(f"checkpoint {path.name}: {model.arch} H={model.net.hidden_size}, sha256 {sha[:12]}",
          file=sys.stderr)
    key = jobs.analysis_key(sha, args.data, params)
    if store.exists(key):
        print(f"cached: this analysis was computed before (key {key[:12]}); nothing to compute",
              file=sys.stderr)
    else:
        _run_with_bar(jobs, sha, args.data, params, store)
    out = write_outputs(store, key, Path(args.out))
    store_cli_dataset(store, args.data)
    raw = store.get_report(key).summary
    summary = read_summary(raw)
    print(f"dynamics: {summary.attractor.text}", file=sys.stderr)
    geometry = raw.get("class_geometry") or {}
    if geometry.get("applies"):  # a network with C > 2 classes (rnnscope.analysis.class_geometry)
        print(f"class geometry: {geometry['text']}", file=sys.stderr)
    modifiers = raw.get("modifiers") or {}
    if modifiers.get("text"):  # modifier words, or why they were not measured (rnnscope.analysis.modifier_stage)
        print(f"modifiers: {modifiers['text']}", file=sys.stderr)
    text, warnings = fit_lines(summary)
    print(f"data: {text}", file=sys.stderr)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"report: {out}")
    return 0



def _run_with_bar(jobs, sha: str, data: str, params: dict, store) -> str:
    from tqdm import tqdm

    with tqdm(total=1000, desc="analysis", unit="‰", file=sys.stderr, leave=True,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}") as bar:
        def progress(fraction: float, message: str) -> None:
            bar.n = round(1000 * fraction)
            bar.set_postfix_str(message, refresh=False)
            bar.refresh()

        return jobs.full_analysis(sha, data, params, store=store, progress=progress)


def write_outputs(store, key: str, out: Path) -> Path:
    """Copy the stored report to ``out`` and render ``report.html`` there; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    src = store.report_dir(key)
    for name in ("report.json", "arrays.npz"):
        tmp = out / f".{name}.tmp"
        shutil.copyfile(src / name, tmp)
        os.replace(tmp, out / name)  # a reader of DIR never sees half a file
    try:
        from rnnscope.app.report_html import render_report_html
    except ImportError as exc:
        print(f"note: report.html not written ({exc})", file=sys.stderr)
        return out
    render_report_html(store.get_report(key), out / "report.html")
    return out
