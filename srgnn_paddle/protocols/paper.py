"""The SR-GNN paper's protocol: anonymous sessions cut into (prefix, next item) pairs
(``all_train_seq.txt`` or ``train.txt``, ``test.txt``, optionally ``valid.txt``), scored over
the full catalogue: ``P@K`` and ``MRR@K`` (x100) for K in 10, 20, 50 and ``topN``, selected
on ``P@topN`` with ``MRR@topN`` breaking ties (``topN`` 20 by default, the paper's).
See ``docs/protocols.md``."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List

import numpy as np

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.protocols.base import PreparedData, Protocol, check_table_memory, table_rows

if TYPE_CHECKING:
    from srgnn_paddle.config import Config

#: The cut-offs every paper run reports besides ``topN``.
PAPER_KS = (10, 20, 50)


class PaperProtocol(Protocol):
    """Next-item P@K / MRR@K over the full catalogue (Wu et al., AAAI 2019)."""

    name = "paper"
    folder_suffix = "paper"
    #: The official SR-GNN defaults (``configs/paper_*.yaml``): the starting point of every
    #: key a ``protocol: paper`` run does not set itself.
    defaults: Dict[str, Any] = {
        "embedding_dim": 100, "batch_size": 100, "lr": 1e-3, "weight_decay": 1e-5, "lr_dc_step": 3,
        "lr_dc": 0.1, "step": 1, "init": "uniform", "score_padding": False, "epochs": 30, "patience": 10,
        "valid_portion": 0.1, "topN": 20,
    }
    data_help = "folder with all_train_seq.txt or train.txt, and test.txt (valid.txt optional)"
    percent = True

    def load_data(self, cfg: "Config", data_dir: Path) -> PreparedData:
        """The paper's layout (``train.txt`` or ``all_train_seq.txt``, and ``test.txt``, see
        :mod:`srgnn_paddle.data.sessions`). Validation: ``valid.txt`` when the folder has one,
        else ``valid_portion`` of the training pairs held out: a seeded share of the pairs
        (``valid_split: pairs``, :func:`~srgnn_paddle.data.split_validation`) or the most recent
        whole sessions (``sessions``, :func:`~srgnn_paddle.data.split_recent_sessions`). Prefixes keep
        their last ``session_max_length`` items (0 = all). The item table has ``--n_items``
        rows when given, else ``meta.json``'s ``n_items``, else max id + 1.

        ``targets: all`` trains one sample per training session
        (:class:`~srgnn_paddle.data.datasets.SessionPositionsDataset`): the sessions of
        ``all_train_seq.txt`` when the folder has its own ``valid.txt`` (nothing to hold out),
        else the sessions recovered from the training pairs, the held-out ones' positions
        masked."""
        from srgnn_paddle.data import (SessionDataset, SubsetDataset, load_session_pickles, split_recent_sessions,
                                       split_validation)
        from srgnn_paddle.data.datasets import SessionPositionsDataset
        from srgnn_paddle.data.interactions import meta_n_items
        from srgnn_paddle.data.sessions import TEST_FILE, TRAIN_SESSIONS_FILE, VALID_FILE

        pickles = load_session_pickles(data_dir)
        n_items = table_rows(cfg.n_items, meta_n_items(data_dir), pickles.n_items, data_dir)
        check_table_memory(n_items, cfg.embedding_dim, data_dir)
        seqs, labels = pickles.train
        max_length = cfg.session_max_length
        full = SessionDataset(seqs, labels, n_items, max_length=max_length, source=str(data_dir / "train"))
        test = SessionDataset(*pickles.test, n_items, max_length=max_length, source=str(data_dir / TEST_FILE))
        if pickles.valid is not None:
            train_idx = np.arange(len(full))
            valid = SessionDataset(*pickles.valid, n_items, max_length=max_length, source=str(data_dir / VALID_FILE))
        else:
            if cfg.valid_split == "sessions":
                train_idx, valid_idx = split_recent_sessions(full.session_groups(), cfg.valid_portion)
            else:
                train_idx, valid_idx = split_validation(len(full), cfg.valid_portion, cfg.seed)
            if len(valid_idx) == 0:
                raise SrgnnError(f"{data_dir}: valid_portion {cfg.valid_portion} leaves no validation pairs")
            if len(train_idx) == 0:
                raise SrgnnError(f"{data_dir}: valid_portion {cfg.valid_portion} with valid_split sessions holds out "
                                 f"every training session; lower valid_portion or use valid_split pairs")
            valid = SubsetDataset(full, valid_idx)
        train = SubsetDataset(full, train_idx)
        if cfg.targets == "all":
            sessions = [s for s in pickles.train_sessions or [] if len(s) >= 2]
            if pickles.valid is not None and sessions:
                whole = SessionDataset([s[:-1] for s in sessions], [s[-1] for s in sessions], n_items,
                                       source=str(data_dir / TRAIN_SESSIONS_FILE))
                train = SessionPositionsDataset(whole, np.arange(len(whole)), max_length,
                                                chains=np.arange(len(whole) + 1))
            else:
                train = SessionPositionsDataset(full, train_idx, max_length)
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_items)
        train_all = None
        if cfg.refit:  # every training pair, the validation pairs included
            if pickles.valid is not None:
                train_all = SessionDataset(list(seqs) + list(pickles.valid[0]), list(labels) + list(pickles.valid[1]),
                                           n_items, max_length=max_length, source=str(data_dir / "train+valid"))
            else:
                train_all = full
        return PreparedData(train, valid, test, n_items, counts, train_all=train_all)

    def test_files(self, data_dir: Path) -> List[Path]:
        """``test.txt``: the test pairs, in the order of ``test_ranks.npy``."""
        from srgnn_paddle.data.sessions import TEST_FILE

        return [Path(data_dir) / TEST_FILE]

    @staticmethod
    def ks(top_n: int) -> tuple:
        """The cut-offs scored: :data:`PAPER_KS` and ``topN``."""
        return tuple(sorted(set(PAPER_KS) | {int(top_n)}))

    def evaluator(self, cfg: "Config", dataset: Any, model: Any, kernels: Any, progress: bool = False) -> Any:
        from srgnn_paddle.evaluation.evaluators import NextItemEvaluator

        return NextItemEvaluator(dataset, cfg, model, kernels, progress, ks=self.ks(cfg.topN), k=cfg.topN)

    def test_metrics(self, top_n: int) -> List[str]:
        return [f"P@{top_n}", f"MRR@{top_n}"]

    def popularity(self, cfg: "Config", data: PreparedData) -> Dict[str, float]:
        from srgnn_paddle.evaluation import hit_rank_sums, top_by_count

        ks = self.ks(cfg.topN)
        top = top_by_count(data.item_counts, max(ks))
        labels = data.test.labels
        sums = hit_rank_sums(np.broadcast_to(top, (len(labels), len(top))), labels, ks)
        return {key: 100.0 * value / len(labels) for key, value in sums.items()}
