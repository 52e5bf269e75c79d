"""``rnnscope data``: fetch the pinned real datasets and lexicons, and describe datasets.

    rnnscope data list
    rnnscope data fetch NAME [NAME ...]
    rnnscope data info NAME|PATH [--text-col C] [--label-col C] [--seed N]

Heavy imports (numpy, tqdm) happen inside :func:`run`, so ``rnnscope --help`` stays fast.
"""
from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``data`` and its ``list``/``fetch``/``info`` subcommands."""
    parser = subparsers.add_parser(
        "data", help="fetch and inspect sentiment datasets and lexicons",
        description="Fetch the pinned real datasets (imdb, mr, tweets, mr-valence) and "
                    "lexicons (vader, bing) into the cache, or describe a dataset. 'toy' (a "
                    "synthetic language with modifier words) is built in and needs no download.")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="list the registered sources and whether they are cached, "
                                          "and the built-in toy language")

    fetch = sub.add_parser("fetch", help="download, verify and cache sources")
    fetch.add_argument("names", nargs="+", metavar="NAME",
                       help="imdb, mr, mr-valence, tweets, vader, bing, tweets3, mr-valence3, mr-valence5, "
                            "or 'all' (toy and counting-2/3/4[-close] are built in: nothing to fetch)")

    info = sub.add_parser("info", help="split sizes, positive fraction and mean words")
    info.add_argument("dataset", metavar="NAME|PATH",
                      help="a registered dataset, toy (built in), or a local file/directory")
    info.add_argument("--text-col", default=None, help="text column (default: auto-detect)")
    info.add_argument("--label-col", default=None, help="label column (default: auto-detect)")
    info.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    info.add_argument("--no-fetch", action="store_true",
                      help="fail instead of downloading a registered dataset")

    for p in (listing, fetch, info):
        p.add_argument("--home", default=None,
                       help="cache root (default $RNNSCOPE_HOME or ~/.cache/rnnscope)")
    parser.set_defaults(func=run)
    return parser


# lazy imports: `rnnscope --help` imports every command module (app/cli.py) and runs in 0.2-0.3 s
# without numpy; the data modules (numpy) and tqdm would add 0.28 s if imported at the top
# (measured with -X importtime on the 2-core machine), so each function imports what it uses.
def run(args: argparse.Namespace) -> int:
    """Run a ``data`` subcommand; 0 on success, 2 on a data error."""
    from rnnscope.analysis.data import DataError

    try:
        if args.data_command == "list":
            return _list(args.home)
        if args.data_command == "fetch":
            return _fetch(args.names, args.home)
        return _info(args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _list(home: str | None) -> int:
    from rnnscope.analysis.data_sources import SOURCES, cache_path, is_cached
    from rnnscope.analysis.multiclass_data import is_cached as multiclass_is_cached
    from rnnscope.analysis.toy_language import NAME as TOY

    for name, source in SOURCES.items():
        state = f"cached at {cache_path(name, home)}" if is_cached(name, home) else "not cached"
        pin = f"{source.package}=={source.version}"
        print(f"{name:<16} {source.kind:<8} {pin:<24} {source.description}; {state}")
    print(f"{TOY:<11} {'dataset':<8} {'built in':<24} {TOY_DESCRIPTION}; built in, no download")
    for name, text in MULTICLASS_DESCRIPTION.items():
        origin = MULTICLASS_SOURCE.get(name)
        state = ("built in, no download" if origin is None else
                 "cached" if multiclass_is_cached(name, home) else f"not cached (rnnscope data fetch {name})")
        print(f"{name:<16} {'dataset':<8} {'from ' + origin if origin else 'built in':<24} {text}; {state}")
    return 0


#: The multi-class datasets (``rnnscope.analysis.multiclass_data``) and the source each is read from.
MULTICLASS_DESCRIPTION = {
    "tweets3": "airline tweets, 3 classes (negative, neutral, positive)",
    "mr-valence3": "MR snippets, mean crowd valence in 3 ordered classes",
    "mr-valence5": "MR snippets, mean crowd valence in 5 ordered classes",
    "counting-2": "synthetic counting task, 2 evidence words, label = the most frequent",
    "counting-3": "synthetic counting task, 3 evidence words, label = the most frequent",
    "counting-4": "synthetic counting task, 4 evidence words, label = the most frequent",
    **{f"counting-{c}-close": f"counting-{c} over 100-300 tokens, sparse evidence, the winner one count ahead"
       for c in (2, 3, 4)}}
MULTICLASS_SOURCE = {"tweets3": "tweets", "mr-valence3": "mr-valence", "mr-valence5": "mr-valence"}


#: What ``data list`` says of the built-in toy language (``rnnscope.analysis.toy_language``).
TOY_DESCRIPTION = ("synthetic sentiment language with modifier words (good +1, bad -1, awesome +2, "
                   "awful -2, 'not' flips the next 4 tokens, 'very' doubles the next), generated from a seed")


def _fetch(names: list[str], home: str | None) -> int:
    from rnnscope.analysis.data_sources import SOURCES, registered_source
    from rnnscope.analysis.toy_language import NAME as TOY

    if "all" in names:
        names = list(SOURCES)
    builtin, names = TOY in names, [n for n in names if n != TOY]
    multiclass, names = [n for n in names if n in MULTICLASS_DESCRIPTION], [n for n in names if n not in MULTICLASS_DESCRIPTION]
    for name in names:
        registered_source(name)  # unknown names fail before anything downloads
    if builtin:
        print(f"{TOY}: built in (generated by rnnscope.analysis.toy_language from a seed), "
              f"no download needed; use it as --data {TOY}")
    for name in multiclass:
        _fetch_multiclass(name, home)
    for name in names:
        path = _fetch_with_bar(name, home)
        print(f"{name}: {path}")
        print(_describe_cached(name, home))
    return 0


def _fetch_multiclass(name: str, home: str | None) -> None:
    """A multi-class dataset: built in (nothing to do), or its source fetched (and for tweets3
    normalized again with its neutral tweets)."""
    from rnnscope.analysis.multiclass_data import fetch_tweets3

    origin = MULTICLASS_SOURCE.get(name)
    if origin is None:
        print(f"{name}: built in (generated by rnnscope.analysis.multiclass_data from a seed), no download "
              f"needed; use it as --data {name}")
    elif name == "tweets3":
        print(f"{name}: {fetch_tweets3(home, _print_progress(name))}")
    else:
        print(f"{name}: read from {origin}: {_fetch_with_bar(origin, home)}")


def _fetch_with_bar(name: str, home: str | None):
    from tqdm import tqdm

    from rnnscope.analysis.data import fetch

    with tqdm(total=100, desc=name, unit="%", leave=False, file=sys.stderr,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}") as bar:
        def progress(fraction: float, message: str) -> None:
            bar.n = round(100 * fraction)
            bar.set_postfix_str(message, refresh=False)
            bar.refresh()

        return fetch(name, home, progress)


def _describe_cached(name: str, home: str | None) -> str:
    from rnnscope.analysis import data
    from rnnscope.analysis.data_sources import SOURCES

    kind = SOURCES[name].kind
    if kind == "dataset":
        return _format_summary(data.load(name, home=home, fetch_missing=False).summary())
    if name == "vader":
        return f"  {len(data.load_vader_lexicon(home, fetch_missing=False))} tokens"
    if name == "bing":
        return f"  {len(data.load_bing_lexicon(home, fetch_missing=False))} words"
    texts, _ = data.load_mr_valence(home, fetch_missing=False)
    return f"  {len(texts)} rated snippets"


def _info(args: argparse.Namespace) -> int:
    from rnnscope.analysis.data import load
    from rnnscope.analysis.data_sources import SOURCES

    progress = None
    if args.dataset in SOURCES and not args.no_fetch:
        progress = _print_progress(args.dataset)
    dataset = load(args.dataset, home=args.home, text_col=args.text_col,
                   label_col=args.label_col, seed=args.seed,
                   fetch_missing=not args.no_fetch, progress=progress)
    print(f"{dataset.name} (seed {args.seed})")
    print(_format_summary(dataset.summary(words=True)))
    return 0


def _print_progress(name: str):
    def progress(fraction: float, message: str) -> None:
        print(f"{name}: {message}", file=sys.stderr)
    return progress


def _format_summary(summary: dict) -> str:
    lines = []
    for split, row in summary["splits"].items():
        line = f"  {split:<10} {row['n']:>7} examples  {100 * row['positive_fraction']:5.1f}% positive"
        if "mean_words" in row:
            line += f"  {row['mean_words']:6.1f} words mean"
        lines.append(line)
    lines.append(f"  {'total':<10} {summary['total']:>7} examples")
    return "\n".join(lines)
