"""Result tables: a run's log in the notebook's layout, and the ``report`` over ``exp/``."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from srgnn_paddle.training import LOG_FILE


def format_log_table(run_dir: Path) -> str:
    """The run's ``log.csv`` printed like the notebook shows its log DataFrame."""
    frame = pd.read_csv(Path(run_dir) / LOG_FILE)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.6f}".format):
        return frame.to_string()
