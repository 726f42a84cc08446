"""Datasets and loaders.

* :func:`read_interactions` loads and validates a ``user_id,item_id,timestamp`` CSV.
* :class:`SequenceDataset` (alias ``SeqnenceDataset``, the notebook's spelling) is the
  notebook's per-user dataset (spec ``notebook.md`` §2).
* :class:`SessionDataset` holds the paper's ``(prefix, next item)`` pairs.
* :func:`make_loader` iterates either in whole batches (:class:`Batch`) built with numpy
  together with their session graphs, so the model step is pure Paddle (one tensor per
  array per batch, not per sample). Every dataset also works per sample in a plain
  ``paddle.io.DataLoader`` with :func:`collate_batch` as its collate function, as the
  notebook used it.
"""
from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
import paddle

from srgnn_paddle.config import Config
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.graph import PackedGraph, SessionGraph, build_packed_graph, build_session_graph

log = logging.getLogger(__name__)

COLUMNS = ("user_id", "item_id", "timestamp")
MIN_TRAIN_ITEMS = 5  # the notebook draws the target from positions 4..len-1
SPLIT_FILES = {"train": "train_enc.csv", "valid": "valid_enc.csv", "test": "test_enc.csv"}


# ---------------------------------------------------------------------------- CSV input
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


def infer_n_items(data_dir: Union[str, Path], frames: Sequence[pd.DataFrame]) -> int:
    """``n_items`` from ``meta.json`` in ``data_dir`` when present, else max item id + 1."""
    meta = Path(data_dir) / "meta.json"
    if meta.is_file():
        import json

        try:
            value = json.loads(meta.read_text(encoding="utf-8")).get("n_items")
        except (ValueError, OSError):
            raise SrgnnError(f"{meta}: not valid JSON; fix or delete it") from None
        if isinstance(value, int) and value >= 2:
            return value
    return int(max(int(f["item_id"].max()) for f in frames)) + 1


# ---------------------------------------------------------------------------- notebook dataset
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
            need = f"fewer than {MIN_TRAIN_ITEMS} items" if phase == "train" else "no history at int(0.8*len)"
            log.warning("%s: skipped %d of %d users with %s", source, self.n_skipped, len(users), need)
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

    def __len__(self) -> int:
        return len(self.labels)

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

    def __getitem__(self, index: int):
        return self.base[int(self.indices[index])]


# ---------------------------------------------------------------------------- loaders
GRAPH_LAYOUTS = ("packed", "dense")


@dataclass
class Batch:
    """One batch of :func:`make_loader`, numpy arrays throughout.

    history: ``[B, L]`` int64 histories, right-padded with 0 (``L``: the dataset's
             ``max_length``, or the longest prefix of the batch for sessions).
    mask:    ``[B, L]`` float32, 1.0 on real entries.
    target:  ``[B, 1]`` (notebook train) or ``[B]`` (sessions) int64 next items, or, in the
             notebook's test phase, ``B`` ground-truth lists.
    graph:   the batch's session graphs: a :class:`~srgnn_paddle.graph.PackedGraph`
             (``graph='packed'``), the notebook's :class:`~srgnn_paddle.graph.SessionGraph`
             (``graph='dense'``) or ``None``.
    """

    history: np.ndarray
    mask: np.ndarray
    target: Any
    graph: Optional[Union[PackedGraph, SessionGraph]] = None

    def __len__(self) -> int:
        return len(self.history)


