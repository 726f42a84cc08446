"""Leave-one-out data for the (user, item) models (GMF, MLP, NeuMF; batch layout ``pairs``).

* :class:`PairDataset`: the training pairs, every positive with ``num_negatives`` items the
  user has no training interaction with, redrawn every epoch (vectorised rejection
  sampling seeded by ``(seed, epoch)``: no Python loop per sample);
* :class:`HeldOutDataset`: one held-out item per user (validation or test) with its sampled
  negatives, and the items that the full-catalogue ranking leaves out for that user;
* :func:`load_leave_one_out`: the NCF files of a folder (:mod:`srgnn_paddle.data.ncf_files`)
  into both, validated.

Item ids: the files count from 0; here every item id is the file's plus one, so that row 0
of every item table stays the padding row (never a candidate, never drawn) as in the rest
of the toolkit. User ids are the files' (rows ``0..n_users-1`` of the user table).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

from srgnn_paddle.data.interactions import check_table_rows
from srgnn_paddle.data.ncf_files import (
    NEGATIVE_SUFFIX,
    RATING_SUFFIX,
    NegativeFile,
    RatingFile,
    find_dataset_name,
    read_negative_file,
    read_rating_file,
)
from srgnn_paddle.errors import SrgnnError

#: rng stream tags: ``default_rng([seed, TAG])`` draws the test and the validation negatives
#: (``prepare --protocol loo`` and the loader's derived validation split use the same streams).
TEST_STREAM, VALID_STREAM, TRAIN_STREAM = 1, 2, 3


@dataclass
class PairBatch:
    """One batch of (user, item) pairs, numpy arrays throughout.

    user:       ``[B]`` int64 user ids.
    item:       ``[B]`` int64 item ids (training: the scored item; evaluation: the held-out item).
    label:      ``[B]`` float32, 1 for a positive, 0 for a sampled negative.
    candidates: evaluation only, ``[B, C]`` int64: the held-out item, then its ``C - 1``
                sampled negatives.
    """

    user: np.ndarray
    item: np.ndarray
    label: np.ndarray
    candidates: Optional[np.ndarray] = None

    @property
    def target(self) -> np.ndarray:
        """The batch's items (the contract's ``targets``): ``[B]`` int64."""
        return self.item

    def __len__(self) -> int:
        return len(self.user)


# ---------------------------------------------------------------------------- sampling
def pair_keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Sorted distinct ``user * n_items + item`` keys of interactions: ``[N], [N] -> [<= N]`` int64."""
    return np.unique(np.asarray(users, np.int64) * int(n_items) + np.asarray(items, np.int64))


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``keys`` (any shape) found in ``sorted_keys``: bool, same shape."""
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[pos] == keys


def _repeated_in_row(matrix: np.ndarray) -> np.ndarray:
    """``[N, C]`` bool: the entry equals an earlier entry of its row."""
    order = np.argsort(matrix, axis=1, kind="stable")
    ranked = np.take_along_axis(matrix, order, axis=1)
    again = np.zeros(matrix.shape, dtype=bool)
    same = ranked[:, 1:] == ranked[:, :-1]  # stable order: the later occurrence sorts after the earlier
    rows = np.nonzero(same)[0]
    again[rows, order[:, 1:][same]] = True
    return again


def draw_excluding(rng: np.random.Generator, users: np.ndarray, count: int, low: int, high: int,
                   excluded_keys: np.ndarray, key_width: int, distinct: bool = False) -> np.ndarray:
    """For every user, ``count`` items drawn uniformly from ``low..high-1`` that are not in
    the user's excluded items (``excluded_keys``: sorted ``user * key_width + item``),
    distinct within the row when ``distinct``. Vectorised: the whole matrix is drawn at once,
    then only the rejected entries are drawn again, round after round.

    Args:
        rng: the seeded generator (the result depends on it and the arguments only).
        users: ``[N]`` user ids.
        excluded_keys, key_width: see :func:`pair_keys`.
    Returns:
        ``[N, count]`` int64.
    Raises:
        SrgnnError: a user with fewer than ``count`` allowed items (``distinct``) or none.
    """
    users = np.asarray(users, dtype=np.int64)
    if users.size == 0:
        return np.zeros((0, count), dtype=np.int64)
    # allowed items per user = catalogue - excluded items inside [low, high)
    excluded_users = excluded_keys // key_width
    excluded_items = excluded_keys % key_width
    inside = (excluded_items >= low) & (excluded_items < high)
    blocked = np.bincount(excluded_users[inside], minlength=int(users.max()) + 1)[users]
    allowed = (high - low) - blocked
    need = count if distinct else 1
    short = np.flatnonzero(allowed < need)
    if short.size:
        u = int(users[short[0]])
        raise SrgnnError(f"user {u} has interacted with all but {int(allowed[short[0]])} of the {high - low} items, "
                         f"so {need} item(s) it never interacted with cannot be drawn for it")
    out = rng.integers(low, high, size=(users.size, count), dtype=np.int64)
    bad = _member(excluded_keys, users[:, None] * key_width + out)
    if distinct:
        bad |= _repeated_in_row(out)
    while bad.any():
        rows, cols = np.nonzero(bad)
        out[rows, cols] = rng.integers(low, high, size=rows.size, dtype=np.int64)
        bad[:] = False
        bad[rows, cols] = _member(excluded_keys, users[rows] * key_width + out[rows, cols])
        if distinct:
            bad |= _repeated_in_row(out)
    return out


def latest_per_user(users: np.ndarray, times: Optional[np.ndarray] = None) -> np.ndarray:
    """Index of each user's latest interaction: the largest time, ties (and no times) broken
    by position, the later one counting as the latest. ``[N], [N] -> [U]`` int64 indices, in
    user order."""
    users = np.asarray(users, dtype=np.int64)
    position = np.arange(users.size)
    order = np.lexsort((position, position if times is None else np.asarray(times), users))
    ordered = users[order]
    last = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True])
    return order[last]


# ---------------------------------------------------------------------------- datasets
class PairDataset:
    """The training pairs of an epoch: every positive ``(user, item)`` (label 1), then
    ``num_negatives`` negatives per positive (label 0), drawn uniformly from items
    ``1..n_items-1`` the user has no training interaction with, again every epoch.

    Row ``r < P`` is positive ``r``; row ``P + p * k + j`` is negative ``j`` of positive ``p``
    (``k = num_negatives``). The trainer's loader shuffles the rows (seeded by ``(seed,
    epoch)``) and calls :meth:`set_epoch` first, which draws that epoch's negatives from
    ``default_rng([seed, epoch, TRAIN_STREAM])``.

    Args:
        users, items: ``[P]`` int64 training positives (toolkit item ids, from 1).
        n_items: rows of the item table (ids ``1..n_items-1``).
        num_negatives: negatives per positive (>= 1).
        seed: the run's seed.
    """

    def __init__(self, users: np.ndarray, items: np.ndarray, n_items: int, num_negatives: int, seed: int) -> None:
        self.users = np.asarray(users, dtype=np.int64)
        self.items = np.asarray(items, dtype=np.int64)
        self.n_items = int(n_items)
        self.num_negatives = int(num_negatives)
        self.seed = int(seed)
        self.keys = pair_keys(self.users, self.items, self.n_items)
        self.epoch = -1  # no negatives drawn yet: set_epoch (or the first batch, epoch 0) draws them
        self.negatives = np.zeros((len(self.users), self.num_negatives), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.users) * (1 + self.num_negatives)

    def set_epoch(self, epoch: int) -> None:
        """Draw epoch ``epoch``'s negatives (``[P, num_negatives]``), once per epoch."""
        if int(epoch) == self.epoch:
            return
        self.epoch = int(epoch)
        rng = np.random.default_rng([self.seed, self.epoch, TRAIN_STREAM])
        self.negatives = draw_excluding(rng, self.users, self.num_negatives, 1, self.n_items, self.keys,
                                        self.n_items)

    def make_batch(self, indices: Sequence[int], rng: Optional[np.random.Generator] = None) -> PairBatch:
        """The pairs of rows ``indices`` (see the class docstring) as a :class:`PairBatch`."""
        if self.epoch < 0:
            self.set_epoch(0)
        idx = np.asarray(indices, dtype=np.int64)
        n_pos = len(self.users)
        positive = idx < n_pos
        owner = np.where(positive, idx, (idx - n_pos) // max(self.num_negatives, 1))
        negative_item = self.negatives.reshape(-1)[np.where(positive, 0, idx - n_pos)] if self.negatives.size else 0
        item = np.where(positive, self.items[owner], negative_item)
        return PairBatch(self.users[owner], item.astype(np.int64), positive.astype(np.float32))


class HeldOutDataset:
    """One held-out item per user (validation or test) with its sampled negatives, and, per
    user, the items the full-catalogue ranking leaves out (what the model was trained on).

    Args:
        users: ``[U]`` int64 distinct user ids.
        items: ``[U]`` int64 held-out items (toolkit ids).
        negatives: ``[U, C]`` int64 sampled negatives of each row.
        excluded_users, excluded_items: pairs whose item is not a candidate of the user's
            full-catalogue ranking (its training interactions).
        n_users: rows of the user table.
        split: ``"valid"`` or ``"test"``.
        source: where the rows come from, for messages.
    """

    def __init__(self, users: np.ndarray, items: np.ndarray, negatives: np.ndarray, excluded_users: np.ndarray,
                 excluded_items: np.ndarray, n_users: int, split: str = "test", source: str = "held-out split") -> None:
        self.users = np.asarray(users, dtype=np.int64)
        self.items = np.asarray(items, dtype=np.int64)
        self.negatives = np.asarray(negatives, dtype=np.int64)
        self.split = split
        self.source = source
        order = np.argsort(excluded_users, kind="stable")
        self.excluded_items = np.asarray(excluded_items, dtype=np.int64)[order]
        counts = np.bincount(np.asarray(excluded_users, dtype=np.int64), minlength=int(n_users))
        self.excluded_start = np.r_[0, np.cumsum(counts)].astype(np.int64)  # CSR row pointers [n_users + 1]

    def __len__(self) -> int:
        return len(self.users)

    def make_batch(self, indices: Sequence[int], rng: Optional[np.random.Generator] = None) -> PairBatch:
        """Rows ``indices``: users, held-out items, and ``candidates [B, 1 + C]`` (the held-out
        item first)."""
        idx = np.asarray(indices, dtype=np.int64)
        items = self.items[idx]
        return PairBatch(self.users[idx], items, np.ones(len(idx), dtype=np.float32),
                         np.concatenate([items[:, None], self.negatives[idx]], axis=1))

    def excluded(self, users: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The left-out items of a batch's users: ``(row [E], item [E])`` int64, ``row``
        indexing ``users``."""
        users = np.asarray(users, dtype=np.int64)
        start, stop = self.excluded_start[users], self.excluded_start[users + 1]
        counts = stop - start
        rows = np.repeat(np.arange(len(users)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return rows, self.excluded_items[np.repeat(start, counts) + offsets]


# ---------------------------------------------------------------------------- the folder
@dataclass
class LeaveOneOut:
    """A leave-one-out folder, validated, in toolkit ids (items from 1).

    Attributes:
        name: the files' ``<name>``.
        n_users, n_items: table sizes (``n_items`` counts the padding row 0).
        train_users, train_items: ``[P]`` training positives (the validation items removed).
        valid, test: the held-out splits (:class:`HeldOutDataset`).
        valid_from: ``"files"`` (``<name>.valid.*``) or ``"derived"`` (each user's latest
            training interaction, held out here).
    """

    name: str
    n_users: int
    n_items: int
    train_users: np.ndarray
    train_items: np.ndarray
    valid: HeldOutDataset
    test: HeldOutDataset
    valid_from: str


def _check_negatives(ratings: RatingFile, negatives: NegativeFile) -> None:
    """The ``.negative`` file has one line per ``.rating`` line with the same ``(user,item)``,
    and no negative is the held-out item itself."""
    if len(negatives.users) != len(ratings):
        raise SrgnnError(f"{negatives.path}: {len(negatives.users)} lines, but {ratings.path.name} has {len(ratings)}; "
                         f"line k lists the negatives of line k")
    wrong = np.flatnonzero((negatives.users != ratings.users) | (negatives.items != ratings.items))
    if wrong.size:
        k = int(wrong[0])
        raise SrgnnError(f"{negatives.path}: line {k + 1} starts with ({negatives.users[k]},{negatives.items[k]}), "
                         f"but line {k + 1} of {ratings.path.name} is user {ratings.users[k]}, item {ratings.items[k]}")
    same = np.flatnonzero((negatives.negatives == negatives.items[:, None]).any(axis=1))
    if same.size:
        raise SrgnnError(f"{negatives.path}: line {int(same[0]) + 1} lists the held-out item {negatives.items[same[0]]} "
                         f"among its negatives")
    users, counts = np.unique(ratings.users, return_counts=True)
    if (counts > 1).any():
        raise SrgnnError(f"{ratings.path}: user {int(users[counts > 1][0])} has {int(counts.max())} held-out lines; "
                         f"leave-one-out holds out one item per user")


def load_leave_one_out(data_dir: Path, dataset: str = "", seed: int = 2024) -> LeaveOneOut:
    """Read and validate the NCF files of ``data_dir`` (see :mod:`srgnn_paddle.data.ncf_files`).

    The validation split is ``<name>.valid.rating`` / ``<name>.valid.negative`` when the
    folder has them (``prepare --protocol loo`` writes them); otherwise (the published
    files) it is derived here: each user's latest training interaction (largest timestamp,
    ties and files without timestamps: the later line), for users with at least two, is
    held out, with as many negatives as the test lines have, drawn seeded
    (``default_rng([seed, VALID_STREAM])``) among the items the user never interacted with
    (training and test): exactly what ``prepare`` writes for the same interactions and seed.

    Args:
        data_dir: the folder.
        dataset: the ``<name>`` to use when the folder holds several.
        seed: the seed of a derived validation split.
    Raises:
        SrgnnError: one line naming the file and line of the first problem.
    """
    data_dir = Path(data_dir)
    name = find_dataset_name(data_dir, dataset)
    files = {split: data_dir / f"{name}{suffix}" for split, suffix in RATING_SUFFIX.items()}
    negative_files = {split: data_dir / f"{name}{suffix}" for split, suffix in NEGATIVE_SUFFIX.items()}
    train = read_rating_file(files["train"])
    test = read_rating_file(files["test"])
    test_negatives = read_negative_file(negative_files["test"])
    _check_negatives(test, test_negatives)
    has_valid = [files["valid"].is_file(), negative_files["valid"].is_file()]
    if any(has_valid) and not all(has_valid):
        present, absent = (files["valid"], negative_files["valid"]) if has_valid[0] else (negative_files["valid"],
                                                                                          files["valid"])
        raise SrgnnError(f"{present}: found without {absent.name}; give both validation files or neither")
    valid = valid_negatives = None
    if all(has_valid):
        valid = read_rating_file(files["valid"])
        valid_negatives = read_negative_file(negative_files["valid"])
        _check_negatives(valid, valid_negatives)

    parts = [train, test] + ([valid] if valid is not None else [])
    user_ids = np.concatenate([p.users for p in parts])
    item_ids = np.concatenate([p.items for p in parts] + [test_negatives.negatives.ravel()]
                              + ([valid_negatives.negatives.ravel()] if valid_negatives is not None else []))
    lengths = np.cumsum([len(p) for p in parts])
    check_table_rows(item_ids, lambda k: _locate(parts, lengths, k, test_negatives))
    n_users = check_table_rows(user_ids, lambda k: _locate(parts, lengths, k, test_negatives), "user")
    n_file_items = int(item_ids.max()) + 1

    train_users, train_items, train_times = train.users, train.items, train.times
    if valid is None:
        multi = np.bincount(train_users, minlength=n_users)[train_users] >= 2
        latest = latest_per_user(train_users[multi], None if train_times is None else train_times[multi])
        held = np.flatnonzero(multi)[latest]
        known = pair_keys(np.r_[train_users, test.users], np.r_[train_items, test.items], n_file_items)
        negatives = draw_excluding(np.random.default_rng([seed, VALID_STREAM]), train_users[held],
                                   test_negatives.negatives.shape[1], 0, n_file_items, known, n_file_items,
                                   distinct=True)
        keep = np.ones(len(train_users), dtype=bool)
        keep[held] = False
        valid_users, valid_items = train_users[held], train_items[held]
        train_users, train_items = train_users[keep], train_items[keep]
        valid_from = "derived"
    else:
        valid_users, valid_items, negatives = valid.users, valid.items, valid_negatives.negatives
        valid_from = "files"
    # toolkit ids: file item + 1 (row 0 = padding)
    shift = 1
    valid_split = HeldOutDataset(valid_users, valid_items + shift, negatives + shift, train_users,
                                 train_items + shift, n_users, split="valid", source=str(files["valid"]))
    test_split = HeldOutDataset(test.users, test.items + shift, test_negatives.negatives + shift,
                                np.r_[train_users, valid_users], np.r_[train_items, valid_items] + shift, n_users,
                                split="test", source=str(files["test"]))
    if len(valid_split) == 0:
        raise SrgnnError(f"{files['train']}: no user has two training interactions, so there is no validation split; "
                         f"give {files['valid'].name} and {negative_files['valid'].name}")
    return LeaveOneOut(name, n_users, n_file_items + shift, train_users, train_items + shift, valid_split,
                       test_split, valid_from)


def _locate(parts: Sequence[RatingFile], lengths: np.ndarray, k: int, negatives: NegativeFile) -> str:
    """``FILE: line N`` of position ``k`` of the concatenated item ids (for messages)."""
    part = int(np.searchsorted(lengths, k, side="right"))
    if part < len(parts):
        return f"{parts[part].path}: line {k - (lengths[part - 1] if part else 0) + 1}"
    return f"{negatives.path}"
