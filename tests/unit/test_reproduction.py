"""``rnnscope reproduce``: the markdown writer on hand-made summaries (numbers land in the right
cells, the paper's values are there, missing models are reported), the verdict rules on
known summaries, and the whole orchestration on a tiny model and corpus (cached second run).
"""
from __future__ import annotations

import math
import shutil

import pytest

from rnnscope.analysis.claims import overall, verdicts
from rnnscope.analysis.text import fmt, pct
from rnnscope.app.reproduction import markdown as M
from rnnscope.app.reproduction import run as R
from tests.corpus import SMALL_PARAMS, write_corpus
from tests.summaries import typed

PARAMS = SMALL_PARAMS
TINY_TRAIN = dict(hidden=8, embed=8, vocab_size=100, epochs=4, batch_size=32, lr=2e-2, max_len=30)


# --------------------------------------------------------------------------- summaries
def line_attractor_summary(acc: float = 0.9123, arch: str = "lstm") -> dict:
    """A summary with every finding clearly present (numbers chosen to be recognizable)."""
    return {
        "version": "1", "model": {"arch": arch, "hidden_size": 128, "sha256": "ab" * 32},
        "data": {"name": "imdb"},
        "accuracy": {"test": acc - 0.003, "test_n_docs": 2000, "checkpoint_test": acc, "linearized": 0.8711,
                     "bow": 0.8},
        "pca": {"explained_variance_ratio": [0.61, 0.17, 0.05, 0.01],
                "explained_variance_ratio_untrained": [0.21, 0.11, 0.07, 0.05],
                "n_components_90": 4, "n_components_90_untrained": 37},
        "fixed_points": {"n_seeds": 512, "n_converged": 498, "n_unique": 431},
        "manifold": {"fp_variance_top1_own_pc": 0.9432, "fp_variance_in_top2_state_pcs": 0.88,
                     "m_readout_cosine": 0.7654},
        "spectra": {"abs_lambda1_median": 0.99871, "tau1_median": 774.0, "tau2_median": 21.5,
                    "tau3_median": 9.25},
        "attractor": {"kind": "line", "name": "line attractor", "extent_initial": 12.7, "extent_final": 12.5,
                      "n_steps": 3000, "n_attractors": 2},
        "modes": {"abs_lambda_median": 0.99871, "tau_median": 774.0},
        "projections": {"mean_positive": 0.4321, "mean_negative": -0.3987, "mean_neutral": 0.0123,
                        "r1_m_overlap_median": 0.8766, "r1_m_null_median": 0.0599,
                        "r1_m_overlap_percentile": 100.0},
        "words": {"vader_positive_agreement": 0.9, "vader_negative_agreement": 0.85},
        "linearization": {"one_step_rel_error_median": 0.0345, "full_accuracy_same_docs": 0.8802},
        "timings": {"states": 3.0, "fixed_points": 21.5, "linearize": 2.0, "total": 30.0},
    }


def vanilla_like_summary() -> dict:
    """No slow mode, neutral words push as hard as valenced ones, linearization fails."""
    s = line_attractor_summary(0.7824, "vrnn")
    s["spectra"] = {"abs_lambda1_median": 0.81, "tau1_median": 4.7, "tau2_median": 3.9, "tau3_median": 3.1}
    s["modes"] = {"abs_lambda_median": 0.81, "tau_median": 4.7}
    s["attractor"] = {"kind": "isolated", "name": "isolated stable fixed point(s) with a slow mode",
                      "extent_initial": 0.0, "extent_final": 0.0, "n_steps": 3000, "n_attractors": 1}
    s["projections"].update(mean_positive=0.2, mean_negative=-0.1, mean_neutral=0.15,
                            r1_m_overlap_percentile=60.0)
    s["linearization"]["one_step_rel_error_median"] = 0.8
    s["fixed_points"].update(n_converged=3, n_unique=1)
    return s


