"""Stage 3, models: one file per model, each a :class:`~srgnn_paddle.models.base.Recommender`
(trained) or a :class:`~srgnn_paddle.models.counts.CountModel` (counted); the pieces they
share are in :mod:`~srgnn_paddle.models.layers` and :mod:`~srgnn_paddle.models.sequence`.

:data:`MODELS` maps the ``--model`` names to their classes; a new model is a new file here
and one line in that dict (see the README's "Architecture" section).
"""
from __future__ import annotations

from typing import Any, Dict, Type, Union

from srgnn_paddle.compat import require_paddle
from srgnn_paddle.config import Config
from srgnn_paddle.errors import SrgnnError

# every path that builds or loads a model comes through here: an unsupported Paddle stops
# with one `error:` line before any model module imports it
require_paddle()

from srgnn_paddle.models.base import BATCH_LAYOUTS, Recommender, Scorer, softmax_cross_entropy
from srgnn_paddle.models.counts import CountModel
from srgnn_paddle.models.gcegnn import GCEGNN
from srgnn_paddle.models.gcsan import GCSAN
from srgnn_paddle.models.ggnnwatt import GGNNwATT
from srgnn_paddle.models.gru4rec import GRU4Rec
from srgnn_paddle.models.gruwatt import GRUwATT
from srgnn_paddle.models.itemknn import ItemKNN
from srgnn_paddle.models.lessr import LESSR
from srgnn_paddle.models.narm import NARM
from srgnn_paddle.models.ncf import GMF, MLP, NCF, NeuMF
from srgnn_paddle.models.niser import NISER
from srgnn_paddle.models.pop import POP
from srgnn_paddle.models.sasrec import SASRec
from srgnn_paddle.models.sgnnhn import SGNNHN
from srgnn_paddle.models.sknn import SKNN
from srgnn_paddle.models.spop import SPOP
from srgnn_paddle.models.sr import SR
from srgnn_paddle.models.srgnn import GNN, SRGNN
from srgnn_paddle.models.stamp import STAMP
from srgnn_paddle.models.stan import STAN
from srgnn_paddle.models.tagnn import TAGNN
from srgnn_paddle.models.vsknn import VSKNN
from srgnn_paddle.models.vstan import VSTAN

#: ``train --model NAME`` -> the model's class.
MODELS: Dict[str, Type[Union[Recommender, CountModel]]] = {
    SRGNN.name: SRGNN,
    GRU4Rec.name: GRU4Rec,
    NARM.name: NARM,
    STAMP.name: STAMP,
    GRUwATT.name: GRUwATT,
    GGNNwATT.name: GGNNwATT,
    NISER.name: NISER,
    GCSAN.name: GCSAN,
    SASRec.name: SASRec,
    GCEGNN.name: GCEGNN,
    LESSR.name: LESSR,
    TAGNN.name: TAGNN,
    SGNNHN.name: SGNNHN,
    # neural collaborative filtering (the loo protocol: user, item pairs)
    GMF.name: GMF,
    MLP.name: MLP,
    NeuMF.name: NeuMF,
    # counted baselines (CountModel, trainable = False): statistics counted once, no epochs
    POP.name: POP,
    SPOP.name: SPOP,
    ItemKNN.name: ItemKNN,
    SKNN.name: SKNN,
    SR.name: SR,
    VSKNN.name: VSKNN,
    STAN.name: STAN,
    VSTAN.name: VSTAN,
}


def model_class(name: str) -> Type[Union[Recommender, CountModel]]:
    """The class registered as ``name``; SrgnnError naming the choices when there is none."""
    try:
        return MODELS[name]
    except KeyError:
        raise SrgnnError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


def build_model(cfg: Config, **options: Any) -> Union[Recommender, CountModel]:
    """The model ``cfg.model`` for ``cfg`` (``cfg.n_items`` set from the data)."""
    return model_class(cfg.model).from_config(cfg, **options)


__all__ = ["MODELS", "BATCH_LAYOUTS", "Scorer", "Recommender", "softmax_cross_entropy", "GNN", "SRGNN", "GRU4Rec",
           "NARM", "STAMP", "GRUwATT", "GGNNwATT", "NISER", "GCSAN", "SASRec", "GCEGNN", "LESSR", "TAGNN", "SGNNHN", "NCF", "GMF", "MLP",
           "NeuMF", "CountModel", "POP", "SPOP", "ItemKNN", "SKNN", "SR", "VSKNN", "STAN", "VSTAN", "model_class", "build_model"]
