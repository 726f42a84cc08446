"""srgnn-paddle: SR-GNN (Wu et al., AAAI 2019) and its neighbours in PaddlePaddle (2.6 and 3.x).

The pipeline's stages are sub-packages: :mod:`~srgnn_paddle.data`,
:mod:`~srgnn_paddle.prepare`, :mod:`~srgnn_paddle.models`, :mod:`~srgnn_paddle.protocols`,
:mod:`~srgnn_paddle.training`, :mod:`~srgnn_paddle.evaluation` (and
:mod:`~srgnn_paddle.kernels`, the CPU fast paths). The names below are the notebook's public
building blocks, with their notebook call forms (``docs/notebooks.md``).

Importing the package imports nothing else: each name is loaded when first used (so the
configuration and ``--help`` never load Paddle).
"""
from __future__ import annotations

import zlib  # noqa: F401  before any Paddle import: Paddle 2.6 breaks a zlib loaded after it (srgnn_paddle.compat)

from srgnn_paddle.lazy import lazy_exports

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "Config": "srgnn_paddle.config",
    "load_config": "srgnn_paddle.config",
    "SequenceDataset": "srgnn_paddle.data",
    "SeqnenceDataset": "srgnn_paddle.data",
    "SessionDataset": "srgnn_paddle.data",
    "augment_prefixes": "srgnn_paddle.data",
    "build_session_graph": "srgnn_paddle.data",
    "make_loader": "srgnn_paddle.data",
    "SrgnnError": "srgnn_paddle.errors",
    "evaluate": "srgnn_paddle.evaluation",
    "evaluate_model": "srgnn_paddle.evaluation",
    "get_predict": "srgnn_paddle.evaluation",
    "GNN": "srgnn_paddle.models",
    "MODELS": "srgnn_paddle.models",
    "SRGNN": "srgnn_paddle.models",
    "Recommender": "srgnn_paddle.models",
    "build_model": "srgnn_paddle.models",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