class BatchView:
    """Item ``b`` is batch ``b`` of the current epoch, a :class:`Batch` with its graph.

    Random draws (shuffling, target positions) depend only on ``(seed, epoch, batch
    index)``, so results do not change with the number of loader threads or ranks.
    """

    def __init__(self, dataset, batch_size: int, shuffle: bool = False, seed: int = 0,
                 graph: Optional[str] = "packed", drop_last: bool = False, rank: int = 0,
                 world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..world_size-1, got rank {rank}, world_size {world_size}")
        if graph is not None and graph not in GRAPH_LAYOUTS:
            raise ValueError(f"graph must be one of {GRAPH_LAYOUTS} or None, got {graph!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.graph = graph
        self.drop_last = drop_last
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shuffle and draws the next iteration produces."""
        self.epoch = int(epoch)

    def n_global_batches(self) -> int:
        """Batches of one epoch over the whole dataset (all ranks together)."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def global_batch_index(self, b: int) -> int:
        """Rank ``r`` of ``w`` takes global batches ``r, r + w, r + 2w, ...`` of the epoch's order."""
        return b * self.world_size + self.rank

    def __len__(self) -> int:
        """This rank's batches: with ``world_size > 1`` every rank gets the same number
        (``n_global_batches // world_size``), so the last ``n_global_batches % world_size``
        batches of an epoch are left out (the ranks' gradient all-reduces must pair up)."""
        return self.n_global_batches() // self.world_size

    def order(self) -> np.ndarray:
        """The epoch's sample order (a seeded permutation when shuffling)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def __getitem__(self, b: int) -> Batch:
        return self.batch(b)

    def batch(self, b: int, order: Optional[np.ndarray] = None) -> Batch:
        """Batch ``b`` of this rank; ``order`` is the epoch's :meth:`order` when the caller
        already has it (the loader computes it once per epoch)."""
        if not 0 <= b < len(self):
            raise IndexError(b)
        b = self.global_batch_index(b)
        order = self.order() if order is None else order
        idx = order[b * self.batch_size: (b + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, b, 1])
        hist, mask, target = self.dataset.make_batch(idx, rng)
        if self.graph == "packed":
            graph = build_packed_graph(hist)
        elif self.graph == "dense":
            graph = build_session_graph(hist)
        else:
            graph = None
        return Batch(hist, mask, target, graph)


class BatchLoader:
    """Iterates the batches of a :class:`BatchView` (``len`` = batches per epoch); with
    ``num_workers > 0`` up to ``2 * num_workers`` batches are built ahead on that many
    background threads (numpy releases the GIL in most of the work)."""

    def __init__(self, view: BatchView, num_workers: int = 0) -> None:
        self.batch_view = view
        self.num_workers = int(num_workers)

    def __len__(self) -> int:
        return len(self.batch_view)

    def __iter__(self) -> Iterator[Batch]:
        view = self.batch_view
        order = view.order()  # once per epoch, not once per batch
        if self.num_workers <= 0:
            for b in range(len(view)):
                yield view.batch(b, order)
            return
        with ThreadPoolExecutor(max_workers=self.num_workers, thread_name_prefix="srgnn-loader") as pool:
            ahead = 2 * self.num_workers
            pending = [pool.submit(view.batch, b, order) for b in range(min(ahead, len(view)))]
            for b in range(len(view)):
                batch = pending[b].result()
                pending[b] = None
                if b + ahead < len(view):
                    pending.append(pool.submit(view.batch, b + ahead, order))
                yield batch


def make_loader(dataset, batch_size: int, shuffle: bool = False, seed: int = 0, num_workers: int = 0,
                graph: Optional[str] = "packed", drop_last: bool = False, rank: int = 0,
                world_size: int = 1) -> BatchLoader:
    """Whole batches built with numpy, with their session graphs (see :class:`Batch`).

    Args:
        dataset: a dataset with ``make_batch`` (:class:`SequenceDataset`,
            :class:`SessionDataset`, :class:`SubsetDataset`).
        graph: ``'packed'`` (:func:`~srgnn_paddle.graph.build_packed_graph`, the fast
            layout), ``'dense'`` (the notebook's, :func:`~srgnn_paddle.graph.build_session_graph`)
            or ``None``.
        rank, world_size: with ``world_size > 1`` only rank ``rank``'s share of the batches
            (data-parallel training).

    Call ``loader.batch_view.set_epoch(e)`` before iterating epoch ``e`` to get a new
    shuffle and new target draws.
    """
    view = BatchView(dataset, batch_size, shuffle=shuffle, seed=seed, graph=graph, drop_last=drop_last,
                     rank=rank, world_size=world_size)
    return BatchLoader(view, num_workers)


def collate_batch(samples: Sequence[tuple]):
    """Collate per-sample tuples ``(history, mask, target)`` into one batch of numpy arrays
    (ground-truth lists stay a list of lists), for ``DataLoader(dataset, collate_fn=...)``."""
    hist = np.stack([s[0] for s in samples])
    mask = np.stack([s[1] for s in samples])
    targets = [s[2] for s in samples]
    if isinstance(targets[0], list):
        return hist, mask, targets
    return hist, mask, np.stack(targets)
