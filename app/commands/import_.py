"""``rnnscope import``: convert a plain PyTorch state_dict + vocabulary into an rnnscope/1 checkpoint.

Example::

    rnnscope import --state-dict model.pt --vocab vocab.txt --arch lstm --out lstm.safetensors \\
        --map tok=embedding --map head=readout

The state_dict holds an embedding, a single-layer ``nn.LSTM``/``nn.GRU``/``nn.RNN`` and an
``nn.Linear`` readout of the final hidden state; common names (``embed``/``emb``/``encoder``,
``rnn``/``lstm``/``gru``, ``fc``/``linear``/``out``/``decoder``/``classifier``) are recognized,
others are renamed with ``--map OLD=NEW`` (an exact key or a dotted prefix; ``OLD=`` drops a key).
The vocabulary has one token per line (UTF-8) or is a JSON list, starting ``<pad>``, ``<unk>``.
"""
from __future__ import annotations

import argparse
import sys


def _parse_map(items: list[str] | None) -> dict[str, str]:
    key_map = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--map expects OLD=NEW, got {item!r}")
        old, new = item.split("=", 1)
        if not old:
            raise ValueError(f"--map expects OLD=NEW with a non-empty OLD, got {item!r}")
        key_map[old] = new
    return key_map


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``rnnscope import`` on the CLI's subparsers."""
    p = sub.add_parser(
        "import", help="convert a plain PyTorch state_dict + vocabulary into an rnnscope checkpoint",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dict", required=True, metavar="FILE",
                   help="torch.save(model.state_dict()) file (.pt, loaded weights-only) or .safetensors")
    p.add_argument("--vocab", required=True, metavar="FILE",
                   help="vocabulary: one token per line (UTF-8) or a JSON list; starts <pad>, <unk>")
    p.add_argument("--arch", required=True, choices=("lstm", "gru", "vrnn", "ugrnn"),
                   help="recurrent architecture (vrnn = nn.RNN with tanh)")
    p.add_argument("--out", required=True, metavar="CKPT", help="output checkpoint (.safetensors or .pt)")
    p.add_argument("--map", action="extend", nargs="+", default=[], metavar="OLD=NEW",
                   help="rename state_dict keys (exact key or dotted prefix) before auto-detection")
    p.add_argument("--no-lowercase", action="store_true",
                   help="the vocabulary is case-sensitive (tokenizer keeps case)")
    p.set_defaults(func=run)
    return p


# lazy imports: `rnnscope --help` imports every command module (app/cli.py) and runs in 0.2-0.3 s
# without numpy; the checkpoint modules (torch) would add 3.3 s if imported at the top (measured
# with -X importtime on the 2-core machine), so each function imports what it uses.
def run(args: argparse.Namespace) -> int:
    """Convert, validate and save; prints a one-line summary. Returns 0, or 2 on a bad input."""
    from rnnscope.analysis.checkpoint import CheckpointError, save
    from rnnscope.analysis.checkpoint_import import import_state_dict
    from rnnscope.analysis.tokenizer import Tokenizer

    try:
        key_map = _parse_map(args.map)
        model = import_state_dict(args.state_dict, args.vocab, args.arch, key_map=key_map,
                                  tokenizer=Tokenizer(lowercase=not args.no_lowercase))
        if not str(args.out).lower().endswith((".safetensors", ".pt", ".pth")):
            raise ValueError("--out must end in .safetensors or .pt")
        digest = save(model, args.out)
    except (CheckpointError, ValueError) as exc:
        print(f"rnnscope import: error: {exc}", file=sys.stderr)
        return 2
    cfg = model.config()
    print(f"wrote {args.out}: {cfg['arch']}, vocab {cfg['vocab_size']}, embed {cfg['embed_dim']}, "
          f"hidden {cfg['hidden_size']}, classes {cfg['num_classes']}, sha256 {digest}")
    return 0
