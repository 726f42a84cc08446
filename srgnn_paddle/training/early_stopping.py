"""Early stopping: the notebook's rule, with lexicographic scores."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple


@dataclass
class EarlyStopping:
    """The notebook's rule: an epoch improves when its score is strictly greater than the
    best so far; training stops once ``epoch - best_epoch > patience``.

    Scores are tuples compared lexicographically (e.g. ``(P@20, MRR@20)``).
    """

    patience: int
    best_score: Optional[Tuple[float, ...]] = None
    best_epoch: int = 0

    def update(self, epoch: int, score: Sequence[float]) -> bool:
        """Record ``epoch``'s score; True when it is a new best."""
        score = tuple(float(s) for s in score)
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_epoch = score, epoch
            return True
        return False

    def should_stop(self, epoch: int) -> bool:
        """True when ``epoch - best_epoch > patience``."""
        return epoch - self.best_epoch > self.patience

    def state_dict(self) -> Dict[str, Any]:
        return {"patience": self.patience, "best_score": self.best_score, "best_epoch": self.best_epoch}

    def set_state_dict(self, state: Dict[str, Any]) -> None:
        self.patience = int(state["patience"])
        self.best_score = tuple(state["best_score"]) if state["best_score"] is not None else None
        self.best_epoch = int(state["best_epoch"])
