"""Top-N recall with Faiss (``docs/notebook.md`` §6).

Item vectors (``model.item_embeddings()``, row 0 included) and user vectors are L2-normalised
and searched by inner product. The index is exact (``IndexFlatIP``) by default, or an
approximate ``IndexIVFFlat`` for large catalogues; it lives on the GPU when the installed
faiss has GPU support and a GPU is visible.
"""
from __future__ import annotations

import logging
import math
from typing import Dict, List, Optional, Tuple

import numpy as np
import paddle

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.evaluation.metrics import evaluate
from srgnn_paddle.models.notebook import item_vectors, user_vectors


def import_faiss():
    """The ``faiss`` module. Its first import logs, at INFO level, which CPU build it loaded;
    that line is held back (the ``faiss`` logger at WARNING during the import, its own
    level restored afterwards) so that the console stays the run's."""
    logger = logging.getLogger("faiss")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        import faiss
    finally:
        logger.setLevel(level)
    return faiss


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation (zero rows stay zero), float32. ``[N, D] -> [N, D]``."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def faiss_has_gpu() -> bool:
    """True when the installed faiss was built with GPU support and sees a GPU."""
    faiss = import_faiss()

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def build_index(item_vectors: np.ndarray, kind: str = "flat", nlist: int = 0, nprobe: int = 8,
                use_gpu: Optional[bool] = None):
    """An inner-product Faiss index over ``item_vectors [N, D]`` (already normalised).

    Args:
        kind: ``'flat'`` (exact) or ``'ivf'`` (inverted lists; ``nlist`` clusters, default
            about ``4 sqrt(N)`` and at most ``N / 39``, capped at ``N``; ``nprobe`` of them
            searched, clipped to ``1..nlist``; ``nprobe = nlist`` is an exhaustive search).
        use_gpu: None = automatic (:func:`faiss_has_gpu`).
    """
    faiss = import_faiss()

    vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        # k-means needs at least one training vector per list (faiss wants 39 for a good fit)
        nlist = min(nlist, n) if nlist else min(int(4 * math.sqrt(n)), n // 39)
        nlist = max(1, nlist)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = max(1, min(nprobe, nlist))
        _keep_alive(index, quantizer)
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    if use_gpu is None:
        use_gpu = faiss_has_gpu()
    if use_gpu:
        resources = faiss.StandardGpuResources()
        index = faiss.index_cpu_to_gpu(resources, 0, index)
        _keep_alive(index, resources)
    index.add(vectors)
    return index


def _keep_alive(index, obj) -> None:
    """Tie ``obj``'s lifetime to ``index``. Recent faiss (1.15 here) refuses new attributes on its SWIG
    objects (``index.foo = x`` raises AttributeError) but allows ``referenced_objects``, the
    list faiss itself uses for the same purpose."""
    refs = list(getattr(index, "referenced_objects", None) or [])
    index.referenced_objects = refs + [obj]


def top_items(scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best items of each row of ``scores [B, n_items]``, best first, item 0 (the
    padding) never listed; equal scores: the smaller id first. ``-> [B, k]`` int64."""
    scores = np.array(scores, dtype=np.float64)
    scores[:, 0] = -np.inf
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]  # the k-th largest score of each row
    rows, cols = np.nonzero(scores >= kth[:, None])  # the candidates, ties at the boundary included
    order = np.lexsort((cols, -scores[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    within = np.arange(len(rows)) - np.searchsorted(rows, np.arange(len(scores)))[rows]
    return cols[within < k].reshape(len(scores), k).astype(np.int64)


def get_predict(model, test_data, hidden_size: int, topN: int = 50, index_kind: str = "flat",
                nlist: int = 0, nprobe: int = 8) -> Tuple[Dict[int, List[int]], Dict[int, List[int]]]:
    """The notebook's ``get_predict``: Faiss top-N items for every user of a loader.

    Args:
        model: a :class:`~srgnn_paddle.models.Recommender` that scores by inner product, or a
            notebook-style layer with ``output_items()`` and ``forward(item_seq, mask, None,
            train=False)`` returning ``{'user_emb': [B, D]}``. A model that does not score by
            inner product (``inner_product = False``: NCF's MLP and NeuMF, the counted
            baselines) is ranked from its ``full_scores`` (:func:`top_items`) instead of Faiss.
        test_data: batches of users: :func:`srgnn_paddle.data.make_loader`'s, or the notebook's
            ``(item_seq, mask, targets)`` tuples, ``targets`` the ground-truth lists.
        hidden_size: embedding size ``D``.
        topN: number of items retrieved per user.
    Returns:
        ``(test_gd, preds)``: dicts keyed by the running user number (as in the notebook),
        the ground-truth lists and the top-N item ids.
    """
    if not getattr(model, "inner_product", True):  # a model of the contract without item vectors
        return _predict_from_scores(model, test_data, topN)
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            items = l2_normalize(item_vectors(model))
            if items.shape[1] != hidden_size:
                raise SrgnnError(f"get_predict: hidden_size {hidden_size} is not the item embedding size "
                                 f"{items.shape[1]}; pass the model's embedding_dim")
            index = build_index(items, index_kind, nlist=nlist, nprobe=nprobe)
            test_gd: Dict[int, List[int]] = {}
            preds: Dict[int, List[int]] = {}
            user = 0
            for batch in test_data:
                user_embs, targets = user_vectors(model, batch)
                _, ids = index.search(l2_normalize(user_embs), topN)
                for gt, row in zip(targets, ids):
                    test_gd[user] = list(gt)
                    preds[user] = row
                    user += 1
    finally:
        if was_training:
            model.train()
    return test_gd, preds


def _predict_from_scores(model, test_data, topN: int) -> Tuple[Dict[int, List[int]], Dict[int, List[int]]]:
    """:func:`get_predict` for a model without item vectors: the top N of ``full_scores``."""
    test_gd: Dict[int, List[int]] = {}
    preds: Dict[int, List[int]] = {}
    with paddle.no_grad():
        for batch in test_data:
            top = top_items(model.full_scores(batch).numpy(), topN)
            for gt, row in zip(batch.target, top):
                test_gd[len(test_gd)] = list(gt)
                preds[len(preds)] = row
    return test_gd, preds


def evaluate_model(model, test_loader, embedding_dim: int, topN: int = 50, index_kind: str = "flat",
                   nlist: int = 0, nprobe: int = 8) -> Dict[str, float]:
    """The notebook's ``evaluate_model``: :func:`get_predict` then :func:`evaluate`."""
    test_gd, preds = get_predict(model, test_loader, embedding_dim, topN, index_kind, nlist, nprobe)
    return evaluate(preds, test_gd, topN=topN)
