"""Checkpoints in the ``rnnscope/1`` format: save, load untrusted files safely, import.

A checkpoint is one file that loads without executing code. Two containers:

``.safetensors`` (preferred)
    The tensors below, plus two metadata strings:
    ``__metadata__["rnnscope"]`` = the JSON config (including ``"format": "rnnscope/1"``) and
    ``__metadata__["rnnscope.vocab"]`` = the vocabulary as a JSON list of strings (id order).
``.pt`` (a PyTorch zip)
    ``torch.save({"format": "rnnscope/1", "config": {...}, "vocab": [...], "state_dict": {...}})``,
    read only with ``torch.load(..., weights_only=True)``: never a full unpickle, no fallback,
    no allow-listed globals.

Config keys: ``arch`` (lstm | gru | ugrnn | vrnn), ``vocab_size`` V, ``embed_dim`` E,
``hidden_size`` H, ``num_classes`` C (1 = one logit, binary), ``tokenizer`` (its rules by name
and options, :meth:`Tokenizer.to_config`), ``metrics`` (JSON object), ``provenance`` (JSON
object). Unknown extra keys are ignored.

Tensors, per architecture (shapes; gate rows stacked in PyTorch's order)::

    embedding.weight                     (V, E)          all archs
    readout.weight, readout.bias         (C, H), (C,)    all archs
    lstm   cell.weight_ih_l0 (4H, E)  cell.weight_hh_l0 (4H, H)  cell.bias_ih_l0 (4H,)  cell.bias_hh_l0 (4H,)
    gru    cell.weight_ih_l0 (3H, E)  cell.weight_hh_l0 (3H, H)  cell.bias_ih_l0 (3H,)  cell.bias_hh_l0 (3H,)
    vrnn   cell.weight_ih_l0 (H, E)   cell.weight_hh_l0 (H, H)   cell.bias_ih_l0 (H,)   cell.bias_hh_l0 (H,)
    ugrnn  cell.weight_ih_l0 (2H, E)  cell.weight_hh_l0 (2H, H)  cell.bias_l0 (2H,)

(LSTM gates i, f, g, o; GRU gates r, z, n; UGRNN rows u then c, see :mod:`rnnscope.analysis.cells`.)
:func:`save` stores the network's own floating dtype (normally float32). Allowed dtypes are
float32, float16, bfloat16 and float64; a float64 checkpoint (by its ``embedding.weight``) loads
as a float64 network, any other as float32.

Loading validates everything before a network is built (then ``load_state_dict(strict=True)``):
the file size (``max_bytes``, default 256 MiB), the container (zip magic and structure; the
safetensors header parsed and checked by hand before ``safetensors`` sees the bytes), the format
string, the architecture, integer caps (V <= 500,000, E <= 4096, H <= 4096, 1 <= C <= 16,
at most 200M parameters), every tensor's presence, exact shape, floating dtype and finiteness,
the vocabulary (V unique strings of at most 200 characters, ``<pad>`` at id 0 and ``<unk>`` at
id 1), the tokenizer config, and that metrics/provenance are JSON objects. Every problem raises
:class:`CheckpointError` with a plain-English message meant for the person who uploaded the file.

A ``.pt``'s ``data.pkl`` is bounded by the tensors it describes before torch parses it (torch's
weights-only unpickler is pure Python, ~0.6 µs per pickle operation): at most ``PKL_BASE_BYTES``
+ ``PKL_BYTES_PER_TOKEN`` per vocabulary word the stored tensors allow (from the zip directory),
and at most ``PKL_BASE_OPS`` + ``PKL_OPS_PER_TOKEN`` operations per such word (counted with
``pickletools``, stopping at the bound), then per word of the real vocabulary after the parse.
:func:`to_safetensors` re-encodes a validated checkpoint without a pickle (the web server's
reading process, ``rnnscope.workers.checkpoint_reader``, answers with it).

This module is the front (save, load, the container dispatch) and the validation of the
config, vocabulary and tensors. The format's constants and :class:`CheckpointError` live in
:mod:`rnnscope.analysis.checkpoint_spec`; reading a ``.pt`` and its pickle bounds (``PKL_*``)
in :mod:`rnnscope.analysis.pt_format`; the safetensors header checks in
:mod:`rnnscope.analysis.safetensors_format`. :func:`rnnscope.analysis.checkpoint_import.import_state_dict`
converts a plain PyTorch state_dict (embedding + ``nn.LSTM``/``nn.GRU``/``nn.RNN`` +
``nn.Linear``) and a vocabulary file into a :class:`Model`.
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import safetensors.torch
import torch

from rnnscope.analysis.atomic import write_bytes
from rnnscope.analysis.cells import ARCHS
from rnnscope.analysis.checkpoint_spec import DEFAULT_MAX_BYTES, FLOAT_DTYPES, FORMAT, MAX_CLASSES, MAX_EMBED_DIM, \
    MAX_HIDDEN_SIZE, MAX_JSON_DEPTH, MAX_PARAMETERS, MAX_TOKEN_CHARS, MAX_VOCAB_SIZE, METADATA_CONFIG_KEY, \
    METADATA_VOCAB_KEY, CheckpointError, expected_tensors, short_repr, size_text
from rnnscope.analysis.model import Model, RNNClassifier
from rnnscope.analysis.pt_format import ZIP_MAGIC, check_zip, read_pt
from rnnscope.analysis.safetensors_format import load_tensors, read_metadata
from rnnscope.analysis.tokenizer import PAD, UNK, Tokenizer, Vocab


# --- save ------------------------------------------------------------------------------
def save(model: Model, path: str | os.PathLike) -> str:
    """Write ``model`` as an ``rnnscope/1`` checkpoint, atomically.

    Parameters
    ----------
    model : Model
    path : str or PathLike
        Ends in ``.safetensors`` or ``.pt`` (``.pth`` accepted); the suffix picks the container.

    Returns
    -------
    str
        sha256 hex digest of the written file (also stored in ``model.sha256``).
    """
    path = Path(path)
    data = encode(model, path.suffix)
    write_bytes(path, data)
    model.sha256 = hashlib.sha256(data).hexdigest()
    return model.sha256


def encode(model: Model, suffix: str = ".safetensors") -> bytes:
    """The bytes of ``model`` as an ``rnnscope/1`` checkpoint: ``.safetensors`` or ``.pt``
    (``.pth``) by ``suffix``, as :func:`save` writes them."""
    suffix = suffix.lower()
    config = {"format": FORMAT, **model.config()}
    tensors = {k: v.detach().to("cpu", v.dtype if v.dtype in FLOAT_DTYPES else torch.float32)
               .contiguous().clone() for k, v in model.net.state_dict().items()}
    vocab = list(model.vocab.tokens)
    if suffix == ".safetensors":
        return safetensors.torch.save(tensors, metadata={
            METADATA_CONFIG_KEY: json.dumps(config, sort_keys=True, default=_json_default),
            METADATA_VOCAB_KEY: json.dumps(vocab, ensure_ascii=False)})
    if suffix in (".pt", ".pth"):
        buf = io.BytesIO()
        torch.save({"format": FORMAT, "config": json.loads(json.dumps(config, default=_json_default)), "vocab": vocab,
                    "state_dict": tensors}, buf)
        return buf.getvalue()
    raise CheckpointError(f"Unknown checkpoint file type {suffix or '(none)'!r}: use .safetensors or .pt.")


def _json_default(value):
    """numpy scalars/arrays (and 0-d tensors) in metrics -> plain JSON numbers/lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# --- load ------------------------------------------------------------------------------
