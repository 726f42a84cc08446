"""The two protocols' splits: the notebook's 8:1:1 user split and the SR-GNN paper's
session preprocessing (last days as test, prefix augmentation, YOOCHOOSE fractions)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from srgnn_paddle.data.pairs import TEST_STREAM, VALID_STREAM, draw_excluding, latest_per_user, pair_keys
from srgnn_paddle.data.sessions import augment_prefixes
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.prepare.options import MIN_SESSION_LENGTH, PAPER_MIN_ITEM_COUNT, SECONDS_PER_DAY, SPLIT_NAMES


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


def _filter(frame: pd.DataFrame, rating_threshold: Optional[float], min_item_count: int, min_user_count: int,
            source: str, stats: Dict[str, Any]) -> pd.DataFrame:
    """Keep ``rating >= rating_threshold``; then drop items with fewer than ``min_item_count``
    and users with fewer than ``min_user_count`` interactions, repeated until both hold
    (k-core style). Records ``after_rating_threshold``, ``filter_rounds`` and ``filtered``
    in ``stats``.

    Raises:
        SrgnnError: naming the filter that left nothing.
    """
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
    return frame


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
    frame = _filter(frame, rating_threshold, min_item_count, min_user_count, source, stats)

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



# ============================================================================ leave-one-out protocol
@dataclass
class LooSplit:
    """The NCF files' contents before writing (ids from 0, as in the files).

    Attributes:
        train, valid, test: frames with columns ``user, item, rating, time`` (``rating``
            NaN when the input has none), sorted by user then time; ``valid`` and ``test``
            hold one row per user.
        valid_negatives, test_negatives: ``[U, n]`` int64 negatives of each row of
            ``valid`` / ``test``.
        item_ids, user_ids: the original id of encoded id ``k`` at position ``k``.
        stats: counts for ``meta.json``.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    valid_negatives: np.ndarray
    test_negatives: np.ndarray
    item_ids: np.ndarray
    user_ids: np.ndarray
    stats: Dict[str, Any] = field(default_factory=dict)


def loo_split(frame: pd.DataFrame, *, rating_threshold: Optional[float] = None, min_item_count: int = 1,
              min_user_count: int = 3, negatives: int = 99, seed: int = 2024, source: str = "input") -> LooSplit:
    """The leave-one-out protocol of NCF (He et al. 2017) on interactions (columns ``user,
    item, time`` [+ ``rating``]).

    Steps: a (user, item) pair seen several times keeps its latest interaction (largest
    time, ties: the later row); keep ``rating >= rating_threshold``; the k-core style
    filters (``min_item_count``, ``min_user_count``, at least 3: one interaction each for
    training, validation and test); items and users encoded from 0 in the order of their
    original ids. Per user, ordered by time (ties: file order), the latest interaction is
    the test item, the one before it the validation item, the rest training. Each test and
    validation row gets ``negatives`` distinct items the user never interacted with, drawn
    uniformly (``default_rng([seed, 1])`` for the test rows, ``[seed, 2]`` for the
    validation rows, see :func:`~srgnn_paddle.data.pairs.draw_excluding`).

    Raises:
        SrgnnError: naming the filter that left nothing, or a user with too few items left
            to draw ``negatives`` from.
    """
    if min_user_count < 3:
        raise SrgnnError(f"--min_user_count must be >= 3 for --protocol loo (training, validation and test need "
                         f"an interaction each), got {min_user_count}")
    stats: Dict[str, Any] = {"read": _counts(frame)}
    frame = frame.assign(row=np.arange(len(frame), dtype=np.int64))
    ordered = frame.sort_values(["user", "item", "time", "row"], kind="mergesort")
    frame = ordered[~ordered.duplicated(["user", "item"], keep="last")].sort_values("row", kind="mergesort")
    stats["deduplicated"] = _counts(frame)
    frame = _filter(frame, rating_threshold, min_item_count, min_user_count, source, stats)

    item_codes, item_ids = pd.factorize(frame["item"], sort=True)
    user_codes, user_ids = pd.factorize(frame["user"], sort=True)
    encoded = pd.DataFrame({
        "user": user_codes.astype(np.int64),
        "item": item_codes.astype(np.int64),
        "rating": frame["rating"].to_numpy(dtype=np.float64) if "rating" in frame.columns else np.nan,
        "time": frame["time"].to_numpy(dtype=np.int64),
    })
    encoded = encoded.iloc[np.lexsort((frame["row"].to_numpy(), encoded["time"].to_numpy(),
                                       encoded["user"].to_numpy()))].reset_index(drop=True)
    users = encoded["user"].to_numpy()
    test_rows = latest_per_user(users)  # the frame is in (user, time, row) order: the last row of each user
    rest = np.ones(len(encoded), dtype=bool)
    rest[test_rows] = False
    valid_rows = np.flatnonzero(rest)[latest_per_user(users[rest])]
    rest[valid_rows] = False
    n_items = len(item_ids)
    known = pair_keys(users, encoded["item"].to_numpy(), n_items)
    try:
        test_neg = draw_excluding(np.random.default_rng([seed, TEST_STREAM]), users[test_rows], negatives, 0,
                                  n_items, known, n_items, distinct=True)
        valid_neg = draw_excluding(np.random.default_rng([seed, VALID_STREAM]), users[valid_rows], negatives, 0,
                                   n_items, known, n_items, distinct=True)
    except SrgnnError as exc:
        raise SrgnnError(f"{source}: after the filters, {exc} (encoded id; see user_map.csv); lower --negatives or "
                         f"raise --min_item_count") from None
    splits = {"train": encoded[rest].reset_index(drop=True), "valid": encoded.iloc[valid_rows].reset_index(drop=True),
              "test": encoded.iloc[test_rows].reset_index(drop=True)}
    stats["splits"] = {name: {"users": int(df["user"].nunique()), "interactions": int(len(df))}
                       for name, df in splits.items()}
    return LooSplit(splits["train"], splits["valid"], splits["test"], valid_neg, test_neg, np.asarray(item_ids),
                    np.asarray(user_ids), stats)


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

