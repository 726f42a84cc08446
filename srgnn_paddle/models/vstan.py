"""VSTAN (Ludewig, Latifi, Mauro, Jannach, "Empirical analysis of session-based recommendation
algorithms", UMUAI 2021): STAN (:mod:`~srgnn_paddle.models.stan`) with V-SKNN's
(:mod:`~srgnn_paddle.models.vsknn`) additions.

On top of STAN's three decays (the session's positions, the neighbour's recency with a
session's index in the training file as its time since the published pickles carry no
timestamps, the position in the neighbour relative to the most recent shared item):

* IDF (``vstan_idf``): the session vector's entries also weigh the item's IDF ``log(S / S_i)``
  (``S`` training sessions, ``S_i`` of them holding ``i``), as V-SKNN's;
* V-SKNN's sequence-aware vote: a neighbour's votes are multiplied by ``exp(-(l - p_m) /
  lambda_4)``, ``p_m`` the position in the session (length ``l``) of the most recent item it
  shares with the neighbour (``vstan_lambda4``; 0 = off): neighbours matching only old items of
  the session count less;
* candidates sampled by recency (``stan_sample_size``), as in SKNN / V-SKNN.
"""
from __future__ import annotations

import numpy as np

from srgnn_paddle.config import Config
from srgnn_paddle.models.stan import STAN


class VSTAN(STAN):
    """STAN's options plus ``cfg.vstan_lambda4`` and ``cfg.vstan_idf``."""

    name, display_name = "vstan", "VSTAN"
    search_space = {**STAN.search_space, "vstan_lambda4": (0.0, 1.0, 2.0, 4.0, 8.0), "vstan_idf": (False, True)}

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.lambda4 = float(cfg.vstan_lambda4)
        self.idf = bool(cfg.vstan_idf)

    @classmethod
    def run_name(cls, cfg: Config) -> str:
        """STAN's name parts, then ``<lambda4>`` and ``_idf``."""
        return (f"{cls.display_name}_{cfg.stan_neighbors}_{cfg.stan_sample_size}_{cfg.stan_lambda1:g}_"
                f"{cfg.stan_lambda2:g}_{cfg.stan_lambda3:g}_{cfg.vstan_lambda4:g}" + ("_idf" if cfg.vstan_idf else ""))

    def session_weights(self, items: np.ndarray, positions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """STAN's ``exp((p - l) / lambda_1)``, times the item's IDF with ``vstan_idf``."""
        weights = super().session_weights(items, positions, lengths)
        return weights * self.stats["idf"][items] if self.idf else weights

    def vote_decay(self, lengths: np.ndarray, match_positions: np.ndarray) -> np.ndarray:
        """``[E]`` ``exp(-(l - p_m) / lambda_4)`` (1 with ``lambda_4 = 0``)."""
        return np.exp(-(lengths - match_positions) / self.lambda4) if self.lambda4 else np.ones(len(lengths))
