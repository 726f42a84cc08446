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

Names are loaded from their modules on first use, so reading CSVs or pickles (e.g. for
``prepare``) does not import Paddle, which the datasets' base class needs.
"""
from __future__ import annotations

from srgnn_paddle.lazy import lazy_exports

#: public name -> the module that defines it
_EXPORTS = {
    "SeqnenceDataset": "srgnn_paddle.data.datasets",
    "SequenceDataset": "srgnn_paddle.data.datasets",
    "SessionDataset": "srgnn_paddle.data.datasets",
    "SessionTable": "srgnn_paddle.data.datasets",
    "SubsetDataset": "srgnn_paddle.data.datasets",
    "split_validation": "srgnn_paddle.data.datasets",
    "split_recent_sessions": "srgnn_paddle.data.datasets",
    "PackedGraph": "srgnn_paddle.data.graph",
    "SessionGraph": "srgnn_paddle.data.graph",
    "build_packed_graph": "srgnn_paddle.data.graph",
    "build_session_graph": "srgnn_paddle.data.graph",
    "SPLIT_FILES": "srgnn_paddle.data.interactions",
    "infer_n_items": "srgnn_paddle.data.interactions",
    "read_interactions": "srgnn_paddle.data.interactions",
    "validate_item_ids": "srgnn_paddle.data.interactions",
    "Batch": "srgnn_paddle.data.loaders",
    "BatchLoader": "srgnn_paddle.data.loaders",
    "BatchView": "srgnn_paddle.data.loaders",
    "collate_batch": "srgnn_paddle.data.loaders",
    "make_loader": "srgnn_paddle.data.loaders",
    "HeldOutDataset": "srgnn_paddle.data.pairs",
    "LeaveOneOut": "srgnn_paddle.data.pairs",
    "PairBatch": "srgnn_paddle.data.pairs",
    "PairDataset": "srgnn_paddle.data.pairs",
    "load_leave_one_out": "srgnn_paddle.data.pairs",
    "augment_prefixes": "srgnn_paddle.data.sessions",
    "load_session_pickles": "srgnn_paddle.data.sessions",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
