"""Fixed-width columns between PostgreSQL and numpy through COPY ... (FORMAT binary).

When every column of a COPY is fixed-width and never NULL (bool, int2, int4, int8, uuid), every
row of the binary format has the same size, so a whole COPY is one numpy structured array:
no Python object per row or per value in either direction.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = _SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_TRAILER = b"\xff\xff"

# PostgreSQL type -> numpy dtype of its binary send format (network byte order)
TYPES: dict[str, np.dtype[Any]] = {
    "bool": np.dtype("?"),
    "int2": np.dtype(">i2"),
    "int4": np.dtype(">i4"),
    "int8": np.dtype(">i8"),
    "uuid": np.dtype("V16"),
}


def _row_dtype(types: Sequence[str]) -> np.dtype[Any]:
    fields: list[tuple[str, Any]] = [("n", ">i2")]
    for k, t in enumerate(types):
        fields += [(f"l{k}", ">i4"), (f"v{k}", TYPES[t])]
    return np.dtype(fields)


def parse(data: bytes | memoryview, types: Sequence[str]) -> list[np.ndarray]:
    """The columns of a binary COPY whose fields are all of `types` (fixed-width, not NULL)."""
    buf = memoryview(data)
    if bytes(buf[:11]) != _SIGNATURE:
        raise ValueError("not a binary COPY stream")
    start = 19 + int.from_bytes(buf[15:19], "big")
    rows = _row_dtype(types)
    body = len(buf) - start - len(_TRAILER)
    if body % rows.itemsize or bytes(buf[len(buf) - 2:]) != _TRAILER:
        raise ValueError("binary COPY rows are not all of the expected fixed size")
    arr = np.frombuffer(buf, dtype=rows, count=body // rows.itemsize, offset=start)
    if len(arr) and (np.any(arr["n"] != len(types)) or any(
            np.any(arr[f"l{k}"] != TYPES[t].itemsize) for k, t in enumerate(types))):
        raise ValueError("unexpected field count, width or NULL in binary COPY")
    return [arr[f"v{k}"] for k in range(len(types))]


def build(columns: Sequence[tuple[str, np.ndarray]]) -> bytes:
    """A binary COPY stream of the (type, values) columns, all of the same length."""
    types = [t for t, _ in columns]
    n = len(columns[0][1]) if columns else 0
    arr = np.empty(n, dtype=_row_dtype(types))
    arr["n"] = len(types)
    for k, (t, values) in enumerate(columns):
        arr[f"l{k}"] = TYPES[t].itemsize
        arr[f"v{k}"] = values
    return _HEADER + arr.tobytes() + _TRAILER


async def copy_out(conn: Any, query: str, types: Sequence[str]) -> list[np.ndarray]:
    """Run COPY (query) TO STDOUT binary on an asyncpg connection; the columns as arrays."""
    out = io.BytesIO()
    await conn.copy_from_query(query, output=out, format="binary")
    return parse(out.getbuffer(), types)


async def copy_in(conn: Any, table: str, names: Sequence[str],
                  columns: Sequence[tuple[str, np.ndarray]], schema: str | None = None) -> None:
    """COPY the (type, values) columns into table(names) on an asyncpg connection."""
    await conn.copy_to_table(table, schema_name=schema, columns=list(names),
                             source=io.BytesIO(build(columns)), format="binary")
