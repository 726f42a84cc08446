"""Top-N recall with Faiss (spec ``notebook.md`` §6) and the popularity baseline.

Item vectors (``model.output_items()``, row 0 included) and user vectors are L2-normalised
and searched by inner product. The index is exact (``IndexFlatIP``) by default, or an
approximate ``IndexIVFFlat`` for large catalogues; it lives on the GPU when the installed
faiss has GPU support and a GPU is visible.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import paddle

from srgnn_paddle.data import Batch
from srgnn_paddle.metrics import evaluate

# faiss logs which CPU build it loaded at INFO level on import; keep the console for the run
logging.getLogger("faiss").setLevel(logging.WARNING)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation (zero rows stay zero), float32. ``[N, D] -> [N, D]``."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def faiss_has_gpu() -> bool:
    """True when the installed faiss was built with GPU support and sees a GPU."""
    import faiss

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
    import faiss

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


def merge_interests(scores: np.ndarray, ids: np.ndarray, top_n: int) -> List[int]:
    """Merge the result lists of ``K`` interest vectors of one user (the notebook's
    multi-interest path): sort all ``K*N`` results by score, drop duplicates and id 0,
    keep ``top_n``. ``scores, ids: [K, N]``."""
    order = np.argsort(-scores.reshape(-1), kind="stable")
    merged: List[int] = []
    seen = set()
    for item in ids.reshape(-1)[order]:
        item = int(item)
        if item != 0 and item not in seen:
            seen.add(item)
            merged.append(item)
            if len(merged) >= top_n:
                break
    return merged


def _split_batch(batch) -> Tuple[Any, Any, Any, Any]:
    """``(item_seq, mask, targets, graph)`` of a :class:`~srgnn_paddle.data.Batch` or of the
    notebook's ``(item_seq, mask, targets)`` tuple (graph ``None``: the model builds it)."""
    if isinstance(batch, Batch):
        return batch.history, batch.mask, batch.target, batch.graph
    return batch[0], batch[1], batch[2], None


def _batch_user_embeddings(model, item_seq, mask, graph) -> np.ndarray:
    """User vectors of one batch: ``[B, D]`` or ``[B, K, D]`` (multi-interest)."""
    return model(item_seq, mask, None, train=False, graph=graph)["user_emb"].numpy()


def get_predict(model, test_data, hidden_size: int, topN: int = 50, index_kind: str = "flat",
                nlist: int = 0, nprobe: int = 8) -> Tuple[Dict[int, List[int]], Dict[int, List[int]]]:
    """The notebook's ``get_predict``: Faiss top-N items for every user of a loader.

    Args:
        model: a layer with ``output_items()`` and ``forward(item_seq, mask, None,
            train=False)`` returning ``{'user_emb': [B, D] or [B, K, D]}``.
        test_data: batches of users: :func:`srgnn_paddle.data.make_loader`'s, or the notebook's
            ``(item_seq, mask, targets)`` tuples, ``targets`` the ground-truth lists.
        hidden_size: embedding size ``D``.
        topN: number of items retrieved per user.
    Returns:
        ``(test_gd, preds)``: dicts keyed by the running user number (as in the notebook),
        the ground-truth lists and the top-N item ids.
    """
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            items = l2_normalize(model.output_items().numpy())
            if items.shape[1] != hidden_size:
                raise ValueError(f"hidden_size {hidden_size} != item embedding size {items.shape[1]}")
            index = build_index(items, index_kind, nlist=nlist, nprobe=nprobe)
            test_gd: Dict[int, List[int]] = {}
            preds: Dict[int, List[int]] = {}
            user = 0
            for batch in test_data:
                item_seq, mask, targets, graph = _split_batch(batch)
                user_embs = _batch_user_embeddings(model, item_seq, mask, graph)
                if user_embs.ndim == 2:
                    distances, ids = index.search(l2_normalize(user_embs), topN)
                    rows = list(ids)
                else:  # multi-interest: [B, K, D]
                    k = user_embs.shape[1]
                    flat = l2_normalize(user_embs.reshape(-1, user_embs.shape[-1]))
                    distances, ids = index.search(flat, topN)
                    rows = [
                        merge_interests(distances[i * k:(i + 1) * k], ids[i * k:(i + 1) * k], topN)
                        for i in range(user_embs.shape[0])
                    ]
                for gt, row in zip(targets, rows):
                    test_gd[user] = list(gt)
                    preds[user] = row
                    user += 1
    finally:
        if was_training:
            model.train()
    return test_gd, preds


def evaluate_model(model, test_loader, embedding_dim: int, topN: int = 50, index_kind: str = "flat",
                   nlist: int = 0, nprobe: int = 8) -> Dict[str, float]:
    """The notebook's ``evaluate_model``: :func:`get_predict` then :func:`evaluate`."""
    test_gd, preds = get_predict(model, test_loader, embedding_dim, topN, index_kind, nlist, nprobe)
    return evaluate(preds, test_gd, topN=topN)


def top_by_count(counts: np.ndarray, top_n: int) -> np.ndarray:
    """The ``top_n`` ids with the largest counts (ties: smaller id first; ids never seen
    are never listed). ``counts [n_ids] -> [<= top_n]``."""
    counts = np.asarray(counts)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] > 0]
    return order[:top_n]


def popularity_ranking(train_item_ids: np.ndarray, top_n: int) -> np.ndarray:
    """The ``top_n`` most frequent training items (ties: smaller id first). ``[N] -> [top_n]``."""
    return top_by_count(np.bincount(np.asarray(train_item_ids, dtype=np.int64)), top_n)


def evaluate_fixed_ranking(top: np.ndarray, test_gd: Sequence[Sequence[int]] | Dict,
                           topN: int = 50) -> Dict[str, float]:
    """Score one ranking given to every user, with the model's metrics (:func:`evaluate`)."""
    gts = list(test_gd.values()) if isinstance(test_gd, dict) else list(test_gd)
    preds = np.broadcast_to(np.asarray(top)[:topN], (len(gts), min(len(top), topN)))
    return evaluate(preds, gts, topN=topN)


def evaluate_popularity(train_item_ids: np.ndarray, test_gd: Sequence[Sequence[int]] | Dict,
                        topN: int = 50) -> Dict[str, float]:
    """The popularity baseline, scored exactly like the model: every user gets the same
    ``topN`` most popular training items."""
    return evaluate_fixed_ranking(popularity_ranking(train_item_ids, topN), test_gd, topN)
