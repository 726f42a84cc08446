"""Figures of a run: the t-SNE map of the item embeddings (spec ``notebook.md`` §9) and the
training curves (loss and the validation selection metric per epoch).

Both are drawn on plain ``matplotlib.figure.Figure`` objects (no pyplot, so importing this
module or drawing never switches the process's backend: inline figures in a notebook keep
working) and written as PNG files atomically (temporary name, then rename), which needs no
display.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple, Union

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_path

ITEMS_FILE = "items.csv"  # item metadata written by srgnn_paddle.synthetic: item_id,category
TSNE_FILE = "tsne.png"
CURVES_FILE = "curves.png"
TITLE = "SRGNN Item Embedding"
POPULARITY_LABEL = "popularity decile"


# ---------------------------------------------------------------------------- labels
def popularity_deciles(counts: np.ndarray) -> np.ndarray:
    """Popularity decile of every id (0 = the least popular 10%, 9 = the most popular 10%),
    by rank of the training count (ties: smaller id ranks lower). ``[N] -> [N] int64``."""
    counts = np.asarray(counts)
    order = np.argsort(counts, kind="stable")
    rank = np.empty(len(counts), dtype=np.int64)
    rank[order] = np.arange(len(counts))
    return (rank * 10) // max(len(counts), 1)


def read_item_categories(data_dir: Union[str, Path], n_items: int) -> Optional[np.ndarray]:
    """Categories ``[n_items]`` (``-1`` where unknown, e.g. the padding id) from
    ``<data_dir>/items.csv`` (header ``item_id,category``); None when the file is absent."""
    path = Path(data_dir) / ITEMS_FILE
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise SrgnnError(f"{path}: cannot be read as CSV ({type(exc).__name__}); fix or delete it") from None
    if not {"item_id", "category"} <= set(frame.columns):
        raise SrgnnError(f"{path}: needs the columns item_id,category; fix or delete it")
    ids = pd.to_numeric(frame["item_id"], errors="coerce")
    cats = pd.to_numeric(frame["category"], errors="coerce")
    ok = ids.notna() & cats.notna() & (ids >= 0) & (ids < n_items)
    labels = np.full(n_items, -1, dtype=np.int64)
    labels[ids[ok].astype(np.int64).to_numpy()] = cats[ok].astype(np.int64).to_numpy()
    return labels


def item_labels(data_dir: Optional[Union[str, Path]], counts: Optional[np.ndarray],
                n_items: int) -> Tuple[Optional[np.ndarray], str]:
    """Colour labels for the t-SNE map: the category from ``items.csv`` when the data folder
    has one, else the training-popularity decile, else none. Returns ``(labels, name)``."""
    if data_dir is not None:
        cats = read_item_categories(data_dir, n_items)
        if cats is not None:
            return cats, "category"
    if counts is not None:
        padded = np.zeros(n_items, dtype=np.int64)
        padded[: min(n_items, len(counts))] = np.asarray(counts)[:n_items]
        return popularity_deciles(padded), POPULARITY_LABEL
    return None, ""


# ---------------------------------------------------------------------------- t-SNE
def sample_items(n_items: int, max_items: int, seed: int = 0) -> np.ndarray:
    """Sorted ids ``1..n_items-1`` (padding excluded), a seeded sample of ``max_items`` of them
    when there are more (``max_items = 0``: all)."""
    ids = np.arange(1, n_items)
    if max_items and len(ids) > max_items:
        ids = np.sort(np.random.default_rng(seed).choice(ids, size=max_items, replace=False))
    return ids


def tsne_embed(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """``sklearn.manifold.TSNE(n_components=2)`` of ``vectors [N, D]``, each axis min-max
    scaled to ``[0, 1]`` (the notebook's map). Perplexity is capped for tiny inputs."""
    from sklearn.manifold import TSNE

    vectors = np.asarray(vectors, dtype=np.float32)
    if len(vectors) < 3:
        raise SrgnnError(f"t-SNE needs at least 3 items, got {len(vectors)}")
    perplexity = min(30.0, (len(vectors) - 1) / 3.0)
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(vectors)
    low, high = points.min(axis=0), points.max(axis=0)
    return (points - low) / np.where(high > low, high - low, 1.0)


def tsne_figure(item_embeddings: np.ndarray, out_path: Union[str, Path], labels: Optional[np.ndarray] = None,
                label_name: str = "", max_items: int = 5000, seed: int = 0, title: str = TITLE,
                ordinal: bool = False) -> Path:
    """Draw the t-SNE map of the item embedding matrix and write it as a PNG.

    Args:
        item_embeddings: ``[n_items, D]`` (row 0, the padding row, is left out).
        out_path: the PNG to write (atomically).
        labels: optional ``[n_items]`` integer label per id to colour the points (e.g. the
            category, or the popularity decile); ``-1`` = unknown (grey).
        label_name: what the labels are (legend / colour-bar title).
        max_items: t-SNE on a seeded sample of this many items (0 = all): t-SNE time grows
            faster than linearly with the number of points (see docs/pipeline.md).
        seed: seed of the sample and of t-SNE.
        ordinal: the labels are ordered (deciles): a sequential colour map instead of tab20.
    Returns:
        ``out_path`` as a Path.
    """
    emb = np.asarray(item_embeddings)
    ids = sample_items(len(emb), max_items, seed)
    points = tsne_embed(emb[ids], seed)
    fig = Figure(figsize=(6, 6), dpi=120)
    ax = fig.subplots()
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], marker=".", s=8)
    else:
        lab = np.asarray(labels)[ids]
        known = lab >= 0
        if (~known).any():
            ax.scatter(points[~known, 0], points[~known, 1], marker=".", s=8, c="lightgrey")
        values = np.unique(lab[known])
        if len(values) <= 20:  # one colour per label value, a discrete colour bar
            base = matplotlib.colormaps["viridis" if ordinal else "tab20"]
            colours = base(np.linspace(0, 1, len(values))) if ordinal else base(np.arange(len(values)))
            norm = BoundaryNorm(np.arange(len(values) + 1) - 0.5, len(values))
            sc = ax.scatter(points[known, 0], points[known, 1], marker=".", s=8,
                            c=np.searchsorted(values, lab[known]), cmap=ListedColormap(colours), norm=norm)
            bar = fig.colorbar(sc, ax=ax, fraction=0.04, pad=0.02, ticks=np.arange(len(values)))
            bar.ax.set_yticklabels([str(v) for v in values])
        else:
            sc = ax.scatter(points[known, 0], points[known, 1], marker=".", s=8, c=lab[known], cmap="viridis")
            bar = fig.colorbar(sc, ax=ax, fraction=0.04, pad=0.02)
        bar.set_label(label_name)
    ax.set_xticks([])
    ax.set_yticks([])
    sampled = f" ({len(ids)} of {len(emb) - 1} items)" if len(ids) < len(emb) - 1 else ""
    ax.set_title(title + sampled)
    return _save(fig, out_path)


