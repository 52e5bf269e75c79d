"""The user's own data in the dashboard, as plain functions on the tiny real model: an upload
is checked, stored by sha256 and analysed; a dataset that is not downloaded is never fetched
for a visitor; an analysis made by ``rnnscope analyze --data FILE`` opens from Compare."""
from __future__ import annotations

import base64
import csv
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import plotly.utils
import pytest
from dash import no_update

from rnnscope.app import datasets as ds
from rnnscope.app.callbacks import compare, datasets as datasets_cb, model as model_cb
from rnnscope.app.uploads import UploadError
from tests.app.tiny import TINY_PARAMS

RNNSCOPE = str(Path(sys.executable).with_name("rnnscope"))


def mr_rows_csv(home, start: int, stop: int) -> bytes:
    """Real MR test snippets ``start:stop`` as a CSV (text,label)."""
    import io

    from rnnscope.analysis import data

    test = data.load("mr", home=home).test
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["text", "label"])
    writer.writerows(zip(test.texts[start:stop], test.labels[start:stop].tolist()))
    return out.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def mr_csv(rnnscope_home) -> bytes:
    """300 real MR test snippets."""
    return mr_rows_csv(rnnscope_home, 0, 300)


def data_url(data: bytes) -> str:
    return "data:text/csv;base64," + base64.b64encode(data).decode()


def stored(svc) -> set[str]:
    return {p.name for p in (svc.store.root / "datasets").iterdir()}


def test_an_upload_is_checked_stored_by_sha256_and_selected(svc, mr_csv):
    options, value, message = datasets_cb.dataset_upload(svc, {"contents": data_url(mr_csv),
                                                                "filename": "C:\\Users\\me\\reviews.csv"})
    sha = value.removeprefix("file:")
    assert svc.store.dataset_path(sha).read_bytes() == mr_csv
    info = svc.store.dataset_info(sha)
    assert info["filename"] == "reviews.csv" and info["origin"] == "upload" and info["rows"] == 300
    assert info["splits"] == {"train": 240, "validation": 30, "test": 30}
    text = json.dumps(message.to_plotly_json(), default=str)
    assert "Uploaded" in text and "300 labelled rows" in text and "reviews.csv" in text
    assert {"label": f"reviews.csv · {sha[:8]} (uploaded)", "value": value} in ds.dataset_options(svc)
    # the same bytes again: the same value, nothing added
    again = ds.accept_dataset(svc, data_url(mr_csv), "copy.csv")
    assert again[0] == value and again[2] is False


@pytest.mark.parametrize("contents, fragment", [
    ("data:text/csv;base64,", "The file is empty; it is not a labelled dataset"),
    ("no data part", "malformed (no data part)"),
    ("data:text/csv;base64,%%%", "not base64"),
    (None, "No file was received"),
    (data_url("text,label\ncafé,1\n".encode("latin-1") * 40), "not UTF-8 text"),
    (data_url(b"text,score\nfine,1\n" * 40), "no label column"),
    (data_url(b"text,label\n" + b"fine,1\n" * 40), "not two classes"),
    (data_url(b"text,label\n" + b"fine,pos\nbad,0\n" * 20), "mix words and numbers"),
    (data_url(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64), "PNG image, not a text dataset"),
])
def test_bad_uploads_are_refused_in_words_and_nothing_is_stored(svc, contents, fragment):
    before = stored(svc)
    options, value, message = datasets_cb.dataset_upload(svc, {"contents": contents, "filename": "x.csv"})
    assert options is no_update and value is no_update
    assert fragment in json.dumps(message.to_plotly_json(), default=str)
    assert stored(svc) == before
    assert not list((svc.store.root / "tmp").glob("dataset-*"))  # the checking copy is gone


def test_an_upload_over_the_cap_is_refused_before_it_is_decoded(svc, mr_csv):
    small = dataclasses.replace(svc, settings=dataclasses.replace(svc.settings, max_upload_bytes=1000))
    with pytest.raises(UploadError, match="larger than the 1000 bytes upload limit"):
        ds.accept_dataset(small, data_url(mr_csv), "reviews.csv")


def test_an_uploaded_dataset_is_analysed_with_coverage_and_chance(svc, tiny, mr_csv):
    ref = ds.accept_dataset(svc, data_url(mr_csv), "reviews.csv")[0]
    report, request, message = model_cb.resolve_analysis(svc, tiny.sha, ref)
    assert message is None and request["data"] == ref  # a job: not analysed yet
    report, alert = model_cb.run_analysis_job(svc, lambda _: None, request)
    assert alert is None and report["data"] == ref
    summary = svc.report(report["key"]).summary
    assert summary["data"]["name"] == "reviews"
    assert summary["data"]["vocabulary"]["n_tokens"] > 0 and summary["accuracy"]["majority_rate"] > 0.5
    card, status = model_cb.card_and_status(svc, tiny.sha, report)
    assert "tokens not in the vocabulary" in str(card) and "chance (majority class)" in str(card)
    assert svc.stored_analysis(tiny.sha, ref) == report["key"]


