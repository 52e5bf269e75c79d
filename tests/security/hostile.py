"""Hostile files, generated at test time (nothing hostile is committed).

Every generator returns bytes; :func:`cases` lists ``Case(name, filename, data, fragment)``
where ``fragment`` is a piece of the message the person uploading the file must see. The
checkpoint builders and the table of malformed contents are the checkpoint unit tests'
own (``tests/unit/test_checkpoint.py``: ``make_model``, ``pt_payload``, ``pt_bytes``,
``st_bytes``, ``Evil``, ``MALFORMED``), so a case here is the same file the loader's unit
test refuses, now sent through the dashboard's HTTP upload.
"""
from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rnnscope.bench.hostile_upload import padded_pickle
from tests.unit.test_checkpoint import MALFORMED, Evil, _st_from_payload, make_model, pt_bytes, \
    pt_payload, st_bytes

#: Bytes of zeros hidden in the deflate bomb (expands 1000x; the file itself is ~64 KiB).
BOMB_BYTES = 64 * 2**20
#: Size a lying zip directory claims for one entry.
CLAIMED_BYTES = 2**31


@dataclass(frozen=True)
class Case:
    """One hostile upload: file name shown to the server, bytes, expected message fragment."""

    name: str
    filename: str
    data: bytes
    fragment: str


# --------------------------------------------------------------------------- valid files


def valid_pt(arch: str = "gru", seed: int = 0) -> bytes:
    """A valid rnnscope/1 ``.pt`` (V=30, E=6, H=5): the positive control."""
    return pt_bytes(pt_payload(make_model(arch, seed=seed)))


def valid_safetensors(arch: str = "lstm", seed: int = 0) -> bytes:
    """A valid rnnscope/1 ``.safetensors`` (V=30, E=6, H=5)."""
    return _st_from_payload(pt_payload(make_model(arch, seed=seed)))


# --------------------------------------------------------------------------- code execution


def pickle_in_metrics(sentinel: Path) -> bytes:
    """A torch zip whose pickle would run ``touch sentinel`` (an object in the metrics)."""
    payload = pt_payload(make_model("lstm"))
    payload["config"]["metrics"] = {"x": Evil(sentinel)}
    return pt_bytes(payload)


