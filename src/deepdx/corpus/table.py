"""The voice table: one columnar file that flows through the pipeline.

Each stage reads the table the stage before wrote and adds columns.  On disk it is
Parquet; in memory a plain ``dict`` of NumPy arrays, with the parameters as one
``N x 155`` uint8 array (VCED order, see :mod:`deepdx.dx7.params`).  Every file here is
written whole or not at all (:func:`deepdx.files.replacing`): a killed stage leaves the old
output or none, never half of one.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..dx7.params import VOICE_SIZE
from ..errors import DeepDXError
from ..files import replacing

Table = dict[str, np.ndarray]


def write_table(path: str | Path, table: Table) -> None:
    columns = {}
    for key, values in table.items():
        values = np.asarray(values)
        if values.ndim == 2:
            flat = pa.array(values.astype(np.uint8).ravel())
            columns[key] = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
        else:
            columns[key] = pa.array(values.tolist() if values.dtype.kind == "U" else values)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as partial:
        pq.write_table(pa.table(columns), partial)


def read_table(path: str | Path, columns: list[str] | None = None) -> Table:
    """The table at ``path`` (only ``columns``, when given).  One file, read as one: ParquetFile
    does not pull in pyarrow's dataset layer (and pandas with it), a third of a second a process."""
    table = pq.ParquetFile(path).read(columns=columns)
    out: Table = {}
    for key in table.column_names:
        column = table.column(key).combine_chunks()
        if pa.types.is_fixed_size_list(column.type):
            out[key] = _bytes(column.flatten()).reshape(-1, column.type.list_size)
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            out[key] = np.array(column.to_pylist(), dtype=str)
        else:
            out[key] = column.to_numpy(zero_copy_only=False)
    if "params" in out and out["params"].shape[1] != VOICE_SIZE:
        raise DeepDXError(f"{path}: params column has {out['params'].shape[1]} values per voice, expected {VOICE_SIZE}")
    return out


def _bytes(values: pa.Array) -> np.ndarray:
    """A uint8 column's values, copied out of its buffer (``to_numpy`` would import pandas, a
    quarter of a second of every ``deepdx generate``)."""
    if values.null_count or not pa.types.is_uint8(values.type):
        raise DeepDXError(f"a parameter column of {values.type} with {values.null_count} missing values")
    return np.frombuffer(values.buffers()[1], np.uint8, len(values), values.offset).copy()


def take(table: Table, rows: np.ndarray) -> Table:
    return {key: values[rows] for key, values in table.items()}


def write_json(path: str | Path, data: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as partial:
        partial.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_csv(path: str | Path, rows: list[dict], fields: list[str]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as partial, open(partial, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
