"""The leave-one-out protocol of neural collaborative filtering (He et al. 2017): (user,
item) models trained on the NCF files with sampled negatives, scored by the rank of each
user's held-out item among it and its sampled negatives (``HR@K``, ``NDCG@K``) and among
the full catalogue (``full_HR@K``, ``full_NDCG@K``), K = ``topN``; selected on ``HR@K``
with ``NDCG@K`` breaking ties. See ``docs/protocols.md`` and ``docs/ncf.md``."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List

import numpy as np

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.protocols.base import PreparedData, Protocol, check_table_memory

if TYPE_CHECKING:
    from srgnn_paddle.config import Config


class LeaveOneOutProtocol(Protocol):
    """HR@K / NDCG@K of (user, item) models (GMF, MLP, NeuMF)."""

    name = "loo"
    folder_suffix = "loo"
    #: The NCF paper's settings (and its official code's README): the starting point of
    #: every key a ``protocol: loo`` run does not set itself (``configs/ncf_*.yaml``).
    #: Kernels: plain Paddle, also on the CPU (docs/ncf.md, "Speed": 2x faster than the host kernels here).
    defaults: Dict[str, Any] = {
        "model": "neumf", "embedding_dim": 8, "mlp_layers": "64,32,16,8", "batch_size": 256, "lr": 1e-3,
        "num_negatives": 4, "epochs": 20, "topN": 10, "kernels": "paddle",
    }
    layouts = ("pairs",)
    data_help = "folder with the NCF files <name>.train.rating, .test.rating, .test.negative"

    def load_data(self, cfg: "Config", data_dir: Path) -> PreparedData:
        """The NCF files of ``data_dir`` (:func:`~srgnn_paddle.data.load_leave_one_out`, the
        ``<name>`` chosen by ``cfg.dataset`` when the folder holds several): training pairs
        with ``num_negatives`` negatives per positive redrawn every epoch, and the held-out
        splits."""
        from srgnn_paddle.data import PairDataset, load_leave_one_out

        loo = load_leave_one_out(data_dir, cfg.dataset, cfg.seed)
        n_items = cfg.n_items or loo.n_items
        n_users = cfg.n_users or loo.n_users
        if n_items < loo.n_items or n_users < loo.n_users:
            raise SrgnnError(f"{data_dir}: the files need n_items >= {loo.n_items} and n_users >= {loo.n_users}; "
                             f"got {n_items} and {n_users}: raise them or leave them at 0 (from the data)")
        check_table_memory(n_items, cfg.embedding_dim, data_dir)
        if cfg.num_negatives < 1:
            raise SrgnnError("the loo protocol trains on sampled negatives: set --num_negatives >= 1 (the paper: 4)")
        train = PairDataset(loo.train_users, loo.train_items, n_items, cfg.num_negatives, cfg.seed)
        counts = np.bincount(loo.train_items, minlength=n_items)
        return PreparedData(train, loo.valid, loo.test, n_items, counts, n_users=n_users)

    def evaluator(self, cfg: "Config", dataset: Any, model: Any, kernels: Any, progress: bool = False) -> Any:
        from srgnn_paddle.evaluation.evaluators import LeaveOneOutEvaluator

        return LeaveOneOutEvaluator(dataset, cfg, model, kernels, progress)

    def test_metrics(self, top_n: int) -> List[str]:
        return [f"HR@{top_n}", f"NDCG@{top_n}", f"full_HR@{top_n}", f"full_NDCG@{top_n}"]

    def popularity(self, cfg: "Config", data: PreparedData) -> Dict[str, float]:
        from srgnn_paddle.evaluation.evaluators import LeaveOneOutEvaluator

        return LeaveOneOutEvaluator(data.test, cfg).fixed_scores(data.item_counts)
