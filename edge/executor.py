"""DaemonThreadExecutor: the event loop's default executor, on daemon threads.

asyncio resolves host names with `getaddrinfo` in its default executor. When the resolver
hangs (no answer from the DNS server), Python's ThreadPoolExecutor joins that thread at
exit, so `edge run` stayed alive for the resolver's whole timeout after it had stopped.
These threads do not hold the process: everything the daemon needs finished is awaited
before it returns, and a lookup nobody waits for any more may die with the process.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

DEFAULT_MAX_WORKERS = 8
SHUTDOWN_WAIT_S = 1.0
"""How long `shutdown(wait=True)` waits for busy threads before giving up on them."""

_Item = tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadExecutor(concurrent.futures.ThreadPoolExecutor):
    """A small thread pool whose threads never delay the process's exit.

    A ThreadPoolExecutor only by type (asyncio's `set_default_executor` insists on one):
    submitting and shutting down are its own, on daemon threads.
    """

    def __init__(self, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        super().__init__(max_workers=max_workers)  # starts no thread; its pool stays unused
        self._most = max_workers
        self._jobs: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._jobs.put((future, fn, args, kwargs))
            if self._idle == 0 and len(self._workers) < self._most:
                name = f"edge-worker-{len(self._workers)}"
                thread = threading.Thread(target=self._work, name=name, daemon=True)
                thread.start()
                self._workers.append(thread)
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            item = self._jobs.get()
            with self._lock:
                self._idle -= 1
            if item is None:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the future
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._workers)
        if cancel_futures:
            while True:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._jobs.put(None)
        if wait:
            deadline = time.monotonic() + SHUTDOWN_WAIT_S
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
