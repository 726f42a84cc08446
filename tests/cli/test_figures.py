"""The figures the notebooks show inline (``*_plot`` functions return a matplotlib Figure):
the session graph of the spec's worked example, the curves, several runs side by side and
the t-SNE title."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation

from srgnn_paddle.config import Config
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.models import SRGNN
from srgnn_paddle.plots import (
    compare_plot,
    curves_figure,
    curves_plot,
    session_graph_matrices,
    session_graph_plot,
)
from srgnn_paddle.runs import model_tsne_plot

pytestmark = pytest.mark.cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _log(losses, recalls, best) -> pd.DataFrame:
    rows = [{"recall@50": r, "ndcg@50": 0.5, "hitrate@50": 0.9, "phase": "valid", "epoch": e + 1, "loss": l}
            for e, (l, r) in enumerate(zip(losses, recalls))]
    rows.append({"recall@50": 0.3, "ndcg@50": 0.5, "hitrate@50": 0.9, "phase": "test", "epoch": best, "loss": np.nan})
    return pd.DataFrame(rows)


def _cell_texts(ax, n: int):
    """The ``n x n`` grid of numbers written on a matrix axis (row = y, column = x)."""
    grid = [["" for _ in range(n)] for _ in range(n)]
    for text in ax.texts:
        x, y = text.get_position()
        grid[int(round(y))][int(round(x))] = text.get_text()
    return grid


def _tick_values(ax) -> list:
    FigureCanvasAgg(ax.figure).draw()
    low, high = ax.get_xlim()
    return [t for t in ax.get_xticks() if low <= t <= high]


def test_the_worked_example_session_graph_is_the_specs():
    # spec notebook.md section 3: session 1,2,3,2,4; rows and columns items 1..4
    nodes, outgoing, incoming = session_graph_matrices([1, 2, 3, 2, 4])
    assert nodes.tolist() == [1, 2, 3, 4]
    half = 0.5
    np.testing.assert_array_equal(outgoing, [[0, 1, 0, 0], [0, 0, half, half], [0, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(incoming, [[0, 0, 0, 0], [half, 0, half, 0], [0, 1, 0, 0], [0, 1, 0, 0]])

    fig = session_graph_plot([1, 2, 3, 2, 4], title="worked example")
    assert isinstance(fig, Figure) and fig._suptitle.get_text() == "worked example"
    ax_graph, ax_out, ax_in = fig.axes
    assert _cell_texts(ax_out, 4) == [["0", "1", "0", "0"], ["0", "0", "1/2", "1/2"], ["0", "1", "0", "0"],
                                      ["0", "0", "0", "0"]]
    assert _cell_texts(ax_in, 4) == [["0", "0", "0", "0"], ["1/2", "0", "1/2", "0"], ["0", "1", "0", "0"],
                                     ["0", "1", "0", "0"]]
    # one arrow per distinct transition (1->2, 2->3, 3->2, 2->4), labelled with its outgoing weight
    assert sum(isinstance(t, Annotation) for t in ax_graph.texts) == 4
    labels = sorted(t.get_text() for t in ax_graph.texts if not isinstance(t, Annotation) and t.get_color() == "C0")
    assert labels == ["1", "1", "1/2", "1/2"]
    assert "1 \u2192 2 \u2192 3 \u2192 2 \u2192 4" in ax_graph.get_title()
    assert [t.get_text() for t in ax_out.get_xticklabels()] == ["1", "2", "3", "4"]


def test_session_graph_with_a_repeated_click_and_bad_sessions():
    nodes, outgoing, _ = session_graph_matrices([5, 5, 7])
    assert nodes.tolist() == [5, 7] and outgoing.tolist() == [[0.5, 0.5], [0, 0]]
    fig = session_graph_plot([5, 5, 7])
    assert sum(isinstance(t, Annotation) for t in fig.axes[0].texts) == 2  # the loop 5->5 and 5->7
    for bad in ([], [3, 0, 4], [-1, 2]):
        with pytest.raises(SrgnnError, match="session graph"):
            session_graph_matrices(bad)


def test_curves_from_a_frame_or_a_file_have_whole_epoch_ticks(tmp_path):
    log = _log([5.0, 4.0, 3.5, 3.4, 3.6, 3.7, 3.65], [0.1, 0.2, 0.25, 0.3, 0.29, 0.28, 0.27], best=4)
    fig = curves_plot(log)
    ax_loss, ax_metric = fig.axes
    np.testing.assert_array_equal(ax_loss.lines[0].get_xdata(), np.arange(1, 8))
    assert ax_metric.get_ylabel() == "recall@50" and ax_loss.get_xlabel() == "epoch"
    assert "cross-entropy" in ax_loss.get_ylabel()
    assert all(float(t).is_integer() for t in _tick_values(ax_loss) + _tick_values(ax_metric))
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    assert curves_figure(path, tmp_path / "curves.png").read_bytes()[:8] == PNG_MAGIC
    np.testing.assert_array_equal(curves_plot(path).axes[1].lines[0].get_ydata(), ax_metric.lines[0].get_ydata())
    with pytest.raises(SrgnnError, match="no column 'P@20'"):
        curves_plot(log, "P@20")


def test_compare_plot_draws_one_line_per_run_and_each_runs_test_metric():
    logs = {"SRGNN_0.005_64_16": _log([5.0, 4.0, 3.0], [0.1, 0.2, 0.3], best=3),
            "Other_0.01_64_16": _log([6.0, 5.0], [0.15, 0.12], best=1).assign(**{"recall@50": [0.15, 0.12, 0.11]})}
    fig = compare_plot(logs, title="tiny_softmax")
    ax_loss, ax_metric, ax_test = fig.axes
    assert [line.get_label() for line in ax_metric.lines] == list(logs)
    np.testing.assert_array_equal(ax_loss.lines[1].get_ydata(), [6.0, 5.0])
    assert [round(bar.get_width(), 6) for bar in ax_test.patches] == [0.3, 0.11]
    assert [t.get_text() for t in ax_test.get_yticklabels()] == list(logs)
    assert all(float(t).is_integer() for t in _tick_values(ax_metric))
    assert fig._suptitle.get_text() == "tiny_softmax"
    with pytest.raises(SrgnnError, match="no runs"):
        compare_plot({})
    with pytest.raises(SrgnnError, match="has no column 'P@20'"):
        compare_plot({"a": logs["SRGNN_0.005_64_16"]}, metric="P@20")


def test_the_tsne_title_names_the_model_and_the_dataset():
    cfg = Config(n_items=40, embedding_dim=4, dataset="tiny", tsne_max_items=20)
    fig = model_tsne_plot(cfg, SRGNN(cfg), counts=np.arange(40))
    assert fig.axes[0].get_title() == "SRGNN item embeddings, tiny (20 of 39 items)"
    assert fig.axes[1].get_ylabel() == "popularity decile"  # the colour bar
