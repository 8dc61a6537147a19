"""The shared connection of a durable store and its single-writer lock.

One :class:`Database` per client: one SQLite connection (WAL mode) shared by the client's
collections and threads under a lock, plus the folder's write lock. The write lock is an
exclusive ``flock`` on ``write.lock`` in the folder, taken by a client at its first write and held
until it closes; a second writing client (in another process, or a second client in this one)
gets :class:`~multivector.errors.StoreLockedError` after ``lock_timeout`` seconds. The kernel
drops the lock when its process dies, so a crash never leaves a stale lock behind. Readers never
take it: WAL lets them read while the writer commits.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from multivector.backends.durable.sqlite_schema import translate_errors
from multivector.errors import ConfigError, StoreLockedError

try:  # POSIX; elsewhere SQLite's own locking (BEGIN IMMEDIATE + busy_timeout) is all there is
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "Database", "WriterLock"]

LOCK_NAME = "write.lock"
_POLL_SECONDS = 0.05
#: Memory-mapped I/O window of a bulk read (SQLite caps it at its compile-time maximum, 2 GB
#: in most builds; pages past the window are read with read() as usual).
_BULK_MMAP_BYTES = 1 << 40


class WriterLock:
    """An exclusive, process-lifetime write lock on ``path`` (``flock``)."""

    def __init__(self, path: Path, *, timeout: float) -> None:
        self._path = path
        self._timeout = timeout
        self._fd: int | None = None
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self, *, wait: bool = True) -> None:
        """Take the lock, waiting up to ``timeout`` seconds (when ``wait``); StoreLockedError
        otherwise.
        """
        with self._mutex:  # its own small lock: waiting here never blocks the client's reads
            self._acquire(wait=wait)

    def _acquire(self, *, wait: bool) -> None:
        if self._fd is not None or fcntl is None:
            return
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + (self._timeout if wait else 0.0)
        retried = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline and not retried and _held_here(fd):
                    # Held by this process: perhaps by a client nobody references any more but
                    # the cyclic garbage collector has not freed yet (its finalizer releases it).
                    retried = True
                    gc.collect()
                    continue
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise StoreLockedError(
                        f"the store {self._path.parent} is being written by another client "
                        f"({holder}); one writer per folder: close that client, open this one "
                        "with read_only=True, or pass lock_timeout=seconds to wait for it"
                    ) from None
                time.sleep(_POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        self._fd = fd
        # A client dropped without close() still releases the lock when it is garbage collected.
        self._finalizer = weakref.finalize(self, os.close, fd)

    def release(self) -> None:
        """Release the lock (closing the file releases the flock)."""
        if self._fd is not None:
            self._finalizer()  # closes the fd once, and never again at collection
            self._fd = None


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already (on SQLITE_FULL, IOERR or
    NOMEM it often has); a failing rollback never hides the error that caused it.
    """
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the original error is the one that matters; the connection is reset anyway


def _held_here(fd: int) -> bool:
    return _read_holder(fd) == f"pid {os.getpid()}"


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:  # pragma: no cover - unreadable lock file
        text = ""
    return text or "unknown process"


class Database:
    """The store file's connection, its thread lock and the folder's write lock."""

    def __init__(
        self, conn: sqlite3.Connection, *, file: Path, writer: WriterLock, read_only: bool
    ) -> None:
        self.conn = conn
        self.file = file
        self.lock = threading.RLock()
        self._writer = writer
        self._read_only = read_only

    @property
    def is_writer(self) -> bool:
        """Whether this client holds the folder's write lock."""
        return self._writer.held

    def ensure_writer(self) -> None:
        """Take the write lock unless held; refuse on a read-only client."""
        if self._read_only:
            raise ConfigError(
                f"this client opened {self.file.parent} with read_only=True; open it without "
                "read_only to write"
            )
        self._writer.acquire()  # not under self.lock: readers go on while a writer waits

    def try_writer(self) -> bool:
        """Take the write lock if it is free right now (never on a read-only client)."""
        if self._read_only:
            return False
        if not self._writer.held:
            try:
                self._writer.acquire(wait=False)
            except StoreLockedError:
                return False
        return True

    def data_version(self) -> int:
        """SQLite's ``data_version``: changes whenever another connection commits."""
        with self.lock, translate_errors(self.file):
            row = self.conn.execute("PRAGMA data_version").fetchone()
            return int(row[0])

    @contextmanager
    def reading(self, *, bulk: bool = False) -> Iterator[sqlite3.Connection]:
        """One consistent read transaction.

        ``bulk=True`` (a whole-collection load) turns SQLite's memory-mapped I/O on for this
        transaction only: blob pages are then copied straight from the mapped file instead of
        through ``read()`` calls, several times faster for a scan of every token matrix. The map
        is read-only (writes never go through it) and is dropped when the transaction ends.
        """
        with self.lock, translate_errors(self.file):
            if bulk:
                self.conn.execute(f"PRAGMA mmap_size = {_BULK_MMAP_BYTES}")  # a constant
            try:
                self.conn.execute("BEGIN")
                try:
                    yield self.conn
                finally:
                    self.conn.execute("COMMIT")
            finally:
                if bulk:
                    self.conn.execute("PRAGMA mmap_size = 0")

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (write lock first); committed and durable when the block ends."""
        self.ensure_writer()
        with self.lock, translate_errors(self.file):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                rollback(self.conn)
                raise
            self.conn.execute("COMMIT")

    def vacuum(self, *, truncate: bool = True) -> None:
        """Give free pages back to the file system and fold the WAL into the file (writer only).

        ``truncate=False`` (background maintenance) checkpoints PASSIVE: it never waits for
        readers in other processes, so it never holds this connection for long.
        """
        self.ensure_writer()
        with self.lock, translate_errors(self.file):
            # executescript steps the pragma to completion (execute frees a single page)
            self.conn.executescript("PRAGMA incremental_vacuum;")
            mode = "TRUNCATE" if truncate else "PASSIVE"
            self.conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()  # a constant

    def close(self) -> None:
        """Close the connection and release the write lock."""
        with self.lock:
            try:
                self.conn.close()
            finally:
                self._writer.release()
