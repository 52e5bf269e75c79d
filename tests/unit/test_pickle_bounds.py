"""Bounds on a ``.pt``'s ``data.pkl`` relative to the tensors it describes (issue 11 item 3).

Real ``torch.save`` files of the largest shapes must pass; padded pickles (one-byte
operations that hold nothing) must be refused in words, by their size before anything is
parsed, by their operation count before torch parses them, or, when a spare tensor entry
raised the allowance, after the parse by the count against the real vocabulary.
"""
from __future__ import annotations

import io
import random
import zipfile

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from rnnscope.analysis import checkpoint as ckpt, pt_format
from rnnscope.analysis.checkpoint import CheckpointError, load_bytes
from rnnscope.analysis.safetensors_format import parse_safetensors_header
from rnnscope.analysis.tokenizer import PAD, UNK
from rnnscope.bench import hostile_upload as h

MB = 2**20


def data_pkl(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(next(n for n in zf.namelist() if n.endswith("/data.pkl")))


def ops(data: bytes) -> int:
    import pickletools

    return sum(1 for _ in pickletools.genops(data_pkl(data)))


@pytest.mark.parametrize("arch, words, embed", [("lstm", 50_000, 64), ("gru", 20_000, 128)])
def test_real_torch_save_of_h1024_models_passes(arch, words, embed):
    """LSTM and GRU with H = 1,024 (the LSTM: 4.4M recurrent weights) and tens of thousands
    of words, written by torch.save, load exactly."""
    vocab = [PAD, UNK, *(f"tok{i}" for i in range(words - 2))]
    data = h.pt_bytes(h.payload(arch, vocab, embed=embed, hidden=1024))
    model = load_bytes(data, "big.pt", max_bytes=256 * MB)
    assert model.net.shape_config()["hidden_size"] == 1024 and len(model.vocab) == words
    assert 2 * words <= ops(data) <= 2 * words + 1000  # what the allowance of 3 per word rests on


def test_largest_vocabulary_with_smallest_embedding_passes():
    """500,000 words and E = 1 in float16: the most pickle per stored byte a real file has."""
    data = h.big_vocabulary()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        _, tokens = pt_format.pickle_tokens(zf.infolist())
    assert tokens == ckpt.MAX_VOCAB_SIZE
    model = load_bytes(data, "vocab.pt", max_bytes=256 * MB)
    assert len(model.vocab) == 500_000 and model.net.embedding.weight.dtype == torch.float32


def test_longest_tokens_in_four_byte_characters_pass():
    """20,000 tokens of 200 four-byte characters each (~16 MB of pickle over a 40 KB
    embedding): the byte allowance per token is what such a token takes."""
    rng = random.Random(0)
    emoji = [chr(c) for c in range(0x1F600, 0x1F650)]
    vocab = [PAD, UNK]
    seen = set(vocab)
    while len(vocab) < 20_000:
        token = "".join(rng.choices(emoji, k=ckpt.MAX_TOKEN_CHARS))
        if token not in seen:
            seen.add(token)
            vocab.append(token)
    data = h.pt_bytes(h.payload("gru", vocab, embed=1, hidden=2, dtype=torch.float16))
    pkl = data_pkl(data)
    assert len(pkl) > 0.95 * (pt_format.PKL_BASE_BYTES + pt_format.PKL_BYTES_PER_TOKEN * 20_000) - pt_format.PKL_BASE_BYTES
    model = load_bytes(data, "long.pt", max_bytes=256 * MB)
    assert model.vocab.tokens == vocab


def test_padded_pickle_is_refused_by_its_size_before_parsing(monkeypatch):
    """The issue's file: 40 MB of one-byte operations in a valid tiny checkpoint (25.8 s and
    accepted before). Refused from the zip directory alone: the parser never runs."""
    data = h.padded_pickle(40 * MB)
    monkeypatch.setattr(pt_format.pickletools, "genops", lambda *_: pytest.fail("the pickle was walked"))
    monkeypatch.setattr(pt_format.torch, "load", lambda *a, **k: pytest.fail("torch.load ran"))
    with pytest.raises(CheckpointError, match=r"data\.pkl .* is 40\.\d MiB, more than the 4\.\d MiB its "
                                              r"tensors allow .* at most 360 vocabulary words"):
        load_bytes(data, "padded.pt", max_bytes=256 * MB)


def test_padded_pickle_within_the_size_bound_is_refused_by_its_operations(monkeypatch):
    """400,000 operations in 0.4 MB: under the size bound, over the count; torch never parses it."""
    data = h.padded_pickle(400_000)
    monkeypatch.setattr(pt_format.torch, "load", lambda *a, **k: pytest.fail("torch.load ran"))
    bound = pt_format.PKL_BASE_OPS + pt_format.PKL_OPS_PER_TOKEN * 360
    with pytest.raises(CheckpointError, match=f"holds more than {bound:,} pickle operations"):
        load_bytes(data, "padded.pt", max_bytes=256 * MB)


def test_count_stops_at_the_bound(monkeypatch):
    """The walk over a padded stream stops one operation past the bound (its cost is bounded)."""
    genops = pt_format.pickletools.genops
    seen = []

    def counting(stream):
        for op in genops(stream):
            seen.append(1)
            yield op
    monkeypatch.setattr(pt_format.pickletools, "genops", counting)
    with pytest.raises(CheckpointError):
        load_bytes(h.padded_pickle(400_000), "padded.pt", max_bytes=256 * MB)
    assert len(seen) == pt_format.PKL_BASE_OPS + pt_format.PKL_OPS_PER_TOKEN * 360 + 1


def test_spare_tensor_entry_does_not_buy_a_padded_vocabulary():
    """A spare 1 MiB entry lifts the allowance to 1.6M operations; the 1M-operation padding
    then parses, and is refused against the 30 words the file really has."""
    data = h.padded_beside_spare_tensor()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert pt_format.pickle_tokens(zf.infolist())[1] == ckpt.MAX_VOCAB_SIZE
    with pytest.raises(CheckpointError, match=r"takes 1,00\d,\d{3} pickle operations, more than a 30-word "
                                              r"vocabulary needs"):
        load_bytes(data, "spare.pt", max_bytes=256 * MB)


def test_valid_small_file_and_some_padding_within_the_base_allowance_pass():
    assert load_bytes(h.pt_bytes(h.payload()), "ok.pt").vocab.tokens[:2] == [PAD, UNK]
    model = load_bytes(h.padded_pickle(50_000), "metrics.pt")
    assert len(model.metrics["padding"]) == 50_000


def test_to_safetensors_round_trip_keeps_dtypes_and_gives_the_same_model():
    obj = h.payload("lstm", dtype=torch.float16)
    data = h.pt_bytes(obj)
    direct = load_bytes(data, "m.pt")
    encoded = ckpt.to_safetensors(data, "m.pt")
    assert ckpt.check_container(encoded) == "safetensors"
    entries, _, _ = parse_safetensors_header(encoded)
    assert {e["dtype"] for e in entries.values()} == {"F16"}
    again = load_bytes(encoded, "m.safetensors")
    assert again.config() == direct.config() and again.vocab.tokens == direct.vocab.tokens
    for (k, a), (k2, b) in zip(direct.net.state_dict().items(), again.net.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_vocabulary_checks_name_the_first_bad_entry_after_the_bulk_check():
    good = [PAD, UNK, "a", "b"]
    assert ckpt.validate_vocab(good) == good
    for bad, fragment in [([*good, "a"], "duplicate token 'a' (ids 2 and 4)"),
                          ([*good, "x" * 201], "entry 4 is 201 characters"),
                          ([*good, "bad\ud800"], "entry 4 is not valid text"),
                          ([*good, 7], "entry 4 is not a string")]:
        with pytest.raises(CheckpointError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            ckpt.validate_vocab(bad)


@pytest.mark.parametrize("stream", [b"\x80\x02" + b"N" * 1000 + b"\xff.", b"\x80\x02X\xff\xff\xff\x7fabc"],
                         ids=["unknown-operation", "cut-short"])
def test_stream_the_count_cannot_walk_is_refused_as_damaged(monkeypatch, stream):
    """Never left to torch uncounted: an unknown operation or a cut argument is refused."""
    data = _replace_pkl(h.pt_bytes(h.payload()), stream)
    monkeypatch.setattr(pt_format.torch, "load", lambda *a, **k: pytest.fail("torch.load ran"))
    with pytest.raises(CheckpointError, match="could not be read: its data.pkl is damaged"):
        load_bytes(data, "damaged.pt")


def _replace_pkl(data: bytes, stream: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, stream if info.filename.endswith("/data.pkl") else src.read(info))
    return out.getvalue()


_VALID_PKL = data_pkl(h.pt_bytes(h.payload()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(_VALID_PKL)), junk=st.binary(max_size=64),
       repeat=st.integers(0, 5000), op=st.sampled_from([b"N", b"(", b"]", b"}", b")", b"\x88", b"0", b"\xff"]))
def test_fuzzed_data_pkl_gets_a_message_and_torch_never_sees_an_uncounted_stream(monkeypatch, cut, junk,
                                                                                repeat, op):
    """A valid data.pkl cut anywhere, with junk and runs of one-byte operations spliced in: the
    answer is a model or a CheckpointError, and whatever torch parses was walked to its end."""
    stream = _VALID_PKL[:2] + op * repeat + _VALID_PKL[2:cut] + junk + _VALID_PKL[cut:]
    walked, uncounted = [], []
    real_load, real_genops = pt_format.torch.load, pt_format.pickletools.genops

    def genops(data):
        for item in real_genops(data):
            yield item
        walked.append(True)  # reached the STOP operation

    def load(*args, **kwargs):
        if not walked:  # recorded, not raised: the loader turns any exception into a message
            uncounted.append(True)
        return real_load(*args, **kwargs)
    monkeypatch.setattr(pt_format.pickletools, "genops", genops)
    monkeypatch.setattr(pt_format.torch, "load", load)
    try:
        load_bytes(_replace_pkl(h.pt_bytes(h.payload()), stream), "fuzz.pt")
    except CheckpointError as exc:
        assert str(exc)
    assert not uncounted, "torch.load parsed a stream the count did not walk to its end"
