"""Maintenance off the caller's path: one background thread per collection, started on demand.

A write that leaves many dead slots asks for a compaction instead of running it: the caller's
write returns as soon as it is committed and applied, and the worker then takes the collection
lock, compacts in memory and gives the storage's pages back (SQLite's incremental vacuum and WAL
checkpoint) without a caller waiting. A task asked for again while pending runs once. A failed
task is logged, never raised into an unrelated call: maintenance only reclaims space.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Maintenance"]

logger = logging.getLogger("multivector.maintenance")


class Maintenance:
    """A lazily started worker thread running deduplicated tasks in order."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._cond = threading.Condition()
        self._pending: dict[str, Callable[[], None]] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._busy = False

    def request(self, key: str, task: Callable[[], None]) -> None:
        """Run ``task`` soon in the background (once, however often it is asked for meanwhile)."""
        with self._cond:
            if self._stopping:
                return
            self._pending[key] = task
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"multivector-maintenance-{self._name}", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                key, task = next(iter(self._pending.items()))
                del self._pending[key]
                self._busy = True
            try:
                task()
            except Exception:  # logged: maintenance must never fail an unrelated caller
                logger.warning("maintenance task %r of %s failed", key, self._name, exc_info=True)
            finally:
                # Drop the task (a bound method of the collection) before waiting: the worker
                # must not keep an unreferenced client, and so its write lock, alive.
                del task
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def wait_idle(self) -> None:
        """Block until no task is pending or running (tests, close)."""
        with self._cond:
            while self._pending or self._busy:
                self._cond.wait()

    def stop(self, *, run_pending: bool) -> None:
        """Stop the worker; with ``run_pending`` the queued tasks run first."""
        with self._cond:
            if not run_pending:
                self._pending.clear()
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