def replace_entry(data: bytes, suffix: str, new: bytes, compress: int = zipfile.ZIP_STORED) -> bytes:
    """Copy a zip, replacing the entry whose name ends in ``suffix`` by ``new``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", compress) as dst:
        for info in src.infolist():
            body = new if info.filename.endswith(suffix) else src.read(info)
            dst.writestr(info.filename, body)
    return out.getvalue()


def pickle_as_data_pkl(sentinel: Path) -> bytes:
    """A torch zip whose ``data.pkl`` is replaced by a pickle that runs ``touch sentinel``."""
    return replace_entry(valid_pt(), "data.pkl", pickle.dumps(Evil(sentinel), protocol=2))


def bare_pickle(sentinel: Path) -> bytes:
    """A bare pickle stream (legacy ``torch.save``/``pickle.dump``) that runs ``touch sentinel``."""
    return pickle.dumps(Evil(sentinel))


def pickled_module() -> bytes:
    """``torch.save(nn.Module)``: a whole pickled network instead of a state_dict."""
    return pt_bytes(make_model("lstm").net)


def numpy_in_pt() -> bytes:
    """An rnnscope payload whose weights are numpy arrays (needs numpy globals to unpickle)."""
    payload = pt_payload(make_model("gru"))
    payload["state_dict"] = {k: v.numpy() for k, v in payload["state_dict"].items()}
    return pt_bytes(payload)


# --------------------------------------------------------------------------- zip tricks


def deflate_bomb(n_bytes: int = BOMB_BYTES) -> bytes:
    """A torch-looking zip with ``n_bytes`` of zeros deflated into a tiny entry."""
    good = valid_pt()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        prefix = src.infolist()[0].filename.split("/")[0]
        with dst.open(f"{prefix}/data/999", "w") as fh:
            block = b"\0" * 2**20
            for _ in range(n_bytes // len(block)):
                fh.write(block)
    return out.getvalue()


def lying_zip_sizes(claimed: int = CLAIMED_BYTES) -> bytes:
    """A stored torch zip whose central directory claims ``claimed`` bytes for its largest entry."""
    data = bytearray(valid_pt())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        target = max(zf.infolist(), key=lambda i: i.file_size)
    # central directory record: signature, ..., compressed size @20, uncompressed size @24, name len @28
    name = target.filename.encode()
    pos = 0
    while True:
        pos = data.index(b"PK\x01\x02", pos)
        (n_name,) = struct.unpack_from("<H", data, pos + 28)
        if bytes(data[pos + 46: pos + 46 + n_name]) == name:
            break
        pos += 4
    struct.pack_into("<II", data, pos + 20, claimed, claimed)
    return bytes(data)


def truncated_zip() -> bytes:
    """The first half of a valid ``.pt`` (an interrupted upload)."""
    data = valid_pt()
    return data[: len(data) // 2]


# --------------------------------------------------------------------------- safetensors headers


def _lying_header() -> dict:
    meta = {"rnnscope": "{}", "rnnscope.vocab": "[]"}
    return {"__metadata__": meta,
            "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
            "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}}


def safetensors_offsets_past_end() -> bytes:
    return st_bytes(_lying_header(), b"\0" * 20)


def safetensors_overlapping() -> bytes:
    header = _lying_header()
    header["b"] = {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}
    return st_bytes(header, b"\0" * 16)


def safetensors_huge_shape() -> bytes:
    header = _lying_header()
    header["a"]["shape"] = [10**6, 10**6]
    return st_bytes(header, b"\0" * 24)


def safetensors_header_length_beyond_file() -> bytes:
    raw = json.dumps(_lying_header()).encode()
    return struct.pack("<Q", len(raw) + 10**6) + raw + b"\0" * 24


# --------------------------------------------------------------------------- contents


def malformed_safetensors(case: str) -> bytes:
    """A safetensors checkpoint with one of the unit tests' ``MALFORMED`` mutations."""
    mutate, _ = MALFORMED[case]
    payload = pt_payload(make_model("lstm"))
    mutate(payload)
    return _st_from_payload(payload)


def malformed_pt(case: str) -> bytes:
    mutate, _ = MALFORMED[case]
    payload = pt_payload(make_model("lstm"))
    mutate(payload)
    return pt_bytes(payload)


def safetensors_vocab_invalid_utf8() -> bytes:
    """A safetensors header with a raw 0xFF byte inside a vocabulary word (not UTF-8)."""
    data = valid_safetensors()
    (n,) = struct.unpack("<Q", data[:8])
    header = data[8: 8 + n]
    assert b"movie" in header
    return data[:8] + header.replace(b"movie", b"mov\xffe", 1) + data[8 + n:]


def pt_vocab_invalid_utf8() -> bytes:
    """A ``.pt`` whose pickled vocabulary string holds a byte sequence that is not UTF-8."""
    data = valid_pt()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        pkl_name = next(i.filename for i in zf.infolist() if i.filename.endswith("data.pkl"))
        pkl = zf.read(pkl_name)
    assert b"movie" in pkl
    return replace_entry(data, "data.pkl", pkl.replace(b"movie", b"mov\xffe", 1))


def vocab_lone_surrogate() -> bytes:
    """A ``.pt`` whose vocabulary holds a lone surrogate (unpicklable as text, never UTF-8)."""
    payload = pt_payload(make_model("gru"))
    payload["vocab"][5] = "bad\ud800word"
    return pt_bytes(payload)


def stride0_view() -> bytes:
    """A ``.pt`` whose embedding is one stored number viewed as the whole (V, E) matrix."""
    import torch

    payload = pt_payload(make_model("gru"))
    shape = payload["state_dict"]["embedding.weight"].shape
    payload["state_dict"]["embedding.weight"] = torch.ones(1).expand(*shape)
    return pt_bytes(payload)


def float64_overflowing_float32() -> bytes:
    """A float32 network with one float64 tensor holding 1e300 (finite, but inf once cast)."""
    import torch

    payload = pt_payload(make_model("gru"))
    w = payload["state_dict"]["cell.weight_hh_l0"]
    payload["state_dict"]["cell.weight_hh_l0"] = torch.full(w.shape, 1e300, dtype=torch.float64)
    return pt_bytes(payload)


