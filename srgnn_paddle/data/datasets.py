"""Datasets: the notebook's per-user :class:`SequenceDataset` (alias ``SeqnenceDataset``, the
notebook's spelling, spec ``notebook.md`` §2) and the paper's ``(prefix, next item)``
:class:`SessionDataset`. Each builds whole batches with numpy (``make_batch``) and also
works per sample in a plain ``paddle.io.DataLoader``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
import paddle

from srgnn_paddle.config import Config
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.data.interactions import COLUMNS, MIN_TRAIN_ITEMS, _integer_column, validate_item_ids

log = logging.getLogger(__name__)


@dataclass
class SessionTable:
    """Item sequences as flat arrays: sequence ``s`` is ``items[offsets[s]:offsets[s + 1]]``
    (time-ordered; sequences in dataset order, which for the paper's data is date order).
    What the count baselines (:meth:`~srgnn_paddle.models.Recommender.fit`) learn from.

    Attributes:
        items: ``[N]`` int64 item ids.
        offsets: ``[S + 1]`` int64, ``offsets[0] = 0``, ``offsets[S] = N``.
    """

    items: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_lists(cls, sequences: Sequence[Sequence[int]]) -> "SessionTable":
        """From a list of item-id lists."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        items = np.fromiter((i for s in sequences for i in s), dtype=np.int64, count=int(lengths.sum()))
        return cls(items, np.r_[0, np.cumsum(lengths)].astype(np.int64))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        """``[S]`` items per sequence."""
        return np.diff(self.offsets)

    def owners(self) -> np.ndarray:
        """``[N]`` the sequence of every entry of :attr:`items`."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths())

    def to_lists(self) -> List[List[int]]:
        """The sequences as Python lists."""
        values = self.items.tolist()
        bounds = self.offsets.tolist()
        return [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _gather_ranges(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``values[starts[0]:starts[0] + lengths[0]]``, then the next range, ... concatenated."""
    within = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return values[np.repeat(starts, lengths) + within]


def _group_sequences(df: pd.DataFrame) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort by (user_id, timestamp) and return (user ids [U], offsets [U+1], items [N])."""
    ordered = df.sort_values(["user_id", "timestamp"], kind="mergesort")
    users = ordered["user_id"].to_numpy()
    items = ordered["item_id"].to_numpy(dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else np.array([], np.int64)
    offsets = np.r_[starts, len(users)].astype(np.int64)
    return users[starts], offsets, items


def _pad_windows(flat: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Right-padded windows ``flat[max(start, end-width):end]`` -> ``([B, width] int64, mask float32)``."""
    begin = np.maximum(starts, ends - width)
    lengths = ends - begin
    cols = np.arange(width)
    mask = cols[None, :] < lengths[:, None]
    idx = np.where(mask, begin[:, None] + cols[None, :], 0)
    hist = np.where(mask, flat[idx] if flat.size else 0, 0).astype(np.int64)
    return hist, mask.astype(np.float32)


class SequenceDataset(paddle.io.Dataset):
    """The notebook's per-user sequence dataset (one sample per user).

    Args:
        config: a :class:`Config` or dict with ``max_length`` (default 20) and optionally
            ``n_items`` (ids are checked against it) and ``seed``.
        df: interactions with columns ``user_id, item_id, timestamp`` (integers).
        phase: ``'train'`` (a random target position in ``4..len-1`` is drawn at every read)
            or ``'test'`` (history ``items[:int(0.8 len)]``, ground truth the rest).

    Users too short for a sample (fewer than 5 items in train, ``int(0.8 len) == 0`` in
    test) are skipped; their number is in :attr:`n_skipped` and logged as a warning.
    """

    def __init__(self, config: Union[Config, Mapping[str, Any]], df: pd.DataFrame, phase: str = "train",
                 source: str = "dataframe") -> None:
        super().__init__()
        if phase not in ("train", "test"):
            raise ValueError(f"phase must be 'train' or 'test', got {phase!r}")
        get = (lambda k, d: getattr(config, k, d)) if isinstance(config, Config) else config.get
        self.phase = phase
        self.max_length = int(get("max_length", 20))
        n_items = int(get("n_items", 0) or 0) or None
        self.source = source
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise SrgnnError(f"{source}: missing column(s) {', '.join(missing)}; need {','.join(COLUMNS)}")
        if len(df) == 0:
            raise SrgnnError(f"{source}: no interactions")
        for col in COLUMNS:
            if not pd.api.types.is_integer_dtype(df[col]):
                df = df.assign(**{col: _integer_column(df[col], Path(source), col)})
        validate_item_ids(df["item_id"].to_numpy(), source, n_items)

        users, offsets, items = _group_sequences(df)
        lengths = np.diff(offsets)
        keep = lengths >= MIN_TRAIN_ITEMS if phase == "train" else (lengths * 4) // 5 > 0
        self.n_skipped = int((~keep).sum())
        if self.n_skipped:
            if phase == "train":
                why = (f"have fewer than {MIN_TRAIN_ITEMS} interactions (the training sampler's target is the "
                       f"{MIN_TRAIN_ITEMS}th item or a later one) and are left out of training")
            else:
                why = "have no history before int(0.8 * len) and are left out of the evaluation"
            log.warning("%s: %d of %d users %s", source, self.n_skipped, len(users), why)
        self.user_ids = users[keep]
        self.starts = offsets[:-1][keep]
        self.lengths = lengths[keep]
        self.items = items
        if len(self.user_ids) == 0:
            raise SrgnnError(
                f"{source}: no usable users ({self.n_skipped} skipped: each needs at least "
                f"{MIN_TRAIN_ITEMS if phase == 'train' else 2} items)"
            )
        self._rng = np.random.default_rng(int(get("seed", 0) or 0))

    def __len__(self) -> int:
        return len(self.user_ids)

    # -- sampling
    def draw_positions(self, indices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Target positions ``k`` (train: uniform in ``4..len-1``; test: ``int(0.8 len)``)."""
        lengths = self.lengths[indices]
        if self.phase == "test":
            return (lengths * 4) // 5  # == int(0.8 * len) without float rounding surprises
        return MIN_TRAIN_ITEMS - 1 + (rng.random(len(indices)) * (lengths - MIN_TRAIN_ITEMS + 1)).astype(np.int64)

    def make_batch(self, indices: Sequence[int], rng: Optional[np.random.Generator] = None,
                   positions: Optional[np.ndarray] = None):
        """Build a whole batch with numpy.

        Returns:
            train: ``(history [B, L] int64, mask [B, L] float32, target [B, 1] int64)``;
            test: ``(history, mask, ground_truth: list of B lists)``.
        """
        idx = np.asarray(indices, dtype=np.int64)
        k = self.draw_positions(idx, rng or self._rng) if positions is None else np.asarray(positions)
        starts = self.starts[idx]
        hist, mask = _pad_windows(self.items, starts, starts + k, self.max_length)
        if self.phase == "train":
            return hist, mask, self.items[starts + k].reshape(-1, 1)
        ends = starts + self.lengths[idx]
        return hist, mask, [self.items[s:e].tolist() for s, e in zip(starts + k, ends)]

    def __getitem__(self, index: int):
        hist, mask, target = self.make_batch([index])
        return hist[0], mask[0], target[0]

    def sessions(self, indices: Optional[np.ndarray] = None) -> SessionTable:
        """The whole item sequence of every kept user (or of the users ``indices``), what
        the count baselines learn from."""
        idx = np.arange(len(self)) if indices is None else np.unique(np.asarray(indices, dtype=np.int64))
        lengths = self.lengths[idx]
        return SessionTable(_gather_ranges(self.items, self.starts[idx], lengths),
                            np.r_[0, np.cumsum(lengths)].astype(np.int64))

    def get_test_gd(self) -> Dict[int, List[int]]:
        """``{user_id: items[int(0.8 len):]}`` for every kept user, in dataset order."""
        k = (self.lengths * 4) // 5  # int(0.8 * len) in every phase, no random draw
        return {
            int(u): self.items[s + kk: s + n].tolist()
            for u, s, kk, n in zip(self.user_ids, self.starts, k, self.lengths)
        }


SeqnenceDataset = SequenceDataset  # the notebook's spelling


# ---------------------------------------------------------------------------- paper dataset
class SessionDataset(paddle.io.Dataset):
    """Prefix/next-item pairs of the paper's protocol (``train.txt`` / ``test.txt`` layout).

    Args:
        sequences: list of prefixes (lists of item ids, time-ordered).
        labels: the next item of each prefix.
        n_items: catalogue size (ids ``1..n_items-1``); ids are checked against it.
        max_length: keep at most the last ``max_length`` items of a prefix (0 = no limit).
        source: name used in error messages.
    """

    def __init__(self, sequences: Sequence[Sequence[int]], labels: Sequence[int], n_items: int,
                 max_length: int = 0, source: str = "sessions") -> None:
        super().__init__()
        if len(sequences) != len(labels):
            raise SrgnnError(f"{source}: {len(sequences)} sequences but {len(labels)} labels")
        if len(sequences) == 0:
            raise SrgnnError(f"{source}: no sequences")
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            raise SrgnnError(f"{source}: sequence {int(empty[0])} is empty; every prefix needs >= 1 item")
        self.items = np.fromiter((i for s in sequences for i in s), dtype=np.int64, count=int(lengths.sum()))
        self.labels = np.asarray(labels, dtype=np.int64)
        for name, ids in (("sequence item", self.items), ("label", self.labels)):
            bad = np.flatnonzero((ids < 1) | (ids >= n_items))
            if bad.size:
                raise SrgnnError(
                    f"{source}: {name} id {int(ids[bad[0]])} outside 1..{n_items - 1}; check n_items or the ids"
                )
        self.starts = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
        self.lengths = lengths
        self.max_length = int(max_length)
        self.n_items = int(n_items)
        self._groups: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.labels)

    def session_groups(self) -> np.ndarray:
        """``[P]`` int64: pairs that come from one session share a number (0, 1, ...).

        Prefix augmentation writes a session's pairs one after another, longest prefix
        first, so pair ``j`` continues pair ``j - 1``'s session when its prefix plus label
        is pair ``j - 1``'s prefix. Pairs that are not augmented sessions (each its own
        session) get numbers of their own.
        """
        if self._groups is None:
            lengths, starts = self.lengths, self.starts
            follows = np.zeros(len(lengths), dtype=bool)
            cand = np.flatnonzero(lengths[1:] == lengths[:-1] - 1) + 1
            cand = cand[self.labels[cand] == self.items[starts[cand - 1] + lengths[cand]]]
            same = (_gather_ranges(self.items, starts[cand], lengths[cand])
                    == _gather_ranges(self.items, starts[cand - 1], lengths[cand]))
            owner = np.repeat(np.arange(len(cand)), lengths[cand])
            differs = np.bincount(owner[~same], minlength=len(cand)) > 0
            follows[cand[~differs]] = True
            self._groups = np.cumsum(~follows) - 1
        return self._groups

    def sessions(self, indices: Optional[np.ndarray] = None) -> SessionTable:
        """The sessions behind the pairs ``indices`` (default: all), each once, in order.

        A session is its longest chosen pair's prefix followed by that pair's label (its
        shorter pairs are prefixes of it, see :meth:`session_groups`); so a session whose
        last pair was held out for validation ends one item earlier. Prefixes are whole
        (``max_length`` cuts batches only).
        """
        idx = np.arange(len(self)) if indices is None else np.unique(np.asarray(indices, dtype=np.int64))
        groups = self.session_groups()[idx]
        order = np.lexsort((-self.lengths[idx], groups))
        first = np.r_[True, groups[order][1:] != groups[order][:-1]] if len(order) else np.zeros(0, bool)
        chosen = idx[order][first]
        lengths = self.lengths[chosen] + 1
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        items = _gather_ranges(np.r_[self.items, 0], self.starts[chosen], lengths)  # last slot: the label's
        items[offsets[1:] - 1] = self.labels[chosen]
        return SessionTable(items, offsets)

    def make_batch(self, indices: Sequence[int], rng: Optional[np.random.Generator] = None):
        """``(history [B, Lb] int64, mask [B, Lb] float32, target [B] int64)``, padded to the
        longest prefix of the batch (``Lb``), not of the dataset."""
        idx = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[idx]
        if self.max_length:
            lengths = np.minimum(lengths, self.max_length)
        width = int(lengths.max())
        ends = self.starts[idx] + self.lengths[idx]
        hist, mask = _pad_windows(self.items, ends - lengths, ends, width)
        return hist, mask, self.labels[idx]

    def __getitem__(self, index: int):
        hist, mask, target = self.make_batch([index])
        return hist[0], mask[0], target[:1]


def split_validation(n: int, portion: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Seeded disjoint split of ``range(n)`` into (train indices, validation indices)."""
    perm = np.random.default_rng(seed).permutation(n)
    n_valid = int(round(n * portion))
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])


class SubsetDataset(paddle.io.Dataset):
    """A view of some samples of a dataset that has ``make_batch`` (keeps batching vectorised)."""

    def __init__(self, base, indices: np.ndarray) -> None:
        super().__init__()
        self.base = base
        self.indices = np.asarray(indices, dtype=np.int64)
        self.phase = getattr(base, "phase", "train")

    def __len__(self) -> int:
        return len(self.indices)

    def make_batch(self, indices: Sequence[int], rng: Optional[np.random.Generator] = None):
        return self.base.make_batch(self.indices[np.asarray(indices, dtype=np.int64)], rng)

    def sessions(self) -> SessionTable:
        """The base dataset's sessions as far as these samples hold them
        (:meth:`SessionDataset.sessions`, :meth:`SequenceDataset.sessions`)."""
        return self.base.sessions(self.indices)

    def __getitem__(self, index: int):
        return self.base[int(self.indices[index])]

