"""MaxSim micro-kernels written in LLVM IR: float32 FMA, bf16 ``vdpbf16ps``, int8 ``vpdpbusd``.

numba has no SIMD vector type, so each micro-kernel is one ``@intrinsic`` whose code generator
writes the whole tile loop in llvmlite IR: ``rows`` accumulators of 16 float32 (float32, bf16) or
16 int32 (int8) lanes, one per document row of the block, held in whole-vector ``alloca`` slots
that LLVM promotes to registers. Per step (1 float32, 2 bf16 or 4 int8 dimensions) one vector
load of 16 query rows and, per document row, one broadcast 32-bit load and one multiply-add
instruction:

- float32 (:func:`tile_f32`): ``llvm.fma.v16f32`` (``vfmadd231ps`` with a broadcast operand;
  generic IR, which LLVM lowers for any target: it needs no instruction-set token);
- bf16: ``llvm.x86.avx512bf16.dpbf16ps.512``: ``acc[l] += q[l, 2s] t[2s] + q[l, 2s+1] t[2s+1]``,
  products exact, sums in float32 (twice the multiply-adds of an fp32 FMA per instruction);
- int8: ``llvm.x86.avx512.vpdpbusd.512``: ``acc[l] += sum_e u[4s+e] * q[l, 4s+e]`` with ``u``
  the document byte plus 128 (unsigned) and ``q`` the signed query byte, exact in int32 (four
  times the multiply-adds); the offset is taken back once per query row with ``corr[l] = 128 *
  sum_k q[l, k]``, and the document row's scale is applied before the max.

Each tile takes an ``isa`` token, an empty array whose dtype names the instruction set:
:data:`NATIVE` (uint8) uses the instructions above, :data:`PORTABLE` (int8) the same arithmetic in
plain IR (bf16 halves widened to float32 and FMAs; bytes widened to int32 and multiply-adds), so a
CPU without AVX512_BF16 / AVX512_VNNI never compiles them. Being a type, the token is part of the
compiled signature, so numba's cache keeps both variants apart. Interpreted
(``NUMBA_DISABLE_JIT=1``) the tiles run as the NumPy code of their Python bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic, overload

__all__ = ["NATIVE", "PORTABLE", "bf16_round", "prefetch_row", "tile_bf16", "tile_f32", "tile_int8"]

#: The ``isa`` tokens: native AVX-512 dot-product instructions, or portable IR.
NATIVE = np.zeros(0, dtype=np.uint8)
PORTABLE = np.zeros(0, dtype=np.int8)

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_F32 = ir.FloatType()
_VI = ir.VectorType(_I32, 16)
_VF = ir.VectorType(_F32, 16)


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) as float32 values (exact)."""
    widened: np.ndarray = (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
    return widened


def bf16_round(value: Any) -> np.uint16:
    """A float32 value rounded to bfloat16 (nearest, ties to even), as its 16-bit pattern."""
    bits = int(np.float32(value).view(np.uint32))
    rounded: np.uint16 = np.uint16((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16)
    return rounded


@intrinsic
def _float_bits(typingctx: Any, value: Any) -> Any:
    """``bitcast float -> i32`` (as uint32)."""
    if value != types.float32:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], _I32)

    return types.uint32(types.float32), codegen


@overload(bf16_round, inline="always")
def _bf16_round_jit(value: Any) -> Callable[[Any], Any] | None:
    if value != types.float32:
        return None

    def rounded(value: Any) -> np.uint16:
        b: Any = _float_bits(value)  # type: ignore[call-arg]
        half = np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))
        return np.uint16((b + half) >> np.uint32(16))

    return rounded


def prefetch_row(tokens: np.ndarray, row: int) -> None:
    """Hint that arena row ``row`` will be read soon (``llvm.prefetch``; nothing interpreted)."""


@intrinsic
def _prefetch_row_ir(typingctx: Any, tokens: Any, row: Any) -> Any:
    """``llvm.prefetch`` (read, all cache levels) of every 64-byte line of ``tokens[row]``."""
    if not (isinstance(tokens, types.Array) and tokens.ndim == 2):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        array = context.make_array(aryty)(context, builder, args[0])
        width = builder.extract_value(array.shape, 1)
        itemsize = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
        n_bytes = builder.mul(width, _I64(itemsize))
        i8p = ir.IntType(8).as_pointer()
        base = builder.gep(builder.bitcast(array.data, i8p), [builder.mul(args[1], n_bytes)])
        fnty = ir.FunctionType(ir.VoidType(), [i8p, _I32, _I32, _I32])
        fetch = _declare(builder.module, fnty, "llvm.prefetch.p0")
        with cgutils.for_range_slice(builder, _I64(0), n_bytes, _I64(64)) as (offset, _):
            builder.call(fetch, [builder.gep(base, [offset]), _I32(0), _I32(3), _I32(1)])
        return context.get_dummy_value()

    return types.none(tokens, types.int64), codegen