def load(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Model:
    """Load a checkpoint file (``.safetensors`` or ``.pt``, detected by content).

    Raises
    ------
    CheckpointError
        For any problem (missing file, too large, malformed, unsafe); see the module docstring.
    """
    path = Path(path)
    return load_bytes(read_file(path, max_bytes), path.name, max_bytes=max_bytes)


def read_file(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a checkpoint file, or CheckpointError (missing, a directory, too large)."""
    name = Path(path).name
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            check_size(size, max_bytes)
            return f.read(max_bytes + 1)
    except FileNotFoundError:
        raise CheckpointError(f"Checkpoint file {name!r} not found.") from None
    except IsADirectoryError:
        raise CheckpointError(f"{name!r} is a directory, not a checkpoint file.") from None
    except PermissionError:
        raise CheckpointError(f"Checkpoint file {name!r} cannot be read (permission denied).") from None


def load_bytes(data: bytes, filename: str = "", *, max_bytes: int = DEFAULT_MAX_BYTES) -> Model:
    """Load a checkpoint from its bytes (e.g. an upload); ``filename`` is display text only.

    The container is detected from the content (zip magic or safetensors header), not the
    name. Sets ``model.sha256`` to the sha256 of ``data``.
    """
    data = bytes(data)
    model = build_model(*_read(data, filename, max_bytes))
    model.sha256 = hashlib.sha256(data).hexdigest()
    return model


def check_container(data: bytes, filename: str = "", *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The checks that cost no parsing: size, container, and for a ``.pt`` the zip directory and
    the size of its ``data.pkl`` against its tensors. -> ``"pt"`` or ``"safetensors"``."""
    check_size(len(data), max_bytes)
    kind = detect_container(data, filename)
    if kind == "pt":
        check_zip(data, max_bytes)
    return kind


def to_safetensors(data: bytes, filename: str = "", *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Validate a checkpoint as :func:`load_bytes` does, and return it re-encoded as an
    ``rnnscope/1`` ``.safetensors`` byte string: the file's own tensors (dtypes kept), its
    config and vocabulary. ``load_bytes`` of the result gives the same model; reading it
    parses JSON and copies bytes, never a pickle (``rnnscope.workers.checkpoint_reader`` sends it from
    the process that read an untrusted ``.pt`` to the server)."""
    config, vocab, tensors = _read(bytes(data), filename, max_bytes)
    model = build_model(config, vocab, tensors)  # every check, with its message
    return safetensors.torch.save({k: t.contiguous() for k, t in tensors.items()}, metadata={
        METADATA_CONFIG_KEY: json.dumps({"format": FORMAT, **model.config()}, sort_keys=True),
        METADATA_VOCAB_KEY: json.dumps(list(model.vocab.tokens), ensure_ascii=False)})


def _read(data: bytes, filename: str, max_bytes: int) -> tuple[dict, object, dict]:
    """(config, vocab, tensors) of either container, validated up to the model build."""
    if check_container(data, filename, max_bytes=max_bytes) == "pt":
        return read_pt(data, max_bytes)
    return _read_safetensors(data)


def _read_safetensors(data: bytes) -> tuple[dict, object, dict]:
    """(config, vocab, tensors) of a ``.safetensors`` checkpoint; the tensor names and shapes are
    checked against the config from the header, before any tensor data is materialized."""
    config, vocab, entries = read_metadata(data)
    spec = _validate_config(config)
    _check_names_and_shapes({k: tuple(e["shape"]) for k, e in entries.items()}, spec)
    return config, vocab, load_tensors(data)


def check_size(size: int, max_bytes: int) -> None:
    """CheckpointError for an empty file or one of more than ``max_bytes`` bytes."""
    if size == 0:
        raise CheckpointError("The file is empty; it is not a checkpoint.")
    if size > max_bytes:
        raise CheckpointError(f"The file is {size_text(size)}, larger than the {size_text(max_bytes)} limit for "
                              "checkpoints.")


def detect_container(data: bytes, filename: str) -> str:
    """'pt' or 'safetensors' from the content; a clear error for anything else."""
    if data[:4] == ZIP_MAGIC:
        return "pt"
    if len(data) >= 9 and data[8:9] == b"{":
        return "safetensors"
    suffix = Path(filename).suffix.lower()
    if data[:1] == b"\x80":  # a bare pickle stream (legacy torch.save format or pickle.dump)
        raise CheckpointError("This file is a bare Python pickle (or the legacy PyTorch format), not a zip "
                              "checkpoint; rnnscope never unpickles such files. Re-save it with a current "
                              "torch.save, or better, as .safetensors.")
    if suffix in (".pt", ".pth"):
        raise CheckpointError("This .pt file is not a zip archive (PyTorch checkpoints are zip files); "
                              "it is damaged or not a PyTorch checkpoint.")
    if suffix == ".safetensors":
        raise CheckpointError("This .safetensors file is too short or does not start with a valid header; "
                              "it is truncated, damaged or not a safetensors file.")
    raise CheckpointError("This file is not a checkpoint: expected a .safetensors file or a PyTorch .pt "
                          "(zip) file in the rnnscope/1 format.")


# --- validation ------------------------------------------------------------------------
def _check_int(config: dict, key: str, low: int, high: int) -> int:
    if key not in config:
        raise CheckpointError(f"The checkpoint's config has no {key!r}.")
    value = config[key]
    if type(value) is not int:
        raise CheckpointError(f"{key} must be a whole number, got {short_repr(value)}.")
    if value < low:
        raise CheckpointError(f"{key} {value} is too small (minimum {low}).")
    if value > high:
        raise CheckpointError(f"{key} {value} is too large (limit {high:,}).")
    return value


def _plain_json(value, what: str, depth: int = 0):
    """Check that ``value`` is JSON data (dicts with string keys, lists, scalars); return a copy."""
    if depth > MAX_JSON_DEPTH:
        raise CheckpointError(f"The checkpoint's {what} is nested too deeply.")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain_json(v, what, depth + 1) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise CheckpointError(f"The checkpoint's {what} has a non-string key.")
        return {k: _plain_json(v, what, depth + 1) for k, v in value.items()}
    raise CheckpointError(f"The checkpoint's {what} contains a {type(value).__name__}, which is not JSON data.")


def _validate_config(config: dict) -> dict:
    """Checked config values: arch, sizes within caps, tokenizer, metrics, provenance."""
    arch = config.get("arch")
    if arch not in ARCHS:
        raise CheckpointError(f"Unknown architecture {short_repr(arch)}; expected one of {', '.join(ARCHS)}.")
    spec = {"arch": arch,
            "vocab_size": _check_int(config, "vocab_size", 2, MAX_VOCAB_SIZE),
            "embed_dim": _check_int(config, "embed_dim", 1, MAX_EMBED_DIM),
            "hidden_size": _check_int(config, "hidden_size", 1, MAX_HIDDEN_SIZE),
            "num_classes": _check_int(config, "num_classes", 1, MAX_CLASSES)}
    n_params = sum(math.prod(s) for s in _expected(spec).values())
    if n_params > MAX_PARAMETERS:
        raise CheckpointError(f"The model would have {n_params:,} parameters, more than the "
                              f"{MAX_PARAMETERS:,} limit.")
    tok = config.get("tokenizer")
    try:
        spec["tokenizer"] = Tokenizer.from_config(tok)
    except ValueError:
        name = tok.get("name") if isinstance(tok, dict) else tok
        raise CheckpointError(f"Unknown tokenizer {short_repr(name)}; this version of rnnscope knows "
                              f"'rnnscope-words/1'.") from None
    for key in ("metrics", "provenance"):
        value = config.get(key, {})
        if not isinstance(value, dict):
            raise CheckpointError(f"The checkpoint's {key} must be a JSON object, got a {type(value).__name__}.")
        spec[key] = _plain_json(value, key)
    return spec


def _expected(spec: dict) -> dict[str, tuple[int, ...]]:
    return expected_tensors(spec["arch"], spec["vocab_size"], spec["embed_dim"], spec["hidden_size"],
                            spec["num_classes"])


def _check_names_and_shapes(found: Mapping[str, tuple[int, ...]], spec: dict) -> None:
    """Every expected tensor present with its exact shape, nothing else; lists all problems."""
    expected = _expected(spec)
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    wrong = [f"{k} has shape {tuple(found[k])}, expected {expected[k]}"
             for k in expected if k in found and tuple(found[k]) != expected[k]]
    problems = []
    if missing:
        problems.append("missing tensors: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected tensors: " + ", ".join(short_repr(k, 80) for k in unexpected[:20])
                        + (f" (and {len(unexpected) - 20} more)" if len(unexpected) > 20 else ""))
    if wrong:
        problems.append("wrong shapes: " + "; ".join(wrong))
    if problems:
        raise CheckpointError(f"The tensors do not match a {spec['arch']} model with vocab_size "
                              f"{spec['vocab_size']}, embed_dim {spec['embed_dim']}, hidden_size "
                              f"{spec['hidden_size']}, num_classes {spec['num_classes']}: "
                              + "; ".join(problems) + ".")


def _check_values(tensors: Mapping[str, torch.Tensor], dtype: torch.dtype) -> None:
    """Floating dtype and finite values in the network's ``dtype`` (checked after the cast:
    1e300 is finite in float64 and infinite in float32), naming the first offending tensor."""
    for name, t in tensors.items():
        if t.dtype not in FLOAT_DTYPES:
            raise CheckpointError(f"Tensor {name!r} has dtype {str(t.dtype).removeprefix('torch.')}; "
                                  "weights must be floating point (float32, float16, bfloat16 or float64).")
        if torch.isnan(t).any():
            raise CheckpointError(f"Tensor {name!r} contains NaN (not-a-number) values; the model is broken "
                                  "(training probably diverged).")
        if torch.isinf(t).any():
            raise CheckpointError(f"Tensor {name!r} contains infinite values; the model is broken "
                                  "(training probably diverged).")
        if t.dtype != dtype and torch.isinf(t.to(dtype)).any():
            big = float(t.abs().max())
            raise CheckpointError(f"Tensor {name!r} holds values up to {big:.3g}, which overflow "
                                  f"{str(dtype).removeprefix('torch.')}, the precision this network "
                                  "computes in (its embedding's); such weights are not a trained model.")


def validate_vocab(vocab, vocab_size: int | None = None) -> list[str]:
    """Check a vocabulary: unique strings (<= 200 chars), ``<pad>`` at 0, ``<unk>`` at 1.

    Returns the tokens as a list; raises :class:`CheckpointError` otherwise.
    """
    if not isinstance(vocab, (list, tuple)):
        raise CheckpointError(f"The vocabulary must be a list of strings, got a {type(vocab).__name__}.")
    if vocab_size is not None and len(vocab) != vocab_size:
        raise CheckpointError(f"The vocabulary has {len(vocab):,} tokens but the model's vocab_size is "
                              f"{vocab_size:,}; they must be equal.")
    if not _plain_tokens(vocab):  # the loop below names the first offending entry
        _check_tokens(vocab)
    if len(vocab) < 2 or vocab[0] != PAD or vocab[1] != UNK:
        first = ", ".join(short_repr(t) for t in list(vocab[:2])) or "nothing"
        raise CheckpointError(
            f"The vocabulary must start with {PAD!r} (id 0, padding) and {UNK!r} (id 1, unknown words), "
            f"then the other tokens in embedding-row order; it starts with {first}. rnnscope pads with "
            "id 0 and maps unseen words to id 1, so the embedding rows 0 and 1 must have been trained "
            "for those roles.")
    return list(vocab)


def _plain_tokens(vocab) -> bool:
    """True when every token is a ``str`` of at most MAX_TOKEN_CHARS characters, encodable as
    UTF-8 and unique: the checks of :func:`_check_tokens` in C loops (half the time of the walk
    for 500,000 tokens), so only a vocabulary that fails one of them is walked token by token."""
    if not set(map(type, vocab)) <= {str} or max(map(len, vocab), default=0) > MAX_TOKEN_CHARS:
        return False
    try:
        collections.deque(map(str.encode, vocab), maxlen=0)  # UTF-8, strict: a lone surrogate raises
    except UnicodeEncodeError:
        return False
    return len(set(vocab)) == len(vocab)


def _check_tokens(vocab) -> None:
    """Every token a unique string of at most MAX_TOKEN_CHARS valid characters; the first
    entry that is not raises :class:`CheckpointError` naming it."""
    seen: dict[str, int] = {}
    for i, token in enumerate(vocab):
        if not isinstance(token, str):
            raise CheckpointError(f"Vocabulary entry {i} is not a string (it is a {type(token).__name__}).")
        if len(token) > MAX_TOKEN_CHARS:
            raise CheckpointError(f"Vocabulary entry {i} is {len(token)} characters long; the limit is "
                                  f"{MAX_TOKEN_CHARS}.")
        try:  # a lone surrogate (legal in a pickle or a JSON escape) breaks every UTF-8 write later
            token.encode("utf-8")
        except UnicodeEncodeError:
            raise CheckpointError(f"Vocabulary entry {i} is not valid text: it holds a lone surrogate "
                                  "code point, which cannot be written as UTF-8.") from None
        if token in seen:
            raise CheckpointError(f"The vocabulary has a duplicate token {short_repr(token)} (ids {seen[token]} "
                                  f"and {i}); every token must be unique.")
        seen[token] = i


def build_model(config: dict, vocab, tensors: dict[str, torch.Tensor]) -> Model:
    """Validate everything, then build the network and load it with ``strict=True``."""
    spec = _validate_config(config)
    tokens = validate_vocab(vocab, spec["vocab_size"])
    _check_names_and_shapes({k: tuple(v.shape) for k, v in tensors.items()}, spec)
    # float64 files stay float64 (bit-exact); everything else computes in float32,
    # whatever torch's default dtype happens to be
    dtype = torch.float64 if tensors["embedding.weight"].dtype == torch.float64 else torch.float32
    _check_values(tensors, dtype)
    net = RNNClassifier(spec["arch"], spec["vocab_size"], spec["embed_dim"], spec["hidden_size"],
                        spec["num_classes"])
    net = net.to(dtype)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError:  # unreachable after the checks above; keep the promise of plain messages
        raise CheckpointError("The tensors could not be loaded into the network.") from None
    net.eval()
    return Model(net=net, vocab=Vocab(tokens), tokenizer=spec["tokenizer"], metrics=spec["metrics"],
                 provenance=spec["provenance"])


