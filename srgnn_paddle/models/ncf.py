"""Neural Collaborative Filtering (He et al., "Neural Collaborative Filtering", WWW 2017):
GMF, MLP and NeuMF, for implicit feedback under the leave-one-out protocol.

A user ``u`` and an item ``i`` are one-hot inputs, embedded by a user table ``P`` and an
item table ``Q``; a model maps the pair to ``y_ui = sigmoid(h^T phi(p_u, q_i) + b)``, the
probability that ``u`` interacts with ``i``, trained with the log loss (binary
cross-entropy) on the observed pairs (label 1) and ``num_negatives`` sampled unobserved
ones per observed pair (label 0), redrawn every epoch (§3.1 of the paper):

* **GMF** (§3.2): ``phi = p_u * q_i`` (element-wise);
* **MLP** (§3.3): ``phi`` = a ReLU tower over ``[p_u; q_i]`` (``mlp_layers`` sizes, e.g.
  64 -> 32 -> 16 -> 8: each embedding is half the first size);
* **NeuMF** (§3.4): separate GMF and MLP embeddings; ``phi = [p^G_u * q^G_i ; tower(p^M_u,
  q^M_i)]``. With pretraining (§3.4.1), the GMF and MLP parts start from trained GMF and
  MLP models and ``h = [alpha h^GMF ; (1 - alpha) h^MLP]`` (:meth:`NeuMF.load_pretrained`).

Initialisation as in the authors' code: embeddings Gaussian (std 0.01), tower layers
Glorot-uniform (Paddle's default) with zero biases, the prediction layer LeCun-uniform. The
prediction layer has a bias (the authors' Keras ``Dense``; the paper's equations omit it).
``forward`` returns the logit ``h^T phi + b``; :meth:`NCF.predict` applies the sigmoid; the
loss is the log loss of the sigmoid computed from the logit in one stable step.

The contract (:class:`~srgnn_paddle.models.base.Recommender`): batch layout ``pairs``.
GMF's score is ``(p_u * h) . q_i + b``, an inner product up to the per-user constant ``b``,
so GMF declares ``inner_product`` with ``encode = p_u * h`` and ``item_embeddings = Q``. MLP
and NeuMF score a pair with a non-linear head (``inner_product = False``); their ``encode``
/ ``item_embeddings`` are the user and item tables (NeuMF: the GMF and MLP tables side by
side), for t-SNE and inspection only. Item ids are the toolkit's (row 0 = padding, never a
candidate); user ids index the user table directly.

Host kernels (``kernels: host``): the tower's and the prediction layer's ``Linear`` layers
(:class:`srgnn_paddle.kernels.linear.Linear`); the full-catalogue scoring's split of the
tower's first layer (:func:`tower_over_items`) and GMF's ``Q`` product are ``paddle.matmul``
with either kernels.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from srgnn_paddle.config import Config
from srgnn_paddle.data.pairs import PairBatch
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.kernels.linear import Linear
from srgnn_paddle.models.base import CrossEntropy, Recommender, mask_padding_column

TensorLike = Union[paddle.Tensor, np.ndarray]

#: full-catalogue scoring of MLP towers: users per chunk are chosen so that a chunk's
#: first hidden layer (``users x items x size``) holds at most this many numbers
FULL_SCORE_CELLS = 1 << 24


def _tensor(x: TensorLike) -> paddle.Tensor:
    return x if isinstance(x, paddle.Tensor) else paddle.to_tensor(x)


def embedding(rows: int, dim: int) -> nn.Embedding:
    """A ``[rows, dim]`` table initialised from N(0, 0.01) (the authors' ``init_normal``)."""
    return nn.Embedding(rows, dim, weight_attr=paddle.ParamAttr(initializer=nn.initializer.Normal(0.0, 0.01)))


def tower(sizes: Sequence[int]) -> nn.Sequential:
    """The MLP tower: ``Linear(sizes[k], sizes[k+1])`` then ReLU for every consecutive pair."""
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers)


def prediction_layer(size: int) -> Linear:
    """``h^T x + b``: ``Linear(size, 1)``, LeCun-uniform weight (``+-sqrt(3 / size)``), zero bias."""
    bound = math.sqrt(3.0 / size)
    return Linear(size, 1, weight_attr=paddle.ParamAttr(initializer=nn.initializer.Uniform(-bound, bound)),
                     bias_attr=paddle.ParamAttr(initializer=nn.initializer.Constant(0.0)))


def _sizes(config: Union[Config, Mapping[str, Any]]) -> Dict[str, Any]:
    """``n_users``, ``n_items``, ``embedding_dim`` and the tower sizes from a config or dict."""
    cfg = config if isinstance(config, Config) else Config.from_dict(dict(config))
    if cfg.n_users < 1 or cfg.n_items < 2:
        raise SrgnnError(f"NCF models need n_users >= 1 and n_items >= 2 (set from the data), got "
                         f"{cfg.n_users} and {cfg.n_items}")
    return {"n_users": cfg.n_users, "n_items": cfg.n_items, "factors": cfg.embedding_dim,
            "layers": cfg.tower_sizes()}


