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

:func:`import_state_dict` converts a plain PyTorch state_dict (embedding + ``nn.LSTM``/``nn.GRU``/
``nn.RNN`` + ``nn.Linear``) and a vocabulary file into a :class:`Model`.
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import os
import pickle
import pickletools
import re
import struct
import traceback
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from rnnscope.analysis.atomic import write_bytes
from rnnscope.analysis.cells import ARCHS
from rnnscope.analysis.model import Model, RNNClassifier
from rnnscope.analysis.tokenizer import PAD, UNK, Tokenizer, Vocab


def _torch_version_ok(version: str) -> bool:
    match = re.match(r"(\d+)\.(\d+)", version)
    return bool(match) and (int(match[1]), int(match[2])) >= (2, 10)


if not _torch_version_ok(torch.__version__):  # weights_only hardening we rely on
    raise ImportError(f"rnnscope needs torch >= 2.10 to load checkpoints safely; found {torch.__version__}")

import safetensors.torch  # noqa: E402  (after the torch version check)

FORMAT = "rnnscope/1"
METADATA_CONFIG_KEY = "rnnscope"
METADATA_VOCAB_KEY = "rnnscope.vocab"

DEFAULT_MAX_BYTES = 256 * 2**20
MAX_VOCAB_SIZE = 500_000
MAX_EMBED_DIM = 4096
MAX_HIDDEN_SIZE = 4096
MAX_CLASSES = 16
MAX_PARAMETERS = 200_000_000
MAX_TOKEN_CHARS = 200
MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
MAX_HEADER_TENSORS = 1024
MAX_ZIP_ENTRIES = 10_000
MAX_JSON_DEPTH = 32
#: Digits of a whole number in a safetensors header (shapes and offsets are 64-bit: 20 digits)
#: and in the config/vocabulary metadata (Python's own limit for converting text to int).
HEADER_INT_DIGITS = 20
METADATA_INT_DIGITS = 4300
#: Bounds on a .pt's ``data.pkl`` (its pickled part: format, config, vocabulary, tensor records),
#: derived from the tensors the archive stores. The vocabulary has one token per embedding row,
#: and the embedding (V x E values of at least 2 bytes) is stored whole in one entry, so the
#: pickle describes at most ``min(MAX_VOCAB_SIZE, largest stored entry // 2)`` tokens.
#: A fixed allowance covers the rest (format, config, metrics, provenance, <= 8 tensor records).
PKL_BASE_BYTES = 4 * 2**20
#: Per token: a BINUNICODE header, its memo entry and up to MAX_TOKEN_CHARS 4-byte characters.
PKL_BYTES_PER_TOKEN = 16 + 4 * MAX_TOKEN_CHARS
PKL_BASE_OPS = 100_000
#: Per token: torch.save writes 2 pickle operations (the string and its memo entry; measured).
PKL_OPS_PER_TOKEN = 3

_GATES = {"lstm": 4, "gru": 3, "vrnn": 1, "ugrnn": 2}
_SAFETENSORS_DTYPES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8}
_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A checkpoint (or import input) is unusable; the message is meant for the user."""


# --- expected layout -------------------------------------------------------------------
def expected_tensors(arch: str, vocab_size: int, embed_dim: int, hidden_size: int,
                     num_classes: int) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of an ``rnnscope/1`` checkpoint for these sizes.

    Equal to ``RNNClassifier(...).state_dict()``'s names and shapes (tested).
    """
    g, H = _GATES[arch] * hidden_size, hidden_size
    cell = {"cell.weight_ih_l0": (g, embed_dim), "cell.weight_hh_l0": (g, H)}
    if arch == "ugrnn":
        cell["cell.bias_l0"] = (g,)
    else:
        cell.update({"cell.bias_ih_l0": (g,), "cell.bias_hh_l0": (g,)})
    return {"embedding.weight": (vocab_size, embed_dim), **cell,
            "readout.weight": (num_classes, H), "readout.bias": (num_classes,)}


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
    suffix = path.suffix.lower()
    config = {"format": FORMAT, **model.config()}
    tensors = {k: v.detach().to("cpu", v.dtype if v.dtype in _FLOAT_DTYPES else torch.float32)
               .contiguous().clone() for k, v in model.net.state_dict().items()}
    vocab = list(model.vocab.tokens)
    if suffix == ".safetensors":
        data = safetensors.torch.save(tensors, metadata={
            METADATA_CONFIG_KEY: json.dumps(config, sort_keys=True, default=_json_default),
            METADATA_VOCAB_KEY: json.dumps(vocab, ensure_ascii=False)})
    elif suffix in (".pt", ".pth"):
        buf = io.BytesIO()
        torch.save({"format": FORMAT, "config": json.loads(json.dumps(config, default=_json_default)), "vocab": vocab,
                    "state_dict": tensors}, buf)
        data = buf.getvalue()
    else:
        raise CheckpointError(f"Unknown checkpoint file type {suffix or '(none)'!r}: use .safetensors or .pt.")
    write_bytes(path, data)
    model.sha256 = hashlib.sha256(data).hexdigest()
    return model.sha256


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
            _check_size(size, max_bytes)
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
    model = _build_model(*_read(data, filename, max_bytes))
    model.sha256 = hashlib.sha256(data).hexdigest()
    return model


