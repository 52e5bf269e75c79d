"""Per-key locks of the artifact store (``rnnscope.workers.store.ArtifactStore.lock``).

- ``file_lock``: an exclusive ``fcntl.flock`` on ``locks/<key>.lock``, released by the
  kernel when its holder dies, so a SIGKILLed worker never blocks anyone;
- ``redis_lock``: when ``REDIS_URL`` is set, also a Redis lock (``SET NX PX``, renewed by a
  thread while held, expiring ``ttl_s`` after its holder stops renewing) for stores on
  network filesystems where ``flock`` is not reliable across machines.

Both poll every 0.1 s (``wait_for``), tell a waiting caller once, and give up with
``LockTimeout`` at a deadline (``time.monotonic`` seconds; None waits for ever).
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


class LockTimeout(TimeoutError):
    """The lock was not free before the deadline (the store says so as ``StoreError``)."""


@contextlib.contextmanager
def file_lock(path: Path, key: str, on_wait: Progress | None,
              deadline: float | None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the file ``path`` (created mode 0600) for ``key``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        wait_for(lambda: _try_flock(fd), on_wait, deadline, key)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def redis_client(url: str):
    """A Redis client for ``url``.

    ``redis`` is imported here, not at the top: it takes ~0.6 s to import on a 2-core
    machine (measured), and only stores with ``REDIS_URL`` set need it.
    """
    import redis  # lazy: 0.12 s to import after the store (0.6 s on a busy machine), see above

    return redis.Redis.from_url(url)


@contextlib.contextmanager
def redis_lock(client, key: str, ttl_s: float, on_wait: Progress | None,
               deadline: float | None) -> Iterator[None]:
    """Hold the Redis lock ``rnnscope:lock:<key>``, renewed every ``ttl_s / 3`` seconds."""
    import redis  # lazy, as in redis_client (already loaded by it)

    lock = client.lock(f"rnnscope:lock:{key}", timeout=ttl_s, sleep=0.1, thread_local=False)
    wait_for(lambda: lock.acquire(blocking=False), on_wait, deadline, key)
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lock, stop, ttl_s / 3),
                               name=f"lock-renew-{key[:8]}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()  # LockError: it expired (we stalled past the TTL)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def wait_for(try_acquire: Callable[[], bool], on_wait: Progress | None,
             deadline: float | None, key: str) -> None:
    """Poll ``try_acquire`` every 0.1 s until it succeeds or ``deadline`` passes."""
    told = False
    while not try_acquire():
        if not told and on_wait is not None:
            on_wait(0.0, "waiting for another worker computing the same job")
        told = True
        if deadline is not None and time.monotonic() > deadline:
            raise LockTimeout(f"timed out waiting for the lock on {key}")
        time.sleep(0.1)


def _renew(lock, stop: threading.Event, every_s: float) -> None:
    """Reset the Redis lock's TTL every ``every_s`` seconds until ``stop`` is set."""
    import redis  # lazy, as in redis_client (already loaded by it)

    while not stop.wait(every_s):
        try:
            lock.reacquire()
        except redis.exceptions.RedisError as exc:  # lost it: the holder carries on, logged
            log.warning("could not renew compute lock %s: %s", lock.name, exc)
