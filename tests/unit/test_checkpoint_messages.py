"""Checkpoint errors say what is wrong (issue 11 item 8): a tensor layout that does not fit its
data was "the archive is damaged or truncated", a 5,000-digit number "not valid JSON".

Every file is a valid checkpoint of ``tests/unit/test_checkpoint.py`` with one thing changed.
"""
from __future__ import annotations

import io
import struct
import zipfile

import pytest

from rnnscope.analysis.checkpoint import CheckpointError, load_bytes
from tests.security.hostile import replace_entry, valid_pt, valid_safetensors
from tests.unit.test_checkpoint import make_model, pt_bytes, pt_payload

DAMAGED = "the archive is damaged or truncated"


def refusal(data: bytes, name: str = "model.pt") -> str:
    with pytest.raises(CheckpointError) as refused:
        load_bytes(data, name)
    return str(refused.value)


def entry(data: bytes, suffix: str) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        name = next(n for n in zf.namelist() if n.endswith(suffix))
        return name, zf.read(name)


def with_embedding_rows(rows: int) -> bytes:
    """The valid .pt (V = 30, E = 6) whose pickle says the embedding has ``rows`` rows; its
    stored data keeps 30 x 6 floats."""
    data = valid_pt()
    _, pkl = entry(data, "data.pkl")
    shape = b"K\x1eK\x06"  # BININT1 30, BININT1 6: the embedding's size tuple
    assert pkl.count(shape) == 1
    return replace_entry(data, "data.pkl", pkl.replace(shape, b"K" + bytes([rows]) + b"K\x06"))


def test_a_shape_larger_than_the_stored_data_is_called_a_layout_problem():
    message = refusal(with_embedding_rows(31))
    assert "impossible layout" in message and "shape, strides or offset" in message, message
    assert DAMAGED not in message


def test_a_storage_record_of_the_wrong_size_says_so():
    data = valid_pt()
    name, record = entry(data, "/data/0")
    for changed in (record[:-4], record + b"\0" * 4, b""):
        message = refusal(replace_entry(data, name, changed))
        assert "stored data in the .pt file does not match its description" in message, message
        assert f"record size ({len(changed)} bytes)" in message and DAMAGED not in message


def test_a_pickle_the_weights_only_reader_cannot_follow_is_named():
    """A whole number too long for torch's reader (pickle operation LONG4) in the config."""
    payload = pt_payload(make_model("gru"))
    payload["config"]["vocab_size"] = 10**5000
    message = refusal(pt_bytes(payload))
    assert "data.pkl" in message and "LONG4" in message, message
    assert "Python objects other than tensors" not in message and DAMAGED not in message


def _safetensors_with(replace: str, by: str) -> bytes:
    data = valid_safetensors()
    (n,) = struct.unpack("<Q", data[:8])
    header = data[8: 8 + n].decode()
    assert header.count(replace) == 1
    raw = header.replace(replace, by).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n:]


def test_a_5000_digit_number_in_the_safetensors_header_is_named_not_invalid_json():
    message = refusal(_safetensors_with('"shape":[30,6]', '"shape":[' + "9" * 5000 + ",6]"), "m.safetensors")
    assert "holds a whole number of 5,000 digits" in message and "longer than 20 digits" in message, message
    assert "not valid JSON" not in message


def test_a_5000_digit_number_in_the_config_is_named_not_invalid_json():
    # the config is a JSON string inside the header: '"hidden_size": 5' appears escaped there
    message = refusal(_safetensors_with('\\"hidden_size\\": 5', '\\"hidden_size\\": ' + "1" * 5000),
                      "m.safetensors")
    assert "config (metadata 'rnnscope') holds a whole number of 5,000 digits" in message, message
    assert "not valid JSON" not in message


def test_invalid_json_in_the_header_says_where():
    message = refusal(_safetensors_with('"embedding.weight":{"dtype"', '"embedding.weight":{"dtype" "'), "m.safetensors")
    assert "The safetensors header is not valid JSON (Expecting ':' delimiter: line 1 column" in message, message


def test_a_dtype_that_is_not_a_string_is_refused_in_words():
    """Found by tests/security/test_fuzz.py: a list as dtype raised TypeError (unhashable)."""
    message = refusal(_safetensors_with('"embedding.weight":{"dtype":"F32"', '"embedding.weight":{"dtype":["F32"]'),
                      "m.safetensors")
    assert "unsupported dtype ['F32']" in message, message


def test_a_data_pkl_whose_checksum_does_not_match_is_refused_in_words():
    """Found by tests/security/test_fuzz.py: one byte of data.pkl changed in place (its CRC-32
    left as it was) raised zipfile.BadZipFile from the pickle-size check."""
    data = bytearray(valid_pt())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("data.pkl"))
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    at = data.index(b"movie", start)
    data[at] = ord("M")  # still a valid pickle; only the checksum tells
    message = refusal(bytes(data))
    assert "data.pkl entry is damaged (Bad CRC-32" in message, message
