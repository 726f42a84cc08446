"""Datasets: the notebook's per-user :class:`SequenceDataset` (alias ``SeqnenceDataset``, the
notebook's spelling, docs/notebook.md §2) and the paper's ``(prefix, next item)``
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

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        """``[S]`` items per sequence."""
        return np.diff(self.offsets)

    def owners(self) -> np.ndarray:
        """``[N]`` the sequence of every entry of :attr:`items`."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths())



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


def split_recent_sessions(groups: np.ndarray, portion: float) -> Tuple[np.ndarray, np.ndarray]:
    """Hold out whole sessions, the most recent ones: ``(train indices, validation indices)``.

    Args:
        groups: ``[P]`` int64, the session of every pair, non-decreasing in file order
            (:meth:`SessionDataset.session_groups`); the paper's files list the sessions by
            date, so the last sessions are the most recent.
        portion: the share of the pairs to hold out.

    Returns:
        ``([P - V], [V])`` sorted pair indices: validation is every pair of the sessions
        from the one holding pair ``P - round(portion * P)`` to the last, so it holds at least
        ``round(portion * P)`` pairs, fewer than that plus the pairs of one session, and no
        session has pairs on both sides. ``V = 0`` when ``round(portion * P)`` is 0.
    """
    groups = np.asarray(groups, dtype=np.int64)
    n_valid = int(round(len(groups) * portion))
    if n_valid == 0:
        return np.arange(len(groups), dtype=np.int64), np.zeros(0, dtype=np.int64)
    held = groups >= groups[len(groups) - n_valid]
    return np.flatnonzero(~held), np.flatnonzero(held)


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



