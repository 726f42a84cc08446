"""What the RecBole comparison scripts (``bench_recbole_neumf.py``, ``bench_recbole_session.py``,
``bench_recbole_gnn.py``) share; imported by them in their own venv with torch and RecBole, never by the toolkit.

Importing this module restores the numpy aliases numpy 2 removed and RecBole 1.2 still uses
(``np.float_``, ``np.complex_``, ``np.unicode_``, ...), so import it before RecBole.

It also lets RecBole-GNN's LESSR import DGL there: the newest DGL wheel on the package index
(2.1.0, ``pip install dgl==2.1.0 torchdata==0.7.1 pydantic``) loads, on import, a GraphBolt
library built per torch version and has none for torch 2.13; LESSR uses only DGL's graphs and
message passing, never GraphBolt, so an empty ``dgl.graphbolt`` module stands in for it when
DGL is installed.
"""
from __future__ import annotations

import importlib.util
import pickle
import sys
import types
from pathlib import Path

import numpy as np

for _alias, _target in (("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_),
                        ("bool8", np.bool_), ("int_", np.int64)):
    if not hasattr(np, _alias):
        setattr(np, _alias, _target)

if importlib.util.find_spec("dgl") is not None and "dgl.graphbolt" not in sys.modules:
    sys.modules["dgl.graphbolt"] = types.ModuleType("dgl.graphbolt")


class FirstBatches:
    """The first ``n`` batches of a RecBole data loader (what ``Trainer._train_epoch`` iterates)."""

    def __init__(self, loader, n: int) -> None:
        self.loader, self.n, self.shuffle = loader, n, loader.shuffle

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for k, batch in enumerate(self.loader):
            if k == self.n:
                return
            yield batch


def write_atomic(sessions_file: Path, max_sessions: int, folder: Path) -> int:
    """``folder/digi/digi.inter`` from the first ``max_sessions`` sessions (0: all); returns
    the number of interactions."""
    with open(sessions_file, "rb") as f:
        sessions = pickle.load(f)
    sessions = sessions[:max_sessions] if max_sessions else sessions
    (folder / "digi").mkdir(parents=True, exist_ok=True)
    rows = 0
    with open(folder / "digi" / "digi.inter", "w") as f:
        f.write("session_id:token\titem_id:token\ttimestamp:float\n")
        for s, items in enumerate(sessions):
            for t, item in enumerate(items):
                f.write(f"{s}\t{item}\t{t}\n")
                rows += 1
    return rows
