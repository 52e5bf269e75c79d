"""``rnnscope bench NAME [ARGS...]``: run a benchmark from ``bench/`` (``rnnscope.bench``).

Every module of ``rnnscope.bench`` that defines ``main(argv) -> int`` is a sub-subcommand,
spelled with dashes (``bench/fixed_points.py`` -> ``rnnscope bench fixed-points``); the
remaining arguments go to its ``main`` unchanged, so ``rnnscope bench fixed-points --help``
shows the benchmark's own options. Adding a benchmark is adding a file. The list is read
from the modules' source (``ast``, nothing imported) so ``rnnscope --help`` stays fast; the
one benchmark asked for is imported as a module of the installed package.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
from pathlib import Path

import rnnscope.bench


def available() -> dict[str, str]:
    """``{command name: first docstring line}`` of the benchmarks in ``rnnscope.bench``."""
    out = {}
    for info in sorted(pkgutil.iter_modules(rnnscope.bench.__path__), key=lambda i: i.name):
        path = Path(info.module_finder.path) / f"{info.name}.py"
        if info.name.startswith("_") or not path.is_file():
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
            continue
        doc = (ast.get_docstring(tree) or "").strip().splitlines()
        out[info.name.replace("_", "-")] = doc[0] if doc else ""
    return out


def load(name: str):
    """The module of benchmark ``name`` (dashes or underscores)."""
    module = name.replace("-", "_")
    if module.replace("_", "-") not in available():
        raise SystemExit(f"no benchmark {name!r}; available: {', '.join(available()) or 'none'}")
    return importlib.import_module(f"rnnscope.bench.{module}")


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
