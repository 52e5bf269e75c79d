"""Job functions on a tiny trained GRU: cached by content, computed once, progress to 1.0,
results identical to calling the analysis directly; the ``rnnscope analyze`` command.
"""
from __future__ import annotations

import multiprocessing
import shutil

import numpy as np
import pytest

from rnnscope.analysis import checkpoint
from rnnscope.analysis.data import DataError, load
from rnnscope.analysis import pipeline
from rnnscope.analysis.memory_budget import MemoryBudgetError, block_bytes, search_state_bytes
from rnnscope.analysis.pipeline import AnalysisParams, run_analysis
from rnnscope.workers import jobs
from tests.corpus import FILLER, NEGATIVE, POSITIVE, SMALL_PARAMS, train_tiny, write_corpus
from rnnscope.workers.store import ArtifactNotFound, ArtifactStore

PARAMS = SMALL_PARAMS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """A trained GRU-8 checkpoint and the CSV corpus it was trained on."""
    data, ckpt = train_tiny(tmp_path_factory.mktemp("tiny"))
    return {"data": str(data), "ckpt": ckpt}


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store", redis_url="")


@pytest.fixture
def sha(store, tiny) -> str:
    return store.put_checkpoint(tiny["ckpt"].read_bytes(), tiny["ckpt"].name)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, tiny) -> dict:
    """One store holding the tiny model's full analysis, computed once for the module."""
    store = ArtifactStore(tmp_path_factory.mktemp("analysed") / "store", redis_url="")
    sha = store.put_checkpoint(tiny["ckpt"].read_bytes(), tiny["ckpt"].name)
    calls = []
    key = jobs.full_analysis(sha, tiny["data"], PARAMS, store=store,
                             progress=lambda f, m: calls.append((f, m)))
    return {"store": store, "sha": sha, "key": key, "calls": calls}


def recorder():
    calls = []
    return calls, lambda fraction, message: calls.append((fraction, message))


def assert_monotone_to_one(calls):
    fractions = [f for f, _ in calls]
    assert fractions and all(0.0 <= f <= 1.0 for f in fractions)
    assert all(b >= a for a, b in zip(fractions, fractions[1:]))
    assert fractions[-1] == 1.0


def assert_reports_equal(a, b):
    assert set(a.arrays) == set(b.arrays)
    for name in a.arrays:
        x, y = a.arrays[name], b.arrays[name]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"), name
    ignore = {"timings", "fixed_points"}  # wall times differ between runs
    assert {k: v for k, v in a.summary.items() if k not in ignore} == \
        {k: v for k, v in b.summary.items() if k not in ignore}
    seconds = lambda s: {k: v for k, v in s["fixed_points"].items() if k != "seconds"}  # noqa: E731
    assert seconds(a.summary) == seconds(b.summary)


# --- full analysis ---------------------------------------------------------------------------
def test_full_analysis_stores_the_same_report_as_run_analysis(analysed, tiny):
    store, sha, key = analysed["store"], analysed["sha"], analysed["key"]
    assert key == jobs.analysis_key(sha, tiny["data"], PARAMS)
    assert_monotone_to_one(analysed["calls"])
    messages = " | ".join(m for _, m in analysed["calls"])
    assert "fixed points" in messages and "storing the report" in messages
    assert len(store.computations(key)) == 1
    direct = run_analysis(checkpoint.load(tiny["ckpt"]), load(tiny["data"]), AnalysisParams(**PARAMS))
    stored = store.get_report(key)
    assert_reports_equal(stored, direct)
    assert stored.summary["model"]["sha256"] == sha
    assert len(stored.arrays["fixed_points"]) >= 1


def test_asking_twice_computes_once_and_says_so(analysed, tiny):
    store, sha, key = analysed["store"], analysed["sha"], analysed["key"]
    calls, progress = recorder()
    reordered = dict(reversed(list(PARAMS.items())))
    assert jobs.full_analysis(sha, tiny["data"], reordered, store=store, progress=progress) == key
    assert len(store.computations(key)) == 1 and len(store.computations(key, "started")) == 1
    assert_monotone_to_one(calls)
    assert "cached" in calls[-1][1]
    # explicit defaults are the same analysis as omitted ones; another value is not
    explicit = {**PARAMS, "tol": AnalysisParams().tol}
    assert jobs.analysis_key(sha, tiny["data"], explicit) == key
    assert jobs.analysis_key(sha, tiny["data"], {**PARAMS, "n_seeds": 25}) != key


def _analyse(root: str, sha: str, data: str, params: dict, queue) -> None:
    store = ArtifactStore(root, redis_url="")
    queue.put(jobs.full_analysis(sha, data, params, store=store))