def make_repro(**overrides) -> R.Reproduction:
    models = [
        R.ModelResult("imdb", "lstm", "analysed", checkpoint="models/imdb/lstm-imdb.safetensors",
                      summary=typed(line_attractor_summary(0.9123)), figure="figures/lstm-imdb.png", train_tokens=5_000_000,
                      metrics={"test_accuracy": 0.9101, "validation_accuracy": 0.92, "epochs_run": 8,
                               "best_epoch": 7, "seconds": 234.3, "tokens_per_second": 240000.0},
                      provenance={"command": "rnnscope train --arch lstm --data imdb --device cuda",
                                  "config": {"device": "cuda", "hidden": 128, "embed": 64, "vocab_size": 20000,
                                             "max_len": 400, "batch_size": 64, "lr": 0.002, "dropout": 0.3}}),
        R.ModelResult("imdb", "vrnn", "analysed", summary=typed(vanilla_like_summary()), metrics={"test_accuracy": 0.78}),
        R.ModelResult("imdb", "gru", "missing", note="no checkpoint at models/imdb/gru-imdb.safetensors"),
        R.ModelResult("tweets", "lstm", "analysed", summary=typed(line_attractor_summary(0.8555)), train_tokens=300000,
                      metrics={"test_accuracy": 0.85, "epochs_run": 4, "seconds": 100.0,
                               "tokens_per_second": 2000.0},
                      provenance={"config": {"device": "cpu", "batch_size": 64}}),
    ]
    values = dict(datasets=["imdb", "tweets"], archs=["lstm", "gru", "vrnn"], models=models,
                  bow={"imdb": 0.8899, "tweets": 0.8001}, params={"n_seeds": 512, "n_docs": 1000},
                  command="rnnscope reproduce --data imdb,tweets --arch lstm,gru,vrnn")
    values.update(overrides)
    return R.Reproduction(**values)


def table_rows(markdown: str, section: str) -> list[list[str]]:
    """Rows (cells stripped) of the first table after the heading ``section``."""
    text = markdown.split(section, 1)[1]
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        elif rows:
            break
    return rows


def cell(rows: list[list[str]], row_start: str, column: str) -> str:
    header = rows[0]
    row = next(r for r in rows if r[0].startswith(row_start))
    return row[header.index(column)]


# --------------------------------------------------------------------------- markdown writer
def test_accuracy_table_puts_numbers_in_their_cells_beside_the_paper():
    md = M.render_markdown(make_repro())
    rows = table_rows(md, "## 1. Test accuracy")
    assert rows[0] == ["dataset", "BoW", "Vanilla RNN", "GRU", "LSTM"]  # paper's column order
    assert cell(rows, "**IMDB** (this run)", "LSTM") == "91.23"
    assert cell(rows, "**IMDB** (this run)", "Vanilla RNN") == "78.24"
    assert cell(rows, "**IMDB** (this run)", "BoW") == "88.99"
    assert cell(rows, "**IMDB** (this run)", "GRU") == "missing"
    assert cell(rows, "IMDB (paper)", "BoW") == "88.53"
    assert cell(rows, "IMDB (paper)", "LSTM") == "86.93"
    assert cell(rows, "IMDB (paper)", "Vanilla RNN") == "87.08"
    assert cell(rows, "**Tweets** (this run)", "LSTM") == "85.55"
    assert cell(rows, "Tweets (paper)", "BoW") == "no paper row"
    # datasets not run still show the paper's values, marked as such
    assert cell(rows, "SST (paper, not reproduced)", "GRU") == "80.25"
    assert cell(rows, "Yelp 2015 (paper, not reproduced)", "LSTM") == "95.05"
    assert "IMDB minus IMDB (points): BoW +0.46, Vanilla RNN -8.84, LSTM +4.30." in md


def test_findings_table_reads_each_summary_field():
    md = M.render_markdown(make_repro())
    rows = table_rows(md, "## 2. Line-attractor findings")
    assert cell(rows, "test accuracy % (re-measured", "LSTM") == "90.93 (n = 2000)"
    assert cell(rows, "PC1 / PC2 / PC3 variance %, trained", "LSTM") == "61.00 / 17.00 / 5.00 (Σ 83.00)"
    assert cell(rows, "PC1 / PC2 / PC3 variance %, untrained", "LSTM") == "21.00 / 11.00 / 7.00 (Σ 39.00)"
    assert cell(rows, "fixed points converged / seeds", "LSTM") == "498 / 512"
    assert cell(rows, "unique fixed points", "Vanilla RNN") == "1"
    assert cell(rows, "manifold 1-D-ness", "LSTM") == "94.32"
    assert cell(rows, "cos(m, readout)", "LSTM") == "0.765"
    assert cell(rows, "median abs(λ1)", "LSTM") == "0.9987"
    assert cell(rows, "median τ1 / τ2 / τ3", "LSTM") == "774 / 21.5 / 9.25"
    assert cell(rows, "mean input projection, positive", "LSTM") == "0.432"
    assert cell(rows, "mean input projection, negative", "LSTM") == "-0.399"
    assert cell(rows, "mean input projection, neutral", "LSTM") == "0.0123"
    assert cell(rows, "median abs(r1·m)", "LSTM") == "0.877 vs 0.0599 (100)"
    assert cell(rows, "median one-step", "LSTM") == "0.0345"
    assert cell(rows, "linearized-model accuracy", "LSTM") == "87.11 (88.02)"
    assert cell(rows, "unique fixed points", "GRU") == "missing"
    assert "![LSTM on IMDB: Fig. 7 summary](figures/lstm-imdb.png)" in md


