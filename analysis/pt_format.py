"""Reading a ``.pt`` checkpoint (a PyTorch zip whose ``data.pkl`` is a pickle) without trusting it.

The zip directory is checked before torch opens the archive (entries stored, sizes inside the
file, one ``data.pkl``); ``data.pkl`` is bounded by the tensors the archive stores before torch
parses it (torch's weights-only unpickler is pure Python, ~0.6 µs per pickle operation): at most
``PKL_BASE_BYTES`` + ``PKL_BYTES_PER_TOKEN`` bytes per vocabulary word the stored tensors allow
(from the zip directory), and at most ``PKL_BASE_OPS`` + ``PKL_OPS_PER_TOKEN`` operations per
such word (counted with ``pickletools``, stopping at the bound), then per word of the real
vocabulary after the parse. Only then ``torch.load(..., weights_only=True)`` runs: never a full
unpickle, no fallback, no allow-listed globals; importing this module refuses torch < 2.10.
Every problem raises :class:`~rnnscope.analysis.checkpoint_spec.CheckpointError` in words.
"""
from __future__ import annotations

import io
import pickle
import pickletools
import re
import struct
import traceback
import zipfile

import torch

from rnnscope.analysis.checkpoint_spec import FORMAT, MAX_TOKEN_CHARS, MAX_VOCAB_SIZE, CheckpointError, \
    short_repr, size_text


def _torch_version_ok(version: str) -> bool:
    match = re.match(r"(\d+)\.(\d+)", version)
    return bool(match) and (int(match[1]), int(match[2])) >= (2, 10)


if not _torch_version_ok(torch.__version__):  # weights_only hardening we rely on
    raise ImportError(f"rnnscope needs torch >= 2.10 to load checkpoints safely; found {torch.__version__}")

ZIP_MAGIC = b"PK\x03\x04"
MAX_ZIP_ENTRIES = 10_000
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


def check_zip(data: bytes, max_bytes: int) -> None:
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
        raise CheckpointError(f"The zip archive holds two entries named {short_repr(dup)}; a torch.save file "
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
            f"{size_text(pkl.file_size)}, more than the {size_text(bound)} its tensors allow ({size_text(PKL_BASE_BYTES)} "
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


def torch_load(data: bytes, max_bytes: int, *, zip_checked: bool = False) -> tuple[object, int]:
    """``torch.load`` with ``weights_only=True`` after structural checks and the bounds on
    ``data.pkl``; -> (the object, its pickle operations); errors -> CheckpointError."""
    if not zip_checked:
        check_zip(data, max_bytes)
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
    said = short_repr(" ".join((inner[1] if inner else text).split())[:300], 160) if text else type(exc).__name__
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


def read_pt(data: bytes, max_bytes: int) -> tuple[dict, object, dict]:
    """(config, vocab, tensors) of an ``rnnscope/1`` ``.pt`` whose zip directory was checked
    (:func:`check_zip`); the config and vocabulary are validated later, with the model."""
    obj, ops = torch_load(data, max_bytes, zip_checked=True)  # by check_container
    if not isinstance(obj, dict):
        raise CheckpointError(f"The .pt file holds a {type(obj).__name__}, not an rnnscope/1 checkpoint "
                              "(a dict with format, config, vocab and state_dict).")
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError("This looks like a plain PyTorch state_dict, not an rnnscope/1 checkpoint. "
                              "Convert it with `rnnscope import --state-dict FILE --vocab FILE --arch ARCH "
                              "--out CKPT`.")
    fmt = obj.get("format")
    if fmt != FORMAT:
        raise CheckpointError(f"Not an rnnscope/1 checkpoint: format is {short_repr(fmt)}, expected {FORMAT!r}.")
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
                              f"{short_repr(config.get('format'))}, expected {FORMAT!r}.")
    if not isinstance(state, dict):
        raise CheckpointError("The checkpoint's state_dict is not a dictionary of tensors.")
    return config, vocab, plain_tensors(state)


def plain_tensors(state: dict) -> dict[str, torch.Tensor]:
    """Name -> :func:`plain_tensor` of every entry of a state_dict whose keys are strings."""
    tensors = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise CheckpointError(f"The state_dict has a non-string key {short_repr(name)}.")
        tensors[name] = plain_tensor(name, value)
    return tensors


def plain_tensor(name: str, value) -> torch.Tensor:
    """A dense CPU tensor, or CheckpointError (weights_only still admits sparse/meta/quantized ones)."""
    if type(value) not in (torch.Tensor, torch.nn.Parameter):
        raise CheckpointError(f"State_dict entry {short_repr(name)} is a {type(value).__name__}, not a tensor.")
    if (value.layout != torch.strided or value.is_quantized or value.is_nested
            or value.device.type != "cpu"):
        raise CheckpointError(f"Tensor {short_repr(name)} is not a plain dense tensor (sparse, quantized, "
                              "nested or without data).")
    # a view (stride 0, an offset, a slice of a larger storage) can describe far more numbers than
    # the file holds: a 2.5 KB file would then pin hundreds of MB once materialized
    stored = value.untyped_storage().nbytes()
    if (not value.is_contiguous() or value.storage_offset() != 0
            or stored != value.numel() * value.element_size()):
        raise CheckpointError(f"Tensor {short_repr(name)} is a view, not its own data: shape "
                              f"{tuple(value.shape)} over {stored:,} stored bytes (torch.save of a "
                              "contiguous tensor, e.g. t.clone(), stores exactly its elements).")
    return value.detach()

