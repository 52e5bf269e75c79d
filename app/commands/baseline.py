"""``rnnscope baseline``: the paper's bag-of-words logistic-regression baseline.

    rnnscope baseline --data mr [--seed 0] [--model CKPT] [--counts] [--top 10]

Fits logistic regression on word-presence features (the model's tokenizer; C chosen on the
validation split), prints the validation accuracy per C, the most positive and negative
words, and as its last line ``test accuracy: 0.XXXX``. Exit status 0 on success, 2 on bad
input. Heavy imports happen inside :func:`run`, so ``rnnscope --help`` stays fast.
"""
from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``baseline``."""
    parser = subparsers.add_parser(
        "baseline", help="bag-of-words logistic-regression baseline",
        description="Fit the bag-of-words logistic regression of the paper (C chosen on the "
                    "validation split). The last line printed is 'test accuracy: 0.XXXX'.")
    parser.add_argument("--data", required=True, metavar="NAME|PATH",
                        help="registered dataset (imdb, mr, tweets) or a local file/directory")
    parser.add_argument("--seed", type=int, default=0, help="train/validation/test split seed (default 0)")
    parser.add_argument("--model", default=None, metavar="CKPT",
                        help="use this checkpoint's tokenizer and vocabulary (default: the standard "
                             "tokenizer, every training token)")
    parser.add_argument("--counts", action="store_true", help="word counts instead of word presence")
    parser.add_argument("--top", type=int, default=10, help="words listed per sign (default 10)")
    parser.add_argument("--text-col", default=None, help="text column of a local file (default: auto)")
    parser.add_argument("--label-col", default=None, help="label column of a local file (default: auto)")
    parser.add_argument("--home", default=None, help="data cache root (default $RNNSCOPE_HOME or ~/.cache/rnnscope)")
    parser.set_defaults(func=run)
    return parser


# lazy imports: `rnnscope --help` imports every command module (app/cli.py) and runs in 0.2-0.3 s
# without numpy; the bag-of-words baseline and the checkpoint loader (scikit-learn, scipy, torch)
# would add 7.0 s if imported at the top (measured with -X importtime on the 2-core machine), so
# each function imports what it uses.
def run(args: argparse.Namespace) -> int:
    """Fit and report; 0 on success, 2 on bad input."""
    import numpy as np

    from rnnscope.analysis.baseline import fit_bow
    from rnnscope.analysis.data import DataError, load
    from rnnscope.analysis.tokenizer import Tokenizer

    try:
        if args.top < 0:
            raise ValueError(f"--top must be >= 0, got {args.top}")
        tokenizer, vocab = Tokenizer(), None
        if args.model:
            from rnnscope.analysis.checkpoint import load as load_checkpoint
            model = load_checkpoint(args.model)
            tokenizer, vocab = model.tokenizer, model.vocab.tokens
        dataset = load(args.data, home=args.home, text_col=args.text_col, label_col=args.label_col, seed=args.seed)
        sizes = {k: len(v) for k, v in dataset.splits().items()}
        print(f"data {dataset.name}: {sizes['train']} train, {sizes['validation']} validation, {sizes['test']} test")
        bow = fit_bow(dataset, tokenizer, vocab, binary=not args.counts, seed=args.seed)
    except (DataError, ValueError, OSError) as exc:  # CheckpointError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(bow.vocabulary_)} features ({'counts' if args.counts else 'presence'})")
    for C, acc in bow.validation_accuracy_.items():
        print(f"C={C:g}: validation accuracy {acc:.4f}{'  <- chosen' if C == bow.C_ else ''}")
    order = np.argsort(bow.coef_)
    if args.top:
        print("most positive: " + ", ".join(f"{bow.vocabulary_[i]} {bow.coef_[i]:+.2f}" for i in order[::-1][: args.top]))
        print("most negative: " + ", ".join(f"{bow.vocabulary_[i]} {bow.coef_[i]:+.2f}" for i in order[: args.top]))
    print(f"test accuracy: {bow.accuracy_:.4f}" if np.isfinite(bow.accuracy_) else "test accuracy: nan (empty test split)")
    sys.stdout.flush()
    return 0
