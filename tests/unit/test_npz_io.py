"""Archives are read one at a time per process (analysis/npz_io.py): CPython 3.11's AST
constructor, which numpy's header parsing uses, is not safe for two threads at once."""
from __future__ import annotations

import threading

import numpy as np

from rnnscope.analysis import npz_io
from rnnscope.analysis.report import REPORT_FORMAT, Report
from rnnscope.workers.store import ArtifactStore


def test_a_read_waits_for_the_lock_and_returns_every_array(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x=np.arange(6.0).reshape(2, 3), w=np.array(["a", "b"]))
    out = {}
    with npz_io.READ_LOCK:
        reader = threading.Thread(target=lambda: out.update(npz_io.read_npz(path)))
        reader.start()
        reader.join(0.5)
        assert reader.is_alive() and not out    # blocked while another read holds the lock
    reader.join()
    np.testing.assert_array_equal(out["x"], np.arange(6.0).reshape(2, 3))
    assert out["w"].tolist() == ["a", "b"]


def test_reports_and_stored_arrays_are_read_through_the_lock(tmp_path):
    store = ArtifactStore(tmp_path / "store", redis_url="")
    store.put_arrays("a" * 64, {"x": np.ones(3)})
    Report(summary={"format": REPORT_FORMAT}, arrays={"y": np.zeros(2)}).save(tmp_path / "report")
    for read in (lambda: store.get_arrays("a" * 64), lambda: Report.load(tmp_path / "report").arrays):
        done = []
        with npz_io.READ_LOCK:
            reader = threading.Thread(target=lambda: done.append(read()))
            reader.start()
            reader.join(0.5)
            assert reader.is_alive() and not done
        reader.join()
        assert len(done) == 1 and set(done[0]) in ({"x"}, {"y"})


def test_sixteen_threads_read_the_same_archive_at_once(tmp_path):
    path = tmp_path / "many.npz"
    arrays = {f"k{i}": np.full((3, 4), float(i)) for i in range(30)}
    np.savez(path, **arrays)
    errors, reads = [], []

    def work():
        try:
            for _ in range(50):
                reads.append(npz_io.read_npz(path))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(reads) == 800
    assert all(np.array_equal(r["k7"], arrays["k7"]) for r in reads)
