"""Reading a ``.safetensors`` checkpoint without trusting it: the header checked by hand.

A safetensors file is an 8-byte little-endian header length, a UTF-8 JSON header (tensor
name -> ``{"dtype", "shape", "data_offsets"}``, plus ``__metadata__``: str -> str) and the data
section. :func:`parse_safetensors_header` checks the header before the ``safetensors`` library
sees the bytes; :func:`read_metadata` reads an ``rnnscope/1`` checkpoint's config and
vocabulary from the metadata (``METADATA_CONFIG_KEY``, ``METADATA_VOCAB_KEY``), and
:func:`load_tensors` materializes the tensors. Every problem raises
:class:`~rnnscope.analysis.checkpoint_spec.CheckpointError` in words.
"""
from __future__ import annotations

import json
import math
import struct

import safetensors.torch
import torch

from rnnscope.analysis.checkpoint_spec import FORMAT, MAX_PARAMETERS, METADATA_CONFIG_KEY, METADATA_VOCAB_KEY, \
    CheckpointError, short_repr

MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
MAX_HEADER_TENSORS = 1024
#: Digits of a whole number in a safetensors header (shapes and offsets are 64-bit: 20 digits)
#: and in the config/vocabulary metadata (Python's own limit for converting text to int).
HEADER_INT_DIGITS = 20
METADATA_INT_DIGITS = 4300
#: Allowed dtypes and their sizes in bytes.
SAFETENSORS_DTYPES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}


def parse_safetensors_header(data: bytes) -> tuple[dict, dict[str, str], int]:
    """Parse and validate a safetensors header without trusting it.

    Checks: the 8-byte length fits the file and the cap, the header is a UTF-8 JSON object
    without duplicate keys, metadata is str -> str, every tensor has an allowed dtype
    (F32, F16, BF16, F64), a capped shape, offsets inside the data section that match
    dtype x shape, and the tensors tile the data section without overlaps or gaps.

    Returns
    -------
    entries : dict
        name -> {"dtype", "shape", "data_offsets"}.
    metadata : dict[str, str]
    data_start : int
        Byte offset of the data section.
    """
    n = _header_length(data)
    header = _header_json(data[8: 8 + n])
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise CheckpointError("The safetensors metadata must map strings to strings.")
    if len(header) > MAX_HEADER_TENSORS:
        raise CheckpointError(f"The safetensors file declares {len(header)} tensors; a checkpoint has only a few.")
    data_start = 8 + n
    data_len = len(data) - data_start
    _check_tiling([_entry_span(name, entry, data_len) for name, entry in header.items()], data_len)
    return header, metadata, data_start


def _header_length(data: bytes) -> int:
    """The header's byte length from the first 8 bytes, checked against the cap and the file."""
    if len(data) < 8:
        raise CheckpointError("The safetensors file is truncated: it is shorter than its 8-byte header length.")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES:
        raise CheckpointError(f"The safetensors header claims {n} bytes, more than the {MAX_HEADER_BYTES} "
                              "byte limit; the file is damaged or not a safetensors file.")
    if 8 + n > len(data):
        raise CheckpointError(f"The safetensors header length ({n} bytes) is larger than the file "
                              f"({len(data)} bytes); the file is truncated or damaged.")
    return n


def _header_json(raw: bytes) -> dict:
    """The header's JSON object (UTF-8, no duplicate keys, no over-long numbers)."""
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_json_object_pairs,
                            parse_int=_json_int(HEADER_INT_DIGITS, "safetensors header"))
    except CheckpointError:
        raise
    except UnicodeDecodeError:
        raise CheckpointError("The safetensors header is not UTF-8 text; the file is damaged or not a "
                              "safetensors file.") from None
    except RecursionError:
        raise CheckpointError("The safetensors header is JSON nested too deeply to read; a real header is "
                              "three levels deep.") from None
    except ValueError as exc:
        raise CheckpointError(f"The safetensors header is not valid JSON ({_json_error(exc)}); the file is "
                              "damaged or truncated.") from None
    if not isinstance(header, dict):
        raise CheckpointError("The safetensors header is not a JSON object.")
    return header


def _json_object_pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise CheckpointError(f"The safetensors header lists {short_repr(key)} twice.")
        out[key] = value
    return out


