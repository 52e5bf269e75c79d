"""Checkpoints: exact round trips, safe loading of hostile files, clear errors, state_dict import."""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from rnnscope.analysis import pt_format
from rnnscope.analysis.cells import ARCHS
from rnnscope.analysis.checkpoint import CheckpointError, expected_tensors, load, load_bytes, save
from rnnscope.analysis.checkpoint_import import import_state_dict
from rnnscope.analysis.model import Model, RNNClassifier, pad_batch
from rnnscope.analysis.tokenizer import PAD, UNK, Tokenizer, Vocab

V, E, H = 30, 6, 5
WORDS = ["the", "movie", "was", "good", "bad", "not", "great", "awful", "!", ".", "a", "plot", "acting",
         "i", "loved", "hated", "it", "boring", "fun", "and", "but", "very", "this", "film", "so", "script",
         "truly", "ever"]
VOCAB = [PAD, UNK] + WORDS
assert len(VOCAB) == V
TEXTS = ["The movie was good!", "Not good. Awful acting, boring plot.", "I loved it", "",
         "unseenword and truly great fun", "this film was so very bad but the script was great"]


def make_model(arch: str, num_classes: int = 1, seed: int = 0, dtype=torch.float32) -> Model:
    torch.manual_seed(seed)
    net = RNNClassifier(arch, V, E, H, num_classes).to(dtype)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.7)
    return Model(net=net.eval(), vocab=Vocab(list(VOCAB)), tokenizer=Tokenizer(),
                 metrics={"test_accuracy": 0.75, "n": 3}, provenance={"dataset": "toy", "seed": seed})


def pt_payload(model: Model) -> dict:
    """The dict `save` writes to a .pt, for tests to corrupt."""
    return {"format": "rnnscope/1", "config": {"format": "rnnscope/1", **copy.deepcopy(model.config())},
            "vocab": list(model.vocab.tokens),
            "state_dict": {k: v.detach().clone() for k, v in model.net.state_dict().items()}}


def pt_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def st_bytes(header: dict, data: bytes) -> bytes:
    """A safetensors file from a hand-written header (which may lie)."""
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


