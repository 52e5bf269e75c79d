"""Uploads that cost CPU or memory out of proportion to what they hold (issue 11 items 2 and 3),
through the real HTTP path of a running ``rnnscope serve`` (upload cap 64 MiB).

- A ``.pt`` whose ``data.pkl`` is padded with one-byte pickle operations (the issue's 40 MB
  file took 25.8 s of the web process's CPU and was stored) is refused in words, by its size
  or its operation count, and nothing is stored.
- A ``.pt`` is read in the server's reading process (``rnnscope.workers.checkpoint_reader``), not in
  the web process: the parse's CPU time is spent there, at a lower priority, and normal
  requests keep being answered meanwhile.
- A read over ``RNNSCOPE_PARSE_LIMIT_S`` is stopped and refused in words; the next upload works.
- Loaded models held by the web process stay within ``RNNSCOPE_MODEL_CACHE_MB``: the server's
  resident memory after five distinct 36 MiB models (glibc's mmap threshold pinned, so freed
  blocks leave RSS) grows by the bound, not by five models.
"""
from __future__ import annotations

import hashlib
import json
import re
import time

import psutil
import pytest

from rnnscope.bench import hostile_upload as h
from rnnscope.bench.load import DashClient
from tests.security.conftest import serve, server_env
from tests.security.test_hostile_uploads import Traffic, alert_of, stored_files, upload

CAP_MB = 64
MIB = 2**20


@pytest.fixture(scope="module")
def server(tiny_env, tmp_path_factory):
    log = tmp_path_factory.mktemp("slow-uploads") / "server.log"
    with serve(server_env(tiny_env, RNNSCOPE_MAX_UPLOAD_MB=str(CAP_MB)), log) as srv:
        yield srv


@pytest.fixture
def client(server):
    return DashClient(server.url, timeout_s=300)


def reader_of(server) -> psutil.Process | None:
    """The server's reading process, if it runs."""
    for child in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            if "rnnscope.workers.checkpoint_reader" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def test_padded_pickles_are_refused_in_words_and_not_stored(server, tiny_env, client):
    """40 MB of one-byte operations (refused by its size), 400k operations in 0.4 MB (by the
    count), 1M operations beside a spare tensor entry (after the parse, against its 30 words),
    while a second visitor keeps using the page without an error."""
    files = [("padded-40MB.pt", h.padded_pickle(40 * MIB),
              "more than the 4.3 MiB its tensors allow"),
             ("padded-ops.pt", h.padded_pickle(400_000), "holds more than 101,080 pickle operations"),
             ("spare.pt", h.padded_beside_spare_tensor(), "more than a 30-word vocabulary needs")]
    before = stored_files(tiny_env.store_dir)
    traffic = Traffic(server.url)
    traffic.start()
    assert traffic.ready.wait(300), traffic.errors[:3]
    try:
        for name, data, fragment in files:
            kind, text = alert_of(upload(client, name, data))
            assert kind == "alert error" and fragment in text, (name, text[:400])
        ok = traffic.ok
        deadline = time.monotonic() + 120  # a safety net: normal requests complete after them too
        while traffic.ok < ok + 2 and time.monotonic() < deadline and not traffic.errors:
            time.sleep(0.2)
    finally:
        traffic.stop.set()
        traffic.join(60)
    assert traffic.errors == [] and traffic.ok >= ok + 2
    assert stored_files(tiny_env.store_dir) == before
    assert server.alive()


def test_pt_is_parsed_in_the_reading_process_not_the_web_process(server, client):
    """The padded file beside a spare tensor makes the parser walk 1M operations: that CPU
    time is spent by the reading process (10 nice steps below the server, no socket), not by the web process."""
    upload(client, "warm.pt", h.pt_bytes(h.payload(seed=1)))  # the reading process is up
    reader = reader_of(server)
    assert reader is not None, "no reading process under the server"
    web = psutil.Process(server.proc.pid)
    web_before, reader_before = cpu(web), cpu(reader)
    kind, text = alert_of(upload(client, "spare.pt", h.padded_beside_spare_tensor()))
    web_spent, reader_spent = cpu(web) - web_before, cpu(reader) - reader_before
    assert kind == "alert error" and "30-word vocabulary" in text
    assert reader_of(server).pid == reader.pid
    assert reader_spent > 4 * web_spent, (reader_spent, web_spent)
    assert reader.nice() == min(19, web.nice() + 10) and reader.net_connections(kind="inet") == []


