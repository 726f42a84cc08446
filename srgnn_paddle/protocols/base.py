"""What every protocol is: a :class:`Protocol` object owning its defaults, its data loading,
its evaluator, its metric columns and selection key, its popularity baseline, its run
folder's suffix and the metrics ``report`` / ``compare`` show.

This module and the protocol modules import nothing heavy at module level (no Paddle, no
models), so the configuration (:mod:`srgnn_paddle.config`) and ``--help`` can read the
protocols' defaults and names cheaply; the data and evaluation stages are imported when a
protocol loads data or builds an evaluator. See ``docs/protocols.md``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Mapping, Optional, Tuple

import numpy as np

from srgnn_paddle.errors import SrgnnError

if TYPE_CHECKING:  # only for the annotations
    from srgnn_paddle.config import Config

#: The memory budget of an item table: its training state (weights, gradient and Adam's two
#: moments, ``4 x n_items x D`` float32) may take at most this share of the machine's memory.
MEMORY_SHARE = 0.5


@dataclass
class PreparedData:
    """Validated datasets of one run (all three splits are checked before anything is written)."""

    train: Any
    valid: Any
    test: Any
    n_items: int
    item_counts: np.ndarray
    train_all: Any = None  # training + validation, loaded for ``refit`` only
    n_users: int = 0  # loo: rows of the user table


class Protocol:
    """One evaluation protocol. Subclasses set the class attributes and implement
    :meth:`load_data`, :meth:`evaluator`, :meth:`test_metrics` and :meth:`popularity`.

    Class attributes:
        name: the ``--protocol`` key.
        folder_suffix: the dataset folder of its runs is ``<dataset>_<folder_suffix>``.
        defaults: the config values that differ from :class:`~srgnn_paddle.config.Config`'s
            own (the notebook's); a ``protocol: <name>`` run starts from them.
        layouts: the model batch layouts it trains (``model.batch_layout``).
        data_help: what ``--data_dir`` holds for it (``train --help``).
        percent: its metrics are percentages (``compare`` shows two decimals) rather
            than shares in [0, 1] (four).
    """

    name: ClassVar[str] = ""
    folder_suffix: ClassVar[str] = ""
    defaults: ClassVar[Mapping[str, Any]] = {}
    layouts: ClassVar[Tuple[str, ...]] = ("session_graph", "sequence", "typed_session_graph", "lessr_graphs")
    data_help: ClassVar[str] = ""
    percent: ClassVar[bool] = False

    # ---------------------------------------------------------------- data
    def load_data(self, cfg: "Config", data_dir: Path) -> PreparedData:
        """Read and validate the data folder (refusing an item table over the memory
        budget, :func:`check_table_memory`, before anything is allocated for it)."""
        raise NotImplementedError

    def check_model(self, cfg: "Config", batch_layout: str) -> None:
        """Refuse a model whose batch layout this protocol does not train (SrgnnError
        naming the protocols that do)."""
        if batch_layout in self.layouts:
            return
        from srgnn_paddle.protocols import PROTOCOLS

        others = [p.name for p in PROTOCOLS.values() if batch_layout in p.layouts]
        what = "scores (user, item) pairs" if batch_layout == "pairs" else f"has batch layout {batch_layout}"
        if batch_layout == "pairs":
            raise SrgnnError(f"model {cfg.model} {what} and trains on the leave-one-out files: use --protocol "
                             + " or ".join(others) + " (and a folder from 'prepare ... --protocol loo')")
        raise SrgnnError(f"model {cfg.model} {what}, which the {self.name} protocol does not train: model "
                         f"{cfg.model} needs --protocol " + " or ".join(others))

    def test_files(self, data_dir: Path) -> List[Path]:
        """The files that hold the test split (their SHA-256 goes into ``summary.json`` as
        ``test_files``, so that paired tests refuse runs scored on other test data); none
        by default."""
        return []

    def predict_max_length(self, cfg: "Config") -> int:
        """How many most recent items of a session ``predict`` keeps (0 = all)."""
        return 0

    # ---------------------------------------------------------------- evaluation
    def evaluator(self, cfg: "Config", dataset: Any, model: Any, kernels: Any, progress: bool = False) -> Any:
        """The evaluator of one split: ``evaluator(model, desc) -> {metric: value}``,
        ``.score(metrics)`` (the selection key, larger is better), ``.columns()``; ``.n``
        (the cases scored) and ``.ranks`` (after a call, ``[n]`` int32 ranks of the
        targets where each case has one, else None)."""
        raise NotImplementedError

    def test_metrics(self, top_n: int) -> List[str]:
        """The metrics ``report`` / ``compare`` show, for the run's configured ``topN``."""
        raise NotImplementedError

    def popularity(self, cfg: "Config", data: PreparedData) -> Dict[str, float]:
        """The most popular training items given to every test user (or prefix), scored
        with this protocol's metrics on the test split."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<protocol {self.name}>"


def check_table_memory(n_items: int, embedding_dim: int, source: Path, share: float = MEMORY_SHARE) -> None:
    """Refuse (before any allocation) an item table whose training state (weights, gradient
    and Adam's two moments: ``4 x n_items x D`` float32) is over the memory budget, ``share``
    of the machine's physical memory."""
    need = 4 * 4 * int(n_items) * int(embedding_dim)
    total = physical_memory()
    if total and need > share * total:
        raise SrgnnError(f"{source}: n_items {n_items} x embedding_dim {embedding_dim} needs {need / 2**30:.1f} GiB "
                         f"for the item table's training state, over the budget of {share:.0%} of this machine's "
                         f"{total / 2**30:.1f} GiB ({share * total / 2**30:.1f} GiB); re-encode the item ids 1..n "
                         f"with 'srgnn-paddle prepare' or lower --n_items / --embedding_dim")


def physical_memory() -> int:
    """Bytes of physical memory (0 when the platform does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def table_rows(cfg_rows: int, meta_rows: Optional[int], data_rows: int, source: Path, what: str = "n_items") -> int:
    """The rows of a table: ``--n_items`` (``cfg_rows``) when given, else ``meta.json``'s,
    else the data's (max id + 1); an explicit size smaller than the data's ids is refused."""
    rows = cfg_rows or meta_rows or data_rows
    if rows < data_rows:
        origin = f"--{what}" if cfg_rows else "meta.json"
        raise SrgnnError(f"{source}: the data's ids need {what} >= {data_rows}, but {origin} gives {rows}; "
                         f"raise it or leave it out (0: from the data)")
    return rows
