"""The reading process for untrusted ``.pt`` files (``rnnscope.workers.checkpoint_reader``): real child
processes, real files; the same models and messages as reading in process (issue 11 item 3)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
import torch

from rnnscope.analysis.checkpoint import CheckpointError, load_bytes
from rnnscope.bench import hostile_upload as h
from tests.security import hostile
from rnnscope.workers.checkpoint_reader import NICE, CheckpointReader

MB = 2**20


@pytest.fixture
def reader():
    r = CheckpointReader(30.0)
    yield r
    r.close()


def same_model(a, b) -> bool:
    return (a.config() == b.config() and a.vocab.tokens == b.vocab.tokens and a.sha256 == b.sha256
            and all(ka == kb and torch.equal(va, vb) for (ka, va), (kb, vb)
                    in zip(a.net.state_dict().items(), b.net.state_dict().items())))


def test_pt_is_read_in_the_child_and_gives_the_same_model(reader):
    data = h.pt_bytes(h.payload("lstm", dtype=torch.bfloat16))
    model = reader.load_bytes(data, "m.pt", max_bytes=64 * MB)
    assert reader.reads == 1 and reader.pid is not None and reader.pid != os.getpid()
    assert same_model(model, load_bytes(data, "m.pt"))


def test_safetensors_is_read_here_without_a_child(reader):
    data = hostile.valid_safetensors()
    model = reader.load_bytes(data, "m.safetensors", max_bytes=64 * MB)
    assert reader.reads == 0 and reader.pid is None
    assert same_model(model, load_bytes(data, "m.safetensors"))


def test_stored_file_is_read_through_the_child(reader, tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(hostile.valid_pt(seed=3))
    assert same_model(reader.load(path, max_bytes=64 * MB), load_bytes(path.read_bytes()))
    assert reader.reads == 1


def test_hostile_files_get_the_in_process_message(reader, tmp_path):
    """Every hostile ``.pt`` of the HTTP corpus: the child's message is the loader's own."""
    sentinel = tmp_path / "SENTINEL"
    cases = [c for c in hostile.cases(sentinel) if c.data[:4] == b"PK\x03\x04"]
    assert len(cases) >= 12
    for case in cases:
        with pytest.raises(CheckpointError) as here:
            load_bytes(case.data, case.filename, max_bytes=64 * MB)
        with pytest.raises(CheckpointError) as there:
            reader.load_bytes(case.data, case.filename, max_bytes=64 * MB)
        assert str(there.value) == str(here.value), case.name
        assert case.fragment in str(there.value), case.name
    assert not sentinel.exists()


def test_read_over_its_cpu_limit_is_stopped_and_the_next_read_works(tmp_path):
    """The largest real vocabulary (about 3 s of CPU to read here) under a 0.3 s limit."""
    reader = CheckpointReader(0.3)
    try:
        reader.load_bytes(hostile.valid_pt(), "warm.pt", max_bytes=64 * MB)  # the child is up
        first = reader.pid
        with pytest.raises(CheckpointError, match=r"took more than the 0\.3 seconds of CPU time"):
            reader.load_bytes(h.big_vocabulary(), "vocab.pt", max_bytes=64 * MB)
        assert not psutil.pid_exists(first) or psutil.Process(first).status() == psutil.STATUS_ZOMBIE
        model = reader.load_bytes(hostile.valid_pt(seed=5), "after.pt", max_bytes=64 * MB)
        assert model.vocab.tokens[:2] == ["<pad>", "<unk>"] and reader.pid not in (None, first)
    finally:
        reader.close()


def test_child_holds_no_socket_no_secret_and_runs_at_low_priority(monkeypatch):
    monkeypatch.setenv("RNNSCOPE_SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    os.set_inheritable(listener.fileno(), True)  # even an inheritable socket stays here
    reader = CheckpointReader(30.0)
    try:
        reader.load_bytes(hostile.valid_pt(), "m.pt", max_bytes=64 * MB)
        child = psutil.Process(reader.pid)
        assert child.ppid() == os.getpid()
        assert child.net_connections(kind="all") == []
        assert child.nice() == min(19, psutil.Process().nice() + NICE)  # NICE steps below its server
        environ = Path(f"/proc/{child.pid}/environ").read_bytes().split(b"\0")
        assert not [e for e in environ if e.startswith((b"RNNSCOPE_SECRET_KEY=", b"REDIS_URL="))]
        fds = Path(f"/proc/{child.pid}/fd")
        assert not [os.readlink(fd) for fd in fds.iterdir() if os.readlink(fd).startswith("socket:")]
    finally:
        reader.close()
        listener.close()


def test_child_exits_when_its_server_is_killed(tmp_path):
    """SIGKILL of the process that started it (as an OOM kill): the child goes too."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from tests.security import hostile
        from rnnscope.workers.checkpoint_reader import CheckpointReader
        r = CheckpointReader(30.0)
        r.load_bytes(hostile.valid_pt(), "m.pt", max_bytes=2**26)
        print(r.pid, flush=True)
        time.sleep(600)
    """)
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child = psutil.Process(int(server.stdout.readline()))
        server.kill()
        server.wait(30)
        child.wait(60)  # a safety net: it exits at the end of its input
    finally:
        if server.poll() is None:
            server.kill()
    assert not psutil.pid_exists(child.pid) or child.status() == psutil.STATUS_ZOMBIE


def test_forked_process_starts_its_own_child(reader):
    """After a fork (an embedded job, a gunicorn worker) the parent's reading process is not used."""
    reader.load_bytes(hostile.valid_pt(), "m.pt", max_bytes=64 * MB)
    parent_child = reader.pid
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked process: read once, report the reading process it used
        try:
            reader.load_bytes(hostile.valid_pt(seed=2), "m.pt", max_bytes=64 * MB)
            os.write(write, str(reader.pid).encode())
            reader.close()
        finally:
            os._exit(0)
    os.close(write)
    used = int(os.read(read, 100) or b"0")
    os.waitpid(pid, 0)
    assert used not in (0, parent_child)
    assert reader.pid == parent_child  # and ours still answers
    reader.load_bytes(hostile.valid_pt(seed=4), "m.pt", max_bytes=64 * MB)
    assert reader.pid == parent_child