def _entry_span(name: str, entry, data_len: int) -> tuple[int, int, str]:
    """``(begin, end, name)`` of one header entry in the data section (``data_len`` bytes),
    after checking its keys, dtype, shape and offsets."""
    label = short_repr(name)
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise CheckpointError(f"The safetensors entry {label} is malformed (expected dtype, shape, data_offsets).")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPES:  # a list is unhashable
        raise CheckpointError(f"Tensor {label} has unsupported dtype {short_repr(dtype)}; allowed: "
                              f"{', '.join(SAFETENSORS_DTYPES)}.")
    if (not isinstance(shape, list) or len(shape) > 8
            or not all(type(d) is int and d >= 0 for d in shape)):
        raise CheckpointError(f"Tensor {label} has an invalid shape.")
    numel = math.prod(shape)
    if numel > MAX_PARAMETERS or any(d > MAX_PARAMETERS for d in shape):
        raise CheckpointError(f"Tensor {label} declares shape {tuple(shape)}, which is too large "
                              f"(limit {MAX_PARAMETERS:,} values).")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(type(o) is int and o >= 0 for o in offsets) or offsets[0] > offsets[1]):
        raise CheckpointError(f"Tensor {label} has invalid data offsets.")
    begin, end = offsets
    if end > data_len:
        raise CheckpointError(f"The data of tensor {label} extends past the end of the file; the file is "
                              "truncated or its header is wrong.")
    if end - begin != numel * SAFETENSORS_DTYPES[dtype]:
        raise CheckpointError(f"Tensor {label}: its data size ({end - begin} bytes) does not match its "
                              f"dtype {dtype} and shape {tuple(shape)}.")
    return begin, end, name


def _check_tiling(spans: list[tuple[int, int, str]], data_len: int) -> None:
    """The tensors' byte spans cover the data section exactly: no overlap, gap or trailing bytes."""
    position, previous = 0, None
    for begin, end, name in sorted(spans):
        if begin < position:
            raise CheckpointError(f"The data of tensors {short_repr(previous)} and {short_repr(name)} overlap; "
                                  "the safetensors header is wrong.")
        if begin > position:
            raise CheckpointError("The safetensors data section has unused bytes between tensors; "
                                  "the header is wrong.")
        position, previous = end, name
    if position != data_len:
        raise CheckpointError("The safetensors file has extra bytes after the last tensor; the header is wrong.")


def read_metadata(data: bytes) -> tuple[dict, object, dict]:
    """``(config, vocab, entries)`` of an ``rnnscope/1`` ``.safetensors`` file, from its checked
    header; the format string is checked, the config and vocabulary are validated later."""
    entries, metadata, _ = parse_safetensors_header(data)
    if METADATA_CONFIG_KEY not in metadata:
        raise CheckpointError("This safetensors file has no rnnscope config (metadata key 'rnnscope'); "
                              "it is not an rnnscope/1 checkpoint. Plain weights can be converted with "
                              "`rnnscope import`.")
    config = _metadata_json(metadata, METADATA_CONFIG_KEY, "config")
    if not isinstance(config, dict):
        raise CheckpointError("The checkpoint's config is not a JSON object.")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"Not an rnnscope/1 checkpoint: format is {short_repr(config.get('format'))}, "
                              f"expected {FORMAT!r}.")
    if METADATA_VOCAB_KEY not in metadata:
        raise CheckpointError("The checkpoint has no vocabulary (metadata key 'rnnscope.vocab').")
    vocab = _metadata_json(metadata, METADATA_VOCAB_KEY, "vocabulary")
    return config, vocab, entries


def load_tensors(data: bytes) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file whose header :func:`parse_safetensors_header` accepted."""
    try:
        return safetensors.torch.load(data)
    except Exception:
        raise CheckpointError("The safetensors file could not be read; it is damaged.") from None


def _metadata_json(metadata: dict[str, str], key: str, what: str):
    try:
        return json.loads(metadata[key], parse_int=_json_int(METADATA_INT_DIGITS, f"{what} (metadata {key!r})"))
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"The checkpoint's {what} (metadata {key!r}) is JSON nested too deeply to "
                              "read.") from None
    except ValueError as exc:
        raise CheckpointError(f"The checkpoint's {what} (metadata {key!r}) is not valid JSON "
                              f"({_json_error(exc)}).") from None


def _json_int(max_digits: int, where: str):
    """A ``json.loads`` ``parse_int`` that refuses numbers longer than ``max_digits`` digits,
    saying so (json would call one of more than 4,300 digits "not valid JSON")."""
    def parse(text: str) -> int:
        digits = len(text.lstrip("-"))
        if digits > max_digits:
            raise CheckpointError(f"The checkpoint's {where} holds a whole number of {digits:,} digits; "
                                  f"nothing in it can be longer than {max_digits:,} digits.")
        return int(text)
    return parse


def _json_error(exc: ValueError) -> str:
    """The JSON parser's own description (``Expecting ',' delimiter: line 1 column 9 (char 8)``)."""
    return " ".join(str(exc).split())[:120]
