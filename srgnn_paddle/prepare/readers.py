"""Raw public formats read into one canonical frame (``user, item, time`` [+ ``rating``, ``date``]),
chunk by chunk, every malformed line reported with its number and text."""
from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.prepare.options import PrepareOptions, resolve_options

_CHUNK_ROWS = 1_000_000
_INT_PATTERN = r"\s*[-+]?\d{1,18}\s*"
_ID_PATTERN = r"(?:0|-?[1-9]\d{0,17})"  # ids that survive int(): no "+", no leading zero


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


def check_input(path: Union[str, Path]) -> Path:
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


# ---------------------------------------------------------------------------- labelled sessions
SESSION_COLUMN = "session"
LABEL_COLUMN = "label"
_ITEM_ID = re.compile(r"-?\d{1,18}")


@dataclass
class SessionRows:
    """The rows of a sessions CSV (``sessions-csv``; ``predict``'s input).

    Attributes:
        header: the column names, in file order.
        fields: every row's fields as text (what ``predict`` copies to its output).
        sessions: every row's item ids (original ids, in order).
        labels: ``[R]`` int64 next items, or None when the file has no label column.
        lines: ``[R]`` the file line of each row.
    """

    header: List[str]
    fields: List[List[str]]
    sessions: List[List[int]]
    labels: Optional[np.ndarray]
    lines: np.ndarray


def parse_session(text: str) -> List[int]:
    """Item ids from ``[1, 2, 3]`` (a list, commas or spaces between the ids), ``1 2 3`` or
    ``[]``; ValueError saying what is wrong otherwise."""
    body = text.strip()
    if body.startswith("[") or body.endswith("]"):
        if not (body.startswith("[") and body.endswith("]")) or len(body) < 2:
            raise ValueError("is not a list of item ids: brackets do not pair up")
        body = body[1:-1].strip()
        if not body:
            return []
        tokens = [t.strip() for t in body.split(",")] if "," in body else body.split()
    elif "," in body:
        raise ValueError("is not a list of item ids: ids separated by commas need brackets, [1, 2, 3]")
    else:
        tokens = body.split()
    for token in tokens:
        if not token:
            raise ValueError("is not a list of item ids: an empty entry between commas")
        if "[" in token or "]" in token:
            raise ValueError("is not a list of item ids: nested or stray brackets")
        if not _ITEM_ID.fullmatch(token):
            raise ValueError(f"holds {token!r}, not an integer item id")
    return [int(t) for t in tokens]


def read_sessions_csv(path: Union[str, Path], need_label: bool = True) -> SessionRows:
    """Read a CSV with a ``session`` column (item ids as ``[1, 2, 3]`` or ``1 2 3``) and a
    ``label`` column (the next item's id; required with ``need_label``, else optional and
    read when present, which must then be filled in on every row). Other columns are kept as
    text. Blank lines are skipped.

    Raises:
        SrgnnError: one line naming the file, the line and its text for a missing column, a
            row with a wrong number of fields, bad list syntax, a non-integer id or a
            missing label.
    """
    path = check_input(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SrgnnError(f"{path}: not UTF-8 text (byte {exc.start}); pass the sessions CSV") from None
    lines = text.splitlines()
    reader = csv.reader(lines)
    header = next((row for row in reader if row), None)
    if header is None:
        raise SrgnnError(f"{path}: holds only blank lines; pass the sessions CSV")
    header = [name.strip() for name in header]
    if SESSION_COLUMN not in header or (need_label and LABEL_COLUMN not in header):
        wanted = f"{SESSION_COLUMN},{LABEL_COLUMN}" if need_label else SESSION_COLUMN
        raise SrgnnError(f"{path}: line {reader.line_num}: the header {_short(lines[reader.line_num - 1])!r} "
                         f"lacks the column(s) {wanted}; the first line must name the columns")
    at_session = header.index(SESSION_COLUMN)
    at_label = header.index(LABEL_COLUMN) if LABEL_COLUMN in header else None
    fields: List[List[str]] = []
    sessions: List[List[int]] = []
    labels: List[int] = []
    numbers: List[int] = []
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):  # a blank line
            continue
        number = reader.line_num

        def fail(what: str) -> NoReturn:
            raise SrgnnError(f"{path}: line {number}: {what} (line: {_short(lines[number - 1])!r}); "
                             f"fix or remove the line")

        if len(row) != len(header):
            fail(f"{len(row)} field(s), the header has {len(header)} (quote a session that holds commas: "
                 f"\"[1, 2, 3]\")")
        try:
            sessions.append(parse_session(row[at_session]))
        except ValueError as exc:
            fail(f"column '{SESSION_COLUMN}' {exc}")
        if at_label is not None:
            label = row[at_label].strip()
            if not label:
                fail(f"missing {LABEL_COLUMN}")
            if not _ITEM_ID.fullmatch(label):
                fail(f"{LABEL_COLUMN} {label!r} is not an integer item id")
            labels.append(int(label))
        fields.append(row)
        numbers.append(number)
    if not fields:
        raise SrgnnError(f"{path}: no data rows after the header; pass the sessions CSV")
    return SessionRows(header=header, fields=fields, sessions=sessions,
                       labels=np.asarray(labels, dtype=np.int64) if at_label is not None else None,
                       lines=np.asarray(numbers, dtype=np.int64))


def read_frame(fmt: str, source: Path, opts: PrepareOptions) -> Tuple[pd.DataFrame, Optional[str]]:
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
    opts = resolve_options(fmt, options or PrepareOptions())
    return read_frame(fmt, check_input(path), opts)[0]