def duplicate_data_pkl() -> bytes:
    """A valid ``.pt`` with a second ``data.pkl`` entry of the same name appended."""
    import warnings

    data = valid_pt()
    out = io.BytesIO(data)
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        name = next(n for n in src.namelist() if n.endswith("/data.pkl"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": the point of this file
        with zipfile.ZipFile(out, "a", zipfile.ZIP_STORED) as zf:
            zf.writestr(name, pickle.dumps({"format": "something else"}, protocol=2))
    return out.getvalue()


def cases(sentinel: Path) -> list[Case]:
    """Every hostile upload, with the message fragment the user must see."""
    other = "Python objects other than tensors"
    return [
        Case("pickle runs a command (metrics)", "evil.pt", pickle_in_metrics(sentinel), other),
        Case("pickle runs a command (data.pkl)", "evil2.pt", pickle_as_data_pkl(sentinel), other),
        Case("bare pickle runs a command", "evil.pkl", bare_pickle(sentinel), "never unpickles"),
        Case("pickled nn.Module", "module.pt", pickled_module(), other),
        Case("numpy arrays in .pt", "numpy.pt", numpy_in_pt(), other),
        Case("deflate zip bomb", "bomb.pt", deflate_bomb(), "compressed entries"),
        Case("zip directory claims 2 GiB", "liar.pt", lying_zip_sizes(), "truncated"),
        Case("truncated zip", "half.pt", truncated_zip(), "truncated or damaged"),
        Case("wrong magic (.pt)", "model.pt", b"\x7fELF\x02\x01\x01" + b"\0" * 200, "not a zip archive"),
        Case("wrong magic (.safetensors)", "model.safetensors", b"GIF89a" + b"\1" * 64,
             "does not start with a valid header"),
        Case("safetensors offsets past the end", "past.safetensors", safetensors_offsets_past_end(),
             "extends past the end of the file"),
        Case("safetensors overlapping tensors", "overlap.safetensors", safetensors_overlapping(), "overlap"),
        Case("safetensors huge declared shape", "huge.safetensors", safetensors_huge_shape(),
             "which is too large"),
        Case("safetensors header longer than the file", "long.safetensors",
             safetensors_header_length_beyond_file(), "is larger than the file"),
        Case("NaN weights", "nan.safetensors", malformed_safetensors("nan"), "contains NaN"),
        Case("Inf weights", "inf.pt", malformed_pt("inf"), "contains infinite values"),
        Case("mismatched shapes", "shape.safetensors", malformed_safetensors("shape_mismatch"),
             "wrong shapes: cell.weight_hh_l0 has shape (20, 6), expected (20, 5)"),
        Case("unknown architecture", "arch.safetensors", malformed_safetensors("unknown_arch"),
             "Unknown architecture 'transformer'"),
        Case("absurd vocabulary", "vocab.pt", malformed_pt("absurd_vocab"), "vocab_size 10000000 is too large"),
        Case("absurd hidden size", "hidden.safetensors", malformed_safetensors("absurd_hidden"),
             "hidden_size 1000000000 is too large"),
        Case("too many parameters", "params.safetensors", malformed_safetensors("too_many_parameters"),
             "more than the 200,000,000 limit"),
        Case("vocabulary not UTF-8 (.safetensors)", "utf8.safetensors", safetensors_vocab_invalid_utf8(),
             "header is not UTF-8 text"),
        Case("vocabulary not UTF-8 (.pt)", "utf8.pt", pt_vocab_invalid_utf8(), "could not be read"),
        Case("vocabulary with a lone surrogate", "surrogate.pt", vocab_lone_surrogate(), "not valid text"),
        Case("empty file", "empty.safetensors", b"", "The file is empty"),
        Case("stride-0 view of one number", "view.pt", stride0_view(), "is a view, not its own data"),
        Case("float64 weights that overflow float32", "overflow.pt", float64_overflowing_float32(),
             "which overflow float32"),
        Case("two data.pkl entries", "twice.pt", duplicate_data_pkl(), "holds two entries named"),
        Case("data.pkl padded with 400k one-byte operations", "padded.pt", padded_pickle(400_000),
             "pickle operations, more than its tensors need"),
    ]
