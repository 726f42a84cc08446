"""The two protocols' splits: the notebook's 8:1:1 user split, the SR-GNN paper's
session preprocessing (last days as test, prefix augmentation, YOOCHOOSE fractions) and,
for user sequences without dates, the paper protocol's leave-last-out split per user."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from srgnn_paddle.data.pairs import TEST_STREAM, VALID_STREAM, draw_excluding, latest_per_user, pair_keys
from srgnn_paddle.data.sessions import augment_prefixes
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.prepare.options import (MIN_LEAVE_LAST_OUT_ITEMS, MIN_SESSION_LENGTH, PAPER_MIN_ITEM_COUNT,
                                          SECONDS_PER_DAY, SPLIT_NAMES)


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
# ============================================================================ labelled sessions
#: sessions-csv: rows whose ``session`` holds fewer items are dropped (the course report drops
#: single-item sessions)
MIN_SESSION_ITEMS = 2


@dataclass
class SessionsSplit:
    """A sessions CSV split for the paper protocol.

    Attributes:
        train_sessions: training rows as whole sequences ``session + [label]`` (encoded ids).
        test: test rows as ``(sessions, labels)`` (encoded ids, unknown items removed).
        item_ids: original item id of encoded id ``i`` at position ``i - 1``.
        stats: counts for ``meta.json``.
    """

    train_sessions: List[List[int]]
    test: Tuple[List[List[int]], List[int]]
    item_ids: np.ndarray
    stats: Dict[str, Any] = field(default_factory=dict)


def sessions_split(sessions: Sequence[Sequence[int]], labels: np.ndarray, *, min_item_count: int = 5,
                   test_portion: float = 0.2, seed: int = 2024, source: str = "input") -> SessionsSplit:
    """Filter, split and encode labelled sessions (rows ``session``, ``label``; original ids).

    Steps (the course report's preprocessing, then the paper's encoding): drop rows whose
    session holds fewer than :data:`MIN_SESSION_ITEMS` items; count every item over the kept
    rows (session items and labels); drop items seen fewer than ``min_item_count`` times from
    the sessions, rows whose label is such an item, and rows left with fewer than
    :data:`MIN_SESSION_ITEMS` session items; hold out ``round(test_portion * rows)`` rows
    (at least 1) chosen by ``numpy.random.default_rng(seed).permutation`` as the test split,
    the others (in file order) are training rows. Item ids are encoded ``1..n`` over the
    training rows only, in order of first appearance (session then label, row by row), as
    the paper numbers items; test rows lose the items never seen in training, and a test row
    is dropped when its label is such an item or no session item is left.

    Raises:
        SrgnnError: naming the step that left nothing.
    """
    lengths = np.fromiter((len(s) for s in sessions), dtype=np.int64, count=len(sessions))
    stats: Dict[str, Any] = {"read": {"rows": int(len(lengths))}}
    keep_rows = np.flatnonzero(lengths >= MIN_SESSION_ITEMS)
    _require(len(keep_rows) > 0, source, f"every session holds fewer than {MIN_SESSION_ITEMS} items")
    stats["after_session_length"] = {"rows": int(len(keep_rows))}
    row_lengths = lengths[keep_rows] + 1  # session items then the label
    flat = np.concatenate([np.asarray(list(sessions[r]) + [int(labels[r])], dtype=np.int64) for r in keep_rows])
    owner = np.repeat(np.arange(len(keep_rows)), row_lengths)
    is_label = np.zeros(len(flat), dtype=bool)
    is_label[np.cumsum(row_lengths) - 1] = True
    frequent = _occurrences(pd.Series(flat)) >= min_item_count
    label_ok = np.ones(len(keep_rows), dtype=bool)
    label_ok[owner[is_label & ~frequent]] = False
    session_left = np.bincount(owner[~is_label & frequent], minlength=len(keep_rows))
    good = label_ok & (session_left >= MIN_SESSION_ITEMS)
    _require(good.any(), source, f"no row keeps a label and {MIN_SESSION_ITEMS} session items seen "
                                 f"{min_item_count} or more times (--min_item_count)")
    kept = frequent & good[owner]
    rows_flat, rows_owner = flat[kept], owner[kept]
    row_ids = np.flatnonzero(good)  # positions in keep_rows
    stats["filtered"] = {"rows": int(len(row_ids)), "items": int(len(np.unique(rows_flat)))}

    n_test = max(1, int(round(test_portion * len(row_ids))))
    _require(n_test < len(row_ids), source, f"only {len(row_ids)} row(s) left, too few to hold out a test split")
    order = np.random.default_rng(seed).permutation(len(row_ids))
    in_test = np.zeros(len(keep_rows), dtype=bool)
    in_test[row_ids[order[:n_test]]] = True
    train_mask = ~in_test[rows_owner]
    train_lengths = np.bincount(rows_owner[train_mask], minlength=len(keep_rows))[row_ids[~in_test[row_ids]]]
    codes, item_ids = pd.factorize(pd.Series(rows_flat[train_mask]))  # by first appearance
    train = _cut(codes + 1, train_lengths)

    test_flat, test_owner = rows_flat[~train_mask], rows_owner[~train_mask]
    mapped = pd.Index(item_ids).get_indexer(test_flat) + 1  # 0: never seen in training
    test_is_label = np.r_[test_owner[1:] != test_owner[:-1], True]
    label_known = np.zeros(len(keep_rows), dtype=bool)
    label_known[test_owner[test_is_label & (mapped > 0)]] = True
    items_left = np.bincount(test_owner[~test_is_label & (mapped > 0)], minlength=len(keep_rows))
    usable = label_known & (items_left >= 1)
    _require(usable[in_test].any(), source, "no test row keeps its label and an item seen in training")
    use = usable[test_owner] & (mapped > 0)
    test_rows = _cut(mapped[use], np.bincount(test_owner[use], minlength=len(keep_rows))[in_test & usable])
    test = ([row[:-1] for row in test_rows], [row[-1] for row in test_rows])
    stats["split"] = {"test_portion": test_portion, "seed": seed, "held_out_rows": int(n_test),
                      "test_rows_dropped": int(n_test - len(test_rows))}
    stats["train"] = {"rows": len(train), "sequences": int(sum(len(t) - 1 for t in train))}
    stats["test"] = {"rows": len(test_rows)}
    return SessionsSplit(train_sessions=train, test=test, item_ids=np.asarray(item_ids), stats=stats)


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



# ============================================================================ leave-last-out (paper protocol)
@dataclass
class LeaveLastOutSplit:
    """User sequences split leave-last-out, as paper-protocol pairs.

    Attributes:
        train_sessions: each user's training items (all but the last two), those with at
            least 2 items (``all_train_seq.txt``).
        train: ``(sequences, labels)``: the prefix augmentation of ``train_sessions``, or
            with ``train_pairs='last'`` each session's one pair ``(s[:-1], s[-1])``.
        valid: ``(s[:n-2], s[n-2])`` of every user ``s`` of ``n`` items (its second-to-last item).
        test: ``(s[:n-1], s[n-1])`` of every user (its last item).
        item_ids: original item id of encoded id ``i`` at position ``i - 1``.
        user_ids: original id of each kept user, in file order (the order of ``valid`` and ``test``).
        stats: counts for ``meta.json``.
    """

    train_sessions: List[List[int]]
    train: Tuple[List[List[int]], List[int]]
    valid: Tuple[List[List[int]], List[int]]
    test: Tuple[List[List[int]], List[int]]
    item_ids: np.ndarray
    user_ids: np.ndarray
    stats: Dict[str, Any] = field(default_factory=dict)


def leave_last_out_split(frame: pd.DataFrame, *, min_item_count: int = 1, train_pairs: str = "prefixes",
                         source: str = "input") -> LeaveLastOutSplit:
    """The paper protocol for time-ordered user sequences (columns ``user, item, time``).

    Steps: items with fewer than ``min_item_count`` interactions are dropped (counted
    once), then users left with fewer than 3 items; items are encoded ``1..n`` in the order
    of their original ids (every kept item, so an item seen only as a validation or test
    target is in the catalogue but never trained as a positive); users keep their file
    order. A user ``s_1..s_n`` gives the test pair ``(s_1..s_(n-1), s_n)``, the validation
    pair ``(s_1..s_(n-2), s_(n-1))`` and the training session ``s_1..s_(n-2)``, which
    yields training pairs only when it has 2 items or more: all its prefixes with their next
    item (``train_pairs='prefixes'``, :func:`augment_prefixes`) or its one longest prefix
    (``'last'``). No item of a user's validation or test pair is ever a training target, and
    the validation pair's history is the training session itself.

    Raises:
        SrgnnError: naming the filter that left no user, or no training pair.
    """
    codes, users = pd.factorize(frame["user"])  # users by first appearance
    order = np.lexsort((np.arange(len(frame)), frame["time"].to_numpy(), codes))
    codes, items = codes[order], frame["item"].to_numpy()[order]
    stats: Dict[str, Any] = {"read": {"interactions": int(len(frame)), "users": int(len(users)),
                                      "items": int(pd.Series(items).nunique())}}
    keep = _occurrences(pd.Series(items)) >= min_item_count
    _require(keep.any(), source, f"no item has {min_item_count} or more interactions (--min_item_count)")
    codes, items = codes[keep], items[keep]
    keep = np.bincount(codes, minlength=len(users))[codes] >= MIN_LEAVE_LAST_OUT_ITEMS
    _require(keep.any(), source, f"no user has {MIN_LEAVE_LAST_OUT_ITEMS} items (a training item, the "
                                 f"validation item and the test item)")
    codes, items = codes[keep], items[keep]
    item_codes, item_ids = pd.factorize(pd.Series(items), sort=True)
    kept_users = np.unique(codes)
    lengths = np.bincount(codes)[kept_users]
    sequences = _cut(item_codes + 1, lengths)
    sessions = [seq[:-2] for seq in sequences if len(seq) - 2 >= MIN_SESSION_LENGTH]
    if train_pairs == "prefixes":
        train = augment_prefixes(sessions)
    else:
        train = ([seq[:-1] for seq in sessions], [seq[-1] for seq in sessions])
    _require(len(train[1]) > 0, source, f"no user has {MIN_LEAVE_LAST_OUT_ITEMS + 1} items, so there is no "
                                        f"training pair (each user's last two items are validation and test)")
    valid = ([seq[:-2] for seq in sequences], [seq[-2] for seq in sequences])
    test = ([seq[:-1] for seq in sequences], [seq[-1] for seq in sequences])
    stats["filtered"] = {"interactions": int(len(items)), "users": int(len(kept_users)), "items": int(len(item_ids)),
                         "users_dropped": int(len(users) - len(kept_users))}
    return LeaveLastOutSplit(train_sessions=sessions, train=train, valid=valid, test=test,
                             item_ids=np.asarray(item_ids), user_ids=np.asarray(users)[kept_users], stats=stats)