@overload(prefetch_row, inline="always")
def _prefetch_row_jit(tokens: Any, row: Any) -> Callable[..., None] | None:
    def fetch(tokens: Any, row: Any) -> None:
        _prefetch_row_ir(tokens, row)  # type: ignore[call-arg]

    return fetch


def tile_f32(
    qt: np.ndarray, chunk: int, block: np.ndarray, n_steps: int, best: np.ndarray, rows: int
) -> None:
    """:func:`tile_bf16` in float32: ``qt`` ``[n_chunks, dim, 16]``, ``block`` ``[>= rows, dim]``.

    One fused multiply-add per dimension and row; each accumulator is a plain sequential sum.
    """
    queries = qt[chunk].T.astype(np.float64)  # [16, dim]
    top = (queries @ block[:rows].T.astype(np.float64)).astype(np.float32).max(axis=1)
    at = chunk * 16
    best[at : at + 16] = np.maximum(best[at : at + 16], top)


def tile_bf16(
    qt: np.ndarray,
    chunk: int,
    block: np.ndarray,
    n_steps: int,
    best: np.ndarray,
    rows: int,
    isa: np.ndarray,
) -> None:
    """Raise ``best[chunk*16 + l]`` to the max over ``rows`` block rows of dot(query lane l, row).

    ``qt`` uint16 ``[n_chunks, n_steps, 16, 2]``: bf16 query values, ``qt[c, s, l, e]`` = row
    ``16c + l``, dimension ``2s + e``; ``block`` uint16 ``[>= rows, 2 * n_steps]``: bf16
    document rows, zero-padded.
    """
    queries = bf16_to_f32(qt[chunk]).transpose(1, 0, 2).reshape(16, 2 * n_steps)
    docs = bf16_to_f32(block[:rows])
    top = (queries @ docs.T).max(axis=1)
    at = chunk * 16
    best[at : at + 16] = np.maximum(best[at : at + 16], top)


def tile_int8(
    qt: np.ndarray,
    chunk: int,
    block: np.ndarray,
    n_steps: int,
    best: np.ndarray,
    corr: np.ndarray,
    dscale: np.ndarray,
    rows: int,
    isa: np.ndarray,
) -> None:
    """:func:`tile_bf16` for int8: ``best[16c + l] = max(best, max_r (dot_r - corr[l]) * dscale[r])``.

    ``qt`` int8 ``[n_chunks, n_steps, 16, 4]`` (zero-padded); ``block`` uint8 ``[>= rows,
    4 * n_steps]``: document bytes plus 128; ``corr`` int32 ``[n_chunks * 16]``; ``dscale`` float32
    ``[>= rows]``: the block rows' scales. ``dot_r`` is exact (int64 here, int32 compiled).
    """
    queries = qt[chunk].transpose(1, 0, 2).reshape(16, 4 * n_steps).astype(np.int64)
    docs = block[:rows].astype(np.int64)
    at = chunk * 16
    dots = queries @ docs.T - corr[at : at + 16, None].astype(np.int64)
    top = (dots.astype(np.float32) * dscale[None, :rows]).max(axis=1)
    best[at : at + 16] = np.maximum(best[at : at + 16], top)


def _declare(module: ir.Module, fnty: ir.FunctionType, name: str) -> Any:
    """The declaration of an LLVM intrinsic (or any external function) in ``module``."""
    return cgutils.get_or_insert_function(module, fnty, name)  # type: ignore[no-untyped-call]


def _splat(builder: Any, value: Any, vtype: ir.VectorType) -> Any:
    """Broadcast a scalar to every lane of ``vtype``."""
    one = builder.insert_element(ir.Constant(vtype, ir.Undefined), value, _I32(0))
    mask = ir.Constant(ir.VectorType(_I32, vtype.count), [0] * vtype.count)
    return builder.shuffle_vector(one, ir.Constant(vtype, ir.Undefined), mask)


def _data(context: Any, builder: Any, aryty: Any, value: Any, elem: ir.Type) -> Any:
    """The array's data pointer, as a pointer to ``elem``."""
    return builder.bitcast(
        context.make_array(aryty)(context, builder, value).data, elem.as_pointer()
    )