# ---------------------------------------------------------------------------- curves
def curves_figure(log_csv: Union[str, Path], out_path: Union[str, Path], metric: Optional[str] = None) -> Path:
    """Plot the training loss and the validation ``metric`` (default: the log's first
    column, e.g. ``recall@50`` or ``P@20``) per epoch from a run's ``log.csv``; the best
    epoch (the test row's epoch) is marked. Writes a PNG atomically and returns its path."""
    log = pd.read_csv(log_csv)
    metric = metric or str(log.columns[0])
    if metric not in log.columns:
        raise SrgnnError(f"{log_csv}: no column '{metric}'")
    valid = log[log["phase"] == "valid"].sort_values("epoch")
    if valid.empty:
        raise SrgnnError(f"{log_csv}: no validation rows to plot")
    test = log[log["phase"] == "test"]
    fig = Figure(figsize=(9, 3.4), dpi=100)
    ax_loss, ax_metric = fig.subplots(1, 2)
    ax_loss.plot(valid["epoch"], valid["loss"], marker="o", ms=3)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_title("loss")
    ax_metric.plot(valid["epoch"], valid[metric], marker="o", ms=3, label=f"valid {metric}")
    if not test.empty:
        best = int(test["epoch"].iloc[0])
        ax_metric.axvline(best, color="grey", ls="--", lw=1, label=f"best epoch {best}")
        ax_metric.scatter([best], test[metric].iloc[:1], color="C3", zorder=3, label=f"test {metric}")
    ax_metric.set_xlabel("epoch")
    ax_metric.set_ylabel(metric)
    ax_metric.set_title(f"validation {metric}")
    ax_metric.legend(fontsize=8)
    for ax in (ax_loss, ax_metric):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.tight_layout()
    return _save(fig, out_path)


def _save(fig: Figure, out_path: Union[str, Path]) -> Path:
    """Write ``fig`` as PNG to ``out_path`` atomically."""
    out = Path(out_path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    return out
