"""Dataset preparation: raw public formats into the notebook's CSV triple or the paper's pickles.

Formats (``FORMATS``):

* ``movielens``: ``ratings.dat`` (``user::item::rating::time``, ml-1m / ml-10m),
  ``ratings.csv`` (header ``userId,movieId,rating,timestamp``, ml-20m / ml-latest) or
  ``u.data`` (tab-separated, ml-100k); detected from the first line or given as ``layout``;
* ``amazon-seq``: one line per user, ``user item item ...`` in time order; the position in
  the line becomes the timestamp;
* ``interactions-csv``: any delimited file with a header naming user, item and time
  columns (and optionally a rating column);
* ``diginetica``: ``train-item-views.csv`` (``;``-separated, header
  ``session_id;user_id;item_id;timeframe;eventdate``);
* ``yoochoose``: ``yoochoose-clicks.dat`` (no header:
  ``session_id,timestamp,item_id,category`` with ISO 8601 timestamps).

Protocols:

* ``notebook`` (default for the first three): optional rating threshold, iterated
  minimum-count filters on items and users (k-core style), items re-encoded ``1..n`` in the
  order of their original ids (0 = padding), users re-encoded ``1..U`` the same way and
  split 8:1:1 by a seeded shuffle into ``train_enc.csv`` / ``valid_enc.csv`` /
  ``test_enc.csv`` (header ``user_id,item_id,timestamp``), plus ``item_map.csv``,
  ``user_map.csv`` and ``meta.json``. Click logs use the session as the user.
* ``paper`` (default for the click logs): the SR-GNN preprocessing
  (:func:`paper_split`), written as the published pickles (:mod:`srgnn_paddle.sessions`),
  plus ``item_map.csv`` and ``meta.json``.

The output folder is built in a temporary folder and renamed into place only when every
file is written, so a failed run leaves nothing behind. Every problem with the input is
raised as one :class:`~srgnn_paddle.errors.SrgnnError` line.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_directory
from srgnn_paddle.sessions import augment_prefixes, write_session_pickles

FORMATS = ("movielens", "amazon-seq", "interactions-csv", "diginetica", "yoochoose")
PROTOCOLS = ("notebook", "paper")
MOVIELENS_LAYOUTS = ("auto", "dat", "csv", "udata")
CLICK_FORMATS = ("diginetica", "yoochoose")
DEFAULT_TEST_DAYS = {"diginetica": 7, "yoochoose": 1}
YOOCHOOSE_FRACTIONS = (4, 64)
SPLIT_NAMES = ("train", "valid", "test")
SPLIT_FILES = {"train": "train_enc.csv", "valid": "valid_enc.csv", "test": "test_enc.csv"}
NOTEBOOK_DEFAULTS = {"min_item_count": 1, "min_user_count": 5, "seed": 2024}
PAPER_MIN_ITEM_COUNT = 5
MIN_SESSION_LENGTH = 2
SECONDS_PER_DAY = 86400
_CHUNK_ROWS = 1_000_000
_INT_PATTERN = r"\s*[-+]?\d{1,18}\s*"
_ID_PATTERN = r"(?:0|-?[1-9]\d{0,17})"  # ids that survive int(): no "+", no leading zero


# ============================================================================ options
@dataclass
class PrepareOptions:
    """Options of :func:`prepare_dataset`; ``None`` means the protocol's default.

    Attributes:
        protocol: ``notebook`` or ``paper``; default ``paper`` for the click logs
            (diginetica, yoochoose), ``notebook`` otherwise.
        rating_threshold: notebook: keep interactions with rating >= this (formats with
            ratings only).
        min_item_count: minimum interactions per item (notebook default 1; paper default 5,
            counted once, as published).
        min_user_count: notebook: minimum interactions per user (default 5, so every user
            can be sampled by the notebook's dataset).
        seed: notebook: seed of the user shuffle (default 2024).
        layout: movielens: ``auto`` (from the first line), ``dat``, ``csv`` or ``udata``.
        user_col, item_col, time_col, rating_col, sep: interactions-csv columns and
            separator (defaults ``user_id``, ``item_id``, ``timestamp``, no rating, ``,``).
        test_days: paper: days at the end that form the test set (7 DIGINETICA, 1 YOOCHOOSE).
        keep_split_day: paper: put sessions dated exactly ``test_days`` before the last
            date into training. The published script drops them (its training set is
            ``date < split`` and its test set ``date > split``); the default does the same so
            that the published files are reproduced.
    """

    protocol: Optional[str] = None
    rating_threshold: Optional[float] = None
    min_item_count: Optional[int] = None
    min_user_count: Optional[int] = None
    seed: Optional[int] = None
    layout: Optional[str] = None
    user_col: Optional[str] = None
    item_col: Optional[str] = None
    time_col: Optional[str] = None
    rating_col: Optional[str] = None
    sep: Optional[str] = None
    test_days: Optional[int] = None
    keep_split_day: bool = False


def _resolve_options(fmt: str, opts: PrepareOptions) -> PrepareOptions:
    """Check that every option given applies to ``fmt`` and its protocol; fill defaults."""
    if fmt not in FORMATS:
        raise SrgnnError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    protocol = opts.protocol or ("paper" if fmt in CLICK_FORMATS else "notebook")
    if protocol not in PROTOCOLS:
        raise SrgnnError(f"unknown protocol {protocol!r}; choose notebook or paper")
    if protocol == "paper" and fmt not in CLICK_FORMATS:
        raise SrgnnError(f"--protocol paper needs a session click log ({', '.join(CLICK_FORMATS)}); "
                         f"{fmt} has users, not sessions: use --protocol notebook")

    def refuse(names: Sequence[str], why: str) -> None:
        for name in names:
            value = getattr(opts, name)
            if value is not None and value is not False:
                raise SrgnnError(f"--{name} {why}; drop it")

    if fmt != "interactions-csv":
        refuse(("user_col", "item_col", "time_col", "rating_col", "sep"), "applies to interactions-csv only")
    if fmt != "movielens":
        refuse(("layout",), "applies to movielens only")
    if protocol == "paper":
        refuse(("rating_threshold", "min_user_count", "seed"), "applies to the notebook protocol only")
    else:
        refuse(("test_days", "keep_split_day"), "applies to the paper protocol only")

    out = PrepareOptions(**{**opts.__dict__, "protocol": protocol})
    if fmt == "movielens":
        out.layout = opts.layout or "auto"
        if out.layout not in MOVIELENS_LAYOUTS:
            raise SrgnnError(f"unknown movielens layout {out.layout!r}; choose one of {', '.join(MOVIELENS_LAYOUTS)}")
    if fmt == "interactions-csv":
        out.user_col = opts.user_col or "user_id"
        out.item_col = opts.item_col or "item_id"
        out.time_col = opts.time_col or "timestamp"
        out.sep = _unescape_sep(opts.sep if opts.sep is not None else ",")
    if protocol == "paper":
        out.min_item_count = PAPER_MIN_ITEM_COUNT if opts.min_item_count is None else opts.min_item_count
        out.test_days = DEFAULT_TEST_DAYS[fmt] if opts.test_days is None else opts.test_days
        if out.test_days < 1:
            raise SrgnnError(f"--test_days must be >= 1, got {out.test_days}")
    else:
        for key, default in NOTEBOOK_DEFAULTS.items():
            if getattr(opts, key) is None:
                setattr(out, key, default)
    if out.min_item_count < 1:
        raise SrgnnError(f"--min_item_count must be >= 1, got {out.min_item_count}")
    if out.min_user_count is not None and out.min_user_count < 1:
        raise SrgnnError(f"--min_user_count must be >= 1, got {out.min_user_count}")
    return out


def _unescape_sep(sep: str) -> str:
    """Accept ``\\t`` / ``tab`` for a tab, as typed on a command line."""
    if sep in ("\\t", "tab"):
        return "\t"
    if not sep:
        raise SrgnnError("--sep must not be empty")
    return sep


# ============================================================================ raw reading
@dataclass(frozen=True)
class _Column:
    """One column to read: where it is, what it must parse as, and its name in messages."""

    name: str  # name in the returned frame
    source: Union[str, int]  # header name, or position for headerless files
    kind: str  # int | float | day | iso | text
    label: str  # e.g. "item id"


_KIND_TEXT = {
    "int": "an integer",
    "float": "a number",
    "day": "a date YYYY-MM-DD",
    "iso": "an ISO 8601 time stamp",
    "text": "a value",
}


def _check_input(path: Union[str, Path]) -> Path:
    """The input must be an existing, non-empty regular file."""
    p = Path(path)
    if not p.exists():
        raise SrgnnError(f"{p}: input file not found; check --input")
    if not p.is_file():
        raise SrgnnError(f"{p}: is not a file; pass the raw data file itself to --input")
    if p.stat().st_size == 0:
        raise SrgnnError(f"{p}: file is empty; pass the raw data file to --input")
    return p


def _first_line(path: Path) -> str:
    """The first non-blank line of ``path`` (stripped), for format detection."""
    with open(path, "rb") as handle:
        for raw in handle:
            text = raw.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
            if text:
                return text
    raise SrgnnError(f"{path}: holds only blank lines; pass the raw data file to --input")


def _line_texts(path: Path) -> Iterator[Tuple[int, str]]:
    """(1-based line number, text without the line end) of every line of ``path``."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            yield number, raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _line_text(path: Path, line: int) -> str:
    """The text of line ``line`` (1-based) of ``path``, shortened for a message."""
    for number, text in _line_texts(path):
        if number == line:
            return _short(text)
    return ""


def _short(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sep_name(sep: str) -> str:
    """A separator as a user would write it in a message."""
    return {"\t": "tab", ",": "','", ";": "';'"}.get(sep, repr(sep))


def _read_columns(path: Path, columns: Sequence[_Column], *, sep: str, header: bool,
                  n_fields: Optional[int] = None, data: Optional[bytes] = None,
                  line_numbers: bool = False, shown_sep: Optional[str] = None) -> pd.DataFrame:
    """Read the wanted ``columns`` of a delimited file into a frame, in file order.

    ``header``: the first line names the columns (``_Column.source`` are names); otherwise
    ``source`` are positions and every line must have ``n_fields`` fields. ``data`` replaces
    the file's bytes (used for the ``::`` separator) while messages still quote ``path``.
    ``line_numbers`` (text columns only) adds a ``line`` column with each row's file line.
    ``shown_sep``: the separator as messages name it (the file's own, when ``data`` rewrote it).
    The fast path parses numbers directly in chunks; on any failure the file is read again
    as text to name the first offending line (:func:`_diagnose`).
    """
    if line_numbers and any(c.kind != "text" for c in columns):
        raise ValueError("line_numbers needs text columns")
    shown = shown_sep or _sep_name(sep)
    kwargs: Dict[str, Any] = dict(sep=sep, engine="c", encoding="utf-8-sig", index_col=False,
                                  skip_blank_lines=not line_numbers)
    dtypes: Dict[Union[str, int], Any] = {}
    if header:
        found = _header(path, sep, data)
        missing = [str(c.source) for c in columns if c.source not in found]
        if missing:
            raise SrgnnError(f"{path}: missing column(s) {', '.join(missing)} in the header; "
                             f"found {', '.join(found)} (separator {shown})")
        # every column is read (no usecols: with it pandas drops a line's extra fields silently)
        kwargs.update(header=0)
        dtypes = dict.fromkeys(found, str)
    else:
        kwargs.update(header=None)
    dtypes.update({c.source: {"int": "int64", "float": "float64"}.get(c.kind, str) for c in columns})
    frames = []
    try:
        with warnings.catch_warnings(), pd.read_csv(io.BytesIO(data) if data is not None else path, dtype=dtypes,
                                                    chunksize=_CHUNK_ROWS, **kwargs) as reader:
            # index_col=False only warns when the first data line has extra fields
            warnings.simplefilter("error", pd.errors.ParserWarning)
            for chunk in reader:
                if not header and chunk.shape[1] != n_fields:
                    raise SrgnnError(f"{path}: line 1: {_line_text(path, 1)!r} has {chunk.shape[1]} field(s), "
                                     f"expected {n_fields} separated by {shown}; check the format")
                if line_numbers:
                    chunk = chunk[chunk.notna().any(axis=1)]  # blank lines
                converted = _convert_chunk(chunk, columns)
                if line_numbers:
                    converted["line"] = chunk.index.to_numpy() + (2 if header else 1)
                frames.append(converted)
    except pd.errors.ParserError as exc:
        _parser_error(path, exc, shown)
    except pd.errors.ParserWarning:
        _field_count_error(path, sep, len(_header(path, sep, data)), data, shown)
    except pd.errors.EmptyDataError:
        raise SrgnnError(f"{path}: no data rows; pass the raw data file to --input") from None
    except UnicodeDecodeError as exc:
        raise SrgnnError(f"{path}: not UTF-8 text (byte {exc.start}); pass the raw data file to --input") from None
    except (ValueError, OverflowError, TypeError):
        _diagnose(path, columns, sep=sep, header=header, data=data, shown_sep=shown)
    if not frames:
        raise SrgnnError(f"{path}: no data rows; pass the raw data file to --input")
    return pd.concat(frames, ignore_index=True)


def _header(path: Path, sep: str, data: Optional[bytes]) -> List[str]:
    """Column names from the first line of a delimited file."""
    try:
        names = pd.read_csv(io.BytesIO(data) if data is not None else path, sep=sep, nrows=0,
                            encoding="utf-8-sig").columns
    except pd.errors.EmptyDataError:
        raise SrgnnError(f"{path}: file is empty; pass the raw data file to --input") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise SrgnnError(f"{path}: the header line cannot be read ({_first_message(exc)})") from None
    return [str(n) for n in names]


def _first_message(exc: BaseException) -> str:
    """The first line of an exception's message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _convert_chunk(chunk: pd.DataFrame, columns: Sequence[_Column]) -> pd.DataFrame:
    """Rename and convert one chunk; a value that does not parse raises ValueError."""
    out = {}
    for c in columns:
        values = chunk[c.source]
        if c.kind in ("int", "float"):
            out[c.name] = values.to_numpy()
        elif c.kind == "text":
            if values.isna().any():
                raise ValueError(c.name)
            out[c.name] = values.str.strip().to_numpy(dtype=object)
        else:
            out[c.name] = _time_values(values, c.kind).to_numpy()
    return pd.DataFrame(out)


def _parse_times(values: pd.Series, kind: str) -> pd.Series:
    """Parse ``day`` (-> Unix seconds) or ``iso`` (-> Unix milliseconds) text; NaN where invalid."""
    if kind == "day":
        parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
        return (parsed - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
    parsed = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    return (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)


def _time_values(values: pd.Series, kind: str) -> pd.Series:
    """:func:`_parse_times` as int64; ValueError when a value does not parse."""
    parsed = _parse_times(values, kind)
    if parsed.isna().any():
        raise ValueError(kind)
    return parsed.astype(np.int64)


def _parser_error(path: Path, exc: pd.errors.ParserError, shown_sep: str) -> NoReturn:
    """Turn pandas' field-count error into one line with the line number and its text."""
    message = _first_message(exc)
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if match:
        expected, line, saw = (int(g) for g in match.groups())
        raise SrgnnError(f"{path}: line {line}: {_line_text(path, line)!r} has {saw} fields, expected "
                         f"{expected} separated by {shown_sep}; fix or remove the line") from None
    raise SrgnnError(f"{path}: cannot be parsed ({message}); check the format and the separator") from None


def _field_count_error(path: Path, sep: str, expected: int, data: Optional[bytes], shown_sep: str) -> NoReturn:
    """Raise naming the first data line whose number of fields is not the header's (a slow
    line-by-line scan, for the error path only)."""
    text = io.TextIOWrapper(io.BytesIO(data) if data is not None else open(path, "rb"), encoding="utf-8-sig",
                            errors="replace", newline="")
    with text:
        for number, fields in enumerate(csv.reader(text, delimiter=sep), start=1):
            if number > 1 and fields and len(fields) != expected:
                raise SrgnnError(f"{path}: line {number}: {_line_text(path, number)!r} has {len(fields)} fields, "
                                 f"expected {expected} separated by {shown_sep}; fix or remove the line")
    raise SrgnnError(f"{path}: a line's number of fields differs from the header's; check the separator "
                     f"({shown_sep})")


def _diagnose(path: Path, columns: Sequence[_Column], *, sep: str, header: bool,
              data: Optional[bytes], shown_sep: str) -> NoReturn:
    """Read the file as text and raise an error naming the first line that does not parse."""
    kwargs: Dict[str, Any] = dict(sep=sep, engine="c", encoding="utf-8-sig", index_col=False, dtype=str,
                                  na_filter=False, skip_blank_lines=False, chunksize=_CHUNK_ROWS)
    kwargs.update(header=0, usecols=[c.source for c in columns]) if header else kwargs.update(header=None)
    offset = 2 if header else 1  # file line of the frame's row 0
    try:
        _first_invalid(path, columns, io.BytesIO(data) if data is not None else path, kwargs, offset)
    except pd.errors.ParserError as exc:
        _parser_error(path, exc, shown_sep)
    raise SrgnnError(f"{path}: cannot be parsed; check the format and the separator ({shown_sep})")


def _first_invalid(path: Path, columns: Sequence[_Column], source: Any, kwargs: Dict[str, Any], offset: int) -> None:
    """Raise an SrgnnError for the first non-blank line whose wanted fields do not parse."""
    lines = _line_texts(path)
    current = (0, "")
    with pd.read_csv(source, **kwargs) as reader:
        for chunk in reader:
            bad = np.zeros(len(chunk), dtype=bool)
            for c in columns:
                bad |= ~_valid(chunk[c.source], c.kind)
            for row in np.flatnonzero(bad):
                line = offset + int(chunk.index[row])
                while current[0] < line:
                    current = next(lines, (line, ""))
                text = current[1]
                if not text.strip():
                    continue  # a blank line: skipped when reading
                for c in columns:
                    value = chunk[c.source].iloc[row]
                    if not _valid(pd.Series([value], dtype=str), c.kind)[0]:
                        what = (f"missing {c.label}" if not str(value).strip()
                                else f"{c.label} {str(value).strip()!r} is not {_KIND_TEXT[c.kind]}")
                        raise SrgnnError(f"{path}: line {line}: {what} (line: {_short(text)!r}); "
                                         f"fix or remove the line")


def _valid(values: pd.Series, kind: str) -> np.ndarray:
    """Which text values parse as ``kind`` (vectorised)."""
    values = values.fillna("").astype(str)
    if kind == "int":
        return values.str.fullmatch(_INT_PATTERN).to_numpy(dtype=bool)
    if kind == "float":
        return pd.to_numeric(values.str.strip().replace("", "x"), errors="coerce").notna().to_numpy()
    if kind == "text":
        return (values.str.strip() != "").to_numpy()
    return _parse_times(values, kind).notna().to_numpy()


def _ids(values: np.ndarray) -> np.ndarray:
    """Text ids as int64 when every one is a plain integer, else as strings.

    ``"007"`` keeps the whole column as text, so ids with leading zeros (ISBN-like ASINs)
    round-trip through ``item_map.csv`` unchanged.
    """
    series = pd.Series(values, dtype=object)
    if series.map(type).eq(str).all():
        text = series.astype(str)
        if text.str.fullmatch(_ID_PATTERN).all():
            return text.astype(np.int64).to_numpy()
        return text.to_numpy(dtype=object)
    return np.asarray(values)


# ---------------------------------------------------------------------------- formats
def _detect_movielens(path: Path, layout: str) -> str:
    """The MovieLens layout from the first line (``::`` / tab / comma with a header)."""
    if layout != "auto":
        return layout
    line = _first_line(path)
    if "::" in line:
        return "dat"
    if "\t" in line:
        return "udata"
    if "," in line:
        return "csv"
    raise SrgnnError(f"{path}: line 1 ({_short(line)!r}) is none of the MovieLens layouts "
                     f"(ratings.dat '::', ratings.csv ',', u.data tab); pass --layout")


def _read_movielens(path: Path, layout: str) -> Tuple[pd.DataFrame, str]:
    """user, item, rating, time (seconds) from one of the three MovieLens ratings layouts."""
    layout = _detect_movielens(path, layout)
    names = ("user", "item", "rating", "time")
    labels = ("user id", "item id", "rating", "timestamp")
    kinds = ("int", "int", "float", "int")
    if layout == "csv":
        sources: Sequence[Union[str, int]] = ("userId", "movieId", "rating", "timestamp")
        cols = [_Column(n, s, k, lab) for n, s, k, lab in zip(names, sources, kinds, labels)]
        return _read_columns(path, cols, sep=",", header=True), layout
    cols = [_Column(n, i, k, lab) for i, (n, k, lab) in enumerate(zip(names, kinds, labels))]
    if layout == "udata":
        return _read_columns(path, cols, sep="\t", header=False, n_fields=4), layout
    data = path.read_bytes()
    if b"\t" in data:
        raise SrgnnError(f"{path}: a ratings.dat file must not contain tabs; check --layout")
    return _read_columns(path, cols, sep="\t", header=False, n_fields=4, data=data.replace(b"::", b"\t"),
                         shown_sep="'::'"), layout


def _read_amazon_seq(path: Path) -> pd.DataFrame:
    """user, item, time (position in the line) from ``user item item ...`` lines."""
    users: List[str] = []
    items: List[str] = []
    lengths: List[int] = []
    first_line: Dict[str, int] = {}
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                tokens = line.split()
                if not tokens:
                    continue
                if len(tokens) < 2:
                    raise SrgnnError(f"{path}: line {number}: {_short(line.strip())!r} has a user id but no "
                                     f"items; each line must be 'user item item ...'")
                user = tokens[0]
                if user in first_line:
                    raise SrgnnError(f"{path}: line {number}: user {user!r} already has line "
                                     f"{first_line[user]}; put each user's items on one line")
                first_line[user] = number
                users.append(user)
                items.extend(tokens[1:])
                lengths.append(len(tokens) - 1)
    except UnicodeDecodeError as exc:
        raise SrgnnError(f"{path}: not UTF-8 text (byte {exc.start}); pass the raw data file to --input") from None
    if not users:
        raise SrgnnError(f"{path}: holds only blank lines; pass the raw data file to --input")
    counts = np.asarray(lengths, dtype=np.int64)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return pd.DataFrame({
        "user": np.repeat(_ids(np.asarray(users, dtype=object)), counts),
        "item": _ids(np.asarray(items, dtype=object)),
        "time": np.arange(len(items), dtype=np.int64) - starts,
    })


def _read_interactions_csv(path: Path, opts: PrepareOptions) -> pd.DataFrame:
    """user, item, time (and rating) from a delimited file with a header."""
    names = {"user": opts.user_col, "item": opts.item_col, "time": opts.time_col}
    if opts.rating_col is not None:
        names["rating"] = opts.rating_col
    cols = [_Column(name, source, "text", name) for name, source in names.items()]
    frame = _read_columns(path, cols, sep=opts.sep, header=True, line_numbers=True)
    lines = frame["line"].to_numpy()
    out = pd.DataFrame({"user": _ids(frame["user"].to_numpy()), "item": _ids(frame["item"].to_numpy()),
                        "time": _interaction_times(path, frame["time"], lines, opts.time_col)})
    if opts.rating_col is not None:
        rating = pd.to_numeric(frame["rating"], errors="coerce")
        _first_bad(path, frame["rating"], rating.isna().to_numpy(), lines, opts.rating_col, "is not a number")
        out["rating"] = rating.to_numpy(dtype=np.float64)
    return out


def _first_bad(path: Path, values: pd.Series, bad: np.ndarray, lines: np.ndarray, column: str, why: str) -> None:
    """Raise naming the file line and text of the first ``bad`` value, if any."""
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SrgnnError(f"{path}: line {int(lines[row])}, column '{column}': {values.iloc[row]!r} {why}; "
                         f"fix or remove the line")


def _interaction_times(path: Path, values: pd.Series, lines: np.ndarray, column: str) -> np.ndarray:
    """Integer times as they are, else date-times as Unix seconds; name the first bad line."""
    numeric = pd.to_numeric(values, errors="coerce")
    if not np.isnan(numeric.iloc[0]):  # the first value decides: integer times
        _first_bad(path, values, numeric.isna().to_numpy(), lines, column, "is not an integer timestamp "
                                                                           "like the first row's")
        whole = (numeric == np.floor(numeric)).to_numpy()
        _first_bad(path, values, ~whole, lines, column, "is not a whole number (give integer timestamps "
                                                          "or date-time text)")
        return numeric.astype(np.int64).to_numpy()
    parsed = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    _first_bad(path, values, parsed.isna().to_numpy(), lines, column,
               "is neither an integer timestamp nor a date-time (or pick another column with --time_col)")
    return ((parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)


def _read_diginetica(path: Path) -> pd.DataFrame:
    """user (= session), item, time (``timeframe``), date (``eventdate``, Unix seconds)."""
    cols = [_Column("user", "session_id", "int", "session id"), _Column("item", "item_id", "int", "item id"),
            _Column("time", "timeframe", "int", "timeframe"), _Column("date", "eventdate", "day", "eventdate")]
    return _read_columns(path, cols, sep=";", header=True)


def _read_yoochoose(path: Path) -> pd.DataFrame:
    """user (= session), item, time (Unix ms), date (the time in whole seconds)."""
    if _first_line(path).lower().startswith("session"):
        raise SrgnnError(f"{path}: line 1 looks like a header; yoochoose-clicks.dat has none "
                         f"(session_id,timestamp,item_id,category): remove the line")
    cols = [_Column("user", 0, "int", "session id"), _Column("time", 1, "iso", "timestamp"),
            _Column("item", 2, "int", "item id")]
    frame = _read_columns(path, cols, sep=",", header=False, n_fields=4)
    frame["date"] = frame["time"] // 1000
    return frame


def _read(fmt: str, source: Path, opts: PrepareOptions) -> Tuple[pd.DataFrame, Optional[str]]:
    """The canonical frame of ``source`` and, for MovieLens, the layout read."""
    if fmt == "movielens":
        return _read_movielens(source, opts.layout)
    if fmt == "amazon-seq":
        return _read_amazon_seq(source), None
    if fmt == "interactions-csv":
        return _read_interactions_csv(source, opts), None
    if fmt == "diginetica":
        return _read_diginetica(source), None
    return _read_yoochoose(source), None


def read_raw(fmt: str, path: Union[str, Path], options: Optional[PrepareOptions] = None) -> pd.DataFrame:
    """Read a raw file into a frame with columns ``user, item, time`` (+ ``rating``, ``date``).

    For the click logs ``user`` is the session id and ``date`` the click's date in Unix
    seconds (DIGINETICA: ``eventdate``; YOOCHOOSE: the time stamp, whole seconds). Rows are
    in file order.

    Raises:
        SrgnnError: unknown format, missing file or column, or a line that does not parse.
    """
    opts = _resolve_options(fmt, options or PrepareOptions())
    return _read(fmt, _check_input(path), opts)[0]


# ============================================================================ notebook protocol
@dataclass
class NotebookSplit:
    """The notebook triple before writing.

    Attributes:
        splits: ``{"train"|"valid"|"test": frame}`` with columns ``user_id, item_id,
            timestamp`` (encoded ids), sorted by user then time.
        item_ids: original item id of encoded id ``i`` at position ``i - 1``.
        user_ids: original user id of encoded id ``u`` at position ``u - 1``.
        stats: counts for ``meta.json``.
    """

    splits: Dict[str, pd.DataFrame]
    item_ids: np.ndarray
    user_ids: np.ndarray
    stats: Dict[str, Any] = field(default_factory=dict)


def _counts(frame: pd.DataFrame) -> Dict[str, int]:
    """Interactions, users and items of a canonical frame."""
    return {"interactions": int(len(frame)), "users": int(frame["user"].nunique()),
            "items": int(frame["item"].nunique())}


def _occurrences(values: pd.Series) -> np.ndarray:
    """For every row, how many rows share its value (vectorised)."""
    codes, _ = pd.factorize(values)
    return np.bincount(codes)[codes]


def notebook_split(frame: pd.DataFrame, *, rating_threshold: Optional[float] = None, min_item_count: int = 1,
                   min_user_count: int = 5, seed: int = 2024, source: str = "input") -> NotebookSplit:
    """Filter, encode and split interactions (columns ``user, item, time`` [+ ``rating``]).

    Steps: keep ``rating >= rating_threshold``; then drop items with fewer than
    ``min_item_count`` and users with fewer than ``min_user_count`` interactions, repeated
    until both hold (k-core style); encode items ``1..n`` and users ``1..U`` in the order of
    their original ids; shuffle the users with ``numpy.random.default_rng(seed)`` and give
    the first 80% to train, the next 10% to valid, the last 10% to test (``U // 10`` each
    for valid and test).

    Raises:
        SrgnnError: naming the filter that left nothing, or fewer than 10 users for the split.
    """
    stats: Dict[str, Any] = {"read": _counts(frame)}
    if rating_threshold is not None:
        if "rating" not in frame.columns:
            raise SrgnnError(f"{source}: has no ratings, so --rating_threshold cannot apply; drop it")
        frame = frame[frame["rating"] >= rating_threshold]
        if frame.empty:
            raise SrgnnError(f"{source}: no interaction has a rating >= {rating_threshold} "
                             f"(--rating_threshold emptied the data); lower the threshold")
        stats["after_rating_threshold"] = _counts(frame)
    rounds = 0
    while True:
        rounds += 1
        changed = False
        for column, minimum, option in (("item", min_item_count, "min_item_count"),
                                        ("user", min_user_count, "min_user_count")):
            keep = _occurrences(frame[column]) >= minimum
            if not keep.all():
                changed = True
                frame = frame[keep]
                if frame.empty:
                    raise SrgnnError(f"{source}: no interactions left after --{option} {minimum} "
                                     f"(filter round {rounds}); lower --min_item_count / --min_user_count")
        if not changed:
            break
    stats["filter_rounds"] = rounds
    stats["filtered"] = _counts(frame)

    item_codes, item_ids = pd.factorize(frame["item"], sort=True)
    user_codes, user_ids = pd.factorize(frame["user"], sort=True)
    n_users = len(user_ids)
    n_held = n_users // 10
    if n_held < 1:
        raise SrgnnError(f"{source}: only {n_users} user(s) left after the filters; the 8:1:1 user split "
                         f"needs at least 10 (lower --min_user_count / --min_item_count)")
    order = np.random.default_rng(seed).permutation(n_users)
    part = np.empty(n_users, dtype=np.int64)
    part[order[: n_users - 2 * n_held]] = 0
    part[order[n_users - 2 * n_held: n_users - n_held]] = 1
    part[order[n_users - n_held:]] = 2
    encoded = pd.DataFrame({
        "user_id": user_codes.astype(np.int64) + 1,
        "item_id": item_codes.astype(np.int64) + 1,
        "timestamp": frame["time"].to_numpy(dtype=np.int64),
        "row": np.arange(len(frame), dtype=np.int64),
    })
    encoded = encoded.sort_values(["user_id", "timestamp", "row"], kind="mergesort")
    which = part[encoded["user_id"].to_numpy() - 1]
    splits = {name: encoded[which == k].drop(columns="row").reset_index(drop=True)
              for k, name in enumerate(SPLIT_NAMES)}
    stats["splits"] = {name: {"users": int(df["user_id"].nunique()), "interactions": int(len(df))}
                       for name, df in splits.items()}
    return NotebookSplit(splits=splits, item_ids=np.asarray(item_ids), user_ids=np.asarray(user_ids), stats=stats)


# ============================================================================ paper protocol
@dataclass
class PaperSplit:
    """The paper's sessions before augmentation.

    Attributes:
        train_sessions: training sessions (encoded ids), sorted by session date.
        test_sessions: test sessions, sorted by session date, unseen items removed.
        item_ids: original item id of encoded id ``i`` at position ``i - 1``.
        split_time: Unix seconds; training sessions are dated before it (or on it with
            ``keep_split_day``), test sessions after it.
        stats: counts for ``meta.json``.
    """

    train_sessions: List[List[int]]
    test_sessions: List[List[int]]
    item_ids: np.ndarray
    split_time: int
    stats: Dict[str, Any] = field(default_factory=dict)


def paper_split(clicks: pd.DataFrame, *, min_item_count: int = PAPER_MIN_ITEM_COUNT, test_days: int = 7,
                keep_split_day: bool = False, source: str = "input") -> PaperSplit:
    """The SR-GNN preprocessing of a click log (columns ``user`` = session, ``item``, ``time``, ``date``).

    As published: each session's clicks are ordered by ``time`` (ties keep file order); the
    session's date is the ``date`` of its last row in file order; sessions of length 1 are
    dropped; items with fewer than ``min_item_count`` clicks (counted once, after that step)
    are dropped, then sessions left with fewer than 2 clicks. With ``split = last date -
    test_days days``, sessions dated after ``split`` are the test set and sessions dated
    before it the training set (those dated exactly ``split`` are dropped, as the published
    script does, unless ``keep_split_day``). Sessions are sorted by date (ties: first
    appearance in the file). Items are renumbered ``1..n`` by first appearance in the
    training sessions; test clicks on other items are removed and test sessions left with
    fewer than 2 clicks dropped.

    Raises:
        SrgnnError: naming the step that left no sessions.
    """
    n_rows = len(clicks)
    codes, _ = pd.factorize(clicks["user"])  # session number by first appearance
    n_sessions = int(codes.max()) + 1 if n_rows else 0
    session_date = clicks.groupby(codes, sort=True)["date"].last().to_numpy(dtype=np.int64)
    order = np.lexsort((np.arange(n_rows), clicks["time"].to_numpy(), codes))
    codes = codes[order]
    items = clicks["item"].to_numpy()[order]
    stats: Dict[str, Any] = {"read": {"clicks": int(n_rows), "sessions": n_sessions,
                                      "items": int(pd.Series(items).nunique())}}

    keep = np.bincount(codes, minlength=n_sessions)[codes] >= MIN_SESSION_LENGTH
    _require(keep.any(), source, "every session has a single click (length-1 sessions are dropped)")
    codes, items = codes[keep], items[keep]
    keep = _occurrences(pd.Series(items)) >= min_item_count
    _require(keep.any(), source, f"no item has {min_item_count} or more clicks (--min_item_count)")
    codes, items = codes[keep], items[keep]
    keep = np.bincount(codes, minlength=n_sessions)[codes] >= MIN_SESSION_LENGTH
    _require(keep.any(), source, f"no session keeps 2 clicks after dropping items with fewer than "
                                 f"{min_item_count} clicks")
    codes, items = codes[keep], items[keep]
    stats["filtered"] = {"clicks": int(len(codes)), "sessions": int(len(np.unique(codes))),
                         "items": int(pd.Series(items).nunique())}

    alive = np.unique(codes)
    last = int(session_date[alive].max())
    split = last - test_days * SECONDS_PER_DAY
    dates = session_date[codes]
    in_train = dates <= split if keep_split_day else dates < split
    in_test = dates > split
    train_lengths, train_items = _ordered_sessions(codes[in_train], items[in_train], session_date)
    _require(len(train_lengths) > 0, source, f"no session is dated before the last {test_days} day(s)"
                                             f" (--test_days {test_days}); the training set is empty")
    flat_train, item_ids = pd.factorize(pd.Series(train_items))  # codes by first appearance
    train = _cut(flat_train + 1, train_lengths)

    test_lengths, test_items = _ordered_sessions(codes[in_test], items[in_test], session_date)
    test_session = np.repeat(np.arange(len(test_lengths)), test_lengths)
    mapped = pd.Index(item_ids).get_indexer(test_items) + 1  # 0 = never seen in training
    seen = mapped > 0
    mapped, test_session = mapped[seen], test_session[seen]
    sizes = np.bincount(test_session, minlength=len(test_lengths))
    enough = sizes[test_session] >= MIN_SESSION_LENGTH
    test = _cut(mapped[enough], sizes[sizes >= MIN_SESSION_LENGTH])
    _require(len(test) > 0, source, f"no test session (dated in the last {test_days} day(s)) keeps 2 clicks "
                                    f"on items seen in training")
    on_split = 0 if keep_split_day else int(len(np.unique(codes[dates == split])))
    stats["split"] = {"last_date": _iso(last), "split_date": _iso(split), "test_days": test_days,
                      "keep_split_day": keep_split_day, "sessions_dropped_on_split_date": on_split}
    return PaperSplit(train_sessions=train, test_sessions=test, item_ids=np.asarray(item_ids), split_time=split,
                      stats=stats)


def _require(condition: bool, source: str, why: str) -> None:
    """Raise the 'nothing left' error of a preprocessing step."""
    if not condition:
        raise SrgnnError(f"{source}: nothing left after preprocessing: {why}")


def _ordered_sessions(codes: np.ndarray, items: np.ndarray,
                      session_date: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Reorder whole sessions by (session date, session number), keeping the click order.

    Returns the session lengths in the new order and the items, concatenated.
    """
    order = np.lexsort((codes, session_date[codes]))  # stable: clicks keep their order
    codes, items = codes[order], items[order]
    if len(codes) == 0:
        return np.empty(0, dtype=np.int64), items
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    return np.diff(np.r_[starts, len(codes)]), items


def _cut(flat: np.ndarray, lengths: np.ndarray) -> List[List[int]]:
    """Split ``flat`` into Python lists of the given ``lengths``."""
    values = np.asarray(flat, dtype=np.int64).tolist()
    ends = np.cumsum(lengths).tolist()
    return [values[a:b] for a, b in zip([0] + ends[:-1], ends)]


def _iso(seconds: int) -> str:
    """Unix seconds as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    return pd.Timestamp(seconds, unit="s").strftime("%Y-%m-%d %H:%M:%S")
def yoochoose_fraction(train_sessions: Sequence[List[int]], fraction: int) -> Tuple[List[List[int]], Tuple[List[List[int]], List[int]]]:
    """The most recent ``1/fraction`` of the augmented training sequences, as published.

    The training sessions are sorted by date; their augmentation (:func:`augment_prefixes`)
    has ``T`` sequences and the last ``T // fraction`` are kept. The matching
    ``all_train_seq.txt`` holds every session from the one that yields the first kept
    sequence onwards (that first session whole, as the published script writes it).

    Returns:
        ``(sessions, (sequences, labels))``.

    Raises:
        SrgnnError: when ``T // fraction`` is 0.
    """
    per_session = np.fromiter((len(s) - 1 for s in train_sessions), dtype=np.int64, count=len(train_sessions))
    per_session = np.maximum(per_session, 0)
    total = int(per_session.sum())
    keep = total // fraction
    if keep < 1:
        raise SrgnnError(f"only {total} training sequences, so the 1/{fraction} fraction would be empty; "
                         f"use a larger click log")
    first = int(np.searchsorted(np.cumsum(per_session), total - keep, side="right"))
    sessions = list(train_sessions[first:])
    sequences, labels = augment_prefixes(sessions)
    extra = len(sequences) - keep
    return sessions, (sequences[extra:], labels[extra:])


# ============================================================================ writing
def _sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_output(output: Union[str, Path], overwrite: bool, source: Path) -> Path:
    """Refuse an existing output (unless ``overwrite``), a file, or a folder holding the input."""
    out = Path(output)
    if out.exists():
        if not out.is_dir():
            raise SrgnnError(f"{out}: exists and is not a folder; choose another --output")
        if not overwrite:
            raise SrgnnError(f"{out}: already exists; pass --overwrite to replace it or choose another --output")
        if out.resolve() in source.resolve().parents:
            raise SrgnnError(f"{out}: holds the input file {source.name}, which --overwrite would delete; "
                             f"choose another --output")
    return out


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A CSV with a header, no index and ``\\n`` line ends (byte-identical on every run)."""
    frame.to_csv(path, index=False, lineterminator="\n")


def _write_json(data: Dict[str, Any], path: Path) -> None:
    """Indented JSON with a final newline."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _id_map(original: np.ndarray, column: str) -> pd.DataFrame:
    """``original_<column>, <column>`` with encoded ids ``1..n``."""
    return pd.DataFrame({f"original_{column}": original, column: np.arange(1, len(original) + 1, dtype=np.int64)})


def _pairs_stats(pairs: Tuple[List[List[int]], List[int]]) -> Dict[str, int]:
    """Number of sequences and of prefix items of ``(sequences, labels)``."""
    return {"sequences": len(pairs[0]), "prefix_items": int(sum(map(len, pairs[0])))}


def _session_stats(sessions: Sequence[List[int]], pairs: Tuple[List[List[int]], List[int]]) -> Dict[str, int]:
    """Sessions, clicks and sequences of one side of a paper split."""
    return {"sessions": len(sessions), "clicks": int(sum(map(len, sessions))), **_pairs_stats(pairs)}


def _paper_totals(train: Dict[str, int], test: Dict[str, int]) -> Dict[str, Any]:
    """Clicks and the two average lengths of a paper split.

    ``avg_length`` is the mean length of the augmented sequences counting the label
    (``len(prefix) + 1``) over train and test together: 5.125 for the published DIGINETICA
    files, the paper's "5.12". ``avg_session_length`` is clicks per session (4.85 there).
    """
    sequences = train["sequences"] + test["sequences"]
    sessions = train["sessions"] + test["sessions"]
    clicks = train["clicks"] + test["clicks"]
    return {
        "clicks": clicks,
        "avg_length": round((train["prefix_items"] + test["prefix_items"] + sequences) / sequences, 4),
        "avg_session_length": round(clicks / sessions, 4),
    }


def _prepare_notebook(frame: pd.DataFrame, opts: PrepareOptions, meta: Dict[str, Any], out: Path,
                      overwrite: bool, source: str) -> Dict[str, Any]:
    """Run :func:`notebook_split` and write the CSV triple, the id maps and ``meta.json``."""
    result = notebook_split(frame, rating_threshold=opts.rating_threshold, min_item_count=opts.min_item_count,
                            min_user_count=opts.min_user_count, seed=opts.seed, source=source)
    n_items = len(result.item_ids)
    meta.update({
        "filters": {"rating_threshold": opts.rating_threshold, "min_item_count": opts.min_item_count,
                    "min_user_count": opts.min_user_count},
        "seed": opts.seed,
        "split": "users 8:1:1 (numpy.random.default_rng(seed).permutation; valid and test get users // 10 each)",
        "n_items": n_items + 1,
        "items": n_items,
        "users": len(result.user_ids),
        "interactions": int(sum(len(df) for df in result.splits.values())),
        "counts": {key: result.stats[key] for key in ("read", "after_rating_threshold", "filtered")
                   if key in result.stats},
        "filter_rounds": result.stats["filter_rounds"],
        "splits": result.stats["splits"],
        "files": [*SPLIT_FILES.values(), "item_map.csv", "user_map.csv", "meta.json"],
    })
    with _output_folder(out, overwrite) as tmp:
        for name, df in result.splits.items():
            _write_csv(df, tmp / SPLIT_FILES[name])
        _write_csv(_id_map(result.item_ids, "item_id"), tmp / "item_map.csv")
        _write_csv(_id_map(result.user_ids, "user_id"), tmp / "user_map.csv")
        _write_json(meta, tmp / "meta.json")
    return meta


def _prepare_paper(frame: pd.DataFrame, fmt: str, opts: PrepareOptions, meta: Dict[str, Any], out: Path,
                   overwrite: bool, source: str) -> Dict[str, Any]:
    """Run :func:`paper_split` and write the published pickle layout, the item map and ``meta.json``."""
    result = paper_split(frame, min_item_count=opts.min_item_count, test_days=opts.test_days,
                         keep_split_day=opts.keep_split_day, source=source)
    test = augment_prefixes(result.test_sessions)
    test_stats = _session_stats(result.test_sessions, test)
    n_items = len(result.item_ids)
    meta.update({
        "filters": {"min_session_length": MIN_SESSION_LENGTH, "min_item_count": opts.min_item_count},
        "split": result.stats["split"],
        "n_items": n_items + 1,
        "items": n_items,
        "counts": {"read": result.stats["read"], "filtered": result.stats["filtered"]},
    })
    folders: Dict[str, Tuple[List[List[int]], Tuple[List[List[int]], List[int]]]] = {}
    if fmt == "yoochoose":
        full = {"sessions": len(result.train_sessions), "clicks": int(sum(map(len, result.train_sessions))),
                "sequences": int(sum(len(s) - 1 for s in result.train_sessions))}
        meta["counts"]["train_all"] = full
        meta["counts"]["test"] = test_stats
        meta["fractions"] = {}
        for fraction in YOOCHOOSE_FRACTIONS:
            sessions, train = yoochoose_fraction(result.train_sessions, fraction)
            name = f"yoochoose1_{fraction}"
            folders[name] = (sessions, train)
            train_stats = _session_stats(sessions, train)
            meta["fractions"][name] = {"train": train_stats, "test": test_stats,
                                       **_paper_totals(train_stats, test_stats)}
        meta["files"] = [f"{name}/{f}" for name in folders for f in ("all_train_seq.txt", "train.txt", "test.txt")]
    else:
        train = augment_prefixes(result.train_sessions)
        folders[""] = (result.train_sessions, train)
        train_stats = _session_stats(result.train_sessions, train)
        meta["counts"].update({"train": train_stats, "test": test_stats})
        meta.update(_paper_totals(train_stats, test_stats))
        meta["files"] = ["all_train_seq.txt", "train.txt", "test.txt"]
    meta["files"] += ["item_map.csv", "meta.json"]
    with _output_folder(out, overwrite) as tmp:
        for name, (sessions, train) in folders.items():
            write_session_pickles(tmp / name, sessions, train, test)
        _write_csv(_id_map(result.item_ids, "item_id"), tmp / "item_map.csv")
        _write_json(meta, tmp / "meta.json")
    return meta


@contextlib.contextmanager
def _output_folder(out: Path, overwrite: bool) -> Iterator[Path]:
    """:func:`atomic_directory`, reporting a folder that appeared meanwhile as an SrgnnError."""
    try:
        with atomic_directory(out, overwrite=overwrite) as tmp:
            yield tmp
    except FileExistsError:
        raise SrgnnError(f"{out}: appeared while preparing; pass --overwrite to replace it") from None


def prepare_dataset(fmt: str, input_path: Union[str, Path], output: Union[str, Path],
                    options: Optional[PrepareOptions] = None, overwrite: bool = False) -> Dict[str, Any]:
    """Prepare a raw file into ``output`` with the notebook or the paper protocol.

    Args:
        fmt: one of :data:`FORMATS`.
        input_path: the raw file.
        output: the folder to create (it appears whole or not at all).
        options: see :class:`PrepareOptions`.
        overwrite: replace an existing ``output`` folder.

    Returns:
        The contents of ``meta.json`` (also written into ``output``).

    Raises:
        SrgnnError: one line for any problem with the input, the options or the output.
    """
    opts = _resolve_options(fmt, options or PrepareOptions())
    source = _check_input(input_path)
    out = _check_output(output, overwrite, source)
    frame, layout = _read(fmt, source, opts)
    meta: Dict[str, Any] = {"format": fmt}
    if layout is not None:
        meta["layout"] = layout
    meta["protocol"] = opts.protocol
    meta["source"] = {"path": str(source.resolve()), "bytes": source.stat().st_size, "sha256": _sha256(source)}
    if opts.protocol == "paper":
        return _prepare_paper(frame, fmt, opts, meta, out, overwrite, str(source))
    return _prepare_notebook(frame, opts, meta, out, overwrite, str(source))


# ============================================================================ summary
def _n(value: int) -> str:
    """An integer with thousands separators."""
    return f"{value:,}"


def format_summary(meta: Dict[str, Any], output: Union[str, Path]) -> str:
    """A few lines describing a prepared dataset (what the CLI prints)."""
    fmt = meta["format"] + (f" ({meta['layout']})" if "layout" in meta else "")
    lines = [f"prepared {fmt} -> {output} [{meta['protocol']} protocol]"]
    counts = meta["counts"]
    if meta["protocol"] == "notebook":
        def row(name: str, c: Dict[str, int]) -> str:
            return (f"  {name:<10} {_n(c['interactions']):>12} interactions {_n(c['users']):>9} users"
                    + (f" {_n(c['items']):>9} items" if "items" in c else ""))
        f = meta["filters"]
        rules = [f"items >= {f['min_item_count']}", f"users >= {f['min_user_count']}"]
        if f["rating_threshold"] is not None:
            rules.insert(0, f"rating >= {f['rating_threshold']}")
        lines.append(row("read", counts["read"]))
        lines.append(row("filtered", counts["filtered"]) + f"  ({', '.join(rules)}; {meta['filter_rounds']} round(s))")
        for name in SPLIT_NAMES:
            lines.append(row(name, meta["splits"][name]))
        lines.append(f"  n_items = {_n(meta['n_items'])} (ids 1..{_n(meta['items'])}, 0 = padding); "
                     f"users shuffled with seed {meta['seed']}")
    else:
        def row(name: str, c: Dict[str, int]) -> str:
            text = f"  {name:<19} {_n(c['clicks']):>11} clicks {_n(c['sessions']):>10} sessions"
            return text + (f" {_n(c['sequences']):>10} sequences" if "sequences" in c else f" {_n(c['items']):>8} items")
        s = meta["split"]
        lines.append(row("read", counts["read"]))
        lines.append(row("filtered", counts["filtered"]) + f"  (sessions >= 2 clicks, items >= "
                                                           f"{meta['filters']['min_item_count']} clicks)")
        dropped = "" if s["keep_split_day"] else f"; {_n(s['sessions_dropped_on_split_date'])} dated on it dropped"
        lines.append(f"  split: test = sessions dated after {s['split_date']} (last {s['last_date']}, "
                     f"{s['test_days']} day(s)){dropped}")
        blocks = meta.get("fractions") or {"": {"train": counts["train"], "test": counts["test"],
                                                "clicks": meta["clicks"], "avg_length": meta["avg_length"]}}
        if "train_all" in counts:
            lines.append(row("train (all)", counts["train_all"]))
        for name, block in blocks.items():
            prefix = f"{name} " if name else ""
            lines.append(row(f"{prefix}train", block["train"]))
            lines.append(row(f"{prefix}test", block["test"]))
            lines.append(f"  {prefix}clicks {_n(block['clicks'])}, average length {block['avg_length']:.2f} "
                         f"(prefix + label, train and test)")
        lines.append(f"  items {_n(meta['items'])} (n_items = {_n(meta['n_items'])} with padding)")
    lines.append(f"  wrote {', '.join(meta['files'])}")
    return "\n".join(lines)
