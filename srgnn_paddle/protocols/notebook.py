"""The notebook protocol: users' interaction histories (``train_enc.csv`` /
``valid_enc.csv`` / ``test_enc.csv``, an 8:1:1 split of the users), scored by Faiss top-N
recall of the held-out users' items: ``recall@N``, ``ndcg@N``, ``hitrate@N`` (N =
``topN``), selected on ``recall@N``. See ``docs/protocols.md``."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List

import numpy as np

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.protocols.base import PreparedData, Protocol, check_table_memory

if TYPE_CHECKING:
    from srgnn_paddle.config import Config


class NotebookProtocol(Protocol):
    """Per-user recall@N with Faiss, the AI Studio notebook's protocol (the defaults of
    :class:`~srgnn_paddle.config.Config` are its configuration)."""

    name = "notebook"
    folder_suffix = "softmax"
    defaults: Dict[str, Any] = {}
    data_help = "folder with train_enc.csv, valid_enc.csv, test_enc.csv"

    def load_data(self, cfg: "Config", data_dir: Path) -> PreparedData:
        """Read and validate ``train_enc.csv``, ``valid_enc.csv`` and ``test_enc.csv``."""
        import pandas as pd

        from srgnn_paddle.data import SPLIT_FILES, SequenceDataset, infer_n_items, read_interactions
        from srgnn_paddle.data.datasets import NextItemsDataset

        frames = {name: read_interactions(data_dir / fname) for name, fname in SPLIT_FILES.items()}
        n_items = cfg.n_items or infer_n_items(data_dir, frames)
        check_table_memory(n_items, cfg.embedding_dim, data_dir)
        for name, frame in frames.items():
            too_big = np.flatnonzero(frame["item_id"].to_numpy() >= n_items)
            if too_big.size:
                raise SrgnnError(
                    f"{data_dir / SPLIT_FILES[name]}: line {int(too_big[0]) + 2}, column 'item_id': id "
                    f"{int(frame['item_id'].iloc[too_big[0]])} >= n_items {n_items}; raise n_items or re-encode"
                )
        opts = {"max_length": cfg.max_length, "n_items": n_items, "seed": cfg.seed}
        train = SequenceDataset(opts, frames["train"], "train", source=str(data_dir / SPLIT_FILES["train"]))
        if cfg.targets == "all":
            train = NextItemsDataset(train)
        valid = SequenceDataset(opts, frames["valid"], "test", source=str(data_dir / SPLIT_FILES["valid"]))
        test = SequenceDataset(opts, frames["test"], "test", source=str(data_dir / SPLIT_FILES["test"]))
        counts = np.bincount(frames["train"]["item_id"].to_numpy(), minlength=n_items)
        train_all = None
        if cfg.refit:  # the validation users join the training users
            train_all = SequenceDataset(opts, pd.concat([frames["train"], frames["valid"]], ignore_index=True),
                                        "train", source=f"{data_dir / SPLIT_FILES['train']} + {SPLIT_FILES['valid']}")
        return PreparedData(train, valid, test, n_items, counts, train_all)

    def predict_max_length(self, cfg: "Config") -> int:
        return cfg.max_length

    def evaluator(self, cfg: "Config", dataset: Any, model: Any, kernels: Any, progress: bool = False) -> Any:
        from srgnn_paddle.evaluation.evaluators import RecallEvaluator

        return RecallEvaluator(dataset, cfg, model, progress)

    def test_metrics(self, top_n: int) -> List[str]:
        return [f"recall@{top_n}", f"ndcg@{top_n}", f"hitrate@{top_n}"]

    def popularity(self, cfg: "Config", data: PreparedData) -> Dict[str, float]:
        from srgnn_paddle.evaluation.baselines import evaluate_fixed_ranking, top_by_count

        return evaluate_fixed_ranking(top_by_count(data.item_counts, cfg.topN), data.test.get_test_gd(), cfg.topN)
