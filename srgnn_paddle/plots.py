"""Figures of a run: the t-SNE map of the item embeddings (``docs/notebook.md`` §9), the
training curves (loss and the validation selection metric per epoch), the session graph of
one session (``docs/notebook.md`` §3), several runs' curves side by side and one dataset's
models compared (``compare --figure``).

Every figure is drawn on a plain ``matplotlib.figure.Figure`` (no pyplot, so importing this
module or drawing never switches the process's backend). The ``*_plot`` functions return
the Figure (a notebook shows it inline); the ``*_figure`` ones write it as a PNG
atomically (temporary name, then rename), which needs no display.
"""
from __future__ import annotations

from pathlib import Path
from fractions import Fraction
from typing import Mapping, Optional, Sequence, Tuple, Union

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


def tsne_plot(item_embeddings: np.ndarray, labels: Optional[np.ndarray] = None, label_name: str = "",
              max_items: int = 5000, seed: int = 0, title: str = TITLE, ordinal: bool = False) -> Figure:
    """Draw the t-SNE map of the item embedding matrix.

    Args:
        item_embeddings: ``[n_items, D]`` (row 0, the padding row, is left out).
        labels: optional ``[n_items]`` integer label per id to colour the points (e.g. the
            category, or the popularity decile); ``-1`` = unknown (grey).
        label_name: what the labels are (legend / colour-bar title).
        max_items: t-SNE on a seeded sample of this many items (0 = all): t-SNE time grows
            faster than linearly with the number of points (see docs/pipeline.md).
        seed: seed of the sample and of t-SNE.
        title: the figure's title (the number of items shown is added when sampled).
        ordinal: the labels are ordered (deciles): a sequential colour map instead of tab20.
    Returns:
        the Figure.
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
    return fig


def tsne_figure(item_embeddings: np.ndarray, out_path: Union[str, Path], labels: Optional[np.ndarray] = None,
                label_name: str = "", max_items: int = 5000, seed: int = 0, title: str = TITLE,
                ordinal: bool = False) -> Path:
    """:func:`tsne_plot` written as a PNG to ``out_path`` (atomically); returns the path."""
    return save_png(tsne_plot(item_embeddings, labels, label_name, max_items, seed, title, ordinal), out_path)


# ---------------------------------------------------------------------------- curves
def _read_log(log: Union[str, Path, pd.DataFrame]) -> Tuple[pd.DataFrame, str]:
    """A run's log as a DataFrame, and what to call it in error messages."""
    if isinstance(log, pd.DataFrame):
        return log, "log"
    return pd.read_csv(log), str(log)


def curves_plot(log: Union[str, Path, pd.DataFrame], metric: Optional[str] = None) -> Figure:
    """Plot the training loss and the validation ``metric`` (default: the log's first
    column, e.g. ``recall@50`` or ``P@20``) per epoch from a run's ``log.csv`` (a path or
    its DataFrame); the best epoch (the test row's epoch) is marked. Returns the Figure."""
    log, source = _read_log(log)
    metric = metric or str(log.columns[0])
    if metric not in log.columns:
        raise SrgnnError(f"{source}: no column '{metric}'")
    valid = log[log["phase"] == "valid"].sort_values("epoch")
    if valid.empty:
        raise SrgnnError(f"{source}: no validation rows to plot")
    test = log[log["phase"] == "test"]
    fig = Figure(figsize=(9, 3.4), dpi=100)
    ax_loss, ax_metric = fig.subplots(1, 2)
    ax_loss.plot(valid["epoch"], valid["loss"], marker="o", ms=3)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss (cross-entropy)")
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
    return fig


def curves_figure(log_csv: Union[str, Path], out_path: Union[str, Path], metric: Optional[str] = None) -> Path:
    """:func:`curves_plot` of ``log_csv`` written as a PNG to ``out_path`` (atomically);
    returns the path."""
    return save_png(curves_plot(log_csv, metric), out_path)