def test_missing_models_are_reported_not_hidden():
    md = M.render_markdown(make_repro())
    assert "`gru-imdb` (missing: no checkpoint at models/imdb/gru-imdb.safetensors)" in md
    assert "**GRU on IMDB**: not analysed (missing" in md
    assert "3 of 4 models analysed" in md
    training = table_rows(md, "## 4. Training time")
    assert cell(training, "gru-imdb", "device") == "missing"


def test_training_table_measured_gpu_and_estimated_cpu_runs():
    md = M.render_markdown(make_repro())
    rows = table_rows(md, "## 4. Training time")
    assert cell(rows, "lstm-imdb", "on one GPU worker") == "234 s (measured, H200)"
    assert cell(rows, "lstm-imdb", "H / E / V / L") == "128 / 64 / 20000 / 400"
    # 300k tokens x 4 epochs / (240k tokens/s x 64/64) = 5 s
    assert cell(rows, "lstm-tweets", "on one GPU worker") == "≈ 5 s (estimate from lstm-imdb)"
    # 5M tokens x 8 epochs / 2,000 CPU tokens/s (lstm-tweets) = 20,000 s
    assert cell(rows, "lstm-imdb", "on this machine (2 CPU cores)") == "≈ 5.6 h (estimate from lstm-tweets)"
    assert cell(rows, "lstm-tweets", "on this machine (2 CPU cores)") == "100 s (measured)"
    assert "`lstm-imdb`: `rnnscope train --arch lstm --data imdb --device cuda`" in md


def test_gpu_estimate_rescales_throughput_to_batch_size():
    ref = R.ModelResult("imdb", "ugrnn", "analysed", metrics={"tokens_per_second": 400000.0},
                        provenance={"config": {"device": "cuda", "batch_size": 256}})
    run = R.ModelResult("mr", "ugrnn", "analysed", metrics={"epochs_run": 5}, train_tokens=200000,
                        provenance={"config": {"device": "cpu", "batch_size": 64}})
    # the reference reads 256 tokens per step; at batch 64 a step reads 64: 100k tokens/s
    assert M.gpu_seconds_estimate(run, ref) == pytest.approx(200000 * 5 / 100000)
    assert math.isnan(M.gpu_seconds_estimate(run, None))


def test_verdicts_on_known_summaries():
    good = verdicts(typed(line_attractor_summary()))
    assert {v for v, _ in good.values()} == {"yes"}
    assert overall(good) == "shows the line-attractor picture"
    bad = verdicts(typed(vanilla_like_summary()))
    assert bad["slow mode, |λ1| ≈ 1"][0] == "no"
    assert bad["line attractor (dynamics)"][0] == "no"
    assert bad["1-D fixed-point manifold"][0] == "no"  # a single point is no manifold
    assert bad["readout along the manifold"][0] == "n/a"
    assert bad["words push along the line"][0] == "partly"  # signs right, neutral too strong
    assert bad["r1 aligned with the manifold"][0] == "n/a"  # isolated: no manifold to align with
    assert bad["linearization holds"][0] == "no"
    assert overall(bad) == "shows the line-attractor picture only in part"
    md = M.render_markdown(make_repro())
    assert "**Vanilla RNN on IMDB** shows the line-attractor picture only in part." in md
    assert "slow mode, |λ1| ≈ 1 (integration mode |λ| = 0.81, τ = 4.7 tokens (largest |λ| = 0.81))" in md
    rows = table_rows(md, "## 3. Verdicts\n\nCriteria")  # first verdict table (IMDB)
    assert cell(rows, "slow mode", "LSTM") == "yes"
    assert cell(rows, "slow mode", "Vanilla RNN") == "no"
    assert cell(rows, "slow mode", "GRU") == "missing"


