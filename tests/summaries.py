"""Hand-made report summaries for tests: a few fields given, the rest blank but present."""
from __future__ import annotations

import dataclasses
import typing

from analysis.summary import Summary

BLANK = {str: "", int: 0, float: None, bool: False, dict: {}, list: []}


def blank(cls=Summary) -> dict:
    """Every field of ``cls``: numbers null (read as nan), counts 0, text empty."""
    out = {}
    for f in dataclasses.fields(cls):
        kind = typing.get_type_hints(cls)[f.name]
        optional = type(None) in typing.get_args(kind)
        kind = next((k for k in typing.get_args(kind) if k is not type(None)), kind)
        out[f.name] = None if optional else blank(kind) if dataclasses.is_dataclass(kind) else BLANK[kind]
    return out


def typed(partial: dict) -> Summary:
    """``partial`` (sections -> fields) laid over :func:`blank`, read strictly."""
    full = blank()
    for section, value in partial.items():
        if isinstance(value, dict) and isinstance(full.get(section), dict) and section not in ("params", "timings"):
            full[section] = {**full[section], **value}
        else:
            full[section] = value
    return Summary.from_dict(full)
