"""CPU-heavy hostile ``.pt`` uploads, and a client that keeps posting them during a load run.

The files (all generated, nothing hostile is stored in the repository):

- :func:`padded_pickle`: a valid rnnscope/1 ``.pt`` of a tiny network whose metrics hold
  ``n`` ``None`` values: ``n`` one-byte pickle operations. Before the bounds on ``data.pkl``
  (``rnnscope.analysis.pt_format.PKL_*``) a 40 MB one took 25.8 s of the web process's CPU and
  was stored; now its size alone refuses it.
- :func:`padded_beside_spare_tensor`: the same padding (1M operations), next to a spare
  1 MiB tensor entry that raises the token allowance to its cap, so it passes the checks
  made before parsing: the costliest file the bounds let through to the parser (about a
  second of CPU in the reading process), refused after the parse because its vocabulary
  is 30 words.
- :func:`big_vocabulary`: a real ``torch.save`` of a valid model with the largest
  vocabulary (500,000 words) and the smallest embedding (E = 1, float16): the most pickle
  work per stored byte a genuine checkpoint has (2 operations per word).

:class:`HostileUploader` posts files through the dashboard's upload callback as the page
does, one after the other, until stopped, and counts the answers.
"""
from __future__ import annotations

import base64
import io
import json
import sys
import threading
import time
import zipfile

import torch

from rnnscope.analysis.model import RNNClassifier
from rnnscope.analysis.tokenizer import PAD, UNK, Tokenizer
from rnnscope.bench.load import UPDATE, DashClient, summarize

WORDS = ["the", "movie", "was", "good", "bad", "not", "great", "awful", "!", ".", "a", "plot", "acting",
         "i", "loved", "hated", "it", "boring", "fun", "and", "but", "very", "this", "film", "so", "script",
         "truly", "ever"]


def payload(arch: str = "gru", vocab: list[str] | None = None, embed: int = 6, hidden: int = 5,
            dtype: torch.dtype = torch.float32, seed: int = 0) -> dict:
    """The dict ``rnnscope.analysis.checkpoint.save`` writes to a ``.pt``, for a random network."""
    vocab = vocab or [PAD, UNK, *WORDS]
    torch.manual_seed(seed)
    net = RNNClassifier(arch, len(vocab), embed, hidden, 1)
    config = {"format": "rnnscope/1", **net.shape_config(), "tokenizer": Tokenizer().to_config(),
              "metrics": {"test_accuracy": 0.5}, "provenance": {"dataset": "none", "seed": seed}}
    return {"format": "rnnscope/1", "config": config, "vocab": list(vocab),
            "state_dict": {k: v.detach().to(dtype).clone() for k, v in net.state_dict().items()}}


def pt_bytes(obj) -> bytes:
    """``torch.save(obj)`` as bytes."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def padded_pickle(n_ops: int = 40 * 2**20) -> bytes:
    """A valid tiny ``.pt`` whose ``data.pkl`` carries ``n_ops`` one-byte operations (~n_ops bytes)."""
    obj = payload()
    obj["config"]["metrics"]["padding"] = [None] * n_ops
    return pt_bytes(obj)


def with_entry(data: bytes, name: str, body: bytes) -> bytes:
    """A copy of the zip ``data`` with one more stored entry ``<archive dir>/name``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        prefix = src.infolist()[0].filename.split("/")[0]
        dst.writestr(f"{prefix}/{name}", body)
    return out.getvalue()


def padded_beside_spare_tensor(n_ops: int = 1_000_000) -> bytes:
    """:func:`padded_pickle` of ``n_ops`` plus an unreferenced 1 MiB tensor entry ``data/999``."""
    return with_entry(padded_pickle(n_ops), "data/999", b"\0" * 2**20)


def big_vocabulary(words: int = 500_000, hidden: int = 8, arch: str = "gru") -> bytes:
    """A valid ``.pt``: ``words`` vocabulary entries, E = 1, float16 weights."""
    vocab = [PAD, UNK, *(f"w{i}" for i in range(words - 2))]
    return pt_bytes(payload(arch, vocab, embed=1, hidden=hidden, dtype=torch.float16))