def test_all_outliers_is_said_in_words():
    s = line_attractor_summary()
    s["fixed_points"].update(n_converged=12, n_unique=0)
    verdict, why = verdicts(typed(s))["1-D fixed-point manifold"]
    assert verdict == "no" and "all 12 converged seeds were outliers" in why


def test_partial_thresholds():
    s = line_attractor_summary()
    s["modes"].update(abs_lambda_median=0.98, tau_median=49.5)
    s["manifold"]["fp_variance_top1_own_pc"] = 0.6
    s["pca"]["explained_variance_ratio"] = [0.2, 0.1, 0.1]
    marks = verdicts(typed(s))
    assert marks["slow mode, |λ1| ≈ 1"][0] == "partly"
    assert marks["1-D fixed-point manifold"][0] == "partly"
    assert marks["low-dimensional states"][0] == "partly"  # 40% < 50%, but above untrained 39%


@pytest.mark.parametrize("value, text", [(0.12345, "0.123"), (774.0, "774"), (21.53, "21.5"),
                                         (-0.39871, "-0.399"), (1.5e-5, "1.5e-05"), (None, "—"),
                                         (float("nan"), "—"), (12345.0, "12345"), (0.0, "0")])
def test_number_format(value, text):
    assert fmt(value) == text


def test_checkpoint_lookup_prefers_dataset_dir_then_demo(tmp_path):
    assert R.find_checkpoint(tmp_path, "mr", "gru") is None
    demo = tmp_path / "demo" / "gru-mr.safetensors"
    demo.parent.mkdir()
    demo.write_bytes(b"x")
    assert R.find_checkpoint(tmp_path, "mr", "gru") == demo
    own = tmp_path / "mr" / "gru-mr.safetensors"
    own.parent.mkdir()
    own.write_bytes(b"x")
    assert R.find_checkpoint(tmp_path, "mr", "gru") == own
    assert R.find_checkpoint(tmp_path, "imdb", "gru") is None  # demo is for MR only


# --------------------------------------------------------------------------- end to end
def _can_export_images() -> bool:
    import importlib.util
    import os

    browser = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or shutil.which("google-chrome")
    return bool(browser) and importlib.util.find_spec("kaleido") is not None


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """A corpus CSV and a models dir holding a trained GRU-8 for it (``gru-corpus``)."""
    from rnnscope.analysis import checkpoint
    from rnnscope.analysis.data import load
    from rnnscope.analysis.training import TrainConfig, train

    root = tmp_path_factory.mktemp("repro")
    data = write_corpus(root / "corpus.csv")
    model, _ = train(load(str(data)), TrainConfig(arch="gru", patience=4, seed=0, **TINY_TRAIN),
                     show_bar=False)
    models = root / "models"
    (models / "corpus").mkdir(parents=True)
    checkpoint.save(model, models / "corpus" / "gru-corpus.safetensors")
    return {"data": str(data), "models": models, "root": root}


