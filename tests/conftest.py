"""Shared fixtures: tiny reference networks and a per-session rnnscope home."""
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def rnnscope_home(tmp_path_factory) -> Path:
    """The data/model cache for the whole test session.

    Uses ``$RNNSCOPE_HOME`` when set (CI points it at a persistent cache so real
    datasets download once); otherwise a fresh temporary directory.
    """
    home = os.environ.get("RNNSCOPE_HOME")
    path = Path(home) if home else tmp_path_factory.mktemp("rnnscope_home")
    path.mkdir(parents=True, exist_ok=True)
    return path


EMULATED = Path(__file__).parent / "emulated"


def pytest_addoption(parser):
    parser.addoption("--emulated-device", action="store_true",
                     help="collect tests/emulated (tests/unit/test_emulated_device.py runs them in their own process)")


def pytest_ignore_collect(collection_path: Path, config):
    """tests/emulated is collected only with ``--emulated-device``, i.e. in its own process.

    Importing its device emulator registers a torch backend for the whole process; once any
    backward has run beside it, autograd has started device threads, and every child forked
    later (the dashboard's embedded analysis jobs in tests/browser) fails its first backward
    with "Unable to handle autograd's threading in combination with fork-based multiprocessing".
    """
    if collection_path == EMULATED and not config.getoption("--emulated-device"):
        return True
    return None