class Evil:
    """Unpickling this runs a shell command."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def logits(model: Model, texts=TEXTS) -> torch.Tensor:
    tokens, lengths = pad_batch([model.encode(t) for t in texts])
    return model.net.final_logits(tokens, lengths)


# --- layout and round trips ----------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_expected_tensors_match_the_network(arch):
    net = RNNClassifier(arch, V, E, H, 3)
    assert expected_tensors(arch, V, E, H, 3) == {k: tuple(v.shape) for k, v in net.state_dict().items()}


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
@pytest.mark.parametrize("arch", ARCHS)
def test_round_trip_is_exact(tmp_path, arch, suffix):
    model = make_model(arch, num_classes=2 if arch in ("gru", "ugrnn") else 1)
    path = tmp_path / f"model{suffix}"
    digest = save(model, path)
    data = path.read_bytes()
    assert digest == hashlib.sha256(data).hexdigest() == model.sha256
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind

    loaded = load(path)
    assert loaded.sha256 == digest
    original, restored = model.net.state_dict(), loaded.net.state_dict()
    assert list(original) == list(restored)
    for name in original:
        assert restored[name].dtype == original[name].dtype == torch.float32
        assert torch.equal(restored[name], original[name]), name
    assert loaded.vocab.tokens == VOCAB
    assert loaded.config() == model.config()
    assert loaded.tokenizer == model.tokenizer
    assert torch.equal(logits(loaded), logits(model))
    assert np.array_equal(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS))

    from_bytes = load_bytes(data, "upload" + suffix)
    assert from_bytes.sha256 == digest
    assert torch.equal(logits(from_bytes), logits(model))


def test_float64_network_round_trips_as_float64(tmp_path):
    model = make_model("lstm", dtype=torch.float64)
    save(model, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    assert loaded.net.embedding.weight.dtype == torch.float64
    assert torch.equal(logits(loaded), logits(model))


def test_format_is_detected_by_content_not_name(tmp_path):
    model = make_model("gru")
    save(model, tmp_path / "m.pt")
    save(model, tmp_path / "m.safetensors")
    swapped_pt = load_bytes((tmp_path / "m.pt").read_bytes(), "m.safetensors")
    swapped_st = load_bytes((tmp_path / "m.safetensors").read_bytes(), "m.pt")
    assert torch.equal(logits(swapped_pt), logits(model))
    assert torch.equal(logits(swapped_st), logits(model))


def test_safetensors_metadata_keys_are_documented(tmp_path):
    model = make_model("vrnn")
    save(model, tmp_path / "m.safetensors")
    with safetensors.safe_open(tmp_path / "m.safetensors", "pt") as f:
        meta = f.metadata()
    config = json.loads(meta["rnnscope"])
    assert config["format"] == "rnnscope/1" and config["arch"] == "vrnn" and config["hidden_size"] == H
    assert json.loads(meta["rnnscope.vocab"]) == VOCAB


def test_save_overwrites_atomically(tmp_path):
    path = tmp_path / "m.pt"
    save(make_model("lstm", seed=1), path)
    save(make_model("lstm", seed=2), path)
    assert torch.equal(load(path).net.embedding.weight, make_model("lstm", seed=2).net.embedding.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_torch_version_gate():
    assert pt_format._torch_version_ok("2.10.0+cpu") and pt_format._torch_version_ok("2.13.0") and pt_format._torch_version_ok("3.0")
    assert not pt_format._torch_version_ok("2.9.1") and not pt_format._torch_version_ok("1.13.1")


# --- hostile pickles -------------------------------------------------------------------------
def test_evil_pickle_payload_is_live(tmp_path):
    """Sanity check of the attack used below: a plain unpickle does run the command."""
    sentinel = tmp_path / "proof"
    pickle.loads(pickle.dumps(Evil(sentinel)))
    assert sentinel.exists()


@pytest.mark.parametrize("name", ["evil.pt", "evil.safetensors", "evil.bin"])
def test_pickle_that_runs_a_command_is_rejected(tmp_path, name):
    sentinel = tmp_path / "SENTINEL"
    payload = pt_payload(make_model("lstm"))
    payload["config"]["metrics"] = {"x": Evil(sentinel)}
    path = tmp_path / name
    path.write_bytes(pt_bytes(payload))
    with pytest.raises(CheckpointError, match="Python objects other than tensors") as err:
        load(path)
    assert "system" in str(err.value)
    assert not sentinel.exists()


def test_evil_pickle_injected_into_a_torch_zip_is_rejected(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    good = pt_bytes(pt_payload(make_model("gru")))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = pickle.dumps(Evil(sentinel), protocol=2)
            dst.writestr(info.filename, data)
    with pytest.raises(CheckpointError, match="Python objects other than tensors"):
        load_bytes(out.getvalue(), "evil.pt")
    assert not sentinel.exists()


def test_bare_pickle_file_is_never_unpickled(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    with pytest.raises(CheckpointError, match="bare Python pickle"):
        load_bytes(pickle.dumps(Evil(sentinel)), "evil.pt")
    assert not sentinel.exists()


def test_pickled_module_is_rejected():
    with pytest.raises(CheckpointError, match="Python objects other than tensors.*nn.Module"):
        load_bytes(pt_bytes(make_model("lstm").net), "model.pt")


def test_numpy_arrays_in_pt_are_rejected():
    payload = pt_payload(make_model("lstm"))
    payload["state_dict"] = {k: v.numpy() for k, v in payload["state_dict"].items()}
    with pytest.raises(CheckpointError, match="Python objects other than tensors.*numpy"):
        load_bytes(pt_bytes(payload), "model.pt")


def test_sparse_tensor_is_rejected():
    payload = pt_payload(make_model("vrnn"))
    payload["state_dict"]["readout.bias"] = payload["state_dict"]["readout.bias"].to_sparse()
    with pytest.raises(CheckpointError, match="not a plain dense tensor"):
        load_bytes(pt_bytes(payload), "model.pt")


def test_compressed_zip_is_rejected():
    good = pt_bytes(pt_payload(make_model("vrnn")))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with pytest.raises(CheckpointError, match="compressed entries"):
        load_bytes(out.getvalue(), "model.pt")


# --- malformed content (one case each; same checks for both containers) ----------------------
def _set(path, value):
    def mutate(p):
        target = p
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _del(path):
    def mutate(p):
        target = p
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return mutate


def _poison(name, value):
    def mutate(p):
        t = p["state_dict"][name].clone()
        t.view(-1)[3] = value
        p["state_dict"][name] = t
    return mutate


MALFORMED = {
    "unknown_arch": (_set(["config", "arch"], "transformer"), "Unknown architecture 'transformer'"),
    "shape_mismatch": (_set(["state_dict", "cell.weight_hh_l0"], torch.zeros(4 * H, H + 1)),
                       "wrong shapes: cell.weight_hh_l0 has shape (20, 6), expected (20, 5)"),
    "missing_tensor": (_del(["state_dict", "readout.bias"]), "missing tensors: readout.bias"),
    "extra_tensor": (_set(["state_dict", "extra.weight"], torch.zeros(2)), "unexpected tensors: 'extra.weight'"),
    "nan": (_poison("cell.weight_hh_l0", float("nan")), "Tensor 'cell.weight_hh_l0' contains NaN"),
    "inf": (_poison("embedding.weight", float("-inf")), "Tensor 'embedding.weight' contains infinite values"),
    "absurd_hidden": (_set(["config", "hidden_size"], 10**9), "hidden_size 1000000000 is too large (limit 4,096)"),
    "absurd_vocab": (_set(["config", "vocab_size"], 10**7), "vocab_size 10000000 is too large (limit 500,000)"),
    "too_many_parameters": (lambda p: p["config"].update(vocab_size=500_000, embed_dim=4096),
                            "more than the 200,000,000 limit"),
    "zero_classes": (_set(["config", "num_classes"], 0), "num_classes 0 is too small"),
    "hidden_not_int": (_set(["config", "hidden_size"], "5"), "hidden_size must be a whole number"),
    "hidden_float": (_set(["config", "hidden_size"], 5.0), "hidden_size must be a whole number"),
    "vocab_wrong_length": (lambda p: p["vocab"].pop(), "vocabulary has 29 tokens but the model's vocab_size is 30"),
    "vocab_duplicates": (_set(["vocab", 7], "the"), "duplicate token 'the' (ids 2 and 7)"),
    "vocab_not_strings": (_set(["vocab", 5], 5), "Vocabulary entry 5 is not a string"),
    "vocab_no_pad": (_set(["vocab", 0], "[PAD]"), "must start with '<pad>' (id 0"),
    "vocab_token_too_long": (_set(["vocab", 4], "x" * 201), "Vocabulary entry 4 is 201 characters long"),
    "wrong_format": (_set(["config", "format"], "rnnscope/2"), "format is 'rnnscope/2'"),
    "unknown_tokenizer": (_set(["config", "tokenizer"], {"name": "bpe/7"}), "Unknown tokenizer 'bpe/7'"),
    "metrics_not_object": (_set(["config", "metrics"], [0.5]), "metrics must be a JSON object"),
    "missing_size": (_del(["config", "embed_dim"]), "config has no 'embed_dim'"),
}
PT_ONLY = {
    "int_tensor": (_set(["state_dict", "readout.bias"], torch.zeros(1, dtype=torch.int64)), "dtype int64"),
    "pt_format": (_set(["format"], "something"), "format is 'something'"),
    "vocab_not_list": (_set(["vocab"], "abc"), "vocabulary must be a list of strings"),
}


@pytest.mark.parametrize("case", list(MALFORMED) + list(PT_ONLY))
def test_malformed_pt_is_rejected_with_a_clear_message(case):
    mutate, fragment = {**MALFORMED, **PT_ONLY}[case]
    payload = pt_payload(make_model("lstm"))
    mutate(payload)
    with pytest.raises(CheckpointError) as err:
        load_bytes(pt_bytes(payload), "model.pt")
    assert fragment in str(err.value)


def _st_from_payload(payload) -> bytes:
    meta = {"rnnscope": json.dumps(payload["config"]), "rnnscope.vocab": json.dumps(payload["vocab"])}
    return safetensors.torch.save(payload["state_dict"], metadata=meta)


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_safetensors_is_rejected_with_a_clear_message(case):
    mutate, fragment = MALFORMED[case]
    payload = pt_payload(make_model("lstm"))
    mutate(payload)
    with pytest.raises(CheckpointError) as err:
        load_bytes(_st_from_payload(payload), "model.safetensors")
    assert fragment in str(err.value)


def test_shape_errors_list_every_problem():
    payload = pt_payload(make_model("gru"))
    sd = payload["state_dict"]
    del sd["readout.bias"], sd["cell.bias_hh_l0"]
    sd["cell.bias_l0"] = torch.zeros(2 * H)
    sd["embedding.weight"] = torch.zeros(V, E + 1)
    with pytest.raises(CheckpointError) as err:
        load_bytes(pt_bytes(payload), "m.pt")
    msg = str(err.value)
    assert "missing tensors: cell.bias_hh_l0, readout.bias" in msg
    assert "unexpected tensors: 'cell.bias_l0'" in msg
    assert "embedding.weight has shape (30, 7), expected (30, 6)" in msg


def test_plain_state_dict_points_to_import():
    with pytest.raises(CheckpointError, match="plain PyTorch state_dict.*rnnscope import"):
        load_bytes(pt_bytes(make_model("lstm").net.state_dict()), "weights.pt")


# --- broken files -------------------------------------------------------------------------------
def test_empty_file(tmp_path):
    (tmp_path / "e.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="The file is empty"):
        load(tmp_path / "e.pt")


def test_not_a_zip():
    with pytest.raises(CheckpointError, match="not a zip archive"):
        load_bytes(b"this is just some text, not weights", "model.pt")


def test_not_a_checkpoint_at_all():
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_bytes(b"GIF89a....", "cat.gif")


def test_truncated_zip():
    data = pt_bytes(pt_payload(make_model("lstm")))
    with pytest.raises(CheckpointError, match="truncated or damaged"):
        load_bytes(data[: len(data) // 2], "model.pt")


def test_zip_that_is_not_torch():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="no data.pkl"):
        load_bytes(out.getvalue(), "model.pt")


def test_oversize_file(tmp_path):
    model = make_model("lstm")
    save(model, tmp_path / "m.safetensors")
    size = (tmp_path / "m.safetensors").stat().st_size
    with pytest.raises(CheckpointError, match=r"larger than the 1000 bytes limit"):
        load(tmp_path / "m.safetensors", max_bytes=1000)
    with pytest.raises(CheckpointError, match=r"larger than the 256.0 MiB limit"):
        load_bytes(b"\0" * (256 * 2**20 + 1), "huge.pt")
    assert load(tmp_path / "m.safetensors", max_bytes=size).sha256 == model.sha256


def test_missing_file_message_has_no_directory(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load(tmp_path / "nope.pt")
    assert "'nope.pt' not found" in str(err.value) and str(tmp_path) not in str(err.value)


# --- lying safetensors headers (rejected before safetensors parses anything) -------------------
@pytest.fixture
def no_safetensors_parse(monkeypatch):
    calls = []
    monkeypatch.setattr(safetensors.torch, "load", lambda *a, **k: calls.append(1) or {})
    yield
    assert calls == []


def _valid_header():
    meta = {"rnnscope": "{}", "rnnscope.vocab": "[]"}
    return {"__metadata__": meta,
            "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
            "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}}


def test_safetensors_offsets_past_end(no_safetensors_parse):
    header = _valid_header()
    header["b"]["data_offsets"] = [16, 24]
    with pytest.raises(CheckpointError, match="data of tensor 'b' extends past the end of the file"):
        load_bytes(st_bytes(header, b"\0" * 20), "m.safetensors")


def test_safetensors_overlapping_tensors(no_safetensors_parse):
    header = _valid_header()
    header["b"] = {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}
    with pytest.raises(CheckpointError, match="data of tensors 'a' and 'b' overlap"):
        load_bytes(st_bytes(header, b"\0" * 16), "m.safetensors")


def test_safetensors_huge_declared_shape(no_safetensors_parse):
    header = _valid_header()
    header["a"]["shape"] = [10**6, 10**6]
    with pytest.raises(CheckpointError, match=r"declares shape \(1000000, 1000000\), which is too large"):
        load_bytes(st_bytes(header, b"\0" * 24), "m.safetensors")


def test_safetensors_header_length_beyond_file(no_safetensors_parse):
    raw = json.dumps(_valid_header()).encode()
    data = struct.pack("<Q", len(raw) + 1000) + raw + b"\0" * 24
    with pytest.raises(CheckpointError, match=r"header length \(\d+ bytes\) is larger than the file"):
        load_bytes(data, "m.safetensors")


def test_safetensors_absurd_header_length(no_safetensors_parse):
    with pytest.raises(CheckpointError, match="more than the 100000000 byte limit"):
        load_bytes(struct.pack("<Q", 2**62) + b"{}", "m.safetensors")


def test_safetensors_size_inconsistent_with_dtype_and_shape(no_safetensors_parse):
    header = _valid_header()
    header["a"]["dtype"] = "F64"
    with pytest.raises(CheckpointError, match=r"data size \(16 bytes\) does not match its dtype F64"):
        load_bytes(st_bytes(header, b"\0" * 24), "m.safetensors")


def test_safetensors_disallowed_dtype(no_safetensors_parse):
    header = _valid_header()
    header["a"]["dtype"] = "I64"
    with pytest.raises(CheckpointError, match="unsupported dtype 'I64'"):
        load_bytes(st_bytes(header, b"\0" * 24), "m.safetensors")


def test_safetensors_gap_and_trailing_bytes(no_safetensors_parse):
    header = _valid_header()
    header["b"]["data_offsets"] = [20, 28]
    with pytest.raises(CheckpointError, match="unused bytes between tensors"):
        load_bytes(st_bytes(header, b"\0" * 28), "m.safetensors")
    with pytest.raises(CheckpointError, match="extra bytes after the last tensor"):
        load_bytes(st_bytes(_valid_header(), b"\0" * 32), "m.safetensors")


def test_safetensors_duplicate_key_and_bad_json(no_safetensors_parse):
    raw = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {}}'
    with pytest.raises(CheckpointError, match="lists 'a' twice"):
        load_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 4, "m.safetensors")
    raw = b'{"a": [1, 2'
    with pytest.raises(CheckpointError, match="header is not valid JSON"):
        load_bytes(struct.pack("<Q", len(raw)) + raw, "m.safetensors")


def test_truncated_safetensors(tmp_path):
    save(make_model("lstm"), tmp_path / "m.safetensors")
    data = (tmp_path / "m.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="extends past the end of the file"):
        load_bytes(data[:-10], "m.safetensors")
    with pytest.raises(CheckpointError, match="truncated"):
        load_bytes(data[:6], "m.safetensors")


def test_safetensors_without_rnnscope_metadata():
    data = safetensors.torch.save(make_model("lstm").net.state_dict())
    with pytest.raises(CheckpointError, match="no rnnscope config.*rnnscope import"):
        load_bytes(data, "weights.safetensors")


# --- import of plain PyTorch models ------------------------------------------------------------
class PlainClassifier(nn.Module):
    """How people write it: nn.Embedding + nn.LSTM/GRU/RNN + nn.Linear on the last hidden state."""

    def __init__(self, kind: str, num_classes: int = 1, names=("embed", None, "fc")):
        super().__init__()
        rnn_cls, default = {"lstm": (nn.LSTM, "lstm"), "gru": (nn.GRU, "gru"), "vrnn": (nn.RNN, "rnn")}[kind]
        self.names = (names[0], names[1] or default, names[2])
        setattr(self, self.names[0], nn.Embedding(V, E))
        setattr(self, self.names[1], rnn_cls(E, H, batch_first=True))
        setattr(self, self.names[2], nn.Linear(H, num_classes))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        emb, rnn, fc = (getattr(self, n) for n in self.names)
        _, last = rnn(emb(ids))
        if isinstance(last, tuple):
            last = last[0]
        return fc(last[-1])


def _plain(kind, num_classes=1, names=("embed", None, "fc"), seed=0):
    torch.manual_seed(seed)
    module = PlainClassifier(kind, num_classes, names).float()
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.7)
    return module.eval()


def _write_inputs(tmp_path, module, vocab=VOCAB, vocab_bytes=None):
    sd_path, vocab_path = tmp_path / "weights.pt", tmp_path / "vocab.txt"
    torch.save(module.state_dict(), sd_path)
    vocab_path.write_bytes(vocab_bytes if vocab_bytes is not None else ("\n".join(vocab) + "\n").encode())
    return sd_path, vocab_path


def _assert_same_logits(model: Model, module: nn.Module):
    ids = [model.encode(t) for t in TEXTS if t]
    with torch.no_grad():
        expected = torch.cat([module(torch.from_numpy(i)[None]) for i in ids])
    tokens, lengths = pad_batch(ids)
    with torch.no_grad():
        fused = model.net(tokens, lengths)
    stepped = model.net.final_logits(tokens, lengths)
    assert expected.abs().max() > 0.05  # a non-trivial network
    torch.testing.assert_close(fused, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(stepped, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("arch", ["lstm", "gru", "vrnn"])
def test_import_matches_the_original_module(tmp_path, arch):
    module = _plain(arch, num_classes=2 if arch == "gru" else 1)
    sd_path, vocab_path = _write_inputs(tmp_path, module)
    model = import_state_dict(sd_path, vocab_path, arch, metrics={"test_accuracy": 0.5})
    assert model.arch == arch and model.vocab.tokens == VOCAB
    assert model.metrics == {"test_accuracy": 0.5}
    assert model.provenance["imported_from"] == "weights.pt"
    assert model.provenance["source_sha256"] == hashlib.sha256(sd_path.read_bytes()).hexdigest()
    _assert_same_logits(model, module)

    # the CLI writes a checkpoint that loads to the same network
    from rnnscope.app.cli import main
    out = tmp_path / "imported.safetensors"
    assert main(["import", "--state-dict", str(sd_path), "--vocab", str(vocab_path), "--arch", arch,
                 "--out", str(out)]) == 0
    _assert_same_logits(load(out), module)


def test_import_with_key_map_json_vocab_and_wrappers(tmp_path, capsys):
    module = _plain("lstm", names=("tok", "core", "head"))
    sd = {f"module.{k}": v for k, v in module.state_dict().items()}
    sd_path, vocab_path = tmp_path / "w.pt", tmp_path / "vocab.json"
    torch.save({"epoch": 3, "state_dict": sd}, sd_path)
    vocab_path.write_text(json.dumps(VOCAB), encoding="utf-8")
    with pytest.raises(CheckpointError, match="not recognized: 'module.tok.weight'.*--map"):
        import_state_dict(sd_path, vocab_path, "lstm")
    model = import_state_dict(sd_path, vocab_path, "lstm",
                              key_map={"module.tok": "embedding", "module.core": "cell", "module.head": "readout"})
    _assert_same_logits(model, module)

    from rnnscope.app.cli import main
    out = tmp_path / "m.pt"
    assert main(["import", "--state-dict", str(sd_path), "--vocab", str(vocab_path), "--arch", "lstm",
                 "--out", str(out), "--map", "module.tok=embedding", "module.core=cell",
                 "--map", "module.head=readout"]) == 0
    assert "wrote" in capsys.readouterr().out
    _assert_same_logits(load(out), module)


def test_import_bias_free_modules(tmp_path):
    module = _plain("gru")
    sd = {k: v for k, v in module.state_dict().items() if "bias" not in k}
    with torch.no_grad():
        module.gru.bias_ih_l0.zero_(), module.gru.bias_hh_l0.zero_(), module.fc.bias.zero_()
    torch.save(sd, tmp_path / "w.pt")
    (tmp_path / "v.txt").write_text("\n".join(VOCAB), encoding="utf-8")
    _assert_same_logits(import_state_dict(tmp_path / "w.pt", tmp_path / "v.txt", "gru"), module)


def test_import_non_utf8_vocab(tmp_path):
    sd_path, vocab_path = _write_inputs(tmp_path, _plain("lstm"),
                                        vocab_bytes="\n".join(VOCAB).encode() + b"\ncaf\xe9\n")
    with pytest.raises(CheckpointError, match=r"not valid UTF-8 \(bad byte 0xe9 on line 31\)"):
        import_state_dict(sd_path, vocab_path, "lstm")


def test_import_vocab_without_pad_unk(tmp_path):
    sd_path, vocab_path = _write_inputs(tmp_path, _plain("lstm"), vocab=WORDS + ["x", "y"])
    with pytest.raises(CheckpointError, match=r"must start with '<pad>' \(id 0, padding\) and '<unk>' \(id 1"):
        import_state_dict(sd_path, vocab_path, "lstm")


def test_import_vocab_length_mismatch(tmp_path):
    sd_path, vocab_path = _write_inputs(tmp_path, _plain("lstm"), vocab=VOCAB[:-3])
    with pytest.raises(CheckpointError, match="27 tokens but the embedding has 30 rows"):
        import_state_dict(sd_path, vocab_path, "lstm")


def test_import_vocab_empty_line(tmp_path):
    sd_path, vocab_path = _write_inputs(tmp_path, _plain("lstm"), vocab=VOCAB[:5] + [""] + VOCAB[6:])
    with pytest.raises(CheckpointError, match="Line 6 of the vocabulary file is empty"):
        import_state_dict(sd_path, vocab_path, "lstm")


def test_import_wrong_arch(tmp_path):
    sd_path, vocab_path = _write_inputs(tmp_path, _plain("gru"))
    with pytest.raises(CheckpointError, match=r"does not fit --arch lstm.*looks like gru"):
        import_state_dict(sd_path, vocab_path, "lstm")


def test_import_multilayer_rejected(tmp_path):
    module = _plain("lstm")
    module.lstm = nn.LSTM(E, H, num_layers=2, batch_first=True)
    sd_path, vocab_path = _write_inputs(tmp_path, module)
    with pytest.raises(CheckpointError, match="single-layer, unidirectional.*weight_ih_l1"):
        import_state_dict(sd_path, vocab_path, "lstm")


def test_import_nan_weights_rejected(tmp_path):
    module = _plain("vrnn")
    with torch.no_grad():
        module.rnn.weight_hh_l0[0, 0] = float("nan")
    sd_path, vocab_path = _write_inputs(tmp_path, module)
    with pytest.raises(CheckpointError, match="Tensor 'cell.weight_hh_l0' contains NaN"):
        import_state_dict(sd_path, vocab_path, "vrnn")


def test_import_refuses_evil_pickle(tmp_path, capsys):
    sentinel = tmp_path / "SENTINEL"
    sd_path, vocab_path = _write_inputs(tmp_path, _plain("lstm"))
    torch.save({"embed.weight": torch.zeros(V, E), "x": Evil(sentinel)}, sd_path)
    with pytest.raises(CheckpointError, match="Python objects other than tensors"):
        import_state_dict(sd_path, vocab_path, "lstm")
    from rnnscope.app.cli import main
    assert main(["import", "--state-dict", str(sd_path), "--vocab", str(vocab_path), "--arch", "lstm",
                 "--out", str(tmp_path / "o.pt")]) == 2
    assert "error: The .pt file contains Python objects" in capsys.readouterr().err
    assert not sentinel.exists() and not (tmp_path / "o.pt").exists()
