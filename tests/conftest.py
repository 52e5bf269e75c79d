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
