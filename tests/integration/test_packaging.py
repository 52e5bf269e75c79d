"""Installing rnnscope puts one import name into site-packages: ``rnnscope``.

The wheel is built from this checkout and installed into an empty folder; a Python that
sees only that folder (plus the environment's third-party packages, without this
checkout's editable-install hook) imports ``rnnscope`` and its API, and ``analysis``,
``app``, ``workers`` and ``bench`` are not importable.
"""
from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(out / "dist"), str(ROOT)], check=True, capture_output=True, timeout=600)
    wheel = next((out / "dist").glob("rnnscope-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"rnnscope"}
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                    str(out / "site"), str(wheel)], check=True, capture_output=True, timeout=600)
    return out / "site"


def _python(site: Path, code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``code`` with only ``site`` and the environment's packages on the path (no .pth hooks)."""
    packages = sysconfig.get_paths()["purelib"]
    prelude = f"import sys; sys.path[:0] = [{str(site)!r}, {packages!r}]\n"
    return subprocess.run([sys.executable, "-S", "-c", prelude + code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("name", ["analysis", "app", "workers", "bench"])
def test_generic_names_are_not_installed(installed, tmp_path, name):
    done = _python(installed, f"import {name}", tmp_path)
    assert done.returncode != 0 and f"No module named '{name}'" in done.stderr


def test_import_rnnscope_gives_the_readme_api(installed, tmp_path):
    code = ("import rnnscope\n"
            "print(rnnscope.__file__)\n"
            "print(rnnscope.load_checkpoint.__module__, rnnscope.run_analysis.__module__, rnnscope.Summary.__name__)\n"
            f"m = rnnscope.load_checkpoint({str(ROOT / 'models/demo/gru-mr.safetensors')!r})\n"
            "print(m.arch, m.net.hidden_size)\n"
            "import rnnscope.app.cli, rnnscope.bench\n")
    done = _python(installed, code, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(str(installed))  # the installed copy, not this checkout
    assert lines[1] == "rnnscope.analysis.checkpoint rnnscope.analysis.pipeline Summary"
    assert lines[2] == "gru 128"


def test_assets_are_installed(installed):
    assert (installed / "rnnscope" / "app" / "assets" / "rnnscope.css").is_file()
