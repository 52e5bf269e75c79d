"""Load test: concurrent simulated users driving a running dashboard over HTTP.

    python bench/load.py --url http://127.0.0.1:8050 [--users 20] [--seconds 60]
                         [--think-ms 250] [--max-requests 200000] [--warmup-timeout 1800]
                         [--mix sentence=5,click=4,switch=1] [--models TEXT] [--seed 0]
                         [--hostile-upload]

Each user is a thread with its own ``requests`` session that behaves like a browser tab:
it loads the page (``/``, ``/_dash-layout``, ``/_dash-dependencies``), fires the callbacks
that run on page load, and then, until ``--seconds`` have passed, repeats one of:

- ``sentence``: types a new sentence and presses Run (the sentence-explorer callback, then
  the token-slider callback it triggers);
- ``click``: clicks a random fixed point of the manifold (the click callback, then the
  selected-point views, ring highlight and word lookup it triggers);
- ``switch``: picks another model in the dropdown (the model-select callback, then every
  view that redraws for the new report).

Requests go to ``/_dash-update-component`` with payloads built from ``/_dash-dependencies``
exactly as the Dash renderer builds them; a callback's outputs are fed to the callbacks
they trigger (a small renderer: :class:`DashClient`). Before timing, every model in the
dropdown is analysed through the dashboard's own background job if its analysis is not
stored yet (bounded by ``--warmup-timeout``).

Only loopback URLs are accepted. The run is bounded by ``--seconds`` and
``--max-requests``. Prints, per action and per callback and overall: requests, errors,
p50/p95/p99 latency in milliseconds, and requests per second; exits 1 if any request
failed. An error is a transport failure, a timeout, or an HTTP status other than 200/204.

``--hostile-upload`` runs twice in the same process: as usual, then while one more client
keeps posting CPU-heavy hostile ``.pt`` uploads (``bench/hostile_upload.py``), and prints
the two tables side by side with the p95 ratio.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import random
import re
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import requests

UPDATE = "/_dash-update-component"
#: p95 target per request for the demo models, milliseconds.
TARGET_P95_MS = 300.0
ACTIONS = ("sentence", "click", "switch")

WORDS_POS = ("good", "great", "wonderful", "moving", "funny", "beautiful", "smart", "best", "fresh",
             "charming", "delightful", "powerful", "touching", "brilliant", "enjoyable")
WORDS_NEG = ("bad", "boring", "dull", "awful", "worst", "stupid", "mess", "flat", "tedious",
             "predictable", "lifeless", "waste", "clumsy", "annoying", "weak")
WORDS_NEUTRAL = ("the", "movie", "film", "story", "a", "is", "was", "and", "but", "not", "very", "plot",
                 "acting", "characters", "it", "this", "director", "script", "ending", "of", "too",
                 "quite", "really", "at", "times", "its", "cast", "performance", "music", "scenes")


def sentence(rng: random.Random) -> str:
    """A random review-like sentence of 4-30 words (new text each time: no cache hit)."""
    n = rng.randint(4, 30)
    words = [rng.choice(WORDS_NEUTRAL) for _ in range(n)]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS_POS if rng.random() < 0.5 else WORDS_NEG))
    return " ".join(words) + rng.choice((".", "!", "", " ..."))


# --------------------------------------------------------------------------- a tiny renderer


class DashError(RuntimeError):
    """A callback request failed (transport error or an HTTP status other than 200/204)."""

    def __init__(self, message: str, status: int | None = None, body: str = ""):
        super().__init__(message)
        self.status, self.body = status, body


@dataclass
class Callback:
    """One entry of ``/_dash-dependencies``.

    ``outputs`` are ``(component id, property)`` with any ``@hash`` suffix kept (Dash
    uses it to tell duplicate outputs apart); ``prop_ids`` drop it.
    """

    output: str
    outputs: list[tuple[str, str]]
    inputs: list[tuple[str, str]]
    state: list[tuple[str, str]]
    clientside: bool
    background: dict | None
    prevent_initial_call: bool
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def multi(self) -> bool:
        return self.output.startswith("..")

    @property
    def output_ids(self) -> list[str]:
        return [f"{cid}.{prop.split('@')[0]}" for cid, prop in self.outputs]

    @property
    def input_ids(self) -> list[str]:
        return [f"{cid}.{prop}" for cid, prop in self.inputs]

    @classmethod
    def from_dependency(cls, dep: Mapping) -> Callback:
        output = dep["output"]
        parts = output[2:-2].split("...") if output.startswith("..") else [output]
        outputs = [tuple(p.rsplit(".", 1)) for p in parts]
        pairs = lambda items: [(d["id"], d["property"]) for d in items or []]  # noqa: E731
        return cls(output=output, outputs=outputs, inputs=pairs(dep.get("inputs")),
                   state=pairs(dep.get("state")), clientside=bool(dep.get("clientside_function")),
                   background=dep.get("background") or None,
                   prevent_initial_call=bool(dep.get("prevent_initial_call")), raw=dict(dep))


@dataclass
class Timing:
    """One request: what it was for, how long it took (ms), HTTP status (None: no answer)."""

    action: str
    callback: str
    ms: float
    status: int | None
    error: str = ""


def walk_layout(node, props: dict[str, dict]) -> None:
    """Collect ``{component id: props}`` from a ``/_dash-layout`` tree (string ids only)."""
    if isinstance(node, list):
        for child in node:
            walk_layout(child, props)
        return
    if not isinstance(node, dict) or "props" not in node:
        return
    p = node["props"]
    if isinstance(p.get("id"), str):
        props[p["id"]] = dict(p)
    for value in p.values():
        if isinstance(value, (dict, list)):
            walk_layout(value, props)


class DashClient:
    """A browser tab reduced to its HTTP traffic.

    Holds the page's component properties (from ``/_dash-layout``, then updated by every
    callback response), builds ``/_dash-update-component`` payloads from
    ``/_dash-dependencies`` as the renderer does (``output``, ``outputs``, ``inputs``,
    ``state``, ``changedPropIds``, and the page's signed ``endId`` in the query), and can
    follow a change through the callbacks it triggers.

    Parameters
    ----------
    url : str
        Base URL of the dashboard, e.g. ``http://127.0.0.1:8050``.
    timeout_s : float
        Per-request timeout in seconds.
    record : callable, optional
        ``record(Timing)`` for every callback request.
    """

    def __init__(self, url: str, *, timeout_s: float = 60.0, record=None,
                 session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.http = session or requests.Session()
        self.timeout_s = timeout_s
        self.record = record
        self.action = "page"
        self.props: dict[str, dict] = {}
        self.callbacks: list[Callback] = []
        self.end_id: str | None = None
        self.load_page()

    # --- page --------------------------------------------------------------------------
    def load_page(self) -> None:
        """GET the page, its layout and dependencies (as the browser does on load)."""
        page = self._get("/")
        match = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', page.text, re.S)
        config = json.loads(match.group(1)) if match else {}
        self.end_id = config.get("end_id")
        layout = self._get("/_dash-layout").json()
        self.props = {}
        walk_layout(layout, self.props)
        self.callbacks = [Callback.from_dependency(d) for d in self._get("/_dash-dependencies").json()]

    def _get(self, path: str) -> requests.Response:
        response = self.http.get(self.url + path, timeout=self.timeout_s)
        if response.status_code != 200:
            raise DashError(f"GET {path}: HTTP {response.status_code}", response.status_code, response.text[:500])
        return response

    def value(self, prop_id: str, default=None):
        """Current value of ``"component.property"`` in this tab."""
        cid, prop = prop_id.rsplit(".", 1)
        return self.props.get(cid, {}).get(prop, default)

    def set(self, prop_id: str, value) -> None:
        cid, prop = prop_id.rsplit(".", 1)
        self.props.setdefault(cid, {})[prop] = value

    def find(self, *, output: str | None = None, input: str | None = None) -> Callback:
        """The server callback with this output (``"id.prop"``) and/or this input."""
        for cb in self.callbacks:
            if cb.clientside:
                continue
            if output is not None and output not in cb.output_ids:
                continue
            if input is not None and input not in cb.input_ids:
                continue
            return cb
        raise KeyError(f"no server callback with output={output!r} input={input!r}")

    # --- requests ------------------------------------------------------------------------
    def payload(self, cb: Callback, changed: Iterable[str] = ()) -> dict:
        """The JSON body the renderer sends for ``cb`` with the tab's current values."""
        def vals(pairs):
            return [{"id": cid, "property": prop, "value": self.value(f"{cid}.{prop}")} for cid, prop in pairs]
        outputs = [{"id": cid, "property": prop} for cid, prop in cb.outputs]
        body = {"output": cb.output, "outputs": outputs if cb.multi else outputs[0],
                "inputs": vals(cb.inputs), "changedPropIds": list(changed)}
        if cb.state:
            body["state"] = vals(cb.state)
        return body

    def post(self, body: dict, *, params: Mapping[str, str] | None = None,
             label: str = "") -> requests.Response:
        """POST a callback body; records its timing; DashError on transport failure."""
        query = {"endId": self.end_id} if self.end_id else {}
        query.update(params or {})
        start = time.perf_counter()
        try:
            response = self.http.post(self.url + UPDATE, json=body, params=query, timeout=self.timeout_s)
        except requests.RequestException as exc:
            self._record(label or body["output"], start, None, f"{type(exc).__name__}: {exc}")
            raise DashError(f"{label or body['output']}: {type(exc).__name__}: {exc}") from None
        ok = response.status_code in (200, 204)
        self._record(label or body["output"], start, response.status_code,
                     "" if ok else f"HTTP {response.status_code}: {response.text[:200]}")
        return response

    def _record(self, label: str, start: float, status: int | None, error: str) -> None:
        if self.record is not None:
            self.record(Timing(self.action, label, 1000 * (time.perf_counter() - start), status, error))

    def call(self, cb: Callback, changed: Iterable[str] = (), *, label: str = "") -> dict[str, Any]:
        """Run one server callback; apply and return its updates ``{"id.prop": value}``.

        An HTTP 204 (every output ``no_update``/``PreventUpdate``) returns ``{}``.
        """
        response = self.post(self.payload(cb, changed), label=label or short_name(cb))
        return self._apply(cb, response)

    def _apply(self, cb: Callback, response: requests.Response) -> dict[str, Any]:
        if response.status_code == 204:
            return {}
        if response.status_code != 200:
            raise DashError(f"{short_name(cb)}: HTTP {response.status_code}", response.status_code,
                            response.text[:2000])
        data = response.json()
        body = data.get("response", {})
        if not data.get("multi", False) and "props" in body:  # single-output form
            cid = cb.outputs[0][0]
            body = {cid: body["props"]}
        updates = {}
        for cid, values in body.items():
            for prop, value in values.items():
                prop_id = f"{cid}.{prop}"
                if isinstance(value, dict) and "__dash_patch_update" in value:
                    updates[prop_id] = value  # a Patch: not applied to the local copy
                    continue
                self.set(prop_id, value)
                updates[prop_id] = value
        for cid, values in (data.get("sideUpdate") or {}).items():
            for prop, value in values.items():
                self.set(f"{cid}.{prop}", value)
        return updates

    def fire(self, changes: Mapping[str, Any], *, follow: bool = True, max_waves: int = 6,
             background: bool = False) -> dict[str, Any]:
        """Set ``changes`` (``{"id.prop": value}``) as a user would and run what they trigger.

        Each wave runs every server callback with an input among the props changed by the
        previous wave (once per callback, as the renderer batches them). Background
        callbacks are skipped unless ``background`` is True (then run to completion).
        Returns every update seen.
        """
        for prop_id, value in changes.items():
            self.set(prop_id, value)
        current, seen = set(changes), {}
        for _ in range(max_waves if follow else 1):
            wave = [cb for cb in self.callbacks
                    if not cb.clientside and current.intersection(cb.input_ids)
                    and (background or not cb.background)]
            following: set[str] = set()
            for cb in wave:
                trigger = sorted(current.intersection(cb.input_ids))
                updates = (self.run_background(cb, trigger, follow=False) if cb.background else self.call(cb, trigger))
                seen.update(updates)
                following.update(k for k, v in updates.items() if not is_patch(v))
            current = following
            if not current:
                break
        return seen

    def initial_callbacks(self, *, max_waves: int = 6) -> dict[str, Any]:
        """Fire what the renderer runs on page load: callbacks without ``prevent_initial_call``."""
        seen: dict[str, Any] = {}
        first = [cb for cb in self.callbacks
                 if not cb.clientside and not cb.prevent_initial_call and not cb.background]
        changed: set[str] = set()
        for cb in first:
            updates = self.call(cb, [])
            seen.update(updates)
            changed.update(k for k, v in updates.items() if not is_patch(v))
        if changed:
            seen.update(self.fire({k: self.value(k) for k in changed}, max_waves=max_waves - 1))
        return seen

    def run_background(self, cb: Callback, changed: Iterable[str] = (), *, timeout_s: float = 1800.0,
                       on_progress=None, follow: bool = True) -> dict[str, Any]:
        """Run a background callback as the renderer does: start it, then poll until done.

        The first POST returns signed ``cacheKey``/``job`` handles; the renderer then re-POSTs
        the same body (inputs nulled) with them every ``interval`` ms until the response
        carries the result. With ``follow`` the callbacks its outputs trigger run too, as
        ``fire`` runs them. Returns every update seen (``{}`` if it ended with no update).
        """
        updates = self._poll_background(cb, changed, timeout_s=timeout_s, on_progress=on_progress)
        changed_now = {k: v for k, v in updates.items() if not is_patch(v)}
        if follow and changed_now:
            updates = {**updates, **self.fire(changed_now)}
        return updates

    def _poll_background(self, cb: Callback, changed: Iterable[str], *, timeout_s: float,
                         on_progress) -> dict[str, Any]:
        body = self.payload(cb, changed)
        first = self.post(body, label=short_name(cb) + " (start)")
        if first.status_code != 200:
            raise DashError(f"{short_name(cb)} start: HTTP {first.status_code}", first.status_code,
                            first.text[:2000])
        handles = first.json()
        if "response" in handles:  # answered at once (cached)
            return self._apply(cb, first)
        params = {"cacheKey": handles["cacheKey"], "job": handles["job"]}
        poll = json.loads(json.dumps(body))
        for item in poll["inputs"] + poll.get("state", []):
            item["value"] = None
        interval = float((cb.background or {}).get("interval", 1000)) / 1000
        deadline = time.monotonic() + timeout_s
        while True:
            time.sleep(interval)
            response = self.post(poll, params=params, label=short_name(cb) + " (poll)")
            if response.status_code == 200:
                data = response.json()
                if "response" in data:
                    return self._apply(cb, response)
                if on_progress is not None and data.get("progress"):
                    on_progress(data["progress"])
            else:
                return self._apply(cb, response)
            if time.monotonic() > deadline:
                raise DashError(f"{short_name(cb)}: background job not done after {timeout_s:.0f} s")


def is_patch(value) -> bool:
    return isinstance(value, dict) and "__dash_patch_update" in value


def short_name(cb: Callback) -> str:
    """A readable callback name: its first output and trigger, e.g. ``report-store<-model-select``."""
    out = cb.output_ids[0].split(".")[0]
    trigger = cb.inputs[0][0] if cb.inputs else "?"
    return f"{out}<-{trigger}"


# --------------------------------------------------------------------------- the simulated user


@dataclass
class Model:
    """A dropdown entry with its analysis on screen: sha, label, fixed-point count."""

    sha: str
    label: str
    n_points: int


def fixed_point_count(client: DashClient) -> int:
    """Number of clickable fixed points in the manifold figure on screen (0 if none)."""
    figure = client.value("fig-manifold.figure") or {}
    counts = [len(t.get("customdata") or []) for t in figure.get("data", [])
              if isinstance(t.get("customdata"), list) and t.get("name") != "selected"]
    return max(counts, default=0)


def prepare_models(url: str, timeout_s: float, log=print, match: str = "") -> list[Model]:
    """Select each model in the dropdown once (those whose label contains one of the
    comma-separated ``match`` strings, if given); analyse it through the dashboard if needed."""
    client = DashClient(url, timeout_s=max(timeout_s, 120))
    client.initial_callbacks()
    models = []
    for option in client.value("model-select.options") or []:
        sha, label = option["value"], str(option["label"])
        if match and not any(m.strip() in label for m in match.split(",")):
            continue
        updates = client.fire({"model-select.value": sha})
        request = updates.get("job-request-store.data")
        if isinstance(request, dict) and request.get("sha") == sha:
            log(f"  analysing {label} through the dashboard's background job ...")
            start = time.monotonic()
            job = client.find(input="job-request-store.data")
            shown = {"at": 0.0}

            def progress(values, label=label):  # the stage line, at most every 30 s
                if time.monotonic() - shown["at"] > 30:
                    shown["at"] = time.monotonic()
                    log(f"    {label}: {' '.join(str(v) for v in values.values())}")
            result = client.run_background(job, ["job-request-store.data"], timeout_s=timeout_s,
                                           on_progress=progress)
            if not isinstance(result.get("report-store.data"), dict):
                log(f"  {label}: analysis failed, left out of the run: "
                    f"{json.dumps(result.get('job-alert.children'))[:500]}")
                continue
            log(f"  {label}: analysed in {time.monotonic() - start:.0f} s")
        n = fixed_point_count(client)
        models.append(Model(sha, label, n))
        log(f"  {label}: {n} fixed points")
    if not models:
        raise DashError(f"the dashboard lists no models{f' matching {match!r}' if match else ''}")
    return models


class User(threading.Thread):
    """One simulated user: page load, then actions until ``deadline`` or the request budget."""

    def __init__(self, index: int, url: str, models: list[Model], deadline: float, budget: Budget,
                 mix: Mapping[str, float], think_ms: float, seed: int, timeout_s: float, sink: list):
        super().__init__(name=f"user-{index}", daemon=True)
        self.url, self.models, self.deadline, self.budget = url, models, deadline, budget
        self.mix, self.think_ms, self.timeout_s, self.sink = mix, think_ms, timeout_s, sink
        self.rng = random.Random(seed * 1000 + index)
        self.timings: list[Timing] = []
        self.failures: list[str] = []

    def record(self, timing: Timing) -> None:
        self.timings.append(timing)
        self.budget.take()

    def run(self) -> None:
        try:
            client = DashClient(self.url, timeout_s=self.timeout_s, record=self.record)
            client.initial_callbacks()
        except (DashError, requests.RequestException, ValueError) as exc:
            self.failures.append(f"page load: {exc}")
            self.sink.extend(self.timings)
            return
        clicks = 0
        names, weights = zip(*self.mix.items())
        while time.monotonic() < self.deadline and not self.budget.spent():
            action = self.rng.choices(names, weights)[0]
            client.action = action
            try:
                if action == "sentence":
                    clicks += 1
                    client.set("sentence-input.value", sentence(self.rng))
                    client.fire({"sentence-run.n_clicks": clicks})
                elif action == "click":
                    model = next((m for m in self.models if m.sha == client.value("model-select.value")), None)
                    n_points = model.n_points if model is not None else 0
                    index = self.rng.randrange(n_points) if n_points else 0  # no points: a no-op click
                    client.fire({"fig-manifold.clickData": {"points": [{"customdata": index}]}})
                else:
                    choices = [m for m in self.models if m.sha != client.value("model-select.value")]
                    target = self.rng.choice(choices or self.models)
                    client.fire({"model-select.value": target.sha})
            except (DashError, requests.RequestException, ValueError) as exc:
                self.failures.append(f"{action}: {exc}")
            if self.think_ms > 0:
                time.sleep(self.rng.uniform(0, 2 * self.think_ms) / 1000)
        self.sink.extend(self.timings)


class Budget:
    """A shared request counter: at most ``limit`` requests in the whole run."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            self.used += 1

    def spent(self) -> bool:
        return self.used >= self.limit


# --------------------------------------------------------------------------- report


def percentiles(ms: list[float]) -> tuple[float, float, float]:
    if not ms:
        return (float("nan"),) * 3
    p50, p95, p99 = np.percentile(np.asarray(ms), [50, 95, 99])
    return float(p50), float(p95), float(p99)


def summarize(timings: list[Timing], seconds: float) -> list[tuple]:
    """Rows ``(group, name, requests, errors, p50, p95, p99, req/s)``: per action, per callback, all."""
    groups: dict[tuple[str, str], list[Timing]] = defaultdict(list)
    for t in timings:
        groups[("action", t.action)].append(t)
        groups[("callback", t.callback)].append(t)
        groups[("all", "all requests")].append(t)
    rows = []
    order = {"action": 0, "callback": 1, "all": 2}
    for (kind, name), items in sorted(groups.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        errors = sum(1 for t in items if t.error)
        p50, p95, p99 = percentiles([t.ms for t in items])
        rows.append((kind, name, len(items), errors, p50, p95, p99, len(items) / max(seconds, 1e-9)))
    return rows


def print_table(rows: list[tuple], out=sys.stdout) -> None:
    print(f"{'':<9} {'name':<44} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'req/s':>7} {'p95/target':>10}", file=out)
    for kind, name, n, errors, p50, p95, p99, rate in rows:
        print(f"{kind:<9} {name[:44]:<44} {n:>9} {errors:>7} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} "
              f"{rate:>7.1f} {p95 / TARGET_P95_MS:>10.2f}", file=out)


def check_loopback(url: str) -> str:
    """``url`` if its host is a loopback address; ValueError otherwise."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"refusing to load-test {url!r}: only loopback URLs (127.0.0.1, ::1, localhost)")
    return url


def parse_mix(text: str) -> dict[str, float]:
    """``"sentence=5,click=4,switch=1"`` -> weights; ValueError for unknown actions."""
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in ACTIONS:
            raise ValueError(f"unknown action {name!r} in --mix; actions: {', '.join(ACTIONS)}")
        mix[name] = float(weight or 1)
        if mix[name] < 0:
            raise ValueError(f"--mix weight of {name} must be >= 0")
    if not any(mix.values()):
        raise ValueError("--mix needs a positive weight")
    return mix


def run_load(url: str, users: int, seconds: float, *, think_ms: float = 250.0, mix: Mapping[str, float] | None = None,
             max_requests: int = 200_000, seed: int = 0, timeout_s: float = 30.0,
             warmup_timeout_s: float = 1800.0, match: str = "",
             log=print) -> tuple[list[Timing], list[str], float, list[Model]]:
    """Prepare the models, run ``users`` threads for ``seconds``; -> (timings, failures, wall s, models)."""
    check_loopback(url)
    models = prepare_models(url, warmup_timeout_s, log=log, match=match)
    budget = Budget(max_requests)
    sink: list[Timing] = []
    start = time.monotonic()
    deadline = start + seconds
    threads = [User(i, url, models, deadline, budget, mix or {"sentence": 5, "click": 4, "switch": 1},
                    think_ms, seed, timeout_s, sink) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 10 * timeout_s)
    wall = time.monotonic() - start
    failures = [f"{t.name}: {f}" for t in threads for f in t.failures]
    return sink, failures, wall, models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8050", help="dashboard base URL (loopback only)")
    parser.add_argument("--users", type=int, default=20, help="concurrent simulated users (default 20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the timed run (default 60)")
    parser.add_argument("--think-ms", type=float, default=250.0,
                        help="mean pause between a user's actions, ms (uniform 0..2x; default 250)")
    parser.add_argument("--mix", default="sentence=5,click=4,switch=1", help="action weights")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    parser.add_argument("--warmup-timeout", type=float, default=1800.0,
                        help="longest wait for a model's analysis before timing, seconds")
    parser.add_argument("--models", default="", metavar="TEXT",
                        help="only models whose dropdown label contains TEXT (comma-separated: any of)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hostile-upload", action="store_true",
                        help="run twice: as usual, then while one more client keeps posting CPU-heavy "
                             "hostile .pt uploads; print both tables side by side")
    args = parser.parse_args(argv)
    try:
        check_loopback(args.url)
        mix = parse_mix(args.mix)
        if not 1 <= args.users <= 1000 or not 0 < args.seconds <= 3600 or args.max_requests < 1:
            raise ValueError("--users must be 1..1000, --seconds 0..3600, --max-requests >= 1")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"preparing models on {args.url} ...")

    def run():
        return run_load(args.url, args.users, args.seconds, think_ms=args.think_ms, mix=mix,
                        max_requests=args.max_requests, seed=args.seed, timeout_s=args.timeout,
                        warmup_timeout_s=args.warmup_timeout, match=args.models, log=log)
    try:
        if args.hostile_upload:
            print(f"{args.users} users, {args.seconds:.0f} s per run, think {args.think_ms:.0f} ms, mix {args.mix}")
            return hostile_upload_module().compare(args.url, run, log=log)
        timings, failures, wall, models = run()
    except (DashError, requests.RequestException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.users} users, {wall:.1f} s, think {args.think_ms:.0f} ms, mix {args.mix}, "
          f"models: {', '.join(f'{m.label} (K={m.n_points})' for m in models)}")
    print_table(summarize(timings, wall))
    errors = sum(1 for t in timings if t.error)
    print(f"\ntarget: zero errors, p95 < {TARGET_P95_MS:.0f} ms per request; "
          f"errors {errors}, action failures {len(failures)}")
    for line in failures[:10]:
        print(f"  {line[:300]}")
    return 1 if errors or failures else 0


def hostile_upload_module():
    """``rnnscope.bench.hostile_upload`` (imports torch and ``analysis``: only for ``--hostile-upload``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a source tree
    # lazy: hostile_upload imports torch (+3 s measured, which a plain load run never needs) and
    # imports this module (a cycle if both imported each other at the top)
    from rnnscope.bench import hostile_upload

    return hostile_upload


if __name__ == "__main__":
    sys.exit(main())