def test_orchestration_end_to_end_then_fully_cached(tiny, tmp_path):
    from rnnscope.analysis.checkpoint import load
    from rnnscope.analysis.data import load as load_data
    from rnnscope.workers.store import ArtifactStore

    store = ArtifactStore(tmp_path / "store", redis_url="")
    out = tmp_path / "docs"
    models = tmp_path / "models"
    shutil.copytree(tiny["models"], models)
    kw = dict(out_dir=out, models_dir=models, params=PARAMS, quick=True, store=store, figure_format="svg",
              train_overrides=TINY_TRAIN, log=lambda line: None)

    first = R.run_reproduction([tiny["data"]], ["gru", "vrnn"], train_missing=True, **kw)
    gru, vrnn = first.get("corpus", "gru"), first.get("corpus", "vrnn")
    assert (gru.status, gru.trained_here, gru.analysis_cached) == ("analysed", False, False)
    assert (vrnn.status, vrnn.trained_here) == ("analysed", True)
    trained = load(models / "corpus" / "vrnn-corpus.safetensors")
    assert trained.arch == "vrnn" and trained.net.hidden_size == 8
    assert "--hidden 8" in trained.provenance["command"]
    texts = load_data(tiny["data"]).train.texts
    assert vrnn.train_tokens == sum(min(len(trained.tokenizer(t)), 30) for t in texts)
    # the report's summary is what the document is made of
    assert gru.summary.model.arch == "gru" and gru.summary.params["n_seeds"] == 24
    assert gru.summary.fixed_points.n_seeds == 24
    assert 0.5 <= first.bow["corpus"] <= 1.0
    n_computed = len(store.computations())
    assert n_computed >= 5  # 2 analyses, BoW, 2 token counts (+ figures when a browser exists)

    path = M.write_markdown(first, out / "REPRODUCTION.md")
    md = path.read_text()
    acc_rows = table_rows(md, "## 1. Test accuracy")
    assert cell(acc_rows, "**corpus** (this run)", "GRU") == pct(gru.summary.accuracy.checkpoint_test)
    assert gru.summary.accuracy.checkpoint_test == gru.metrics["test_accuracy"]
    assert cell(acc_rows, "**corpus** (this run)", "BoW") == pct(first.bow["corpus"])
    fp_rows = table_rows(md, "## 2. Line-attractor findings")
    assert cell(fp_rows, "unique fixed points", "Vanilla RNN") == str(vrnn.summary.fixed_points.n_unique)
    assert "vrnn-corpus (trained by this run)" in md
    if _can_export_images():
        assert (out / "figures" / "gru-corpus.svg").read_bytes().startswith((b"<svg", b"<?xml"))
        assert gru.figure == "figures/gru-corpus.svg" and f"]({gru.figure})" in md

    # second run: everything comes from the store; a model without a checkpoint is reported missing
    second = R.run_reproduction([tiny["data"]], ["gru", "vrnn", "lstm"], train_missing=False, **kw)
    assert len(store.computations()) == n_computed  # nothing computed again
    assert second.get("corpus", "gru").analysis_cached and second.get("corpus", "vrnn").analysis_cached
    assert second.get("corpus", "gru").summary == gru.summary
    lstm = second.get("corpus", "lstm")
    assert lstm.status == "missing" and not (models / "corpus" / "lstm-corpus.safetensors").exists()
    md2 = M.render_markdown(second)
    assert cell(table_rows(md2, "## 1. Test accuracy"), "**corpus** (this run)", "LSTM") == "missing"


def test_bad_input_is_refused_before_any_work(tmp_path):
    from rnnscope.analysis.data import DataError
    from rnnscope.workers.store import ArtifactStore

    store = ArtifactStore(tmp_path / "store", redis_url="")
    with pytest.raises(ValueError, match="unknown architecture"):
        R.run_reproduction(["mr"], ["transformer"], store=store, log=lambda line: None)
    with pytest.raises(DataError):
        R.run_reproduction([str(tmp_path / "nope.csv")], ["gru"], store=store, log=lambda line: None)
    assert store.computations() == []


def test_cli_reports_bad_arguments(capsys):
    from rnnscope.app.cli import main

    assert main(["reproduce", "--arch", "lstm,rnn"]) == 2
    assert "unknown architecture" in capsys.readouterr().err
    assert main(["reproduce", "--data", "imdb,imdb"]) == 2
    assert "twice" in capsys.readouterr().err


def test_unstable_fast_mode_is_not_a_line_attractor():
    s = line_attractor_summary()
    s["modes"].update(abs_lambda_median=2.444, tau_median=1.12)
    assert verdicts(typed(s))["slow mode, |λ1| ≈ 1"][0] == "no"
    s["modes"].update(abs_lambda_median=1.01, tau_median=100.5)  # slowly growing
    assert verdicts(typed(s))["slow mode, |λ1| ≈ 1"][0] == "yes"
    s["modes"].update(abs_lambda_median=0.9997, tau_median=2545.0)  # GRU-mr
    assert verdicts(typed(s))["slow mode, |λ1| ≈ 1"][0] == "yes"
    s["modes"].update(abs_lambda_median=1.032, tau_median=31.8)  # LSTM-imdb
    assert verdicts(typed(s))["slow mode, |λ1| ≈ 1"][0] == "partly"


def test_a_collapsing_point_set_is_no_line_attractor_whatever_its_pc1():
    """The MR LSTM case: its points fill one PC (97%) but collapse onto one point."""
    s = line_attractor_summary()
    s["attractor"].update(kind="isolated", name="isolated stable fixed point(s) with a slow mode",
                          extent_initial=0.864, extent_final=4.7e-8, n_attractors=1)
    s["manifold"]["fp_variance_top1_own_pc"] = 0.97
    marks = verdicts(typed(s))
    assert marks["line attractor (dynamics)"][0] == "no"
    assert marks["1-D fixed-point manifold"][0] == "no" and "collapse" in marks["1-D fixed-point manifold"][1]
    assert overall(marks) != "shows the line-attractor picture"
    s["attractor"]["kind"] = "slow"
    assert verdicts(typed(s))["line attractor (dynamics)"][0] == "partly"