def _vmax(builder: Any, a: Any, b: Any) -> Any:
    """Lane-wise ``a if a > b else b`` (exact with -inf, like the scalar kernels' ``max``)."""
    return builder.select(builder.fcmp_ordered(">", a, b), a, b)


def _bf16_step(builder: Any, acc: Any, q: Any, t: Any, native: bool) -> Any:
    """``acc += q.t`` over bf16 pairs: ``vdpbf16ps``, or two float32 FMAs."""
    if native:
        fnty = ir.FunctionType(_VF, [_VF, _VI, _VI])
        fn = _declare(builder.module, fnty, "llvm.x86.avx512bf16.dpbf16ps.512")
        return builder.call(fn, [acc, q, t])
    fma = _declare(builder.module, ir.FunctionType(_VF, [_VF, _VF, _VF]), "llvm.fma.v16f32")
    high = _splat(builder, _I32(0xFFFF0000), _VI)
    q_hi = builder.bitcast(builder.and_(q, high), _VF)
    t_hi = builder.bitcast(builder.and_(t, high), _VF)
    q_lo = builder.bitcast(builder.shl(q, _splat(builder, _I32(16), _VI)), _VF)
    t_lo = builder.bitcast(builder.shl(t, _splat(builder, _I32(16), _VI)), _VF)
    return builder.call(fma, [q_lo, t_lo, builder.call(fma, [q_hi, t_hi, acc])])


def _int8_step(builder: Any, acc: Any, u: Any, s: Any, native: bool) -> Any:
    """``acc += sum of the 4 byte products`` (unsigned ``u`` x signed ``s``): ``vpdpbusd`` or plain IR."""
    if native:
        fnty = ir.FunctionType(_VI, [_VI, _VI, _VI])
        fn = _declare(builder.module, fnty, "llvm.x86.avx512.vpdpbusd.512")
        return builder.call(fn, [acc, u, s])
    total = acc
    for e in range(4):
        ub = builder.and_(
            builder.lshr(u, _splat(builder, _I32(8 * e), _VI)), _splat(builder, _I32(255), _VI)
        )
        sb = builder.ashr(
            builder.shl(s, _splat(builder, _I32(24 - 8 * e), _VI)), _splat(builder, _I32(24), _VI)
        )
        total = builder.add(total, builder.mul(ub, sb))
    return total


