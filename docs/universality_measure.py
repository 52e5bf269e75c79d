"""Regenerate the measured comparison of docs/UNIVERSALITY.md: the 4 MR demo models and the
4 IMDB models (CKA and SVCCA matrices, topology table, MDS, silhouettes).

    nice -n 19 .venv/bin/python docs/universality_measure.py [--out DIR]

Each model is analysed with ``run_analysis``'s default parameters on its own dataset (the
reports are kept under ``DIR/reports`` and reused on a rerun); the states are gathered by
``rnnscope.analysis.universality.gather_states`` with its defaults (the analysis's 1,000
test documents, 400 tokens, 5,000 steps, seed 0). Prints the tables as Markdown and writes
``DIR/universality.json``. One torch thread (a shared machine).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from rnnscope.analysis import checkpoint, data
from rnnscope.analysis import universality as U
from rnnscope.analysis.pipeline import AnalysisParams, run_analysis
from rnnscope.analysis.report import Report

ROOT = Path(__file__).resolve().parents[1]
SETS = {"mr": ("demo", "mr"), "imdb": ("imdb", "imdb")}
ARCHS = ("lstm", "gru", "ugrnn", "vrnn")


def _report(model, dataset, directory: Path, timings: dict, name: str) -> Report:
    if (directory / "report.json").exists():
        return Report.load(directory)
    t0 = time.perf_counter()
    report = run_analysis(model, dataset, AnalysisParams())
    timings[name] = time.perf_counter() - t0
    report.save(directory)
    return report


def _matrix(name: str, labels: list, m: np.ndarray) -> str:
    head = f"| {name} | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels) + "\n"
    return head + "\n".join(f"| {a} | " + " | ".join(f"{v:.3f}" for v in row) + " |" for a, row in zip(labels, m))


def _geometry(models: list, texts, labels: list, archs: list) -> dict:
    t0 = time.perf_counter()
    shared = U.gather_states(models, texts)
    t1 = time.perf_counter()
    d = U.representation_distances(shared.states)
    return {"distances": d, "n_states": len(shared.doc), "n_available": shared.n_available,
            "seconds_gather": t1 - t0, "seconds_distances": time.perf_counter() - t1,
            "silhouette": {k: U.separation(v, archs) for k, v in d.items()},
            "mds": {k: U.mds_embedding(v) for k, v in d.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/rnnscope-universality")
    out = Path(parser.parse_args().out)
    torch.set_num_threads(1)
    timings: dict = {}
    models, tops, datasets, names, archs = [], [], {}, [], []
    for key, (folder, dname) in SETS.items():
        datasets[key] = data.load(dname)
        for arch in ARCHS:
            name = f"{arch}-{key}"
            model = checkpoint.load(ROOT / "models" / folder / f"{arch}-{dname}.safetensors")
            report = _report(model, datasets[key], out / "reports" / name, timings, name)
            models.append(model), tops.append(U.topology_from_report(report)), names.append(name), archs.append(arch)
            print(name, tops[-1], f"{timings.get(name, 0):.0f} s", flush=True)
    topo = U.topology_distances(tops)
    result = {"timings_analysis": timings, "names": names, "topology": [t.to_dict() for t in tops],
              "topology_distances": topo.tolist()}
    for key, rows in (("mr", slice(0, 4)), ("imdb", slice(4, 8))):
        g = _geometry(models[rows], datasets[key].test.texts, names[rows], archs[rows])
        result[key] = g
        print(f"\n{key}: {g['n_states']} of {g['n_available']} steps, gather {g['seconds_gather']:.0f} s, "
              f"distances {g['seconds_distances']:.0f} s")
        for k, v in g["distances"].items():
            print(_matrix(k, names[rows], 1 - v))
    for key in ("mr", "imdb"):  # all 8 networks on the same documents: 2 per architecture
        g = _geometry(models, datasets[key].test.texts, names, archs)
        verdict = U.universality_verdict({**g["distances"], "topology": topo}, archs)
        result[f"pooled_{key}"] = {**g, "verdict": verdict}
        print(f"\nall 8 on {key} documents: gather {g['seconds_gather']:.0f} s, distances {g['seconds_distances']:.0f} s")
        for k, v in g["distances"].items():
            print(_matrix(k, names, 1 - v))
        print(verdict["text"])
    print(_matrix("topology distance", names, topo))
    out.mkdir(parents=True, exist_ok=True)
    (out / "universality.json").write_text(json.dumps(result, default=_plain, indent=1))


def _plain(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    raise TypeError(type(v))


if __name__ == "__main__":
    main()