def compare_plot(logs: Mapping[str, pd.DataFrame], metric: Optional[str] = None, title: str = "") -> Figure:
    """Several runs side by side: training loss and validation ``metric`` per epoch (one
    line per run), and each run's test ``metric`` (its ``phase = test`` row) as a bar.

    Args:
        logs: ``{label: log.csv as a DataFrame}``, e.g. one per run folder of a dataset.
        metric: the validation column to compare (default: the first log's first column);
            every log must have it.
        title: the figure's title (e.g. the dataset).
    Returns:
        the Figure.
    """
    if not logs:
        raise SrgnnError("no runs to compare")
    metric = metric or str(next(iter(logs.values())).columns[0])
    for label, log in logs.items():
        if metric not in log.columns:
            raise SrgnnError(f"run {label}: its log has no column '{metric}'; compare runs of one protocol")
    fig = Figure(figsize=(13, 3.8), dpi=100)
    ax_loss, ax_metric, ax_test = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 0.8]})
    tests = []
    for i, (label, log) in enumerate(logs.items()):
        valid = log[log["phase"] == "valid"].sort_values("epoch")
        ax_loss.plot(valid["epoch"], valid["loss"], marker="o", ms=3, color=f"C{i % 10}", label=label)
        ax_metric.plot(valid["epoch"], valid[metric], marker="o", ms=3, color=f"C{i % 10}", label=label)
        test = log.loc[log["phase"] == "test", metric]
        tests.append(float(test.iloc[0]) if len(test) else np.nan)
    for ax, ylabel, name in ((ax_loss, "training loss (cross-entropy)", "loss"),
                             (ax_metric, metric, f"validation {metric}")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax_metric.legend(fontsize=8)
    positions = np.arange(len(tests))
    bars = ax_test.barh(positions, tests, color=[f"C{i % 10}" for i in positions])
    ax_test.bar_label(bars, fmt="%.4g", fontsize=8, padding=2)
    ax_test.margins(x=0.2)
    ax_test.set_yticks(positions, [str(label) for label in logs], fontsize=8)
    ax_test.invert_yaxis()
    ax_test.set_xlabel(f"test {metric} (best epoch's weights)")
    ax_test.set_title(f"test {metric}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def comparison_plot(labels: Sequence[str], metrics: Sequence[str], means: Sequence[Sequence[float]],
                    stds: Sequence[Sequence[float]], published: Sequence[Sequence[Optional[float]]],
                    seconds: Sequence[float], seconds_std: Sequence[float], runs: Sequence[int], title: str = "",
                    percent: bool = True) -> Figure:
    """One dataset's models side by side (``compare --figure``): per row (model
    configuration) one bar per metric, the mean over its seeds with their sample std as
    error bars, the published figure as a black diamond; the mean training seconds on a
    second, logarithmic axis (red dots with the seeds' std).

    Args:
        labels: ``[R]`` row labels; metrics: ``[M]`` metric names.
        means, stds: ``[R][M]`` mean and sample std over the row's runs (mean NaN: no bar,
            a published model without runs).
        published: ``[R][M]`` published figure or None.
        seconds, seconds_std: ``[R]`` training seconds (mean, std) of the row's runs (NaN: none).
        runs: ``[R]`` how many runs (seeds) each row pools (0: published only).
        title: the figure's title (the dataset folder).
        percent: the metrics are percentages (y axis label).
    Returns:
        the Figure.
    """
    if not labels:
        raise SrgnnError("no runs to draw")
    n, m = len(labels), max(len(metrics), 1)
    fig = Figure(figsize=(max(6.0, 0.8 * n + 2.5), 5.0 + (1.0 if n > 6 else 0.0)), dpi=100)
    ax = fig.subplots()
    x = np.arange(n)
    width = 0.8 / m
    marked = False
    for j, metric in enumerate(metrics):
        offset = x + (j - (m - 1) / 2) * width
        values = np.array([row[j] for row in means], dtype=np.float64)
        errors = np.array([row[j] for row in stds], dtype=np.float64)
        ran = np.isfinite(values)  # NaN: a published model without runs (its marker alone)
        ax.bar(offset[ran], values[ran], width * 0.95, yerr=errors[ran], capsize=3, color=f"C{j % 10}",
               label=f"test {metric}")
        figures = [(pos, row[j]) for pos, row in zip(offset, published) if row[j] is not None]
        if figures:
            ax.scatter([p for p, _ in figures], [v for _, v in figures], marker="D", s=22, color="black", zorder=3,
                       label=None if marked else "published")
            marked = True
    many = n > 6  # long labels side by side would overlap: slanted
    ticks = [f"{label}\n({k} run{'s' if k != 1 else ''})" if k else label for label, k in zip(labels, runs)]
    ax.set_xticks(x, ticks, fontsize=7, rotation=30 if many else 0, ha="right" if many else "center")
    ax.set_ylabel("test metric (%)" if percent else "test metric")
    ax.set_ylim(bottom=0)
    timing = ax.twinx()
    secs = np.asarray(seconds, dtype=np.float64)
    timed = np.isfinite(secs)
    secs = np.maximum(secs[timed], 1e-2)  # a log axis needs > 0 (counted models: ~0 s)
    spread = np.asarray(seconds_std, dtype=np.float64)[timed]
    lower = np.minimum(spread, secs * 0.999)  # the error bar stays above 0 on the log axis
    timing.errorbar(x[timed], secs, yerr=[lower, spread], fmt="o", color="tab:red", ecolor="tab:red", capsize=3, ms=5,
                    label="training seconds")
    timing.set_yscale("log")
    timing.set_ylabel("training seconds (log scale)", color="tab:red")
    handles, names = ax.get_legend_handles_labels()
    more, more_names = timing.get_legend_handles_labels()
    fig.legend(handles + more, names + more_names, fontsize=8, loc="lower center", ncol=len(names) + len(more_names),
               frameon=False)
    ax.set_title((f"{title}: " if title else "") + "mean over seeds, error bars: sample std", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))  # room for the legend below the axes
    return fig


