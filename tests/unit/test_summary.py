"""The typed report summary: strict reading, nulls as nan, exact round trip."""
import dataclasses
import math
import typing

import pytest

from rnnscope.analysis.summary import Summary, SummaryError, read

FILL = {str: "x", int: 3, float: 0.25, bool: True, dict: {"a": 1}, list: [0.5, 0.25, 0.125, 0.0625]}


def _valid(cls=Summary) -> dict:
    """A summary dict with every field of ``cls`` present and of the right type."""
    hints = {name: _plain(kind) for name, kind in typing.get_type_hints(cls).items()}
    return {f.name: _valid(hints[f.name]) if dataclasses.is_dataclass(hints[f.name]) else FILL[hints[f.name]]
            for f in dataclasses.fields(cls)}


def _plain(kind):
    """``X | None`` -> X."""
    args = [k for k in typing.get_args(kind) if k is not type(None)]
    return args[0] if args else kind


def test_a_complete_summary_reads_and_round_trips():
    raw = _valid()
    s = Summary.from_dict(raw)
    assert s.to_dict() == raw
    assert s.attractor.tau_slow == 0.25 and s.model.hidden_size == 3
    assert s.pca.top(3) == pytest.approx(0.875) and s.pca.top(2, untrained=True) == pytest.approx(0.75)
    assert read(s) is s


@pytest.mark.parametrize("section,key", [("attractor", "kind"), ("linearization", "agreement"), ("model", "arch")])
def test_a_missing_field_is_an_error_naming_it(section, key):
    raw = _valid()
    del raw[section][key]
    with pytest.raises(SummaryError, match=rf"'{section}\.{key}'"):
        Summary.from_dict(raw)


def test_a_missing_section_is_an_error():
    raw = _valid()
    del raw["modes"]
    with pytest.raises(SummaryError, match="'modes'"):
        Summary.from_dict(raw)


@pytest.mark.parametrize("section,key,bad", [("model", "hidden_size", 3.0), ("model", "hidden_size", True),
                                             ("attractor", "kind", 1), ("manifold", "is_attractor", 1),
                                             ("accuracy", "test", "0.9"), ("fixed_points", "seed_classes", [])])
def test_a_field_of_the_wrong_type_is_an_error(section, key, bad):
    raw = _valid()
    raw[section][key] = bad
    with pytest.raises(SummaryError, match=rf"{section}\.{key}"):
        Summary.from_dict(raw)


def test_null_numbers_read_as_nan_and_write_back_as_nan():
    raw = _valid()
    raw["words"]["vader_coverage"] = None
    s = Summary.from_dict(raw)
    assert math.isnan(s.words.vader_coverage)


def test_optional_fields_take_none_and_their_type_only():
    raw = _valid()
    raw["accuracy"]["majority_class"] = None
    assert Summary.from_dict(raw).accuracy.majority_class is None
    raw["accuracy"]["majority_class"] = 1
    with pytest.raises(SummaryError, match="accuracy.majority_class"):
        Summary.from_dict(raw)


def test_integer_json_numbers_are_floats_where_the_field_is_a_float():
    raw = _valid()
    raw["accuracy"]["test"] = 1
    assert Summary.from_dict(raw).accuracy.test == 1.0 and isinstance(Summary.from_dict(raw).accuracy.test, float)


def test_not_an_object_is_an_error():
    with pytest.raises(SummaryError, match="not an object"):
        Summary.from_dict([1, 2])
    raw = _valid()
    raw["pca"] = "none"
    with pytest.raises(SummaryError, match="pca"):
        Summary.from_dict(raw)
