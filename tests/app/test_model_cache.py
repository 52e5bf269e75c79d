"""The web process's model cache is bounded by bytes as well as by count (issue 11 item 2).

Real checkpoints (the bundled demos, safetensors files written by ``rnnscope train``) are
loaded through ``Services.model``; sizes are checked against the files' own tensor bytes.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from rnnscope.analysis.safetensors_format import parse_safetensors_header
from rnnscope.app.model_cache import LRU, TOKEN_OVERHEAD_BYTES, model_nbytes
from rnnscope.app.services import Services
from rnnscope.settings import Settings

DEMOS = sorted((Path(__file__).resolve().parents[2] / "models" / "demo").glob("*.safetensors"))
ITEM = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}


def test_lru_evicts_by_bytes_and_does_not_keep_a_value_over_the_bound():
    cache = LRU(6, max_bytes=100, sizeof=len)
    for key in "ab":
        cache.get(key, lambda k=key: k * 40)
    assert cache.keys() == ["a", "b"] and cache.nbytes == 80
    cache.get("c", lambda: "c" * 40)  # 120 > 100: the oldest goes
    assert cache.keys() == ["b", "c"] and cache.nbytes == 80
    big = cache.get("d", lambda: "d" * 150)
    assert big == "d" * 150  # its caller gets it ...
    assert cache.keys() == ["b", "c"] and cache.refused == 1  # ... and nothing is evicted for it
    again = []
    cache.get("d", lambda: again.append(1) or "d" * 150)
    assert again == [1]  # not kept: made again
    with pytest.raises(ValueError):
        LRU(2, max_bytes=10)  # a byte bound needs a size


def test_lru_still_bounds_the_count():
    cache = LRU(2, max_bytes=10**9, sizeof=len)
    for key in "abc":
        cache.get(key, lambda k=key: k)
    assert cache.keys() == ["b", "c"]


@pytest.fixture
def store_with_demos(tmp_path):
    settings = Settings.from_env({"RNNSCOPE_HOME": str(tmp_path)})
    svc = Services(settings, analysis_params={})
    shas = [svc.store.put_checkpoint(p.read_bytes(), p.name) for p in DEMOS]
    return tmp_path, shas


def services(home: Path, cache_mb: int) -> Services:
    return Services(Settings.from_env({"RNNSCOPE_HOME": str(home), "RNNSCOPE_MODEL_CACHE_MB": str(cache_mb)}),
                    analysis_params={})


def test_model_size_is_its_tensor_bytes_plus_its_vocabulary():
    path = DEMOS[0]
    svc = Services(Settings.from_env({"RNNSCOPE_HOME": "/nonexistent"}), analysis_params={})
    model = svc.reader.load(path, max_bytes=2**30)
    entries, _, _ = parse_safetensors_header(path.read_bytes())
    stored = sum(math.prod(e["shape"]) * ITEM[e["dtype"]] for e in entries.values())
    tokens = model.vocab.tokens
    assert model_nbytes(model) == stored + sum(map(len, tokens)) + TOKEN_OVERHEAD_BYTES * len(tokens)


def test_cache_holds_no_more_bytes_than_its_bound(store_with_demos):
    home, shas = store_with_demos
    svc = services(home, 1)
    sizes = [model_nbytes(svc.model(sha)) for sha in shas[:1]]
    assert sizes[0] > 2**20  # a demo model is larger than a 1 MiB bound: used, not kept
    assert len(svc.models) == 0 and svc.models.refused == 1
    assert svc.model(shas[0]) is not svc.model(shas[0])  # loaded again for each request

    svc = services(home, 7)  # two demo models (3.1-3.4 MiB each with their vocabulary) fit, not three
    for sha in shas:
        svc.model(sha)
        assert svc.models.nbytes <= 7 * 2**20
    assert len(svc.models) == 2 and svc.models.keys() == shas[-2:]
    assert svc.model(shas[-1]) is svc.model(shas[-1])  # kept: the same object


def test_default_bound_keeps_six_demo_models(store_with_demos):
    home, shas = store_with_demos
    svc = Services(Settings.from_env({"RNNSCOPE_HOME": str(home)}), analysis_params={})
    assert svc.models.max_bytes == 1024 * 2**20 and svc.models.maxsize == 6
    for sha in shas:
        svc.model(sha)
    assert len(svc.models) == len(shas)


def test_cache_setting_is_validated():
    assert Settings.from_env({"RNNSCOPE_MODEL_CACHE_MB": "64"}).model_cache_bytes == 64 * 2**20
    for bad in ("0", "-3", "lots"):
        with pytest.raises(ValueError, match="RNNSCOPE_MODEL_CACHE_MB must be a positive integer"):
            Settings.from_env({"RNNSCOPE_MODEL_CACHE_MB": bad})
