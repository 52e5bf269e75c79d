"""Fixtures of the app tests: each test module gets the tiny MR GRU, its analysis and a
``Services`` on that store (``tests/app/tiny.py``), with the store's environment set."""
from __future__ import annotations

import pytest

from rnnscope.app.services import Services
from rnnscope.settings import Settings
from tests.app.tiny import TINY_PARAMS, active_env


@pytest.fixture(scope="module")
def tiny(rnnscope_home, tmp_path_factory, request):
    with active_env(tmp_path_factory.mktemp(f"tiny-{request.module.__name__.rsplit('.', 1)[-1]}"),
                    rnnscope_home) as env:
        yield env


@pytest.fixture(scope="module")
def svc(tiny):
    return Services(Settings.from_env(), analysis_params=dict(TINY_PARAMS))


@pytest.fixture(scope="module")
def ref(tiny):
    return {"key": tiny.key, "sha": tiny.sha, "data": "mr", "points": "auto"}