def _no_tweets(svc, tmp_path, fetch: bool):
    """The service with an empty data home (nothing downloaded) and fetching off or on."""
    settings = dataclasses.replace(svc.settings, home=tmp_path, fetch_data=fetch)
    return dataclasses.replace(svc, settings=settings)


def test_a_dataset_that_is_not_downloaded_is_not_fetched_for_a_visitor(svc, tiny, tmp_path):
    bare = _no_tweets(svc, tmp_path, fetch=False)
    report, request, message = model_cb.resolve_analysis(bare, tiny.sha, "tweets")
    assert request is no_update and report["key"] is None  # no job filed
    text = str(message.children)
    assert "not downloaded on this server" in text and "`rnnscope data fetch tweets`" in text
    assert "--fetch-data" in text
    with pytest.raises(ValueError, match="rnnscope data fetch tweets"):
        bare.analyse(tiny.sha, "tweets")  # a job request sent anyway is refused the same way
    assert {"label": "Tweets (not downloaded)", "value": "tweets"} in ds.dataset_options(bare)
    # an analysis already stored opens without the data
    assert model_cb.resolve_analysis(bare, tiny.sha, "mr")[0]["key"] == tiny.key
    fetching = _no_tweets(svc, tmp_path, fetch=True)
    assert ds.not_downloaded(fetching, "tweets") is None
    assert {"label": "Tweets", "value": "tweets"} in ds.dataset_options(fetching)


@pytest.fixture(scope="module")
def cli_analysis(tiny, rnnscope_home, tmp_path_factory):
    """``rnnscope analyze --data some.csv`` on the tiny model, in the dashboard's store, with
    parameters the dashboard does not use (its key is not the one the page would compute)."""
    work = tmp_path_factory.mktemp("cli")
    (work / "some.csv").write_bytes(mr_rows_csv(rnnscope_home, 300, 600))  # never uploaded here
    params = [f"--param={k}={json.dumps(v)}" for k, v in {**TINY_PARAMS, "n_seeds": 40}.items()]
    out = subprocess.run([RNNSCOPE, "analyze", str(tiny.checkpoint), "--data", str(work / "some.csv"),
                          "--out", str(work / "report"), "--store", str(tiny.store_dir), *params],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads((work / "report" / "report.json").read_text()), out.stderr


def test_analyze_prints_coverage_and_chance(cli_analysis):
    summary, stderr = cli_analysis
    vocab, acc = summary["data"]["vocabulary"], summary["accuracy"]
    assert (f"data: {vocab['unk_fraction']:.1%} of the test split's {vocab['n_tokens']:,} tokens are not in the "
            f"model's vocabulary (<unk>); test accuracy {acc['test']:.1%} against chance "
            f"{acc['majority_rate']:.1%}") in stderr


def test_an_analysis_made_by_rnnscope_analyze_opens_from_compare(svc, tiny, cli_analysis):
    summary, _ = cli_analysis
    rows = svc.analysed_reports()
    key = next(k for k, _, s in rows if s["data"]["name"] == "some" and s["params"]["n_seeds"] == 40)
    fig, table = compare.compare_view(svc, {"key": tiny.key})
    assert f'"key": "{key}"' in json.dumps(table, cls=plotly.utils.PlotlyJSONEncoder)  # a button opens it
    sha, options, data_value, points, opened, alert = datasets_cb.open_from_compare(svc, key)
    assert (sha, points, alert) == (tiny.sha, "auto", None)
    assert data_value.startswith("file:") and {o["value"] for o in options} >= {data_value, "mr"}
    assert svc.store.dataset_info(data_value[5:])["origin"] == "cli"
    # the page's own parameters give another key: without the opened ref it would file a job
    assert svc.stored_analysis(sha, data_value, points) != key
    report, request, message = model_cb.resolve_analysis(svc, sha, data_value, None, points, opened)
    assert report == {"key": key, "sha": sha, "data": data_value, "points": "auto"}
    assert request is no_update and message is None
    # another selection is resolved as usual
    assert model_cb.resolve_analysis(svc, sha, "mr", None, points, opened)[0]["key"] == tiny.key


def test_compare_open_of_a_hostile_key_is_answered_in_words(svc):
    for key in ("../../etc", "0" * 64, None, 5):
        out = datasets_cb.open_from_compare(svc, key)
        assert out[:5] == (no_update,) * 5 and "no longer in the store" in str(out[5].children)


def test_operator_dataset_is_registered_by_name(svc, tmp_path, mr_csv):
    path = tmp_path / "shop-reviews.tsv"
    path.write_bytes(mr_csv.replace(b",", b"\t", 1))  # a .tsv whose rows are comma-separated: refused
    with pytest.raises(ValueError, match="--dataset shop:"):
        ds.register_operator_dataset(svc.store, f"shop={path}")
    good = tmp_path / "shop.csv"
    good.write_bytes(mr_csv)
    ref = ds.register_operator_dataset(svc.store, f"shop={good}")
    assert {"label": "shop (server)", "value": ref} in ds.dataset_options(svc)
    for bad in ("shop", "../x=" + str(good), f"a b={good}", f"shop={tmp_path}", f"shop={tmp_path / 'none.csv'}"):
        with pytest.raises(ValueError, match="--dataset"):
            ds.register_operator_dataset(svc.store, bad)