# ---------------------------------------------------------------------------- targets: all
def next_item_targets(history: np.ndarray, mask: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The next item of every position of right-padded histories (``targets: all``).

    Args:
        history: ``[B, L]`` int64 item ids, right-padded with 0.
        mask: ``[B, L]``, nonzero on real entries.
        target: ``[B]`` or ``[B, 1]`` the item after each history.
    Returns:
        ``[B, L]`` int64: ``history[b, t + 1]`` at real positions before the last,
        ``target[b]`` at the last real position, 0 on padding. For ``[1, 2, 3, 4]`` and
        target 5: ``[2, 3, 4, 5]`` (the course report's ``TrainDataset``).
    """
    real = np.asarray(mask) > 0
    out = np.zeros(real.shape, dtype=np.int64)
    out[:, :-1] = np.where(real[:, 1:], history[:, 1:], 0)
    last = real.sum(axis=1) - 1
    out[np.arange(len(out)), last] = np.asarray(target, dtype=np.int64).reshape(-1)
    return out


class NextItemsDataset(paddle.io.Dataset):
    """``targets: all`` for the notebook protocol: the samples of a training
    :class:`SequenceDataset` (a drawn target position per user and epoch, its window of up
    to ``max_length`` items), each position of the window trained to predict its next item
    (:func:`next_item_targets`)."""

    def __init__(self, base) -> None:
        super().__init__()
        self.base = base
        self.phase = getattr(base, "phase", "train")

    def __len__(self) -> int:
        return len(self.base)

    def make_batch(self, indices: Sequence[int], rng: Optional[np.random.Generator] = None):
        """``(history [B, L], mask [B, L], target [B, 1], position_targets [B, L])``."""
        hist, mask, target = self.base.make_batch(indices, rng)
        return hist, mask, target, next_item_targets(hist, mask, target)

    def sessions(self) -> SessionTable:
        """The base dataset's sessions (:meth:`SequenceDataset.sessions`)."""
        return self.base.sessions()

    def __getitem__(self, index: int):
        return tuple(part[0] for part in self.make_batch([index]))


def prefix_chains(pairs: "SessionDataset") -> np.ndarray:
    """Group consecutive ``(prefix, next item)`` pairs into the sessions they came from.

    Pair ``i + 1`` continues pair ``i`` when its prefix plus its label is pair ``i``'s
    prefix (what :func:`~srgnn_paddle.data.sessions.augment_prefixes` writes: a session's
    longest prefix first, then ever shorter ones).

    Returns:
        ``[C + 1]`` int64 offsets: chain ``c`` is pairs ``offsets[c]..offsets[c + 1] - 1``,
        its first pair (the head) the longest prefix.
    """
    n = len(pairs.labels)
    lengths, starts, items, labels = pairs.lengths, pairs.starts, pairs.items, pairs.labels
    same_shape = (lengths[1:] == lengths[:-1] - 1) & (labels[1:] == items[starts[:-1] + lengths[:-1] - 1])
    candidates = np.flatnonzero(same_shape)
    size = lengths[candidates + 1]
    owner = np.repeat(candidates, size)
    offset = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size)
    differs = items[starts[owner + 1] + offset] != items[starts[owner] + offset]
    continues = np.zeros(max(n - 1, 0), dtype=bool)
    continues[candidates] = True
    continues[np.unique(owner[differs])] = False
    return np.r_[0, np.flatnonzero(~continues) + 1, n].astype(np.int64)


class SessionPositionsDataset(paddle.io.Dataset):
    """``targets: all`` for the paper protocol: one sample per training session, every
    position trained to predict its next item.

    A session is a chain of training pairs (by default found by :func:`prefix_chains`, which
    is exact for prefix-augmented pairs); the chain's head (its longest prefix ``[s1..sn]``
    and label ``s(n+1)``) becomes the sample ``[s1..sn]`` with position targets
    ``[s2..s(n+1)]`` (the course report's ``TrainDataset``), so the ``(prefix, target)``
    pairs it trains are the prefix augmentation's. Positions whose own pair is in the chain
    but not among ``train_indices`` (the pairs held out for validation) are not targets.

    Args:
        pairs: the training pairs (a :class:`SessionDataset`).
        train_indices: the pairs to train on.
        max_length: cut sessions into consecutive pieces of at most this many positions
            (0 = whole sessions); a position then sees its piece's items up to itself.
        chains: ``[C + 1]`` offsets grouping the pairs into sessions (see
            :func:`prefix_chains`); ``None`` = :func:`prefix_chains` of ``pairs``. Pass
            ``np.arange(len(pairs) + 1)`` when every pair is a whole session (its prefix
            plus its label).
    """

    def __init__(self, pairs: SessionDataset, train_indices: np.ndarray, max_length: int = 0,
                 chains: Optional[np.ndarray] = None) -> None:
        super().__init__()
        chains = prefix_chains(pairs) if chains is None else np.asarray(chains, dtype=np.int64)
        heads = chains[:-1]
        head_length = pairs.lengths[heads]  # positions of each session sample
        # tokens of session c: its head prefix and the head's label (n_c + 1 items)
        token_offsets = np.r_[0, np.cumsum(head_length + 1)].astype(np.int64)
        owner = np.repeat(np.arange(len(heads)), head_length + 1)
        within = np.arange(int(token_offsets[-1])) - token_offsets[owner]
        self.tokens = np.where(within < head_length[owner],
                               pairs.items[pairs.starts[heads][owner] + np.minimum(within, head_length[owner] - 1)],
                               pairs.labels[heads][owner]).astype(np.int64)
        # trained[position]: False for a position whose pair is held out
        trained = np.ones(int(token_offsets[-1]), dtype=bool)
        held_out = np.ones(len(pairs.labels), dtype=bool)
        held_out[np.asarray(train_indices, dtype=np.int64)] = False
        pair_chain = np.repeat(np.arange(len(heads)), np.diff(chains))
        rank = np.arange(len(pairs.labels)) - chains[pair_chain]  # 0 = the head
        position = head_length[pair_chain] - 1 - rank  # pair with prefix length t + 1 -> position t
        trained[token_offsets[pair_chain[held_out]] + position[held_out]] = False
        self.trained = trained
        self.token_offsets = token_offsets
        # samples: (session, first position, end position), pieces of max_length positions
        piece = int(max_length) if max_length else int(head_length.max())
        n_pieces = (head_length + piece - 1) // piece
        session = np.repeat(np.arange(len(heads)), n_pieces)
        first = (np.arange(int(n_pieces.sum())) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)) * piece
        end = np.minimum(first + piece, head_length[session])
        start = token_offsets[session] + first
        running = np.r_[0, np.cumsum(trained)]
        targets = running[start + end - first] - running[start]  # trained positions of each piece
        self.starts = start[targets > 0]
        self.lengths = (end - first)[targets > 0]
        self.n_sessions = len(heads)
        self.n_targets = int(targets.sum())
        self.phase = "train"
        if len(self.starts) == 0:
            raise SrgnnError("targets all: no training position left (every pair is held out)")

    def __len__(self) -> int:
        return len(self.starts)

    def sessions(self) -> SessionTable:
        """The training sessions as far as training sees them, as
        :meth:`SessionDataset.sessions` gives them for the training pairs: each session up to
        the next item of its last trained position (a session whose last pair is held out
        ends one item earlier), sessions with no trained position left out."""
        owner = np.repeat(np.arange(self.n_sessions), np.diff(self.token_offsets))
        within = np.arange(len(self.tokens)) - self.token_offsets[owner]
        position = self.trained & (within < np.diff(self.token_offsets)[owner] - 1)  # a session's last token is none
        last = np.full(self.n_sessions, -1, dtype=np.int64)  # the last trained position of each session
        np.maximum.at(last, owner[position], within[position])
        keep = np.flatnonzero(last >= 0)
        lengths = last[keep] + 2  # positions 0..last and the last one's next item
        return SessionTable(_gather_ranges(self.tokens, self.token_offsets[keep], lengths),
                            np.r_[0, np.cumsum(lengths)].astype(np.int64))

    def make_batch(self, indices: Sequence[int], rng: Optional[np.random.Generator] = None):
        """``(history [B, Lb], mask [B, Lb], target [B], position_targets [B, Lb])``: the
        pieces padded to the longest of the batch; ``target`` is each piece's last next item."""
        idx = np.asarray(indices, dtype=np.int64)
        starts, lengths = self.starts[idx], self.lengths[idx]
        width = int(lengths.max())
        hist, mask = _pad_windows(self.tokens, starts, starts + lengths, width)
        following, _ = _pad_windows(self.tokens, starts + 1, starts + lengths + 1, width)
        kept, _ = _pad_windows(self.trained.astype(np.int64), starts, starts + lengths, width)
        return hist, mask, self.tokens[starts + lengths], following * kept

    def __getitem__(self, index: int):
        return tuple(part[0] for part in self.make_batch([index]))