def test_read_over_the_cpu_limit_is_refused_and_the_next_upload_works(tiny_env, tmp_path):
    """``RNNSCOPE_PARSE_LIMIT_S=0.3``: the largest real vocabulary (about 3 s of CPU to read)
    is stopped and refused, nothing stored; a small checkpoint is then uploaded normally."""
    env = server_env(tiny_env, RNNSCOPE_MAX_UPLOAD_MB=str(CAP_MB), RNNSCOPE_PARSE_LIMIT_S="0.3")
    with serve(env, tmp_path / "server.log") as srv:
        client = DashClient(srv.url, timeout_s=300)
        before = stored_files(tiny_env.store_dir)
        kind, text = alert_of(upload(client, "vocab.pt", h.big_vocabulary()))
        assert kind == "alert error" and "took more than the 0.3 seconds of CPU time" in text, text[:400]
        assert stored_files(tiny_env.store_dir) == before
        small = h.pt_bytes(h.payload(seed=9))
        updates = upload(client, "small.pt", small)
        assert alert_of(updates)[0] == "alert success"
        assert updates["model-select.value"] == hashlib.sha256(small).hexdigest()
        assert "over its 0.3 s CPU limit" in srv.log_text()


def test_cached_models_stay_within_their_byte_bound(tiny_env, tmp_path):
    """Five distinct models of 36 MiB of weights each, uploaded and selected (so each is loaded
    and used): with ``RNNSCOPE_MODEL_CACHE_MB=48`` the server keeps at most one of them."""
    env = server_env(tiny_env, RNNSCOPE_MAX_UPLOAD_MB=str(CAP_MB), RNNSCOPE_MODEL_CACHE_MB="48",
                     MALLOC_MMAP_THRESHOLD_="131072")
    with serve(env, tmp_path / "server.log") as srv:
        client = DashClient(srv.url, timeout_s=300)
        client.initial_callbacks()
        web = psutil.Process(srv.proc.pid)
        rss_before = web.memory_info().rss
        for seed in range(5):
            data = h.pt_bytes(h.payload("gru", embed=1024, hidden=1024, seed=seed,
                                        vocab=[*h.payload()["vocab"], *(f"x{i}" for i in range(3000))]))
            assert len(data) > 35 * MIB
            updates = upload(client, f"m{seed}.pt", data)
            assert alert_of(updates)[0] == "alert success", alert_of(updates)
            shown = client.fire({"model-select.value": updates["model-select.value"]})
            assert "H = 1024" in json.dumps(shown.get("model-card.children"))  # loaded and shown
        grown = (web.memory_info().rss - rss_before) / MIB
    print(f"resident memory of the web process grew by {grown:.0f} MiB")  # 181 MiB before the bound
    assert grown < 48 + 40, f"resident memory grew by {grown:.0f} MiB"


def test_load_tool_compares_a_run_with_hostile_uploads(server, tiny_env):
    """``bench/load.py --hostile-upload`` in short: both tables, every hostile upload answered
    in words, zero errors (no timing asserted)."""
    import io

    from rnnscope.bench.hostile_upload import compare
    from rnnscope.bench.load import run_load

    def run():
        return run_load(server.url, 2, 8.0, think_ms=50, match="(demo)", warmup_timeout_s=600,
                        log=lambda _: None)
    out = io.StringIO()
    assert compare(server.url, run, log=lambda _: None, out=out) == 0, out.getvalue()[-3000:]
    text = out.getvalue()
    assert "baseline: n" in text and "hostile: n" in text and "all requests" in text
    posted = re.search(r"hostile uploads during run 2: (\d+) posted \((\d+) refused in words", text)
    assert posted and int(posted[1]) >= 1 and posted[1] == posted[2], text[-2000:]
