"""Imports sit at the top of a module unless a measured reason, written down, keeps one late.

The rule, checked over every ``.py`` file under ``analysis/``, ``app/``, ``workers/``,
``bench/`` and ``rnnscope/``: an ``import`` or ``from ... import`` inside a function body
(at any depth) needs a comment containing the word "lazy" that says why (what was measured),
in one of these places:

1. on the import statement's own lines (``import redis  # lazy: 0.12 s to import ...``);
2. inside the enclosing function, above the import: any comment line from the outermost
   enclosing ``def`` down to the import (a comment at the top of the function, or just above
   a group of imports);
3. a module-level comment starting ``# lazy imports:``, which covers every function-body
   import of that module: for modules where one measurement explains them all (the command
   modules under ``app/commands/``, which ``rnnscope --help`` imports).

Docstrings do not count; only ``#`` comments do. ``if TYPE_CHECKING:`` blocks are module
level and not checked.

The second test keeps the reason for the command modules' late imports true: ``rnnscope
--help`` imports no torch (nor numpy and the rest of the analysis stack). Measured on the
2-core machine: 0.2-0.3 s for ``--help`` without numpy, 0.6-0.7 s with it, and seconds with
torch.
"""
from __future__ import annotations

import ast
import io
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("analysis", "app", "workers", "bench", "rnnscope")
#: Packages ``rnnscope --help`` must not import.
HEAVY = ("torch", "numpy", "scipy", "sklearn", "dash", "plotly", "celery", "redis")
MODULE_MARKER = "# lazy imports:"


def _comments(source: str) -> list[tuple[int, int, str]]:
    """(line, column, text) of every ``#`` comment in ``source``."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [(t.start[0], t.start[1], t.string) for t in tokens if t.type == tokenize.COMMENT]


def unexplained_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of each function-body import in ``source`` that the rule does not explain."""
    comments = _comments(source)
    if any(col == 0 and text.startswith(MODULE_MARKER) for _, col, text in comments):
        return []
    lazy_lines = {line for line, _, text in comments if "lazy" in text.lower()}
    found = []

    def visit(node: ast.AST, outer_def: int | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, child.lineno if outer_def is None else outer_def)
            elif isinstance(child, (ast.Import, ast.ImportFrom)) and outer_def is not None:
                if not any(outer_def <= line <= child.end_lineno for line in lazy_lines):
                    module = child.module if isinstance(child, ast.ImportFrom) else child.names[0].name
                    found.append((child.lineno, "." * getattr(child, "level", 0) + (module or "")))
            else:
                visit(child, outer_def)

    visit(ast.parse(source), None)
    return found


def test_every_import_inside_a_function_says_why_it_is_late():
    problems = []
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, module in unexplained_imports(path.read_text(encoding="utf-8")):
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {module} inside a function")
    assert not problems, ("move these imports to the top of their modules, or say why (what was "
                          "measured) in a comment with the word 'lazy' (see this test's docstring):\n"
                          + "\n".join(problems))


def test_the_rule_itself():
    bare = """
        import os

        def f():
            import json
            return json
    """
    assert unexplained_imports(textwrap.dedent(bare)) == [(5, "json")]
    trailing = bare.replace("import json", "import json  # lazy: 0.3 s, measured")
    assert unexplained_imports(textwrap.dedent(trailing)) == []
    head = bare.replace("def f():", "def f():\n            # lazy: the child's CPU limit must cover it")
    assert unexplained_imports(textwrap.dedent(head)) == []
    module = "# lazy imports: --help imports this module\n" + textwrap.dedent(bare)
    assert unexplained_imports(module) == []
    nested = """
        def outer():  # lazy: see below
            def inner():
                from x import y
            return inner

        def other():
            '''lazy in a docstring does not count'''
            from z import w  # a comment without the word
    """
    assert unexplained_imports(textwrap.dedent(nested)) == [(9, "z")]


def test_help_imports_no_torch_nor_the_analysis_stack():
    code = ("import sys\n"
            "from rnnscope.app.cli import main\n"
            "try:\n"
            "    main(['--help'])\n"
            "except SystemExit:\n"
            "    pass\n"
            f"print('HEAVY:', *[m for m in {HEAVY!r} if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=ROOT, check=True).stdout
    assert "usage: rnnscope" in out
    loaded = out.rsplit("HEAVY:", 1)[1].split()
    assert loaded == [], (f"`rnnscope --help` imports {', '.join(loaded)}: a command module under "
                          "app/commands/ imports it at the top; import it inside the function that "
                          "runs the command instead (see that module's '# lazy imports:' comment)")
