"""Stage 1, data: interaction CSVs, session pickles, datasets, session graphs and loaders.

* :mod:`~srgnn_paddle.data.interactions`: ``user_id,item_id,timestamp`` CSVs (the
  notebook protocol's ``train_enc.csv`` / ``valid_enc.csv`` / ``test_enc.csv``);
* :mod:`~srgnn_paddle.data.sessions`: the SR-GNN paper's pickles and prefix augmentation;
* :mod:`~srgnn_paddle.data.datasets`: :class:`SequenceDataset` (notebook) and
  :class:`SessionDataset` (paper), both batched with numpy;
* :mod:`~srgnn_paddle.data.graph`: the session graphs of a batch (dense and packed);
* :mod:`~srgnn_paddle.data.loaders`: :func:`make_loader`, whole :class:`Batch` es with the
  layout a model asks for;
* :mod:`~srgnn_paddle.data.ncf_files` and :mod:`~srgnn_paddle.data.pairs`: the NCF authors'
  leave-one-out files, the (user, item) training pairs with negatives redrawn every epoch,
  and the held-out splits (``protocol: loo``).
"""
from srgnn_paddle.data.datasets import (
    SeqnenceDataset,
    SequenceDataset,
    SessionDataset,
    SessionTable,
    SubsetDataset,
    split_validation,
)
from srgnn_paddle.data.graph import PackedGraph, SessionGraph, build_packed_graph, build_session_graph
from srgnn_paddle.data.interactions import SPLIT_FILES, infer_n_items, read_interactions, validate_item_ids
from srgnn_paddle.data.loaders import Batch, BatchLoader, BatchView, collate_batch, make_loader
from srgnn_paddle.data.pairs import HeldOutDataset, LeaveOneOut, PairBatch, PairDataset, load_leave_one_out
from srgnn_paddle.data.sessions import augment_prefixes, load_session_pickles

__all__ = [
    "SeqnenceDataset", "SequenceDataset", "SessionDataset", "SessionTable", "SubsetDataset", "split_validation",
    "PackedGraph", "SessionGraph", "build_packed_graph", "build_session_graph",
    "SPLIT_FILES", "infer_n_items", "read_interactions", "validate_item_ids",
    "Batch", "BatchLoader", "BatchView", "collate_batch", "make_loader",
    "HeldOutDataset", "LeaveOneOut", "PairBatch", "PairDataset", "load_leave_one_out",
    "augment_prefixes", "load_session_pickles",
]
