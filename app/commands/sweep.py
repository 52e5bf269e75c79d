"""``rnnscope sweep``: train and analyse a population of networks, one job per cell.

    rnnscope sweep --arch lstm,gru,ugrnn,vrnn --seeds 5 --data mr [--hidden 64,128]
                   [--train KEY=VALUE ...] [--param KEY=VALUE ...] [--no-wait]
    rnnscope sweep --list
    rnnscope sweep --status SWEEP_ID
    rnnscope sweep --cancel SWEEP_ID

Each cell (architecture × hidden size × seed) is trained and then analysed, both cached by
content in the artifact store (``RNNSCOPE_STORE``): a rerun of the same command computes
only what is missing. With ``REDIS_URL`` set the cells go to the Celery workers as jobs
``rnnscope.sweep_cell`` and the command follows them (a cell whose worker stops answering is
resubmitted); without it they run here, one after the other. Prints each cell's progress and,
at the end, a table (test accuracy, attractor verdict, points, median τ1, slow modes) and the
population comparison of the analysed networks (``rnnscope.workers.population``: CKA, SVCCA,
topology, and whether geometry separates the architectures while topology does not).
Exit status 0 when every cell is done, 1 if one failed or the sweep was cancelled, 2 on bad
input.
"""
from __future__ import annotations

import argparse
import sys

