"""Import of a plain PyTorch state_dict and a vocabulary file as an ``rnnscope/1`` :class:`Model`.

:func:`import_state_dict` reads ``torch.save(model.state_dict())`` output (weights only, with the
bounds of :mod:`rnnscope.analysis.pt_format`) or a ``.safetensors`` file for an embedding +
``nn.LSTM``/``nn.GRU``/``nn.RNN`` + ``nn.Linear`` network, renames its keys to rnnscope's tensor
names (:func:`convert_state_dict`), reads the vocabulary (:func:`read_vocab_file`) and validates
the result exactly as a loaded checkpoint (:func:`rnnscope.analysis.checkpoint.build_model`).
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from rnnscope.analysis.cells import ARCHS
from rnnscope.analysis.checkpoint import build_model, check_size, detect_container, validate_vocab
from rnnscope.analysis.checkpoint_spec import DEFAULT_MAX_BYTES, FORMAT, GATES, CheckpointError, short_repr, \
    size_text
from rnnscope.analysis.model import Model
from rnnscope.analysis.pt_format import plain_tensors, torch_load
from rnnscope.analysis.safetensors_format import load_tensors, parse_safetensors_header
from rnnscope.analysis.tokenizer import Tokenizer

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
        raise CheckpointError(f"Unknown architecture {short_repr(arch)}; expected one of {', '.join(ARCHS)}.")
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
        raise CheckpointError("These state_dict keys were not recognized: " + ", ".join(short_repr(k, 80) for k in unknown[:10])
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
            raise CheckpointError(f"The vocabulary file is {size_text(size)}, larger than the {size_text(max_bytes)} limit.")
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
    """Name -> tensor of a ``torch.save``d (weights only) or ``.safetensors`` state_dict file;
    a training checkpoint's nested ``state_dict``/``model_state_dict``/``model``/``net`` is taken."""
    try:
        size = path.stat().st_size
        check_size(size, max_bytes)
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"State-dict file {path.name!r} not found.") from None
    kind = detect_container(data, path.name)
    if kind == "safetensors":
        parse_safetensors_header(data)
        obj = load_tensors(data)
    else:
        obj, _ = torch_load(data, max_bytes)
    if isinstance(obj, dict) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        # training checkpoints often nest the weights: {"state_dict": ..., "epoch": ...}
        for key in ("state_dict", "model_state_dict", "model", "net"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError("The state-dict file does not hold a dictionary of tensors (save it with "
                              "torch.save(model.state_dict(), path)).")
    return plain_tensors(obj)


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
    if G != GATES[arch] * H:
        guess = [a for a, g in GATES.items() if g * H == G and a != "ugrnn"]
        hint = f"; it looks like {guess[0]}" if guess else ""
        raise CheckpointError(f"cell.weight_hh_l0 has shape {(G, H)}, which does not fit --arch {arch} "
                              f"(expected {GATES[arch]}H x H = {(GATES[arch] * H, H)}){hint}.")
    if len(vocab) != V:
        raise CheckpointError(f"The vocabulary has {len(vocab):,} tokens but the embedding has {V:,} rows; "
                              "they must be equal (one line per embedding row, in order).")
    tokenizer = tokenizer or Tokenizer()
    source_sha = hashlib.sha256(state_dict_path.read_bytes()).hexdigest()
    config = {"format": FORMAT, "arch": arch, "vocab_size": V, "embed_dim": E, "hidden_size": H,
              "num_classes": C, "tokenizer": tokenizer.to_config(), "metrics": dict(metrics or {}),
              "provenance": {"command": "rnnscope import", "imported_from": state_dict_path.name,
                             "source_sha256": source_sha, "version": _version()}}
    return build_model(config, vocab, tensors)


def _shape2(tensors: Mapping[str, torch.Tensor], name: str) -> tuple[int, int]:
    shape = tuple(tensors[name].shape)
    if len(shape) != 2:
        raise CheckpointError(f"{name} must be a matrix, but has shape {shape}.")
    return shape


def _version() -> str:
    try:
        return importlib.metadata.version("rnnscope")
    except Exception:
        return "unknown"
