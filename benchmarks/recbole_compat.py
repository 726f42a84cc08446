"""What the RecBole comparison scripts (``bench_recbole_neumf.py``, ``bench_recbole_session.py``)
share; imported by them in their own venv with torch and RecBole, never by the toolkit.

Importing this module restores the numpy aliases numpy 2 removed and RecBole 1.2 still uses
(``np.float_``, ``np.complex_``, ``np.unicode_``, ...), so import it before RecBole.
"""
from __future__ import annotations

import numpy as np

for _alias, _target in (("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_),
                        ("bool8", np.bool_), ("int_", np.int64)):
    if not hasattr(np, _alias):
        setattr(np, _alias, _target)


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
