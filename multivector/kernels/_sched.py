"""Spread a nogil kernel over a small pool of our own threads, with dynamic work claiming.

Why not numba's ``prange``: its loop is split statically, one equal share per thread, so a thread
that loses its core for a while (OpenBLAS's workers keep spinning for about 0.1 s after every BLAS
call, other processes run on a shared machine) holds up the whole call, and the parallel region's
OpenMP threads spin afterwards, in the way of the next BLAS call. Here a kernel claims work units
from a shared counter (:func:`claim`, an atomic fetch-and-add) until none are left: the caller's
thread and ``threads - 1`` pool threads run the same kernel on the same counter, so a slowed
thread simply claims fewer units, and idle pool threads sleep on a queue (never spin).

The caller always works too and helpers that start late find nothing left, so a call never waits
on a pool that is busy with another call: concurrent searches from several threads are safe.
Results do not depend on who scored which unit (each unit's arithmetic is fixed).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic, overload

__all__ = ["claim", "new_counter", "run_claimed"]

_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_PID = 0  # a forked child has the pool object but not its threads: it builds its own


def new_counter() -> np.ndarray:
    """A fresh work counter (int64 ``[1]``, starting at unit 0) for one kernel call."""
    return np.zeros(1, dtype=np.int64)


def claim(counter: np.ndarray) -> int:
    """Atomically return ``counter[0]`` and add one to it: the next unclaimed work unit."""
    with _LOCK:  # interpreted (NUMBA_DISABLE_JIT=1); compiled, an LLVM atomicrmw add
        unit = int(counter[0])
        counter[0] = unit + 1
    return unit


@intrinsic
def _fetch_add(typingctx: Any, counter: Any) -> Any:
    """``atomicrmw add i64* &counter[0], 1 monotonic``: returns the previous value."""
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(  # type: ignore[no-untyped-call]
            context, builder, signature.args[0], array, [ir.Constant(ir.IntType(64), 0)]
        )
        return builder.atomic_rmw("add", ptr, ir.Constant(ir.IntType(64), 1), "monotonic")

    return types.int64(counter), codegen


@overload(claim, inline="always")
def _claim_jit(counter: Any) -> Callable[[Any], int] | None:
    if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
        return None

    def fetch(counter: Any) -> int:
        return _fetch_add(counter)  # type: ignore[call-arg, no-any-return]

    return fetch


def _pool(size: int) -> ThreadPoolExecutor:
    """The shared helper pool, grown (never shrunk) to ``size`` threads; rebuilt after a fork."""
    global _POOL, _POOL_SIZE, _POOL_PID
    with _LOCK:
        forked = _POOL_PID != os.getpid()
        if _POOL is None or _POOL_SIZE < size or forked:
            old = _POOL
            _POOL = ThreadPoolExecutor(max_workers=size, thread_name_prefix="multivector-maxsim")
            _POOL_SIZE, _POOL_PID = size, os.getpid()
            if old is not None and not forked:
                old.shutdown(wait=False)
        return _POOL


def run_claimed(kernel: Callable[..., None], args: tuple[Any, ...], *, threads: int) -> None:
    """Run ``kernel(*args)`` on the calling thread and on ``threads - 1`` pool threads at once.

    ``kernel`` must be a ``nogil`` kernel that claims its work from a counter among ``args``
    until none is left; this returns when every thread that started has finished.
    """
    if threads <= 1:
        kernel(*args)
        return
    pool = _pool(threads - 1)
    helpers: list[Future[None]] = [pool.submit(kernel, *args) for _ in range(threads - 1)]
    try:
        kernel(*args)
    finally:
        for helper in helpers:
            if not helper.cancel():  # started (or done): wait for its last unit
                helper.result()
