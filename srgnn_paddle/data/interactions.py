"""Interaction CSVs (``user_id,item_id,timestamp``): reading, validating, sizing the item table."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Union

import numpy as np
import pandas as pd

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import read_json_object



COLUMNS = ("user_id", "item_id", "timestamp")
MIN_TRAIN_ITEMS = 5  # the notebook draws the target from positions 4..len-1
SPLIT_FILES = {"train": "train_enc.csv", "valid": "valid_enc.csv", "test": "test_enc.csv"}


def read_interactions(path: Union[str, Path], n_items: Optional[int] = None) -> pd.DataFrame:
    """Read and validate one interaction CSV (header ``user_id,item_id,timestamp``).

    Raises:
        SrgnnError: one line naming the file, the row or column and what to do, for a
            missing/unreadable/empty file, missing columns, non-integer or missing values,
            or item ids outside ``[1, n_items)``.
    """
    p = Path(path)
    if not p.is_file():
        raise SrgnnError(f"{p}: file not found; check --data_dir (it needs {', '.join(SPLIT_FILES.values())})")
    try:
        df = pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise SrgnnError(f"{p}: file is empty; it needs the header {','.join(COLUMNS)} and rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SrgnnError(f"{p}: cannot be read as CSV ({first})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise SrgnnError(
            f"{p}: missing column(s) {', '.join(missing)}; the header must be {','.join(COLUMNS)} "
            f"(found: {','.join(map(str, df.columns))})"
        )
    if len(df) == 0:
        raise SrgnnError(f"{p}: has a header but no rows")
    df = df[list(COLUMNS)].copy()
    for col in COLUMNS:
        df[col] = _integer_column(df[col], p, col)
    validate_item_ids(df["item_id"].to_numpy(), p, n_items)
    return df


def _integer_column(values: pd.Series, path: Path, col: str) -> pd.Series:
    """Convert a column to int64 or raise naming the first bad row (file line numbers)."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() | (numeric != np.floor(numeric))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SrgnnError(
            f"{path}: line {row + 2}, column '{col}': {values.iloc[row]!r} is not an integer id; "
            f"encode ids as integers (see 'srgnn-paddle prepare')"
        )
    return numeric.astype(np.int64)


def validate_item_ids(item_ids: np.ndarray, source: Union[str, Path], n_items: Optional[int]) -> None:
    """Check that item ids are in ``[1, n_items)`` (0 is padding); raise SrgnnError if not."""
    item_ids = np.asarray(item_ids)
    low = np.flatnonzero(item_ids < 1)
    if low.size:
        raise SrgnnError(
            f"{source}: line {int(low[0]) + 2}, column 'item_id': id {int(item_ids[low[0]])} "
            f"is < 1; ids must be 1..n_items-1 (0 is reserved for padding)"
        )
    if n_items is not None:
        high = np.flatnonzero(item_ids >= n_items)
        if high.size:
            raise SrgnnError(
                f"{source}: line {int(high[0]) + 2}, column 'item_id': id {int(item_ids[high[0]])} "
                f">= n_items {n_items}; raise n_items or re-encode the ids"
            )


META_FILE = "meta.json"


def read_meta(data_dir: Union[str, Path]) -> Dict[str, Any]:
    """``meta.json`` of a data folder (what ``prepare`` and the synthetic generator write);
    ``{}`` when there is none."""
    return read_json_object(Path(data_dir) / META_FILE, "fix or delete it")


def dataset_name(data_dir: Union[str, Path]) -> str:
    """The name a data folder gives its runs: ``dataset`` in its ``meta.json``, else the
    folder's name."""
    name = read_meta(data_dir).get("dataset")
    return name if isinstance(name, str) and name else Path(data_dir).resolve().name


#: The most rows an id table may have, whatever the memory: ids beyond this are raw
#: (un-encoded) ids, and a table sized from them would be refused later anyway.
MAX_TABLE_ROWS = 100_000_000


def check_table_rows(ids: np.ndarray, locate: Callable[[int], str], what: str = "item") -> int:
    """The rows of the table sized from ``ids`` (max id + 1), refusing, before any array
    of that size exists, more than :data:`MAX_TABLE_ROWS` rows (raw, un-encoded ids such as
    2,000,000,000). Sparse ids (e.g. a subset of an encoded catalogue) are fine: only the
    table's size counts; its memory is checked against the budget where the embedding
    size is known (:func:`srgnn_paddle.protocols.check_table_memory`).

    Args:
        ids: every id of the data (any shape).
        locate: ``position in ids.ravel() -> 'FILE: line N'`` (or similar), for the message.
        what: ``item`` or ``user``, for the message.
    Returns:
        ``max id + 1`` (0 for no ids).
    """
    ids = np.asarray(ids).ravel()
    if ids.size == 0:
        return 0
    top = int(np.argmax(ids))
    rows = int(ids[top]) + 1
    if rows > MAX_TABLE_ROWS:
        raise SrgnnError(
            f"{locate(top)}: {what} id {int(ids[top])} would size the {what} table at {rows} rows, over the "
            f"limit of {MAX_TABLE_ROWS:,} rows (the table gets max id + 1 rows); re-encode the ids 1..n with "
            f"'srgnn-paddle prepare'"
        )
    return rows


def meta_n_items(data_dir: Union[str, Path]) -> Optional[int]:
    """``n_items`` of the folder's ``meta.json`` (None when it has none)."""
    value = read_meta(data_dir).get("n_items")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 2 else None


def infer_n_items(data_dir: Union[str, Path], frames: Mapping[str, pd.DataFrame]) -> int:
    """``n_items`` from ``meta.json`` in ``data_dir`` when present, else max item id + 1
    (:func:`check_table_rows`; ``frames``: split name -> its CSV's frame)."""
    value = meta_n_items(data_dir)
    if value is not None:
        return value
    names = list(frames)
    ids = np.concatenate([frames[n]["item_id"].to_numpy() for n in names])
    ends = np.cumsum([len(frames[n]) for n in names])

    def locate(position: int) -> str:
        k = int(np.searchsorted(ends, position, side="right"))
        row = position - (int(ends[k - 1]) if k else 0)
        return f"{Path(data_dir) / SPLIT_FILES[names[k]]}: line {row + 2}, column 'item_id'"

    return check_table_rows(ids, locate)


ITEM_MAP_FILE = "item_map.csv"  # written by 'prepare': original_item_id,item_id


def read_item_map(data_dir: Union[str, Path]) -> Optional[pd.DataFrame]:
    """``item_map.csv`` of a prepared folder (columns ``original_item_id, item_id``; original
    ids as integers when every one is, else as text), or None when the folder has none (the
    published DIGINETICA pickles: ids are used as they are)."""
    path = Path(data_dir) / ITEM_MAP_FILE
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, dtype={"original_item_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise SrgnnError(f"{path}: cannot be read as CSV ({type(exc).__name__}); prepare the folder again") from None
    if list(frame.columns) != ["original_item_id", "item_id"] or frame["original_item_id"].isna().any():
        raise SrgnnError(f"{path}: needs the columns original_item_id,item_id, filled in; prepare the folder again")
    frame["item_id"] = _integer_column(frame["item_id"], path, "item_id")
    originals = frame["original_item_id"].str.strip()
    if originals.str.fullmatch(r"-?\d{1,18}").all():
        frame["original_item_id"] = originals.astype(np.int64)
    return frame