def test_gpu_reference_found_under_models_dir(tiny, tmp_path):
    from rnnscope.analysis import checkpoint

    model = checkpoint.load(tiny["models"] / "corpus" / "gru-corpus.safetensors")
    model.provenance = {**model.provenance, "config": {**model.provenance["config"], "device": "cuda"}}
    model.metrics = {**model.metrics, "tokens_per_second": 123456.0}
    (tmp_path / "imdb").mkdir()
    checkpoint.save(model, tmp_path / "imdb" / "gru-imdb.safetensors")
    refs = R.gpu_references(tmp_path, ["gru", "lstm"])
    assert list(refs) == ["gru"] and refs["gru"].dataset == "imdb"
    assert refs["gru"].metrics["tokens_per_second"] == 123456.0


# --------------------------------------------------------------------------- follow-up papers
def test_the_class_geometry_claim_is_read_from_the_numbers():
    from rnnscope.app.reproduction.follow_ups import _holds

    assert _holds({"num_classes": 3, "dimension": 2, "slow_median": 2.0, "ordered": False}) == "yes"
    assert _holds({"num_classes": 3, "dimension": 2, "slow_median": 0.0, "ordered": False}).startswith("no")
    assert _holds({"num_classes": 3, "dimension": 1, "slow_median": 2.0, "ordered": False}).startswith("no")
    assert _holds({"num_classes": 5, "dimension": 2, "slow_median": 1.0, "ordered": True}) == "yes"
    assert _holds({"num_classes": 5, "dimension": 4, "slow_median": 4.0, "ordered": True}) == "no: 4 dimensions"


def test_multiclass_checkpoints_are_analysed_on_their_data_and_tabled(tmp_path):
    from rnnscope.analysis import checkpoint
    from rnnscope.analysis.data import load
    from rnnscope.analysis.training import TrainConfig, train
    from rnnscope.app.reproduction import follow_ups
    from rnnscope.workers.store import ArtifactStore

    model, _ = train(load("counting-3"), TrainConfig(arch="gru", hidden=8, embed=8, epochs=1, seed=0, vocab_size=50),
                     show_bar=False)
    (tmp_path / "models" / "multiclass").mkdir(parents=True)
    checkpoint.save(model, tmp_path / "models" / "multiclass" / "gru-c3.safetensors")
    (tmp_path / "models" / "multiclass" / "broken.safetensors").write_bytes(b"not a checkpoint")
    store = ArtifactStore(tmp_path / "store", redis_url="")
    results = follow_ups.class_geometry_results(store, tmp_path / "models", R.jobs.resolve_params(PARAMS),
                                                lambda line: None, R.analyse)
    broken, c3 = results
    assert broken.status == "failed" and broken.note
    assert (c3.name, c3.data, c3.status) == ("gru-c3", "counting-3", "analysed")
    g = c3.geometry
    md = follow_ups.class_geometry_section(results)
    row = next(line for line in md.splitlines() if line.startswith("| `gru-c3`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "counting-3 (3)" and cells[3] == str(g["dimension"])
    assert cells[4] == follow_ups._f(g["variance_top"], ".1%") and cells[6] == follow_ups._f(g["slow_median"], "g")
    assert cells[9] == follow_ups._holds(g) and g["text"] in md
    assert "No report in this run has the modifier stage" in follow_ups.modifier_section([("gru-mr", {})])


def test_the_modifier_section_tables_each_models_known_modifiers():
    from rnnscope.app.reproduction import follow_ups

    block = {"applies": True, "n_candidates": 500, "n_modifiers": 3,
             "kind_counts": {"negator": 1, "intensifier": 1, "attenuator": 1},
             "known": [{"known": "not", "rank": 1, "kind": "negator", "ratio": -0.8},
                       {"known": "very", "rank": None}],
             "modifiers": [{"word": "not", "kind": "negator", "ratio": -0.8}]}
    md = follow_ups.modifier_section([("gru-toy", {"modifiers": block}), ("gru-3class", {"modifiers": {"applies": False}})])
    row = next(line for line in md.splitlines() if line.startswith("| gru-toy"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:5] == ["500", "3 (1 / 1 / 1)", "#1 negator (-0.80)", "-"]
    assert cells[6] == "not in vocabulary" and cells[-1] == "not (negator, -0.80)"
    assert "gru-3class" not in md and "Negators found across these 1 models: 1" in md