class NCF(Recommender):
    """What the three models share: the ``pairs`` layout, the log loss of ``forward``'s
    logits, candidate and full-catalogue scoring. Subclasses define ``forward(user [N],
    item [N]) -> [N]`` logits, ``encode``, ``item_embeddings`` and ``full_scores``."""

    batch_layout = "pairs"
    inner_product = False
    score_padding = False  # item 0 (padding) is never drawn, never a candidate

    n_users: int

    @classmethod
    def from_config(cls, cfg: Config, **options: Any) -> "NCF":
        """The model for ``cfg`` (``n_users`` and ``n_items`` set from the data). The tables
        are small and their gradients dense, so the trainer's ``sparse_item_grad`` option
        does not apply."""
        return cls(cfg)

    def forward(self, user: TensorLike, item: TensorLike) -> paddle.Tensor:
        """Logits ``h^T phi(p_u, q_i) + b`` of pairs: ``user [N]``, ``item [N]`` int64 -> ``[N]``."""
        raise NotImplementedError

    def predict(self, user: TensorLike, item: TensorLike) -> paddle.Tensor:
        """``y_ui = sigmoid(logit)``, the predicted probability of an interaction: ``[N]``."""
        return F.sigmoid(self(user, item))

    def calculate_loss(self, batch: PairBatch, cross_entropy: CrossEntropy | None = None) -> paddle.Tensor:
        """The log loss (mean binary cross-entropy of ``sigmoid(logit)`` against the labels)
        of a batch of pairs; the softmax kernel ``cross_entropy`` does not apply."""
        return F.binary_cross_entropy_with_logits(self(batch.user, batch.item), _tensor(batch.label))

    def score_items(self, batch: PairBatch, items: TensorLike) -> paddle.Tensor:
        """Logits of ``items [B, C]`` for the batch's users: ``[B, C]``."""
        items = _tensor(items)
        rows, cols = items.shape
        users = _tensor(batch.user).reshape([-1, 1]).expand([rows, cols])
        return self(users.reshape([-1]), items.reshape([-1])).reshape([rows, cols])


class GMF(NCF):
    """Generalized Matrix Factorization: ``logit = h^T (p_u * q_i) + b``.

    Args:
        config: ``n_users``, ``n_items`` (with the padding row), ``embedding_dim`` (the
            predictive factors).
    """

    name = "gmf"
    display_name = "GMF"
    inner_product = True

    def __init__(self, config: Union[Config, Mapping[str, Any]]) -> None:
        super().__init__()
        sizes = _sizes(config)
        self.n_users, self.n_items, self.embedding_dim = sizes["n_users"], sizes["n_items"], sizes["factors"]
        self.user_embedding = embedding(self.n_users, self.embedding_dim)  # P
        self.item_embedding = embedding(self.n_items, self.embedding_dim)  # Q
        self.predict_layer = prediction_layer(self.embedding_dim)  # h, b

    def forward(self, user: TensorLike, item: TensorLike) -> paddle.Tensor:
        p_u = self.user_embedding(_tensor(user))  # [N, D]
        q_i = self.item_embedding(_tensor(item))  # [N, D]
        return self.predict_layer(p_u * q_i).squeeze(-1)  # [N]

    def encode(self, batch: PairBatch) -> paddle.Tensor:
        """``p_u * h``: ``[B, D]`` (the score is its inner product with ``q_i``, plus ``b``)."""
        return self.user_embedding(_tensor(batch.user)) * self.predict_layer.weight[:, 0]

    def item_embeddings(self) -> paddle.Tensor:
        """``Q``: ``[n_items, D]``."""
        return self.item_embedding.weight

    def full_scores(self, batch: PairBatch) -> paddle.Tensor:
        """Logits of every item: ``(p_u * h) Q^T + b``, ``[B, n_items]``, padding column at -1e9."""
        scores = paddle.matmul(self.encode(batch), self.item_embeddings(), transpose_y=True) + self.predict_layer.bias
        return mask_padding_column(scores)