def data_url(data: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


class HostileUploader(threading.Thread):
    """Posts ``files`` (``[(filename, bytes)]``) in turn through the upload callback until stopped.

    Each request body is JSON-encoded once, before the first post (a 53 MB string encoded per
    post would hold the load generator's interpreter lock and slow its simulated users).
    ``answers`` counts the alerts by kind (``"refused"``, ``"uploaded"``, ``"error"`` for an
    HTTP failure); ``seconds`` holds each post's round trip.
    """

    def __init__(self, url: str, files: list[tuple[str, bytes]], timeout_s: float = 300.0):
        super().__init__(daemon=True, name="hostile-uploader")
        self.url, self.files, self.timeout_s = url, files, timeout_s
        self.stop = threading.Event()
        self.answers: dict[str, int] = {"refused": 0, "uploaded": 0, "error": 0}
        self.seconds: list[float] = []
        self.messages: list[str] = []

    def run(self) -> None:
        client = DashClient(self.url, timeout_s=self.timeout_s)
        callback = client.find(input="upload-payload.data")
        bodies = []
        for name, data in self.files:
            client.set("upload-payload.data", {"contents": data_url(data), "filename": name})
            bodies.append((name, json.dumps(client.payload(callback, ["upload-payload.data"])).encode()))
        headers = {"Content-Type": "application/json"}
        params = {"endId": client.end_id} if client.end_id else {}
        i = 0
        while not self.stop.is_set():
            name, body = bodies[i % len(bodies)]
            i += 1
            start = time.perf_counter()
            try:
                response = client.http.post(self.url + UPDATE, data=body, params=params, headers=headers,
                                            timeout=self.timeout_s)
                text = response.text
                kind = ("error" if response.status_code != 200 else
                        "refused" if "Upload refused" in text else "uploaded")
                if len(self.messages) < 4 and kind != "uploaded":
                    said = text[text.find("Upload refused"):] if kind == "refused" else text
                    self.messages.append(f"{name}: HTTP {response.status_code}: {said[:240]}")
            except OSError as exc:  # requests' errors are OSErrors
                kind = "error"
                self.messages.append(f"{name}: {exc}")
            self.seconds.append(time.perf_counter() - start)
            self.answers[kind] += 1


# --------------------------------------------------------------------------- the comparison

#: p95 of all requests in the README's load table (``rnnscope serve``, 20 users, 60 s, 2026-11-29).
README_P95_MS = 201.0


def hostile_files() -> list[tuple[str, bytes]]:
    """What the uploader posts in turn: the issue's 40 MB padded pickle (refused by its size,
    after the web process has received and decoded 53 MB of request) and the padded file
    beside a spare tensor (parsed, about a second of CPU, in the reading process)."""
    return [("padded-40MB.pt", padded_pickle(40 * 2**20)), ("spare-tensor.pt", padded_beside_spare_tensor())]


def compare(url: str, run, *, log=print, out=None) -> int:
    """``run()`` (a ``rnnscope.bench.load.run_load`` call) once as usual, then once while a
    :class:`HostileUploader` posts :func:`hostile_files`; prints both tables side by side.

    Returns 1 if any request of either run failed or an upload got no answer, else 0.
    """
    out = out or sys.stdout
    files = hostile_files()
    log(f"hostile files: {', '.join(f'{n} ({len(d) / 2**20:.1f} MiB)' for n, d in files)}")
    log("run 1 of 2: baseline ...")
    base_timings, base_failures, base_wall, models = run()
    log("run 2 of 2: with an extra client posting the hostile files ...")
    uploader = HostileUploader(url, files)
    uploader.start()
    try:
        timings, failures, wall, _ = run()
    finally:
        uploader.stop.set()
        uploader.join(600)
    print(f"models: {', '.join(f'{m.label} (K={m.n_points})' for m in models)}", file=out)
    print_comparison(summarize(base_timings, base_wall), summarize(timings, wall), out)
    seconds = sorted(uploader.seconds) or [float("nan")]
    print(f"\nhostile uploads during run 2: {sum(uploader.answers.values())} posted "
          f"({uploader.answers['refused']} refused in words, {uploader.answers['uploaded']} accepted, "
          f"{uploader.answers['error']} without an answer); round trip median "
          f"{seconds[len(seconds) // 2]:.1f} s, max {seconds[-1]:.1f} s", file=out)
    for line in uploader.messages[:4]:
        print(f"  {line[:240]}", file=out)
    errors = [sum(1 for t in ts if t.error) for ts in (base_timings, timings)]
    p95 = summarize(timings, wall)[-1][5]
    print(f"\nall requests p95 with hostile uploads: {p95:.0f} ms = {p95 / README_P95_MS:.2f}x the README's "
          f"{README_P95_MS:.0f} ms (target <= 2x), errors {errors[1]} (target 0); baseline run: errors "
          f"{errors[0]}; action failures {len(base_failures)} / {len(failures)}", file=out)
    for line in (base_failures + failures)[:10]:
        print(f"  {line[:300]}", file=out)
    return 1 if any(errors) or base_failures or failures or uploader.answers["error"] else 0


def print_comparison(base: list[tuple], hostile: list[tuple], out) -> None:
    """``rnnscope.bench.load.summarize`` rows of two runs, side by side, with the p95 ratio."""
    rows = {(r[0], r[1]): r for r in base}
    other = {(r[0], r[1]): r for r in hostile}
    order = {"action": 0, "callback": 1, "all": 2}
    print(f"{'':<9} {'name':<40} {'baseline: n':>11} {'err':>4} {'p50':>6} {'p95':>6} {'p99':>6}   "
          f"{'hostile: n':>11} {'err':>4} {'p50':>6} {'p95':>6} {'p99':>6} {'p95 x':>6}", file=out)
    for key in sorted(rows.keys() | other.keys(), key=lambda k: (order[k[0]], k[1])):
        a, b = rows.get(key), other.get(key)
        cells = []
        for r in (a, b):
            cells.append(f"{r[2]:>11} {r[3]:>4} {r[4]:>6.0f} {r[5]:>6.0f} {r[6]:>6.0f}" if r
                         else f"{'-':>11}" + " " * 27)
        ratio = f"{b[5] / a[5]:>6.2f}" if a and b and a[5] > 0 else f"{'-':>6}"
        print(f"{key[0]:<9} {key[1][:40]:<40} {cells[0]}   {cells[1]} {ratio}", file=out)
