"""Report save/load: exact round trip, loadable without pickle, atomic replace."""
import json

import numpy as np
import pytest

from rnnscope.analysis.report import ARRAYS_FILE, REPORT_FORMAT, SUMMARY_FILE, Report, ReportError


def _report() -> Report:
    rng = np.random.default_rng(0)
    arrays = {
        "fixed_points": rng.normal(size=(5, 4)).astype(np.float32),
        "eigvals": (rng.normal(size=(5, 4)) + 1j * rng.normal(size=(5, 4))),
        "stable": np.array([True, False, True, True, False]),
        "words": np.array(["great", "awful", "the"]),
        "word_valence": np.array([1, -1, 0], dtype=np.int8),
    }
    summary = {"model": {"arch": "gru", "hidden_size": 4}, "fixed_points": {"n_unique": 5, "q_median": np.float64(1e-9)},
               "spectra": {"tau3_median": float("nan")}, "pca": {"explained_variance_ratio": np.arange(3) / 10}}
    return Report(summary, arrays)


def test_round_trip_is_exact(tmp_path):
    report = _report()
    report.save(tmp_path / "r")
    back = Report.load(tmp_path / "r")
    assert back.summary["format"] == REPORT_FORMAT
    assert back.summary["fixed_points"] == {"n_unique": 5, "q_median": 1e-9}
    assert back.summary["spectra"]["tau3_median"] is None  # NaN is not JSON
    assert back.summary["pca"]["explained_variance_ratio"] == [0.0, 0.1, 0.2]
    assert set(back.arrays) == set(report.arrays)
    for key, arr in report.arrays.items():
        assert back.arrays[key].dtype == arr.dtype
        np.testing.assert_array_equal(back.arrays[key], arr)


def test_files_load_without_pickle(tmp_path):
    _report().save(tmp_path / "r")
    with np.load(tmp_path / "r" / ARRAYS_FILE, allow_pickle=False) as npz:
        assert list(npz["words"]) == ["great", "awful", "the"]
    assert json.loads((tmp_path / "r" / SUMMARY_FILE).read_text())["model"]["arch"] == "gru"


def test_object_arrays_are_refused():
    with pytest.raises(TypeError, match="object"):
        Report({}, {"bad": np.array([{"a": 1}], dtype=object)})


def test_save_replaces_existing_report_and_leaves_no_temp(tmp_path):
    _report().save(tmp_path / "r")
    Report({"x": 2}, {"a": np.ones(3)}).save(tmp_path / "r")
    back = Report.load(tmp_path / "r")
    assert back.summary["x"] == 2 and set(back.arrays) == {"a"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_failed_save_leaves_previous_report(tmp_path):
    _report().save(tmp_path / "r")
    with pytest.raises(TypeError):
        Report({"bad": object()}, {}).save(tmp_path / "r")
    assert Report.load(tmp_path / "r").summary["model"]["arch"] == "gru"


def test_load_errors_are_plain(tmp_path):
    with pytest.raises(ReportError, match="missing report.json"):
        Report.load(tmp_path)
    (tmp_path / SUMMARY_FILE).write_text(json.dumps({"format": "other"}))
    np.savez(tmp_path / ARRAYS_FILE, a=np.ones(2))
    with pytest.raises(ReportError, match="not an rnnscope-report/1"):
        Report.load(tmp_path)
    (tmp_path / SUMMARY_FILE).write_text("{not json")
    with pytest.raises(ReportError, match="cannot read"):
        Report.load(tmp_path)