class MLP(NCF):
    """Multi-Layer Perceptron: ``logit = h^T tower([p_u ; q_i]) + b`` with a ReLU tower.

    Args:
        config: ``n_users``, ``n_items``, ``mlp_layers`` (``"64,32,16,8"``: the first is
            the concatenated embedding, so ``p_u`` and ``q_i`` have 32 numbers each).
    """

    name = "mlp"
    display_name = "MLP"

    def __init__(self, config: Union[Config, Mapping[str, Any]]) -> None:
        super().__init__()
        sizes = _sizes(config)
        layers = sizes["layers"]
        self.n_users, self.n_items, self.embedding_dim = sizes["n_users"], sizes["n_items"], layers[0] // 2
        self.user_embedding = embedding(self.n_users, self.embedding_dim)  # P
        self.item_embedding = embedding(self.n_items, self.embedding_dim)  # Q
        self.mlp = tower(layers)
        self.predict_layer = prediction_layer(layers[-1])

    def forward(self, user: TensorLike, item: TensorLike) -> paddle.Tensor:
        p_u = self.user_embedding(_tensor(user))  # [N, d]
        q_i = self.item_embedding(_tensor(item))  # [N, d]
        return self.predict_layer(self.mlp(paddle.concat([p_u, q_i], axis=-1))).squeeze(-1)  # [N]

    def encode(self, batch: PairBatch) -> paddle.Tensor:
        """The users' MLP embeddings ``p_u``: ``[B, d]`` (descriptive: the score is not an inner product)."""
        return self.user_embedding(_tensor(batch.user))

    def item_embeddings(self) -> paddle.Tensor:
        """``Q``: ``[n_items, d]``."""
        return self.item_embedding.weight

    def full_scores(self, batch: PairBatch) -> paddle.Tensor:
        """Logits of every item: ``[B, n_items]``, padding column at -1e9 (see :func:`tower_over_items`)."""
        p_u = self.encode(batch)
        parts = [self.predict_layer(tower_over_items(self.mlp, p_u[s:s + k], self.item_embedding.weight)).squeeze(-1)
                 for s, k in user_chunks(len(batch), self.n_items, self.mlp[0].weight.shape[1])]
        return mask_padding_column(paddle.concat(parts, axis=0))


class NeuMF(NCF):
    """Neural Matrix Factorization: ``logit = h^T [p^G_u * q^G_i ; tower([p^M_u ; q^M_i])] + b``,
    the GMF and MLP parts with their own embeddings.

    Args:
        config: ``n_users``, ``n_items``, ``embedding_dim`` (GMF's factors) and ``mlp_layers``.
    """

    name = "neumf"
    display_name = "NeuMF"

    @classmethod
    def run_name(cls, cfg: Config) -> str:
        """``NeuMF-pretrain_<lr>_<batch>_<dim>`` when started from pretrained GMF and MLP runs."""
        name = super().run_name(cfg)
        return name.replace(cls.display_name, f"{cls.display_name}-pretrain", 1) if cfg.pretrain_gmf else name

    def __init__(self, config: Union[Config, Mapping[str, Any]]) -> None:
        super().__init__()
        sizes = _sizes(config)
        layers = sizes["layers"]
        self.n_users, self.n_items = sizes["n_users"], sizes["n_items"]
        self.gmf_dim, self.mlp_dim = sizes["factors"], layers[0] // 2
        self.embedding_dim = self.gmf_dim + self.mlp_dim
        self.gmf_user_embedding = embedding(self.n_users, self.gmf_dim)  # P^G
        self.gmf_item_embedding = embedding(self.n_items, self.gmf_dim)  # Q^G
        self.mlp_user_embedding = embedding(self.n_users, self.mlp_dim)  # P^M
        self.mlp_item_embedding = embedding(self.n_items, self.mlp_dim)  # Q^M
        self.mlp = tower(layers)
        self.predict_layer = prediction_layer(self.gmf_dim + layers[-1])

    def forward(self, user: TensorLike, item: TensorLike) -> paddle.Tensor:
        user, item = _tensor(user), _tensor(item)
        gmf = self.gmf_user_embedding(user) * self.gmf_item_embedding(item)  # [N, D_G]
        mlp = self.mlp(paddle.concat([self.mlp_user_embedding(user), self.mlp_item_embedding(item)], axis=-1))
        return self.predict_layer(paddle.concat([gmf, mlp], axis=-1)).squeeze(-1)  # [N]

    def encode(self, batch: PairBatch) -> paddle.Tensor:
        """``[p^G_u ; p^M_u]``: ``[B, D_G + d_M]`` (descriptive: the score is not an inner product)."""
        user = _tensor(batch.user)
        return paddle.concat([self.gmf_user_embedding(user), self.mlp_user_embedding(user)], axis=-1)

    def item_embeddings(self) -> paddle.Tensor:
        """``[Q^G ; Q^M]`` side by side: ``[n_items, D_G + d_M]``."""
        return paddle.concat([self.gmf_item_embedding.weight, self.mlp_item_embedding.weight], axis=-1)

    def full_scores(self, batch: PairBatch) -> paddle.Tensor:
        """Logits of every item: ``[B, n_items]``, padding column at -1e9. The prediction
        layer's weight splits into its GMF rows ``h^G`` and MLP rows ``h^M``, so the GMF part
        is ``(p^G_u * h^G) Q^G^T`` and the MLP part goes through :func:`tower_over_items`."""
        user = _tensor(batch.user)
        h = self.predict_layer.weight  # [D_G + L, 1]
        gmf = paddle.matmul(self.gmf_user_embedding(user) * h[: self.gmf_dim, 0], self.gmf_item_embedding.weight,
                            transpose_y=True)  # [B, N]
        p_m = self.mlp_user_embedding(user)
        mlp = [paddle.matmul(tower_over_items(self.mlp, p_m[s:s + k], self.mlp_item_embedding.weight),
                             h[self.gmf_dim:]).squeeze(-1)
               for s, k in user_chunks(len(batch), self.n_items, self.mlp[0].weight.shape[1])]
        return mask_padding_column(gmf + paddle.concat(mlp, axis=0) + self.predict_layer.bias)

    def load_pretrained(self, gmf: Mapping[str, paddle.Tensor], mlp: Mapping[str, paddle.Tensor],
                        alpha: float = 0.5) -> None:
        """Start from a trained GMF's and a trained MLP's weights (§3.4.1): the embeddings and
        the tower as they are, the prediction layer ``h = [alpha h^GMF ; (1 - alpha) h^MLP]``,
        ``b = alpha b^GMF + (1 - alpha) b^MLP`` (the authors' code: alpha 0.5 on both).

        Args:
            gmf, mlp: state dicts of a :class:`GMF` and an :class:`MLP` with this model's sizes.
        Raises:
            SrgnnError: a weight is missing or has another shape.
        """
        state = {
            "gmf_user_embedding.weight": _weight(gmf, "user_embedding.weight", "GMF"),
            "gmf_item_embedding.weight": _weight(gmf, "item_embedding.weight", "GMF"),
            "mlp_user_embedding.weight": _weight(mlp, "user_embedding.weight", "MLP"),
            "mlp_item_embedding.weight": _weight(mlp, "item_embedding.weight", "MLP"),
            "predict_layer.weight": np.concatenate([alpha * _weight(gmf, "predict_layer.weight", "GMF"),
                                                    (1.0 - alpha) * _weight(mlp, "predict_layer.weight", "MLP")]),
            "predict_layer.bias": (alpha * _weight(gmf, "predict_layer.bias", "GMF")
                                   + (1.0 - alpha) * _weight(mlp, "predict_layer.bias", "MLP")),
        }
        state.update({key: _weight(mlp, key, "MLP") for key in self.state_dict() if key.startswith("mlp.")})
        own = self.state_dict()
        for key, value in state.items():
            if list(value.shape) != list(own[key].shape):
                raise SrgnnError(f"pretrained {key} has shape {list(value.shape)}, this NeuMF's is {list(own[key].shape)}; "
                                 f"train GMF and MLP with the same --embedding_dim, --mlp_layers and data")
        self.set_state_dict({key: paddle.to_tensor(np.asarray(value, dtype=np.float32)) for key, value in state.items()})


