"""The NCF authors' leave-one-out files (He et al., WWW 2017; the layout of the data folder
of their code), read and written as they are:

* ``<name>.train.rating`` and ``<name>.test.rating``: one interaction per line,
  ``user<TAB>item<TAB>rating<TAB>timestamp`` (the last two optional), ids from 0;
* ``<name>.test.negative``: line ``k`` belongs to line ``k`` of ``<name>.test.rating``:
  ``(user,item)<TAB>negative<TAB>negative...`` (99 items the user never interacted with);
* ``<name>.valid.rating`` / ``<name>.valid.negative``: the same layouts for the validation
  split that ``srgnn-paddle prepare --protocol loo`` writes (the published files have none;
  see :func:`srgnn_paddle.data.pairs.load_leave_one_out`).

Ids stay as in the files here (from 0); the toolkit's item tables shift them by one so that
row 0 stays the padding row of every model (:mod:`srgnn_paddle.data.pairs`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from srgnn_paddle.errors import SrgnnError

RATING_SUFFIX = {"train": ".train.rating", "valid": ".valid.rating", "test": ".test.rating"}
NEGATIVE_SUFFIX = {"valid": ".valid.negative", "test": ".test.negative"}
_PAIR = re.compile(r"^\((\d+),(\d+)\)$")


@dataclass
class RatingFile:
    """The columns of a ``.rating`` file, in file order.

    Attributes:
        users, items: ``[N]`` int64 ids (from 0).
        ratings: ``[N]`` float64, or None when the file has two columns.
        times: ``[N]`` int64 timestamps, or None when the file has fewer than four columns.
        path: the file, for messages.
    """

    users: np.ndarray
    items: np.ndarray
    ratings: Optional[np.ndarray]
    times: Optional[np.ndarray]
    path: Path

    def __len__(self) -> int:
        return len(self.users)


@dataclass
class NegativeFile:
    """A ``.negative`` file: per line the ``(user, item)`` it belongs to and its negatives.

    Attributes:
        users, items: ``[N]`` int64, the pair at the start of each line.
        negatives: ``[N, C]`` int64 (the same ``C`` on every line; 99 in the published files).
        path: the file, for messages.
    """

    users: np.ndarray
    items: np.ndarray
    negatives: np.ndarray
    path: Path


def find_dataset_name(data_dir: Path, preferred: str = "") -> str:
    """The ``<name>`` of the ``<name>.train.rating`` file in ``data_dir``: the only one, or
    ``preferred`` when several are there (the published folder holds ``ml-1m`` and
    ``pinterest-20``). SrgnnError naming the choices otherwise."""
    names = sorted(p.name[: -len(RATING_SUFFIX["train"])] for p in data_dir.glob("*" + RATING_SUFFIX["train"]))
    if not names:
        raise SrgnnError(f"{data_dir}: no <name>.train.rating file (the leave-one-out protocol reads the NCF files "
                         f"<name>.train.rating, <name>.test.rating, <name>.test.negative); prepare one with "
                         f"'srgnn-paddle prepare FORMAT --protocol loo' or pass the folder of the published files")
    if len(names) == 1:
        return names[0]
    if preferred in names:
        return preferred
    raise SrgnnError(f"{data_dir}: holds several datasets ({', '.join(names)}); choose one with --dataset NAME")


def read_rating_file(path: Union[str, Path]) -> RatingFile:
    """Read ``user<TAB>item[<TAB>rating[<TAB>timestamp]]`` lines (blank lines skipped).

    Raises:
        SrgnnError: naming the file and line of the first malformed value, for a missing or
            empty file, or lines with a different number of fields.
    """
    path = Path(path)
    if not path.is_file():
        raise SrgnnError(f"{path}: file not found; check --data_dir")
    try:
        frame = pd.read_csv(path, sep="\t", header=None, dtype=str, skip_blank_lines=False, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise SrgnnError(f"{path}: file is empty; it needs 'user<TAB>item<TAB>rating<TAB>timestamp' lines") from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        where = (f"line {found.group(2)} has {found.group(3)} fields, the first line {found.group(1)}"
                 if found else str(exc).strip().splitlines()[0])
        raise SrgnnError(f"{path}: {where}; every line must be user<TAB>item[<TAB>rating[<TAB>timestamp]]") from None
    except UnicodeDecodeError as exc:
        raise SrgnnError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    lines = np.arange(1, len(frame) + 1)
    blank = (frame == "").all(axis=1).to_numpy()
    frame, lines = frame[~blank], lines[~blank]
    if frame.empty:
        raise SrgnnError(f"{path}: holds no interactions")
    if frame.shape[1] < 2 or frame.shape[1] > 4:
        raise SrgnnError(f"{path}: line {lines[0]} has {frame.shape[1]} field(s); expected "
                         f"user<TAB>item[<TAB>rating[<TAB>timestamp]]")
    users = _id_column(frame[0], lines, path, "user id")
    items = _id_column(frame[1], lines, path, "item id")
    ratings = _number_column(frame[2], lines, path, "rating", whole=False) if frame.shape[1] > 2 else None
    times = _number_column(frame[3], lines, path, "timestamp", whole=True) if frame.shape[1] > 3 else None
    return RatingFile(users, items, ratings, None if times is None else times.astype(np.int64), path)


def _id_column(values: pd.Series, lines: np.ndarray, path: Path, what: str) -> np.ndarray:
    """Non-negative integer ids, or SrgnnError naming the first bad line."""
    numbers = _number_column(values, lines, path, what, whole=True)
    bad = np.flatnonzero(numbers < 0)
    if bad.size:
        raise SrgnnError(f"{path}: line {lines[bad[0]]}: {what} {values.iloc[bad[0]]!r} is negative; ids start at 0")
    return numbers.astype(np.int64)


def _number_column(values: pd.Series, lines: np.ndarray, path: Path, what: str, whole: bool) -> np.ndarray:
    """A numeric column (whole numbers when ``whole``), or SrgnnError naming the first bad line."""
    numbers = pd.to_numeric(values.str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(numbers)
    if whole:
        bad |= numbers != np.floor(numbers)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = "an integer" if whole else "a number"
        raise SrgnnError(f"{path}: line {lines[row]}: {what} {values.iloc[row]!r} is not {kind}; fix the line")
    return numbers


def read_negative_file(path: Union[str, Path]) -> NegativeFile:
    """Read ``(user,item)<TAB>negative<TAB>...`` lines (blank lines skipped); every line must
    have the same number of negatives.

    Raises:
        SrgnnError: naming the file and line of the first malformed one.
    """
    path = Path(path)
    if not path.is_file():
        raise SrgnnError(f"{path}: file not found; check --data_dir")
    users: List[int] = []
    items: List[int] = []
    negatives: List[List[str]] = []
    line_numbers: List[int] = []
    width = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.rstrip("\r\n").split("\t")
            if fields == [""]:
                continue
            pair = _PAIR.match(fields[0].strip())
            if pair is None:
                raise SrgnnError(f"{path}: line {number}: {fields[0][:40]!r} is not '(user,item)'; each line is "
                                 f"(user,item)<TAB>negative<TAB>negative...")
            rest = [f for f in fields[1:] if f.strip() != ""]
            if width is None:
                width = len(rest)
                if width == 0:
                    raise SrgnnError(f"{path}: line {number} lists no negative items")
            elif len(rest) != width:
                raise SrgnnError(f"{path}: line {number} has {len(rest)} negatives, the first line {width}; "
                                 f"every user needs the same number")
            line_numbers.append(number)
            users.append(int(pair.group(1)))
            items.append(int(pair.group(2)))
            negatives.append(rest)
    if not users:
        raise SrgnnError(f"{path}: file is empty; it needs '(user,item)<TAB>negative...' lines")
    flat = pd.to_numeric(pd.Series(np.concatenate(negatives)).str.strip(), errors="coerce").to_numpy()
    bad = np.isnan(flat) | (flat < 0) | (flat != np.floor(flat))
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) // width
        raise SrgnnError(f"{path}: line {line_numbers[row]}: negative item ids must be integers >= 0; fix the line")
    return NegativeFile(np.asarray(users, np.int64), np.asarray(items, np.int64),
                        flat.astype(np.int64).reshape(len(users), width), path)


def write_rating_file(path: Union[str, Path], users: np.ndarray, items: np.ndarray,
                      ratings: Optional[np.ndarray], times: np.ndarray) -> None:
    """Write ``user<TAB>item<TAB>rating<TAB>timestamp`` lines (``ratings`` None: 1 for every
    line; whole ratings without a decimal point, as in the published files)."""
    ratings = np.ones(len(users)) if ratings is None else np.asarray(ratings, dtype=np.float64)
    shown: Sequence = ratings.astype(np.int64) if (ratings == np.floor(ratings)).all() else ratings
    frame = pd.DataFrame({"u": users, "i": items, "r": shown, "t": times})
    frame.to_csv(path, sep="\t", header=False, index=False, lineterminator="\n")


def write_negative_file(path: Union[str, Path], users: np.ndarray, items: np.ndarray, negatives: np.ndarray) -> None:
    """Write ``(user,item)<TAB>negative<TAB>...`` lines, one per row of ``negatives [N, C]``."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for user, item, row in zip(np.asarray(users).tolist(), np.asarray(items).tolist(),
                                   np.asarray(negatives).tolist()):
            handle.write(f"({user},{item})\t" + "\t".join(map(str, row)) + "\n")