def test_two_processes_asking_at_once_compute_once(analysed, tiny):
    store, sha = analysed["store"], analysed["sha"]
    params = {**PARAMS, "seed": 1}  # a key nobody computed yet
    ctx = multiprocessing.get_context("spawn")  # torch in the parent: no fork
    queue = ctx.Queue()
    procs = [ctx.Process(target=_analyse, args=(str(store.root), sha, tiny["data"], params, queue),
                         daemon=True) for _ in range(2)]
    for p in procs:
        p.start()
    keys = {queue.get(timeout=300) for _ in procs}
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    (key,) = keys
    assert key == jobs.analysis_key(sha, tiny["data"], params)
    assert len(store.computations(key)) == 1 and len(store.computations(key, "started")) == 1
    assert store.get_report(key).arrays["fixed_points"].ndim == 2


def test_bad_inputs_fail_clearly_and_store_nothing(store, sha, tiny):
    with pytest.raises(ValueError, match="unknown analysis parameter"):
        jobs.full_analysis(sha, tiny["data"], {"n_sedes": 3}, store=store)
    with pytest.raises(ValueError, match="n_seeds"):
        jobs.full_analysis(sha, tiny["data"], {"n_seeds": -1}, store=store)
    with pytest.raises(DataError, match="neither a registered dataset"):
        jobs.full_analysis(sha, "/no/such/corpus.csv", PARAMS, store=store)
    with pytest.raises(ArtifactNotFound, match="no checkpoint"):
        jobs.full_analysis("0" * 64, tiny["data"], PARAMS, store=store)
    with pytest.raises(ValueError, match="invalid"):
        jobs.full_analysis("../../etc/passwd", tiny["data"], PARAMS, store=store)
    assert list((store.root / "reports").iterdir()) == []
    assert store.computations() == []


def test_dataset_identity_is_content(tmp_path, tiny):
    copy = tmp_path / "renamed.csv"
    shutil.copyfile(tiny["data"], copy)
    assert jobs.dataset_id(copy) == jobs.dataset_id(tiny["data"])
    other = write_corpus(tmp_path / "other.csv", seed=1)
    assert jobs.dataset_id(other) != jobs.dataset_id(tiny["data"])
    assert jobs.dataset_id("mr").startswith("mr@")
    with pytest.raises(DataError, match="not a labelled dataset"):
        jobs.dataset_id("vader")


# --- sub-jobs ----------------------------------------------------------------------------------
def test_sub_jobs_agree_with_the_full_report(analysed, tiny):
    store, sha = analysed["store"], analysed["sha"]
    report = store.get_report(analysed["key"])
    calls, progress = recorder()
    lin_key = jobs.linearize_job(sha, tiny["data"], PARAMS, store=store, progress=progress)
    assert_monotone_to_one(calls)
    # linearize ran fixed points, which ran states: three artifacts, each computed once
    sub_keys = {row["key"]: row["label"] for row in store.computations()
                if row["label"] in ("visited states", "fixed points", "linearization")}
    assert sorted(sub_keys.values()) == ["fixed points", "linearization", "visited states"]
    before = len(store.computations())

    states_key = jobs.collect_states_job(sha, tiny["data"], PARAMS, store=store)
    states = store.get_arrays(states_key)
    assert states["states"].shape == (report.summary["data"]["n_states"], 8)
    assert len(states["lengths"]) == report.summary["data"]["n_docs"] == PARAMS["n_docs"]

    fp = store.get_arrays(jobs.find_fixed_points_job(sha, tiny["data"], PARAMS, store=store))
    np.testing.assert_array_equal(fp["points"], report.arrays["fixed_points"])
    np.testing.assert_array_equal(fp["q"], report.arrays["q"])
    assert len(fp["seed_q"]) == PARAMS["n_seeds"]

    lin = store.get_arrays(lin_key)
    np.testing.assert_array_equal(lin["eigvals"], report.arrays["eigvals"])
    assert lin["left_inp"].shape == report.arrays["left_inp"].shape
    assert len(store.computations()) == before  # the calls above were all cache hits


def test_sub_job_keys_depend_only_on_their_params(store, sha, tiny):
    key = jobs.collect_states_job(sha, tiny["data"], PARAMS, store=store)
    # n_seeds does not change the visited states: same key, no new computation
    assert jobs.collect_states_job(sha, tiny["data"], {**PARAMS, "n_seeds": 7}, store=store) == key
    assert jobs.collect_states_job(sha, tiny["data"], {**PARAMS, "n_docs": 10}, store=store) != key
    assert len(store.computations()) == 2