def _weight(state: Mapping[str, Any], key: str, model: str) -> np.ndarray:
    """``state[key]`` as a numpy array; SrgnnError when the pretrained model lacks it."""
    if key not in state:
        raise SrgnnError(f"the pretrained {model} has no weight {key!r}; pass the run folder of a trained {model}")
    value = state[key]
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


def user_chunks(n_users: int, n_items: int, width: int) -> List[Tuple[int, int]]:
    """``(start, size)`` of the user chunks of a full-catalogue tower pass: each chunk's
    ``[size, n_items, width]`` hidden layer holds at most :data:`FULL_SCORE_CELLS` numbers."""
    step = max(1, FULL_SCORE_CELLS // max(1, n_items * width))
    return [(start, min(step, n_users - start)) for start in range(0, n_users, step)]


def tower_over_items(mlp: nn.Sequential, users: paddle.Tensor, items: paddle.Tensor) -> paddle.Tensor:
    """``mlp([p_u ; q_i])`` for every user of ``users [B, d]`` and every item of ``items
    [N, d]``: ``[B, N, L]``. The first layer's weight ``W = [W_u ; W_i]`` splits into its
    user and item rows, ``W^T [p ; q] = W_u^T p + W_i^T q``, so the item half is computed
    once per item instead of once per pair; the rest of the tower runs on the sums."""
    first = mlp[0]
    d = users.shape[-1]
    user_half = paddle.matmul(users, first.weight[:d]) + first.bias  # [B, H]
    item_half = paddle.matmul(items, first.weight[d:])  # [N, H]
    hidden = F.relu(user_half.unsqueeze(1) + item_half.unsqueeze(0))  # [B, N, H]
    for layer in list(mlp)[2:]:
        hidden = layer(hidden)
    return hidden