from rnnscope.app.commands.analyze import parse_key_values


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sweep``."""
    parser = subparsers.add_parser(
        "sweep", help="train and analyse many networks (architectures x hidden sizes x seeds)",
        description="Train and analyse one network per architecture, hidden size and seed, "
                    "on the Celery workers when REDIS_URL is set, else here; cached by content, "
                    "so a rerun computes only what is missing.")
    parser.add_argument("--arch", metavar="A,B", help="architectures, comma-separated: lstm,gru,ugrnn,vrnn")
    parser.add_argument("--seeds", type=int, metavar="N", help="networks per architecture and size (seeds 0..N-1)")
    parser.add_argument("--data", metavar="NAME", help="dataset to train and analyse on (e.g. mr, imdb, toy)")
    parser.add_argument("--hidden", default="128", metavar="H,H", help="hidden sizes, comma-separated (default 128)")
    parser.add_argument("--train", action="append", default=[], metavar="KEY=VALUE",
                        help="a training option for every cell (epochs, max_len, vocab_size, embed, lr, ...); repeatable")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="an AnalysisParams field for every analysis (VALUE read as JSON); repeatable")
    parser.add_argument("--no-wait", action="store_true", help="with REDIS_URL: queue the jobs and return")
    parser.add_argument("--list", action="store_true", help="list the stored sweeps")
    parser.add_argument("--status", metavar="SWEEP_ID", help="print a sweep's table")
    parser.add_argument("--cancel", metavar="SWEEP_ID", help="cancel a sweep's jobs")
    parser.set_defaults(func=run)
    return parser


def spec_from_args(args: argparse.Namespace):
    """The ``SweepSpec`` the options describe; ValueError in words."""
    from rnnscope.workers.sweeps import SweepSpec

    if not args.arch or args.seeds is None or not args.data:
        raise ValueError("give --arch, --seeds and --data (or --list / --status / --cancel SWEEP_ID)")
    try:
        hidden = [int(h) for h in args.hidden.split(",") if h.strip()]
    except ValueError:
        raise ValueError(f"--hidden expects whole numbers separated by commas, got {args.hidden!r}") from None
    train = parse_key_values(args.train, "--train")
    params = parse_key_values(args.param)
    return SweepSpec(archs=[a.strip() for a in args.arch.split(",") if a.strip()], seeds=args.seeds,
                     data=args.data, hidden=hidden, train=train, analysis=params)


# lazy imports: `rnnscope --help` imports every command module (app/cli.py) without numpy; the
# sweep modules bring torch (training) and Celery, so each function imports what it uses.
def run(args: argparse.Namespace) -> int:
    """Run / list / show / cancel; see the module docstring for the exit status."""
    from rnnscope.analysis.data import DataError
    from rnnscope.settings import Settings
    from rnnscope.workers.store import ArtifactNotFound, ArtifactStore, StoreError

    try:
        settings = Settings.from_env()
        store = ArtifactStore(settings.store)
        if args.list:
            return _list(store)
        if args.status or args.cancel:
            return _status_or_cancel(store, args.status or args.cancel, settings, cancel=bool(args.cancel))
        spec = spec_from_args(args)
        if settings.redis_url:
            return _on_workers(store, spec, wait=not args.no_wait)
        return _here(store, spec)
    except (DataError, StoreError, ValueError, ArtifactNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _here(store, spec) -> int:
    from tqdm import tqdm

    from rnnscope.workers import sweeps

    print(f"sweep {spec.sweep_id()[:12]}: {len(spec.cells())} cells, running here (no REDIS_URL)", file=sys.stderr)
    bars = {}

    def on_cell(i: int, n: int, cell: dict, what: str) -> None:
        name = sweeps.cell_name(cell)
        if what == "cached":
            print(f"[{i + 1}/{n}] {name}: cached", file=sys.stderr)
        elif what == "running":
            bars[name] = tqdm(total=1000, desc=f"[{i + 1}/{n}] {name}", file=sys.stderr,
                              bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} {postfix}")
        else:
            bars.pop(name).close()

    def progress(cell: dict):
        bar = bars[sweeps.cell_name(cell)]

        def show(fraction: float, message: str) -> None:
            bar.n = round(1000 * fraction)
            bar.set_postfix_str(message[-60:], refresh=False)
            bar.refresh()
        return show

    states = sweeps.run_here(spec, store, on_cell=on_cell, progress=progress)
    print(sweeps.format_table([sweeps.summary_row(store, s) for s in states]))
    _compare(store, spec.sweep_id())
    return 0


def _compare(store, sweep_id: str) -> None:
    """Compare the analysed networks (geometry, topology, the universality verdict) and print it."""
    from rnnscope.workers import population

    key = population.compare_sweep(store, sweep_id, lambda f, m: None)
    if key is None:
        print("population: fewer than 2 networks analysed, nothing to compare")
        return
    doc = store.get_json(key)
    print(f"population ({len(doc['names'])} networks, {doc['n_states']} shared states on {doc['n_docs']} "
          f"documents): geometry separates architectures while topology does not? {doc['verdict']['text']}")


def _on_workers(store, spec, wait: bool) -> int:
    from rnnscope.workers import sweep_queue

    sweep_id, queued = sweep_queue.submit(store, spec)
    print(f"sweep {sweep_id}: {len(spec.cells())} cells, {queued} job(s) queued on the workers", file=sys.stderr)
    if not wait:
        print(f"follow it with: rnnscope sweep --status {sweep_id}", file=sys.stderr)
        return 0
    rows = sweep_queue.follow(store, sweep_id, on_rows=_Printer())
    status = _finish(rows, store.get_sweep(sweep_id)["cancelled"])
    _compare(store, sweep_id)
    return status


class _Printer:
    """Prints a line when a cell's state changes or its progress passes another tenth, with
    the count of cells done."""

    def __init__(self):
        self.last: dict[str, tuple] = {}

    def __call__(self, rows: list[dict]) -> None:
        done = sum(r["state"] == "done" for r in rows)
        for r in rows:
            view = (r["state"], int(10 * r["fraction"]))
            if self.last.get(r["cell"]) != view:
                self.last[r["cell"]] = view
                print(f"[{done}/{len(rows)} done] {r['cell']}: {r['state'].lower()} "
                      f"{100 * r['fraction']:.0f}% {r['message']}", file=sys.stderr)


def _finish(rows: list[dict], cancelled: bool) -> int:
    from rnnscope.workers import sweeps

    print(sweeps.format_table(rows))
    for r in rows:
        if r["error"]:
            print(f"{r['cell']}: {r['error']}", file=sys.stderr)
    if cancelled:
        print("the sweep was cancelled; rerun the same command to continue it", file=sys.stderr)
    return 0 if all(r["state"] == "done" for r in rows) else 1


def _status_or_cancel(store, sweep_id: str, settings, cancel: bool) -> int:
    from rnnscope.workers import sweeps

    manifest = store.get_sweep(sweep_id)
    if not settings.redis_url:
        spec = sweeps.SweepSpec.from_dict(manifest["spec"])
        if cancel:
            print("error: without REDIS_URL a sweep runs in its own command: stop it with Ctrl-C", file=sys.stderr)
            return 2
        rows = [sweeps.summary_row(store, s) for s in sweeps.states(store, spec)]
        print(sweeps.format_table(rows))
        return 0 if all(r["report"] for r in rows) else 1
    from rnnscope.workers import sweep_queue

    if cancel:
        print(f"cancelled sweep {sweep_id[:12]}: {sweep_queue.cancel(store, sweep_id)} job(s) revoked", file=sys.stderr)
        return 0
    return _finish(sweep_queue.status(store, sweep_id), manifest["cancelled"])


def _list(store) -> int:
    from rnnscope.workers import sweeps

    for sweep_id in store.list_sweeps():
        manifest = store.get_sweep(sweep_id)
        spec = sweeps.SweepSpec.from_dict(manifest["spec"])
        done = sum(s["done"] for s in sweeps.states(store, spec))
        print(f"{sweep_id}  {spec.data}  {','.join(spec.archs)}  hidden {','.join(map(str, spec.hidden))}  "
              f"{spec.seeds} seed(s)  {done}/{len(spec.cells())} done{'  cancelled' if manifest['cancelled'] else ''}")
    return 0
