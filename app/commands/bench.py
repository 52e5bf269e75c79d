"""``rnnscope bench NAME [ARGS...]``: run a benchmark from ``bench/``.

Every ``bench/<name>.py`` that defines ``main(argv) -> int`` is a sub-subcommand, spelled
with dashes (``bench/fixed_points.py`` -> ``rnnscope bench fixed-points``); the remaining
arguments go to its ``main`` unchanged, so ``rnnscope bench fixed-points --help`` shows the
benchmark's own options. Adding a benchmark is adding a file. The modules are found as the
``bench`` package when it is importable, otherwise by path in the source tree.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def available() -> dict[str, str]:
    """``{command name: first docstring line}`` of the benchmarks in ``bench/``."""
    out = {}
    for path in sorted(BENCH_DIR.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            continue
        if not any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
            continue
        doc = (ast.get_docstring(tree) or "").strip().splitlines()
        out[path.stem.replace("_", "-")] = doc[0] if doc else ""
    return out


def load(name: str):
    """The module of benchmark ``name`` (dashes or underscores)."""
    module = name.replace("-", "_")
    try:
        return importlib.import_module(f"bench.{module}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench", f"bench.{module}"):
            raise
    path = BENCH_DIR / f"{module}.py"
    if not path.exists():
        raise SystemExit(f"no benchmark {name!r}; available: {', '.join(available()) or 'none'}")
    spec = importlib.util.spec_from_file_location(f"bench.{module}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def add_parser(subparsers) -> None:
    benches = available()
    parser = subparsers.add_parser(
        "bench", help="run a benchmark (prints a table; see `rnnscope bench NAME --help`)",
        description="Benchmarks from bench/: each prints a table with ratios measured in the same run.")
    sub = parser.add_subparsers(dest="bench", metavar="NAME")
    for name, doc in benches.items():
        # prefix "+" so that every "-..." argument, --help included, goes to the benchmark
        p = sub.add_parser(name, help=doc, add_help=False, description=doc, prefix_chars="+")
        p.add_argument("bench_args", nargs=argparse.REMAINDER)
    parser.set_defaults(func=run, bench_parser=parser)


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "bench", None):
        args.bench_parser.print_help()
        return 0
    return int(load(args.bench).main(list(args.bench_args)) or 0)
