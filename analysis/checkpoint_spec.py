"""The ``rnnscope/1`` checkpoint format in numbers: its name, metadata keys, size caps and
tensor layout, and :class:`CheckpointError` with the helpers its messages quote values with.

Shared by :mod:`rnnscope.analysis.checkpoint` (save, load, validation),
:mod:`rnnscope.analysis.pt_format`, :mod:`rnnscope.analysis.safetensors_format` and
:mod:`rnnscope.analysis.checkpoint_import`; the rules themselves are listed in
:mod:`rnnscope.analysis.checkpoint`'s docstring.
"""
from __future__ import annotations

import torch

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
MAX_JSON_DEPTH = 32

#: Gate blocks stacked in the cell's weight rows, per architecture.
GATES = {"lstm": 4, "gru": 3, "vrnn": 1, "ugrnn": 2}
#: The floating dtypes a checkpoint may store.
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


class CheckpointError(ValueError):
    """A checkpoint (or import input) is unusable; the message is meant for the user."""


def expected_tensors(arch: str, vocab_size: int, embed_dim: int, hidden_size: int,
                     num_classes: int) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of an ``rnnscope/1`` checkpoint for these sizes.

    Equal to ``RNNClassifier(...).state_dict()``'s names and shapes (tested).
    """
    g, H = GATES[arch] * hidden_size, hidden_size
    cell = {"cell.weight_ih_l0": (g, embed_dim), "cell.weight_hh_l0": (g, H)}
    if arch == "ugrnn":
        cell["cell.bias_l0"] = (g,)
    else:
        cell.update({"cell.bias_ih_l0": (g,), "cell.bias_hh_l0": (g,)})
    return {"embedding.weight": (vocab_size, embed_dim), **cell,
            "readout.weight": (num_classes, H), "readout.bias": (num_classes,)}


def short_repr(value, limit: int = 60) -> str:
    """repr() cut to ``limit`` characters, for quoting untrusted values in messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def size_text(n: int) -> str:
    """A byte count for a message: ``"1.5 MiB"`` from 1 MiB up, else ``"812 bytes"``."""
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"