def _tile_codegen(kind: str, rows: int, native: bool) -> Callable[..., Any]:
    """The code generator of one tile: the step loop, then the max into ``best``."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        word = _F32 if kind == "f32" else _I32
        qt = _data(context, builder, signature.args[0], args[0], word)
        block = _data(context, builder, signature.args[2], args[2], word)
        best = _data(context, builder, signature.args[4], args[4], _F32)
        chunk, n_steps = args[1], args[3]
        vtype = _VI if kind == "int8" else _VF
        slots = [cgutils.alloca_once(builder, vtype) for _ in range(rows)]  # type: ignore[no-untyped-call]
        for slot in slots:
            builder.store(ir.Constant(vtype, None), slot)
        q_base = builder.mul(builder.mul(chunk, n_steps), _I64(16))
        with cgutils.for_range(builder, n_steps) as loop:
            at = builder.add(q_base, builder.mul(loop.index, _I64(16)))
            q_ptr = builder.bitcast(builder.gep(qt, [at]), ir.VectorType(word, 16).as_pointer())
            q = builder.load(q_ptr, align=4)
            for r, slot in enumerate(slots):
                t_at = builder.add(builder.mul(_I64(r), n_steps), loop.index)
                t = _splat(builder, builder.load(builder.gep(block, [t_at]), align=4), q.type)
                if kind == "f32":
                    fma = _declare(
                        builder.module, ir.FunctionType(_VF, [_VF, _VF, _VF]), "llvm.fma.v16f32"
                    )
                    builder.store(builder.call(fma, [q, t, builder.load(slot)]), slot)
                elif kind == "bf16":
                    builder.store(_bf16_step(builder, builder.load(slot), q, t, native), slot)
                else:
                    builder.store(_int8_step(builder, builder.load(slot), t, q, native), slot)
        lanes = builder.mul(chunk, _I64(16))
        if kind != "int8":
            values = [builder.load(slot) for slot in slots]
        else:
            corr_ptr = _data(context, builder, signature.args[5], args[5], _I32)
            corr = builder.load(
                builder.bitcast(builder.gep(corr_ptr, [lanes]), _VI.as_pointer()), align=4
            )
            dscale = _data(context, builder, signature.args[6], args[6], _F32)
            values = []
            for r, slot in enumerate(slots):
                dots = builder.sitofp(builder.sub(builder.load(slot), corr), _VF)
                scale = _splat(builder, builder.load(builder.gep(dscale, [_I64(r)])), _VF)
                values.append(builder.fmul(dots, scale))
        while len(values) > 1:
            values = [_vmax(builder, a, b) for a, b in zip(values[::2], values[1::2], strict=True)]
        best_ptr = builder.bitcast(builder.gep(best, [lanes]), _VF.as_pointer())
        builder.store(_vmax(builder, values[0], builder.load(best_ptr, align=4)), best_ptr, align=4)
        return context.get_dummy_value()

    return codegen


def _isa_native(isa: Any) -> bool | None:
    """True for the :data:`NATIVE` token, False for :data:`PORTABLE`, None for anything else."""
    if isinstance(isa, types.Array) and isa.dtype in (types.uint8, types.int8):
        return bool(isa.dtype == types.uint8)
    return None


@intrinsic(prefer_literal=True)
def _tile_f32_ir(
    typingctx: Any, qt: Any, chunk: Any, block: Any, n_steps: Any, best: Any, rows: Any
) -> Any:
    if not isinstance(rows, types.IntegerLiteral):
        return None
    sig = types.none(qt, types.int64, block, types.int64, best, rows)
    return sig, _tile_codegen("f32", rows.literal_value, True)


@intrinsic(prefer_literal=True)
def _tile_bf16_ir(
    typingctx: Any, qt: Any, chunk: Any, block: Any, n_steps: Any, best: Any, rows: Any, isa: Any
) -> Any:
    native = _isa_native(isa)
    if native is None or not isinstance(rows, types.IntegerLiteral):
        return None
    sig = types.none(qt, types.int64, block, types.int64, best, rows, isa)
    return sig, _tile_codegen("bf16", rows.literal_value, native)


@intrinsic(prefer_literal=True)
def _tile_int8_ir(
    typingctx: Any,
    qt: Any,
    chunk: Any,
    block: Any,
    n_steps: Any,
    best: Any,
    corr: Any,
    dscale: Any,
    rows: Any,
    isa: Any,
) -> Any:
    native = _isa_native(isa)
    if native is None or not isinstance(rows, types.IntegerLiteral):
        return None
    sig = types.none(qt, types.int64, block, types.int64, best, corr, dscale, rows, isa)
    return sig, _tile_codegen("int8", rows.literal_value, native)


@overload(tile_f32, prefer_literal=True, inline="always")
def _tile_f32_jit(
    qt: Any, chunk: Any, block: Any, n_steps: Any, best: Any, rows: Any
) -> Callable[..., None] | None:
    if not isinstance(rows, types.IntegerLiteral):
        return None

    def tile(qt: Any, chunk: Any, block: Any, n_steps: Any, best: Any, rows: Any) -> None:
        _tile_f32_ir(qt, chunk, block, n_steps, best, rows)  # type: ignore[call-arg]

    return tile


@overload(tile_bf16, prefer_literal=True, inline="always")
def _tile_bf16_jit(
    qt: Any, chunk: Any, block: Any, n_steps: Any, best: Any, rows: Any, isa: Any
) -> Callable[..., None] | None:
    if not isinstance(rows, types.IntegerLiteral):
        return None

    def tile(qt: Any, chunk: Any, block: Any, n_steps: Any, best: Any, rows: Any, isa: Any) -> None:
        _tile_bf16_ir(qt, chunk, block, n_steps, best, rows, isa)  # type: ignore[call-arg]

    return tile


@overload(tile_int8, prefer_literal=True, inline="always")
def _tile_int8_jit(
    qt: Any,
    chunk: Any,
    block: Any,
    n_steps: Any,
    best: Any,
    corr: Any,
    dscale: Any,
    rows: Any,
    isa: Any,
) -> Callable[..., None] | None:
    if not isinstance(rows, types.IntegerLiteral):
        return None

    def tile(
        qt: Any,
        chunk: Any,
        block: Any,
        n_steps: Any,
        best: Any,
        corr: Any,
        dscale: Any,
        rows: Any,
        isa: Any,
    ) -> None:
        _tile_int8_ir(qt, chunk, block, n_steps, best, corr, dscale, rows, isa)  # type: ignore[call-arg]

    return tile