def check_container(data: bytes, filename: str = "", *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The checks that cost no parsing: size, container, and for a ``.pt`` the zip directory and
    the size of its ``data.pkl`` against its tensors. -> ``"pt"`` or ``"safetensors"``."""
    _check_size(len(data), max_bytes)
    kind = _detect(data, filename)
    if kind == "pt":
        _check_zip(data, max_bytes)
    return kind


def to_safetensors(data: bytes, filename: str = "", *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Validate a checkpoint as :func:`load_bytes` does, and return it re-encoded as an
    ``rnnscope/1`` ``.safetensors`` byte string: the file's own tensors (dtypes kept), its
    config and vocabulary. ``load_bytes`` of the result gives the same model; reading it
    parses JSON and copies bytes, never a pickle (``rnnscope.workers.checkpoint_reader`` sends it from
    the process that read an untrusted ``.pt`` to the server)."""
    config, vocab, tensors = _read(bytes(data), filename, max_bytes)
    model = _build_model(config, vocab, tensors)  # every check, with its message
    return safetensors.torch.save({k: t.contiguous() for k, t in tensors.items()}, metadata={
        METADATA_CONFIG_KEY: json.dumps({"format": FORMAT, **model.config()}, sort_keys=True),
        METADATA_VOCAB_KEY: json.dumps(list(model.vocab.tokens), ensure_ascii=False)})


def _read(data: bytes, filename: str, max_bytes: int) -> tuple[dict, object, dict]:
    """(config, vocab, tensors) of either container, validated up to the model build."""
    if check_container(data, filename, max_bytes=max_bytes) == "pt":
        return _read_pt(data, max_bytes)
    return _read_safetensors(data)


def _check_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise CheckpointError("The file is empty; it is not a checkpoint.")
    if size > max_bytes:
        raise CheckpointError(f"The file is {_mib(size)}, larger than the {_mib(max_bytes)} limit for checkpoints.")


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def _detect(data: bytes, filename: str) -> str:
    """'pt' or 'safetensors' from the content; a clear error for anything else."""
    if data[:4] == _ZIP_MAGIC:
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


# --- .pt (torch zip) -------------------------------------------------------------------
def _check_zip(data: bytes, max_bytes: int) -> None:
    """Validate the zip structure before torch reads it: complete, stored, a torch archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, struct.error):
        raise CheckpointError("The zip archive is truncated or damaged (its table of contents is missing or "
                              "unreadable); the upload may have been cut short.") from None
    if len(infos) > MAX_ZIP_ENTRIES:
        raise CheckpointError(f"The zip archive has {len(infos)} entries; a checkpoint has only a few.")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):  # torch would read one copy, this check another
        dup = next(n for n in names if names.count(n) > 1)
        raise CheckpointError(f"The zip archive holds two entries named {_short(dup)}; a torch.save file "
                              "never does, and which one a reader takes is ambiguous.")
    total = 0
    for info in infos:
        # torch.save stores entries uncompressed; compressed entries could hide a zip bomb
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise CheckpointError("The zip archive has compressed entries; PyTorch checkpoints are stored "
                                  "uncompressed, so this is not a torch.save file.")
        if info.header_offset + info.compress_size > len(data):
            raise CheckpointError("The zip archive is truncated: an entry extends past the end of the file.")
        total += info.file_size
    if total > max_bytes:
        raise CheckpointError("The zip archive's entries are larger than the checkpoint size limit.")
    if not any(i.filename.endswith("/data.pkl") or i.filename == "data.pkl" for i in infos):
        raise CheckpointError("This zip archive is not a PyTorch checkpoint (no data.pkl inside).")
    _check_pickle_size(infos)


def pickle_tokens(infos: list[zipfile.ZipInfo]) -> tuple[zipfile.ZipInfo | None, int]:
    """The ``data.pkl`` entry torch reads and the most vocabulary tokens its tensors allow.

    torch reads ``<dir>/data.pkl`` and ``<dir>/data/<key>`` of the first entry's directory.
    The token allowance is ``min(MAX_VOCAB_SIZE, largest stored tensor entry // 2)``: the
    embedding holds one row (>= one 2-byte value) per token. ``(None, 0)`` when there is no
    such ``data.pkl`` (torch then refuses the archive itself).
    """
    if not infos or "/" not in infos[0].filename:
        return None, 0
    prefix = infos[0].filename.split("/", 1)[0] + "/"
    pkl = next((i for i in infos if i.filename == prefix + "data.pkl"), None)
    largest = max((i.file_size for i in infos if i.filename.startswith(prefix + "data/")), default=0)
    return pkl, min(MAX_VOCAB_SIZE, largest // 2)


def _check_pickle_size(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse a ``data.pkl`` larger than its tensors allow (see ``PKL_BASE_BYTES``)."""
    pkl, tokens = pickle_tokens(infos)
    bound = PKL_BASE_BYTES + PKL_BYTES_PER_TOKEN * tokens
    if pkl is not None and pkl.file_size > bound:
        raise CheckpointError(
            f"The .pt file's data.pkl (its pickled config, vocabulary and tensor list) is "
            f"{_mib(pkl.file_size)}, more than the {_mib(bound)} its tensors allow ({_mib(PKL_BASE_BYTES)} "
            f"plus {PKL_BYTES_PER_TOKEN} bytes for each of at most {tokens:,} vocabulary words); "
            "torch.save never writes such a file. It was not read.")


def _check_pickle_ops(data: bytes) -> int:
    """Count the pickle operations of the ``data.pkl`` torch will read, stopping at the bound.

    torch's weights-only unpickler is pure Python (about 0.6 µs of CPU per operation, so a
    40 MB stream of one-byte operations costs ~25 s); the count is what bounds that work:
    ``PKL_BASE_OPS + PKL_OPS_PER_TOKEN x`` the token allowance of :func:`pickle_tokens`
    (at most 1.6M operations, about a second). A stream ``pickletools`` cannot walk (an unknown
    operation, a cut argument, text that is not UTF-8) is refused as damaged: it is never left
    to torch unbounded. Returns the count (0 without a ``data.pkl``).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            pkl, tokens = pickle_tokens(zf.infolist())
            if pkl is None:
                return 0
            stream = zf.read(pkl)
    except (zipfile.BadZipFile, EOFError, ValueError, struct.error, NotImplementedError) as exc:
        # a checksum that does not match, a local header that disagrees with the directory, ...
        raise CheckpointError(f"The .pt file could not be read: its data.pkl entry is damaged "
                              f"({' '.join(str(exc).split())[:120]}).") from None
    bound = PKL_BASE_OPS + PKL_OPS_PER_TOKEN * tokens
    count = 0
    try:
        for count, _ in enumerate(pickletools.genops(stream), 1):
            if count > bound:
                raise CheckpointError(
                    f"The .pt file's data.pkl holds more than {bound:,} pickle operations, more than its "
                    f"tensors need ({PKL_BASE_OPS:,} plus {PKL_OPS_PER_TOKEN} for each of at most {tokens:,} "
                    "vocabulary words; torch.save writes 2 per word). It was not read further.")
    except CheckpointError:
        raise
    except Exception:  # noqa: BLE001 - whatever pickletools cannot walk is no torch.save output
        raise CheckpointError(f"The .pt file could not be read: its data.pkl is damaged (pickle operation "
                              f"{count + 1:,} is unknown, cut short or not valid text).") from None
    return count


def _torch_load(data: bytes, max_bytes: int, *, zip_checked: bool = False) -> tuple[object, int]:
    """``torch.load`` with ``weights_only=True`` after structural checks and the bounds on
    ``data.pkl``; -> (the object, its pickle operations); errors -> CheckpointError."""
    if not zip_checked:
        _check_zip(data, max_bytes)
    ops = _check_pickle_ops(data)
    try:
        return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu"), ops
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is None and _MALFORMED_PICKLE.search(str(exc)):
            raise CheckpointError(_torch_failure(exc)) from None
        what = f" (it refers to {found[1][:100]!r})" if found else ""
        raise CheckpointError(
            "The .pt file contains Python objects other than tensors and plain data" + what + ", for "
            "example a pickled nn.Module, numpy arrays or code. rnnscope loads weights only, never "
            "arbitrary pickled objects. Save a state_dict in the rnnscope/1 format, or use .safetensors."
        ) from None
    except Exception as exc:  # noqa: BLE001 - torch's record reader, unpickler and tensor rebuild
        raise CheckpointError(_torch_failure(exc)) from None


#: Weights-only unpickler messages about a stream it cannot follow (not about a forbidden object).
_MALFORMED_PICKLE = re.compile(r"Unsupported operand|Can only (append|extend|SETITEM|SETITEMS)\b|"
                               r"String is too long|persistent")


def _torch_failure(exc: BaseException) -> str:
    """What went wrong inside ``torch.load``, from where it was raised (torch's own words quoted):
    a tensor's shape/strides/offset that do not fit its storage, a storage record of the wrong
    size, a ``data.pkl`` the weights-only reader cannot follow, or else a damaged archive."""
    frames = traceback.extract_tb(exc.__traceback__)
    names = {frame.name for frame in frames}
    text = str(exc)
    inner = re.search(r"WeightsUnpickler error:\s*(.*)", text)  # torch.load's own reason, after its advice
    said = _short(" ".join((inner[1] if inner else text).split())[:300], 160) if text else type(exc).__name__
    operand = re.search(r"Unsupported operand (\d+)", text)
    if operand and 0 <= int(operand[1]) < 256 and chr(int(operand[1])) in pickletools.code2op:
        said += f" (the pickle operation {pickletools.code2op[chr(int(operand[1]))].name})"
    if any(name.startswith("_rebuild") for name in names):
        return ("A tensor in the .pt file has an impossible layout: its shape, strides or offset do not fit "
                f"the data stored for it (torch says {said}). torch.save never writes this; the file was "
                "edited or built by hand.")
    if names & {"load_tensor", "persistent_load", "get_storage_from_record", "default_restore_location"}:
        return ("A tensor's stored data in the .pt file does not match its description (torch says "
                f"{said}); the file was edited or is damaged.")
    if (isinstance(exc, pickle.UnpicklingError) or frames
            and frames[-1].filename.endswith("_weights_only_unpickler.py")):
        return (f"The .pt file's data.pkl (the description of its contents) cannot be read (torch says {said}): "
                "the file is damaged, or was not written by torch.save of tensors, strings and numbers.")
    return "The .pt file could not be read: the archive is damaged or truncated."


def _read_pt(data: bytes, max_bytes: int) -> tuple[dict, object, dict]:
    obj, ops = _torch_load(data, max_bytes, zip_checked=True)  # by check_container
    if not isinstance(obj, dict):
        raise CheckpointError(f"The .pt file holds a {type(obj).__name__}, not an rnnscope/1 checkpoint "
                              "(a dict with format, config, vocab and state_dict).")
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError("This looks like a plain PyTorch state_dict, not an rnnscope/1 checkpoint. "
                              "Convert it with `rnnscope import --state-dict FILE --vocab FILE --arch ARCH "
                              "--out CKPT`.")
    fmt = obj.get("format")
    if fmt != FORMAT:
        raise CheckpointError(f"Not an rnnscope/1 checkpoint: format is {_short(fmt)}, expected {FORMAT!r}.")
    for key in ("config", "vocab", "state_dict"):
        if key not in obj:
            raise CheckpointError(f"The checkpoint has no {key!r} entry.")
    config, vocab, state = obj["config"], obj["vocab"], obj["state_dict"]
    words = len(vocab) if isinstance(vocab, (list, tuple)) else 0
    if ops > PKL_BASE_OPS + PKL_OPS_PER_TOKEN * words:  # stored files must not cost more than they hold
        raise CheckpointError(f"The .pt file's data.pkl takes {ops:,} pickle operations, more than a "
                              f"{words:,}-word vocabulary needs ({PKL_BASE_OPS:,} plus {PKL_OPS_PER_TOKEN} "
                              "per word; torch.save writes 2 per word): it is padded, and every load "
                              "would pay for the padding.")
    if not isinstance(config, dict):
        raise CheckpointError("The checkpoint's config is not a dictionary.")
    if config.get("format", FORMAT) != FORMAT:
        raise CheckpointError(f"Not an rnnscope/1 checkpoint: its config's format is "
                              f"{_short(config.get('format'))}, expected {FORMAT!r}.")
    if not isinstance(state, dict):
        raise CheckpointError("The checkpoint's state_dict is not a dictionary of tensors.")
    tensors = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise CheckpointError(f"The state_dict has a non-string key {_short(name)}.")
        tensors[name] = _plain_tensor(name, value)
    return config, vocab, tensors


def _plain_tensor(name: str, value) -> torch.Tensor:
    """A dense CPU tensor, or CheckpointError (weights_only still admits sparse/meta/quantized ones)."""
    if type(value) not in (torch.Tensor, torch.nn.Parameter):
        raise CheckpointError(f"State_dict entry {_short(name)} is a {type(value).__name__}, not a tensor.")
    if (value.layout != torch.strided or value.is_quantized or value.is_nested
            or value.device.type != "cpu"):
        raise CheckpointError(f"Tensor {_short(name)} is not a plain dense tensor (sparse, quantized, "
                              "nested or without data).")
    # a view (stride 0, an offset, a slice of a larger storage) can describe far more numbers than
    # the file holds: a 2.5 KB file would then pin hundreds of MB once materialized
    stored = value.untyped_storage().nbytes()
    if (not value.is_contiguous() or value.storage_offset() != 0
            or stored != value.numel() * value.element_size()):
        raise CheckpointError(f"Tensor {_short(name)} is a view, not its own data: shape "
                              f"{tuple(value.shape)} over {stored:,} stored bytes (torch.save of a "
                              "contiguous tensor, e.g. t.clone(), stores exactly its elements).")
    return value.detach()


# --- .safetensors ----------------------------------------------------------------------
def _json_object_pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise CheckpointError(f"The safetensors header lists {_short(key)} twice.")
        out[key] = value
    return out


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
    if len(data) < 8:
        raise CheckpointError("The safetensors file is truncated: it is shorter than its 8-byte header length.")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES:
        raise CheckpointError(f"The safetensors header claims {n} bytes, more than the {MAX_HEADER_BYTES} "
                              "byte limit; the file is damaged or not a safetensors file.")
    if 8 + n > len(data):
        raise CheckpointError(f"The safetensors header length ({n} bytes) is larger than the file "
                              f"({len(data)} bytes); the file is truncated or damaged.")
    try:
        header = json.loads(data[8: 8 + n].decode("utf-8"), object_pairs_hook=_json_object_pairs,
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
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise CheckpointError("The safetensors metadata must map strings to strings.")
    if len(header) > MAX_HEADER_TENSORS:
        raise CheckpointError(f"The safetensors file declares {len(header)} tensors; a checkpoint has only a few.")
    data_start = 8 + n
    data_len = len(data) - data_start
    spans = []
    for name, entry in header.items():
        label = _short(name)
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise CheckpointError(f"The safetensors entry {label} is malformed (expected dtype, shape, data_offsets).")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _SAFETENSORS_DTYPES:  # a list is unhashable
            raise CheckpointError(f"Tensor {label} has unsupported dtype {_short(dtype)}; allowed: "
                                  f"{', '.join(_SAFETENSORS_DTYPES)}.")
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
        if end - begin != numel * _SAFETENSORS_DTYPES[dtype]:
            raise CheckpointError(f"Tensor {label}: its data size ({end - begin} bytes) does not match its "
                                  f"dtype {dtype} and shape {tuple(shape)}.")
        spans.append((begin, end, name))
    spans.sort()
    position, previous = 0, None
    for begin, end, name in spans:
        if begin < position:
            raise CheckpointError(f"The data of tensors {_short(previous)} and {_short(name)} overlap; "
                                  "the safetensors header is wrong.")
        if begin > position:
            raise CheckpointError("The safetensors data section has unused bytes between tensors; "
                                  "the header is wrong.")
        position, previous = end, name
    if position != data_len:
        raise CheckpointError("The safetensors file has extra bytes after the last tensor; the header is wrong.")
    return header, metadata, data_start


def _read_safetensors(data: bytes) -> tuple[dict, object, dict]:
    entries, metadata, _ = parse_safetensors_header(data)
    if METADATA_CONFIG_KEY not in metadata:
        raise CheckpointError("This safetensors file has no rnnscope config (metadata key 'rnnscope'); "
                              "it is not an rnnscope/1 checkpoint. Plain weights can be converted with "
                              "`rnnscope import`.")
    config = _metadata_json(metadata, METADATA_CONFIG_KEY, "config")
    if not isinstance(config, dict):
        raise CheckpointError("The checkpoint's config is not a JSON object.")
    if config.get("format") != FORMAT:
        raise CheckpointError(f"Not an rnnscope/1 checkpoint: format is {_short(config.get('format'))}, "
                              f"expected {FORMAT!r}.")
    if METADATA_VOCAB_KEY not in metadata:
        raise CheckpointError("The checkpoint has no vocabulary (metadata key 'rnnscope.vocab').")
    vocab = _metadata_json(metadata, METADATA_VOCAB_KEY, "vocabulary")
    # Validate names and shapes from the header before any tensor data is materialized.
    spec = _validate_config(config)
    _check_names_and_shapes({k: tuple(e["shape"]) for k, e in entries.items()}, spec)
    try:
        tensors = safetensors.torch.load(data)
    except Exception:
        raise CheckpointError("The safetensors file could not be read; it is damaged.") from None
    return config, vocab, tensors


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


# --- validation ------------------------------------------------------------------------
def _short(value, limit: int = 60) -> str:
    """repr() cut to ``limit`` characters, for quoting untrusted values in messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_int(config: dict, key: str, low: int, high: int) -> int:
    if key not in config:
        raise CheckpointError(f"The checkpoint's config has no {key!r}.")
    value = config[key]
    if type(value) is not int:
        raise CheckpointError(f"{key} must be a whole number, got {_short(value)}.")
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
        raise CheckpointError(f"Unknown architecture {_short(arch)}; expected one of {', '.join(ARCHS)}.")
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
        raise CheckpointError(f"Unknown tokenizer {_short(name)}; this version of rnnscope knows "
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
        problems.append("unexpected tensors: " + ", ".join(_short(k, 80) for k in unexpected[:20])
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
        if t.dtype not in _FLOAT_DTYPES:
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
        first = ", ".join(_short(t) for t in list(vocab[:2])) or "nothing"
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
            raise CheckpointError(f"The vocabulary has a duplicate token {_short(token)} (ids {seen[token]} "
                                  f"and {i}); every token must be unique.")
        seen[token] = i


def _build_model(config: dict, vocab, tensors: dict[str, torch.Tensor]) -> Model:
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


# --- import of plain PyTorch state_dicts -----------------------------------------------
_EMBED_PREFIXES = ("embedding", "embed", "emb", "embeddings", "encoder", "word_embeddings", "embedder",
                   "word_emb", "tok_emb")
_CELL_PREFIXES = ("cell", "rnn", "lstm", "gru", "encoder", "recurrent", "ugrnn")
_READOUT_PREFIXES = ("readout", "fc", "linear", "out", "decoder", "classifier", "head", "output", "fc_out")
_CELL_LEAVES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "bias_l0")


def _canonical_name(key: str) -> str | None:
    """rnnscope's name for a common PyTorch parameter name, or None if not recognized."""
    if "." not in key:
        return None
    owner, leaf = key.rsplit(".", 1)
    owner = owner.rsplit(".", 1)[-1]
    if owner in _EMBED_PREFIXES and leaf == "weight":
        return "embedding.weight"
    if owner in _CELL_PREFIXES and leaf in _CELL_LEAVES:
        return f"cell.{leaf}"
    if owner in _READOUT_PREFIXES and leaf in ("weight", "bias"):
        return f"readout.{leaf}"
    return None


def _apply_key_map(key: str, key_map: Mapping[str, str]) -> str:
    """Exact match first, then the longest matching dotted prefix (``enc`` maps ``enc.x`` too)."""
    if key in key_map:
        return key_map[key]
    for old in sorted(key_map, key=len, reverse=True):
        if key.startswith(old + "."):
            return key_map[old] + key[len(old):]
    return key


def convert_state_dict(state_dict: Mapping[str, torch.Tensor], arch: str,
                       key_map: Mapping[str, str] | None = None) -> dict[str, torch.Tensor]:
    """Rename a plain PyTorch state_dict's keys to rnnscope's tensor names.

    ``key_map`` (old -> new; an exact key or a dotted prefix) is applied first; remaining keys are
    recognized by common module names (``embedding``/``embed``/``emb``/``encoder``.weight;
    ``rnn``/``lstm``/``gru``/``cell``/``encoder``.weight_ih_l0 ...; ``fc``/``linear``/``out``/
    ``decoder``/``classifier``/``readout``.weight|bias; only the module's own name counts, so
    ``module.lstm.weight_ih_l0`` is recognized). A key mapped to "" is dropped. Missing cell or
    readout biases (``bias=False`` modules) become zeros.
    """
    if arch not in ARCHS:
        raise CheckpointError(f"Unknown architecture {_short(arch)}; expected one of {', '.join(ARCHS)}.")
    key_map = dict(key_map or {})
    out: dict[str, torch.Tensor] = {}
    source: dict[str, str] = {}
    unknown = []
    for key, value in state_dict.items():
        name = _apply_key_map(key, key_map)
        if name == "" or name.startswith("."):  # --map old= drops a key
            continue
        new = _canonical_name(name) or (name if name != key else None)
        if new is None:
            unknown.append(key)
            continue
        if new in out:
            raise CheckpointError(f"Both {source[new]!r} and {key!r} look like {new!r}. Drop the wrong one "
                                  f"with --map (e.g. --map {key}=) or rename it.")
        out[new], source[new] = value, key
    if unknown:
        layered = [k for k in unknown if re.search(r"_l[1-9]\d*(_reverse)?$|_reverse$|weight_hr_l", k)]
        if layered:
            raise CheckpointError("Only single-layer, unidirectional RNNs without projections can be imported; "
                                  f"found {', '.join(layered[:5])}.")
        raise CheckpointError("These state_dict keys were not recognized: " + ", ".join(_short(k, 80) for k in unknown[:10])
                              + ". Map them with --map OLD=NEW (e.g. --map my_rnn=cell --map head=readout); "
                              "rnnscope expects embedding.weight, cell.weight_ih_l0, cell.weight_hh_l0, "
                              "cell.bias_ih_l0, cell.bias_hh_l0 (ugrnn: cell.bias_l0), readout.weight, readout.bias.")
    # bias=False modules: zero biases are equivalent
    bias_names = ("cell.bias_l0",) if arch == "ugrnn" else ("cell.bias_ih_l0", "cell.bias_hh_l0")
    if "cell.weight_hh_l0" in out and not any(b in out for b in bias_names):
        for b in bias_names:
            out[b] = torch.zeros(out["cell.weight_hh_l0"].shape[0], dtype=out["cell.weight_hh_l0"].dtype)
    if "readout.weight" in out and "readout.bias" not in out:
        out["readout.bias"] = torch.zeros(out["readout.weight"].shape[0], dtype=out["readout.weight"].dtype)
    return out


def read_vocab_file(path: str | os.PathLike, *, max_bytes: int = 64 * 2**20) -> list[str]:
    """Read a vocabulary: one token per line (UTF-8), or a JSON list of strings.

    Line ``i`` (from 0) is token id ``i``; surrounding whitespace is stripped (tokens never
    contain whitespace) and a final newline is allowed. The result is validated with
    :func:`validate_vocab` (except the length, which the caller knows).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CheckpointError(f"The vocabulary file is {_mib(size)}, larger than the {_mib(max_bytes)} limit.")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"Vocabulary file {path.name!r} not found.") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path.name!r} is a directory, not a vocabulary file.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CheckpointError(f"The vocabulary file is not valid UTF-8 (bad byte 0x{raw[exc.start]:02x} on line "
                              f"{line}); save it as UTF-8.") from None
    if not text.strip():
        raise CheckpointError("The vocabulary file is empty.")
    if text.lstrip().startswith("["):
        try:
            tokens = json.loads(text)
        except (ValueError, RecursionError):
            raise CheckpointError("The vocabulary file starts with '[' but is not a valid JSON list.") from None
    else:
        lines = text.split("\n")
        if lines and lines[-1].strip() == "":
            lines.pop()
        tokens = [line.strip() for line in lines]
        for i, token in enumerate(tokens):
            if not token:
                raise CheckpointError(f"Line {i + 1} of the vocabulary file is empty; every line must hold one token.")
    return validate_vocab(tokens)


def _load_plain_state_dict(path: Path, max_bytes: int) -> dict[str, torch.Tensor]:
    try:
        size = path.stat().st_size
        _check_size(size, max_bytes)
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"State-dict file {path.name!r} not found.") from None
    kind = _detect(data, path.name)
    if kind == "safetensors":
        parse_safetensors_header(data)
        try:
            obj = safetensors.torch.load(data)
        except Exception:
            raise CheckpointError("The safetensors file could not be read; it is damaged.") from None
    else:
        obj, _ = _torch_load(data, max_bytes)
    if isinstance(obj, dict) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        # training checkpoints often nest the weights: {"state_dict": ..., "epoch": ...}
        for key in ("state_dict", "model_state_dict", "model", "net"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError("The state-dict file does not hold a dictionary of tensors (save it with "
                              "torch.save(model.state_dict(), path)).")
    out = {}
    for name, value in obj.items():
        if not isinstance(name, str):
            raise CheckpointError(f"The state_dict has a non-string key {_short(name)}.")
        out[name] = _plain_tensor(name, value)
    return out


def import_state_dict(state_dict_path: str | os.PathLike, vocab_path: str | os.PathLike, arch: str, *,
                      key_map: Mapping[str, str] | None = None, tokenizer: Tokenizer | None = None,
                      metrics: dict | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Model:
    """Build a :class:`Model` from a plain PyTorch state_dict and a vocabulary file.

    Parameters
    ----------
    state_dict_path : path
        ``torch.save(model.state_dict())`` output (loaded with ``weights_only=True``) or a
        ``.safetensors`` file, for embedding + ``nn.LSTM``/``nn.GRU``/``nn.RNN`` (single layer,
        ``batch_first`` irrelevant) + ``nn.Linear`` on the final hidden state.
    vocab_path : path
        One token per line (UTF-8) or a JSON list; line/entry ``i`` is embedding row ``i``;
        must start with ``<pad>``, ``<unk>``.
    arch : {"lstm", "gru", "vrnn", "ugrnn"}
    key_map : mapping, optional
        Renames applied before auto-detection (old -> new; exact key or dotted prefix).
    tokenizer : Tokenizer, optional
        How text is split into the vocabulary's tokens (default ``rnnscope-words/1``).
    metrics : dict, optional

    Returns
    -------
    Model
        Validated exactly as a loaded checkpoint; ``sha256`` is "" until saved.
    """
    state_dict_path = Path(state_dict_path)
    tensors = convert_state_dict(_load_plain_state_dict(state_dict_path, max_bytes), arch, key_map)
    vocab = read_vocab_file(vocab_path)
    for name in ("embedding.weight", "cell.weight_hh_l0", "readout.weight"):
        if name not in tensors:
            raise CheckpointError(f"No tensor for {name!r} was found in the state_dict; use --map OLD=NEW to "
                                  "say which key it is.")
    V, E = _shape2(tensors, "embedding.weight")
    G, H = _shape2(tensors, "cell.weight_hh_l0")
    C, _ = _shape2(tensors, "readout.weight")
    if G != _GATES[arch] * H:
        guess = [a for a, g in _GATES.items() if g * H == G and a != "ugrnn"]
        hint = f"; it looks like {guess[0]}" if guess else ""
        raise CheckpointError(f"cell.weight_hh_l0 has shape {(G, H)}, which does not fit --arch {arch} "
                              f"(expected {_GATES[arch]}H x H = {(_GATES[arch] * H, H)}){hint}.")
    if len(vocab) != V:
        raise CheckpointError(f"The vocabulary has {len(vocab):,} tokens but the embedding has {V:,} rows; "
                              "they must be equal (one line per embedding row, in order).")
    tokenizer = tokenizer or Tokenizer()
    source_sha = hashlib.sha256(state_dict_path.read_bytes()).hexdigest()
    config = {"format": FORMAT, "arch": arch, "vocab_size": V, "embed_dim": E, "hidden_size": H,
              "num_classes": C, "tokenizer": tokenizer.to_config(), "metrics": dict(metrics or {}),
              "provenance": {"command": "rnnscope import", "imported_from": state_dict_path.name,
                             "source_sha256": source_sha, "version": _version()}}
    return _build_model(config, vocab, tensors)


def _shape2(tensors: Mapping[str, torch.Tensor], name: str) -> tuple[int, int]:
    shape = tuple(tensors[name].shape)
    if len(shape) != 2:
        raise CheckpointError(f"{name} must be a matrix, but has shape {shape}.")
    return shape


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("rnnscope")
    except Exception:
        return "unknown"