# ---------------------------------------------------------------------------- session graph
def _fraction(value: float) -> str:
    """``0.5 -> '1/2'``, ``1.0 -> '1'``, ``0.0 -> '0'`` (adjacency weights are 1/degree)."""
    return str(Fraction(float(value)).limit_denominator(1000))


def session_graph_matrices(session: Sequence[int]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The session graph of one (unpadded) session, as :func:`~srgnn_paddle.data.build_session_graph`
    builds it: ``(nodes [n], outgoing [n, n], incoming [n, n])`` with ``nodes`` the sorted
    distinct items, ``outgoing[i, j]`` the edge ``i -> j`` divided by the out-degree of ``i``
    and ``incoming[i, j]`` the edge ``j -> i`` divided by the in-degree of ``i``."""
    from srgnn_paddle.data.graph import build_session_graph

    seq = np.asarray(session, dtype=np.int64).reshape(1, -1)
    if seq.size < 1 or (seq < 1).any():
        raise SrgnnError(f"session graph: need a session of item ids >= 1, got {list(np.ravel(session))}")
    graph = build_session_graph(seq)
    length = seq.shape[1]
    n = len(np.unique(seq))
    return graph.items[0, :n], graph.A[0, :n, length:length + n], graph.A[0, :n, :n]


def session_graph_plot(session: Sequence[int], title: str = "") -> Figure:
    """Draw one session's graph (``docs/notebook.md`` §3): the items as nodes with an arrow
    per distinct transition labelled with its outgoing weight, and the two normalised
    adjacency matrices (outgoing, incoming) with their entries written as fractions.
    Returns the Figure."""
    nodes, outgoing, incoming = session_graph_matrices(session)
    n = len(nodes)
    first_seen = list(dict.fromkeys(int(i) for i in np.ravel(session)))
    angle = {item: np.pi / 2 - 2 * np.pi * k / n for k, item in enumerate(first_seen)}
    pos = {item: (np.cos(a), np.sin(a)) for item, a in angle.items()}
    fig = Figure(figsize=(4.2 + 2 * max(2.4, 0.5 * n), 3.8), dpi=100)
    ax_graph, ax_out, ax_in = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.3, 1, 1]})
    for i, src in enumerate(nodes):
        for j, dst in enumerate(nodes):
            if outgoing[i, j] == 0:
                continue
            (x0, y0), (x1, y1) = pos[int(src)], pos[int(dst)]
            if src == dst:  # a self-loop: a small arc on the node's outer side
                (ox, oy), (px, py) = (x0, y0), (-y0, x0)  # outward and along the circle
                ax_graph.annotate("", xy=(x0 + 0.16 * ox - 0.08 * px, y0 + 0.16 * oy - 0.08 * py),
                                  xytext=(x0 + 0.16 * ox + 0.08 * px, y0 + 0.16 * oy + 0.08 * py),
                                  arrowprops=dict(arrowstyle="->", connectionstyle="arc3,rad=-1.6", color="C0"))
                ax_graph.text(x0 + 0.5 * ox, y0 + 0.5 * oy, _fraction(outgoing[i, j]), ha="center", va="center",
                              fontsize=8, color="C0")
                continue
            ax_graph.annotate("", xy=(x1, y1), xytext=(x0, y0),
                              arrowprops=dict(arrowstyle="-|>", connectionstyle="arc3,rad=0.15", color="C0",
                                              shrinkA=13, shrinkB=13))
            # the label sits on the arc's middle (a quadratic curve bent by rad/2 of the chord)
            mx, my = (x0 + x1) / 2 + 0.075 * (y1 - y0), (y0 + y1) / 2 - 0.075 * (x1 - x0)
            ax_graph.text(mx, my, _fraction(outgoing[i, j]), ha="center", va="center", fontsize=8, color="C0",
                          bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"))
    for item, (x, y) in pos.items():
        ax_graph.scatter([x], [y], s=520, color="white", edgecolors="C0", zorder=3)
        ax_graph.text(x, y, str(item), ha="center", va="center", zorder=4, fontsize=9)
    ax_graph.set_xlim(-1.6, 1.6)
    ax_graph.set_ylim(-1.6, 1.6)
    ax_graph.set_aspect("equal")
    ax_graph.axis("off")
    ax_graph.set_title("session " + " \u2192 ".join(str(int(i)) for i in np.ravel(session)), fontsize=9)
    for ax, matrix, name, rows, cols in (
            (ax_out, outgoing, "outgoing: edge i \u2192 j / out-degree(i)", "from item i", "to item j"),
            (ax_in, incoming, "incoming: edge j \u2192 i / in-degree(i)", "item i", "from item j")):
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1.6)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, _fraction(matrix[i, j]), ha="center", va="center", fontsize=8)
        labels = [str(int(v)) for v in nodes]
        ax.set_xticks(range(n), labels)
        ax.set_yticks(range(n), labels)
        ax.set_xlabel(cols)
        ax.set_ylabel(rows)
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_png(fig: Figure, out_path: Union[str, Path]) -> Path:
    """Write ``fig`` as PNG to ``out_path`` atomically; returns the path."""
    out = Path(out_path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    return out