def test_word_projections_of_the_whole_vocabulary(analysed, tiny):
    store, key = analysed["store"], analysed["key"]
    report = store.get_report(key)
    calls, progress = recorder()
    proj_key = jobs.word_projections_job(key, store=store, progress=progress)
    assert_monotone_to_one(calls)
    arrays = store.get_arrays(proj_key)
    vocab_size = report.summary["model"]["vocab_size"]
    assert arrays["projection"].shape == (len(report.arrays["fixed_points"]), vocab_size)
    np.testing.assert_allclose(arrays["projection"][:, report.arrays["word_ids"]],
                               report.arrays["input_projection"], rtol=1e-4, atol=1e-6)
    signed = report.arrays["mode_sign_source"] != "none"
    assert signed.any()
    mean = arrays["projection"][signed].mean(0)
    assert np.all(np.diff(mean[arrays["order"]]) <= 0)  # most positive first
    # the network integrates valence: positive words push one way, negative the other
    index = checkpoint.load(tiny["ckpt"]).vocab.index
    pos, neg, filler = (mean[[index[w] for w in words]] for words in (POSITIVE, NEGATIVE, FILLER))
    assert pos.min() > 0 > neg.max()
    assert pos.mean() > filler.mean() > neg.mean()
    with pytest.raises(ValueError, match="out of range"):
        jobs.word_projections_job(key, mode=99, store=store)


# --- demo checkpoints and the CLI --------------------------------------------------------------------
def test_demo_checkpoints_are_registered_once(store, tiny, tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    shutil.copyfile(tiny["ckpt"], demo / "gru-tiny.safetensors")
    (demo / "notes.txt").write_text("not a checkpoint")
    infos = jobs.demo_checkpoints(store, demo)
    assert [i["filename"] for i in infos] == ["gru-tiny.safetensors"]
    assert store.checkpoint_path(infos[0]["sha256"]).read_bytes() == tiny["ckpt"].read_bytes()
    assert jobs.demo_checkpoints(store, demo) == infos
    assert jobs.demo_checkpoints(store, tmp_path / "missing") == []


def test_cli_analyze_writes_the_report_and_caches(tmp_path, tiny, capsys):
    from rnnscope.app.cli import main

    store_dir, out = tmp_path / "store", tmp_path / "out"
    argv = ["analyze", str(tiny["ckpt"]), "--data", tiny["data"], "--out", str(out),
            "--store", str(store_dir), "--seeds", str(PARAMS["n_seeds"]), "--docs", str(PARAMS["n_docs"])]
    argv += [f"--param={k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in PARAMS.items()
             if k not in ("n_seeds", "n_docs")]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert f"report: {out}" in first.out and "cached" not in first.err
    assert {"report.json", "arrays.npz"} <= {p.name for p in out.iterdir()}
    from rnnscope.analysis.report import Report

    written = Report.load(out)
    assert f"dynamics: {written.summary['attractor']['text']}" in first.err  # the verdict, in words
    store = ArtifactStore(store_dir, redis_url="")
    key = jobs.analysis_key(store.list_checkpoints()[0]["sha256"], tiny["data"], PARAMS)
    assert_reports_equal(written, store.get_report(key))
    html = out / "report.html"
    assert html.exists() and "fig" in html.read_text()[:200_000]

    assert main(argv) == 0
    second = capsys.readouterr()
    assert "cached" in second.err and "nothing to compute" in second.err
    assert len(store.computations()) == 1


def test_cli_analyze_bad_input_exits_2(tmp_path, tiny, capsys):
    from rnnscope.app.cli import main

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model at all")
    assert main(["analyze", str(junk), "--data", tiny["data"], "--out", str(tmp_path / "o"),
                 "--store", str(tmp_path / "s")]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["analyze", str(tiny["ckpt"]), "--data", tiny["data"], "--out", str(tmp_path / "o"),
                 "--store", str(tmp_path / "s"), "--param", "bogus=1"]) == 2
    assert "unknown analysis parameter" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_memory_budget_reaches_the_search_and_the_linearization(tiny, store, sha, monkeypatch):
    """run_analysis hands ``memory_budget`` to find_fixed_points and linearize: a budget below
    one seed's row is refused in words by the search; one that holds 4 seeds a block gives
    the same point set as the default. The job passes
    ``RNNSCOPE_MEMORY_BUDGET_MB`` to it."""
    model, dataset = checkpoint.load(tiny["ckpt"]), load(tiny["data"])
    params = AnalysisParams.from_dict(PARAMS)
    with pytest.raises(MemoryBudgetError, match="budget"):
        run_analysis(model, dataset, params, memory_budget=1000)
    D, E = model.net.state_size, model.net.embed_dim
    row = max(block_bytes(D, E, krylov_dim=40, anderson=5, dense=d) for d in (False, True))
    small = params.n_seeds * search_state_bytes(D) + 4 * row   # the search state, then 4 seeds a block
    whole, split = run_analysis(model, dataset, params), run_analysis(model, dataset, params, memory_budget=small)
    assert whole.arrays["fixed_points"].shape == split.arrays["fixed_points"].shape
    np.testing.assert_allclose(split.arrays["fixed_points"], whole.arrays["fixed_points"], atol=1e-4)
    seen = []
    monkeypatch.setattr(pipeline, "run_analysis",
                        lambda *a, memory_budget, **k: seen.append(memory_budget) or run_analysis(*a, **k))
    monkeypatch.setenv("RNNSCOPE_MEMORY_BUDGET_MB", "3")
    jobs.full_analysis(sha, tiny["data"], PARAMS, store=store)
    assert seen == [3 * 2**20]
