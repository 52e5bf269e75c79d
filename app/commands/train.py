"""``rnnscope train``: train a sentiment RNN on a dataset and save it as a checkpoint.

    rnnscope train --arch lstm --data mr --out models/lstm-mr.safetensors [options]

Prints a progress bar on stderr, a per-epoch summary, and as its last line
``test accuracy: 0.XXXX``. Exit status 0 on success, 2 on bad input (unknown dataset,
unreadable file, invalid option, unwritable output path).
Heavy imports (torch) happen inside :func:`run`, so ``rnnscope --help`` stays fast.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

ARCH_CHOICES = ("lstm", "gru", "ugrnn", "vrnn")
CHECKPOINT_SUFFIXES = (".safetensors", ".pt")

# (flag, TrainConfig field, type, help). Defaults are TrainConfig's, filled in by run(), so
# that building the parser imports no torch; _DEFAULTS mirrors them for --help only.
_HYPERPARAMETERS = (
    ("--hidden", "hidden", int, "hidden size H"),
    ("--embed", "embed", int, "embedding size E"),
    ("--vocab-size", "vocab_size", int, "vocabulary size, including <pad> and <unk>"),
    ("--max-len", "max_len", int, "keep L tokens of each document (which: --truncate)"),
    ("--truncate", "truncate", str, "head: keep a longer document's first L tokens; tail: its last L"),
    ("--epochs", "epochs", int, "maximum number of epochs"),
    ("--batch-size", "batch_size", int, "documents per batch"),
    ("--lr", "lr", float, "Adam learning rate"),
    ("--lr-decay", "lr_decay", float, "multiply the learning rate by this after every epoch (1 = constant)"),
    ("--weight-decay", "weight_decay", float, "decoupled weight decay (AdamW); 0 = Adam"),
    ("--dropout", "dropout", float, "dropout on the input embeddings"),
    ("--clip", "clip", float, "max global gradient norm (0 = off)"),
    ("--patience", "patience", int, "stop after this many epochs without a better validation accuracy"),
    ("--seed", "seed", int, "seed of initialization, dropout and batch order"),
    ("--threads", "threads", int, "CPU threads for torch (0 = all cores)"),
    ("--recurrent-init", "recurrent_init", str,
     "recurrent matrix W_hh, per H x H gate block: default (PyTorch's uniform), orthogonal or identity"),
    ("--recurrent-gain", "recurrent_gain", float, "scale of the orthogonal/identity W_hh blocks"),
    ("--embed-std", "embed_std", float, "std of the embedding's initial normal entries (0 = PyTorch's N(0, 1))"),
)


_DEFAULTS = {"hidden": 128, "embed": 64, "vocab_size": 10000, "max_len": 400, "epochs": 10,
             "batch_size": 64, "lr": 0.002, "weight_decay": 0.0, "dropout": 0.0, "clip": 1.0,
             "patience": 3, "seed": 0, "threads": 1, "truncate": "head", "recurrent_init": "default",
             "recurrent_gain": 1.0, "lr_decay": 1.0, "embed_std": 0.0}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``train``."""
    parser = subparsers.add_parser(
        "train", help="train a sentiment RNN and save a checkpoint",
        description="Train an LSTM/GRU/UGRNN/vanilla RNN sentiment classifier (length-bucketed "
                    "batches, Adam, gradient clipping, early stopping on validation accuracy) "
                    "and save it as an rnnscope/1 checkpoint. The last line printed is "
                    "'test accuracy: 0.XXXX'.")
    parser.add_argument("--arch", required=True, choices=ARCH_CHOICES, help="recurrent architecture")
    parser.add_argument("--data", required=True, metavar="NAME|PATH",
                        help="registered dataset (imdb, mr, tweets), toy (the built-in synthetic language "
                             "with modifier words 'not' and 'very', no download), a multi-class set (tweets3, "
                             "mr-valence3, mr-valence5, counting-2/3/4: C logits when C > 2), or a local "
                             "file/directory")
    parser.add_argument("--out", required=True, metavar="CKPT",
                        help="output checkpoint (.safetensors or .pt)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    for flag, field, kind, text in _HYPERPARAMETERS:
        parser.add_argument(flag, dest=field, type=kind, default=None,
                            help=f"{text} (default {_DEFAULTS[field]})")
    parser.add_argument("--split-seed", type=int, default=0,
                        help="seed of the train/validation/test split (default 0)")
    parser.add_argument("--text-col", default=None, help="text column of a local file (default: auto)")
    parser.add_argument("--label-col", default=None, help="label column of a local file (default: auto)")
    parser.add_argument("--home", default=None, help="data cache root (default $RNNSCOPE_HOME or ~/.cache/rnnscope)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def command_line(args: argparse.Namespace) -> str:
    """The canonical ``rnnscope train`` line reproducing ``args``, every option explicit."""
    parts = ["rnnscope", "train", "--arch", args.arch, "--data", str(args.data)]
    for flag, field, _, _ in _HYPERPARAMETERS:
        parts += [flag, str(getattr(args, field))]
    parts += ["--device", args.device, "--split-seed", str(args.split_seed)]
    for flag, value in (("--text-col", args.text_col), ("--label-col", args.label_col)):
        if value is not None:
            parts += [flag, value]
    parts += ["--out", str(args.out)]
    return shlex.join(parts)


def check_output_path(out: str) -> Path:
    """Reject a wrong suffix or an unwritable directory before hours of training."""
    path = Path(out)
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise ValueError(f"--out must end in {' or '.join(CHECKPOINT_SUFFIXES)}, got {out!r}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"output directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"output directory {str(parent)!r} is not writable")
    if path.is_dir():
        raise ValueError(f"--out {out!r} is a directory")
    return path


# lazy imports: `rnnscope --help` imports every command module (app/cli.py) and runs in 0.2-0.3 s
# without numpy; the training and checkpoint modules (torch) would add 3.2 s if imported at the
# top (measured with -X importtime on the 2-core machine), so each function imports what it uses.
def run(args: argparse.Namespace) -> int:
    """Train, save, print the test accuracy last; 0 on success, 2 on bad input."""
    from rnnscope.analysis.data import DataError, load
    from rnnscope.analysis.training import TrainConfig

    defaults = TrainConfig(arch=args.arch)
    for _, field, _, _ in _HYPERPARAMETERS:  # unset options take TrainConfig's defaults
        if getattr(args, field) is None:
            setattr(args, field, getattr(defaults, field))
    try:
        config = TrainConfig(arch=args.arch, device=args.device,
                             **{field: getattr(args, field) for _, field, _, _ in _HYPERPARAMETERS})
        out = check_output_path(args.out)
        dataset = load(args.data, home=args.home, text_col=args.text_col, label_col=args.label_col,
                       seed=args.split_seed)
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _train_and_save(dataset, config, out, command_line(args), args.split_seed, quiet=args.quiet)


def _train_and_save(dataset, config, out: Path, command: str, split_seed: int, quiet: bool) -> int:
    from rnnscope.analysis import checkpoint
    from rnnscope.analysis.training import train

    sizes = {k: len(v) for k, v in dataset.splits().items()}
    print(f"data {dataset.name}: {sizes['train']} train, {sizes['validation']} validation, {sizes['test']} test")
    names = getattr(dataset, "class_names", ())
    if len(names) > 2:
        print(f"{len(names)} classes ({', '.join(names)}): {len(names)} logits, softmax cross-entropy")
    try:
        model, history = train(dataset, config, command=command, split_seed=split_seed, show_bar=not quiet)
    except ValueError as exc:  # e.g. CUDA asked for but absent, empty training split
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for i, epoch in enumerate(history["epoch"]):
        print(f"epoch {epoch}: loss {history['train_loss'][i]:.4f}, "
              f"validation accuracy {history['validation_accuracy'][i]:.4f}, "
              f"{history['tokens_per_second'][i]:.0f} tokens/s")
    m = model.metrics
    try:
        digest = checkpoint.save(model, out)
    except (OSError, ValueError) as exc:
        print(f"error: could not save {out}: {exc}", file=sys.stderr)
        return 2
    print(f"best epoch {m['best_epoch']} of {m['epochs_run']}; {m['seconds']:.1f} s; "
          f"train accuracy {m['train_accuracy']:.4f}, validation accuracy {m['validation_accuracy']:.4f}")
    print(f"saved {out} (sha256 {digest})")
    test = m["test_accuracy"]
    print(f"test accuracy: {test:.4f}" if test is not None else "test accuracy: nan (empty test split)")
    sys.stdout.flush()
    return 0
