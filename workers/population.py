"""The population comparison of a sweep: geometry and topology of its networks, stored.

For the analysed cells of a sweep (at least 2), :func:`compare_sweep` reads every network's
states on the same documents (``universality.gather_states``: the sweep's analysis seed and
``max_len``, ``n_docs`` test documents, at most ``max_states`` shared steps), computes the
geometry distances (1 − linear CKA, 1 − SVCCA) and the topology distance between the
networks' reports, an MDS map of each and the universality verdict (does geometry separate
the architectures while topology does not), and stores them as one JSON document under a
content key of the reports compared and these parameters. Non-finite numbers are stored as
null (JSON has no nan or inf); :func:`read_topologies` turns them back into floats.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from rnnscope.analysis import universality
from rnnscope.workers import jobs, sweeps
from rnnscope.workers.locks import Progress
from rnnscope.workers.store import ArtifactStore, content_key
from rnnscope.workers.sweeps import NO_CHECKPOINT, SweepSpec, cell_name

#: Documents and shared steps the geometry is computed on (NeurIPS 2019 used 1,000 documents).
N_DOCS = 1000
MAX_STATES = 5000


def _analysed(store: ArtifactStore, spec: SweepSpec) -> list[dict]:
    return [s for s in sweeps.states(store, spec) if s["done"]]


def population_key(spec: SweepSpec, analysed: list[dict], n_docs: int, max_states: int) -> str:
    """Content key of the comparison of the ``analysed`` cells (their report keys) of ``spec``."""
    return content_key("population", NO_CHECKPOINT,
                       {"reports": [s["report"] for s in analysed], "n_docs": n_docs, "max_states": max_states},
                       jobs.dataset_id(spec.data), jobs.analysis_version())


def _finite_or_none(value):
    return value if not isinstance(value, float) or math.isfinite(value) else None


def _compare(store: ArtifactStore, spec: SweepSpec, analysed: list[dict], n_docs: int, max_states: int,
             progress: jobs.MonotoneProgress) -> dict:
    """The comparison document of :func:`compare_sweep` (see the module docstring)."""
    names = [cell_name(s["cell"]) for s in analysed]
    archs = [s["cell"]["arch"] for s in analysed]
    progress(0.0, f"loading {len(analysed)} networks")
    models = [jobs.load_model(store, s["checkpoint"]) for s in analysed]
    dataset = jobs.load_dataset(spec.data, progress.part(0.05, 0.1), store)
    progress(0.1, f"states of {len(models)} networks on {n_docs} documents")
    shared = universality.gather_states(models, dataset.test.texts, n_docs=n_docs, max_len=spec.analysis["max_len"],
                                        max_states=max_states, seed=spec.analysis["seed"])
    progress(0.6, "CKA and SVCCA")
    distances = universality.representation_distances(shared.states)
    topologies = [universality.topology_from_report(store.get_report_summary(s["report"])) for s in analysed]
    distances["topology"] = universality.topology_distances(topologies)
    progress(0.8, "MDS maps")
    coords = {k: universality.mds_embedding(d, seed=spec.analysis["seed"]) for k, d in distances.items()}
    return {"names": names, "archs": archs, "reports": [s["report"] for s in analysed],
            "n_states": len(shared.doc), "n_docs": shared.n_docs,
            "distances": {k: d.tolist() for k, d in distances.items()},
            "mds": {k: c.tolist() for k, c in coords.items()},
            "topologies": [{k: _finite_or_none(v) for k, v in t.to_dict().items()} for t in topologies],
            "verdict": universality.universality_verdict(distances, archs)}


def compare_sweep(store: ArtifactStore, sweep_id: str, progress: Progress | None = None, *,
                  n_docs: int = N_DOCS, max_states: int = MAX_STATES) -> str | None:
    """Compare the analysed networks of sweep ``sweep_id`` (cached); returns the key of the
    stored document (``store.get_json``), or None when fewer than 2 cells are analysed."""
    spec = SweepSpec.from_dict(store.get_sweep(sweep_id)["spec"])
    analysed = _analysed(store, spec)
    if len(analysed) < 2:
        return None
    key = population_key(spec, analysed, n_docs, max_states)

    def compute(p: jobs.MonotoneProgress) -> None:
        store.put_json(key, _compare(store, spec, analysed, n_docs, max_states, p))

    jobs.run_cached(store, key, "population comparison", compute, jobs.MonotoneProgress(progress))
    return key


def latest(store: ArtifactStore, sweep_id: str, *, n_docs: int = N_DOCS, max_states: int = MAX_STATES) -> dict | None:
    """The stored comparison of the sweep's currently analysed cells, or None if there is none yet."""
    spec = SweepSpec.from_dict(store.get_sweep(sweep_id)["spec"])
    key = population_key(spec, _analysed(store, spec), n_docs, max_states)
    return store.get_json(key) if store.exists(key) else None


def read_topologies(document: Mapping) -> list[dict]:
    """The document's topologies with null numbers read back as nan."""
    return [{k: (math.nan if v is None and k != "kind" else v) for k, v in t.items()} for t in document["topologies"]]
