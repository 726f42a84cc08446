"""Result tables: a run's log in the notebook's layout, and the ``report`` over ``exp/``.

:data:`PUBLISHED` is the one place that holds published numbers (copied from the spec:
``notebook.md`` §8 for the notebook's MovieLens-20M test row, ``paper.md`` "Published
numbers" for SR-GNN on DIGINETICA / YOOCHOOSE); ``report`` puts them beside matching runs
together with the difference (run minus published).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import pandas as pd
import yaml

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_write_text
from srgnn_paddle.training.checkpoints import CONFIG_FILE, LOG_FILE, SUMMARY_FILE

RESULTS_MD = "results.md"
RESULTS_CSV = "results.csv"

#: Published test numbers, keyed by (protocol, dataset). ``aliases`` are the dataset names
#: and data-folder names a run may carry for that dataset.
PUBLISHED: Dict[Tuple[str, str], Dict[str, Any]] = {
    ("notebook", "ml-20m"): {
        "aliases": ("ml-20m", "data173799"),
        "source": "AI Studio notebook, MovieLens-20M (dataset 173799), test row (spec notebook.md §8)",
        "metrics": {"recall@50": 0.130097, "ndcg@50": 0.328189, "hitrate@50": 0.586691},
    },
    ("paper", "diginetica"): {
        "aliases": ("diginetica",),
        "source": "SR-GNN paper (Wu et al., AAAI 2019), DIGINETICA",
        "metrics": {"P@20": 50.73, "MRR@20": 17.59},
    },
    ("paper", "yoochoose1_64"): {
        "aliases": ("yoochoose1_64",),
        "source": "SR-GNN paper (Wu et al., AAAI 2019), YOOCHOOSE 1/64",
        "metrics": {"P@20": 70.57, "MRR@20": 30.94},
    },
    ("paper", "yoochoose1_4"): {
        "aliases": ("yoochoose1_4",),
        "source": "SR-GNN paper (Wu et al., AAAI 2019), YOOCHOOSE 1/4",
        "metrics": {"P@20": 71.36, "MRR@20": 31.89},
    },
}

#: Test metrics reported per protocol (from summary.json's ``test``); loo: sampled (1 + 99
#: candidates) and full-catalogue HR@10 / NDCG@10.
TEST_METRICS = {"notebook": ("recall@50", "ndcg@50", "hitrate@50"), "paper": ("P@20", "MRR@20"),
                "loo": ("HR@10", "NDCG@10", "full_HR@10", "full_NDCG@10")}
#: The validation metric each protocol selects on.
VALID_METRIC = {"paper": "P@20", "loo": "HR@10"}
ALL_TEST_METRICS = TEST_METRICS["notebook"] + TEST_METRICS["paper"] + TEST_METRICS["loo"]
COLUMNS = (
    ["run", "status", "dataset", "protocol", "model", "lr", "batch_size", "dim", "epochs_run", "best_epoch",
     "valid_metric", "best_valid"]
    + [f"test_{m}" for m in ALL_TEST_METRICS]
    + [f"test_best_{m}" for m in TEST_METRICS["paper"]]
    + ["popularity_test", "train_seconds", "published"]
    + [f"published_{m}" for m in ALL_TEST_METRICS]
    + [f"diff_{m}" for m in ALL_TEST_METRICS]
)


# ---------------------------------------------------------------------------- one run
def format_log_table(run_dir: Union[str, Path]) -> str:
    """The run's ``log.csv`` printed like the notebook shows its log DataFrame, with the
    popularity baseline (from ``summary.json``, same test users) as a last row
    ``phase = popularity_test`` when the run has one."""
    run_dir = Path(run_dir)
    frame = pd.read_csv(run_dir / LOG_FILE)
    summary = _read_summary(run_dir)
    baseline = (summary or {}).get("popularity_test")
    if baseline:
        row = {c: baseline.get(c, math.nan) for c in frame.columns}
        row["phase"] = "popularity_test"
        frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
        frame["epoch"] = frame["epoch"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.6f}".format):
        return frame.to_string(na_rep="NaN")


def published_for(protocol: str, dataset: str, data_dir: str = "") -> Optional[Dict[str, Any]]:
    """The :data:`PUBLISHED` entry matching a run: by the name of its data folder when the
    run recorded one (so a synthetic run that borrowed ``configs/notebook.yaml`` and its
    dataset name is not compared with MovieLens), else by its dataset name."""
    name = Path(data_dir).name if data_dir else dataset
    for (proto, _), entry in PUBLISHED.items():
        if proto == protocol and name in entry["aliases"]:
            return entry
    return None


def run_row(run_dir: Path, exp_dir: Path) -> Dict[str, Any]:
    """One report row for a run folder (finished, unfinished or unreadable)."""
    row: Dict[str, Any] = {c: None for c in COLUMNS}
    row["run"] = str(run_dir.relative_to(exp_dir))
    row["model"] = "SRGNN"  # the only model of runs saved before the config named one
    try:
        cfg = yaml.safe_load((run_dir / CONFIG_FILE).read_text(encoding="utf-8")) or {}
        if not isinstance(cfg, dict):
            raise ValueError("not a mapping")
    except (OSError, ValueError, yaml.YAMLError):
        row["status"] = f"unreadable {CONFIG_FILE}"
        return row
    protocol = str(cfg.get("protocol", "notebook"))
    row.update(dataset=cfg.get("dataset"), protocol=protocol, lr=cfg.get("lr"), batch_size=cfg.get("batch_size"),
               dim=cfg.get("embedding_dim"))
    if cfg.get("model"):
        row["model"] = _display_name(str(cfg["model"])) + ("-pretrain" if cfg.get("pretrain_gmf") else "")
    top_n = cfg.get("topN", 50)
    row["valid_metric"] = VALID_METRIC.get(protocol, f"recall@{top_n}")
    summary = _read_summary(run_dir)
    if summary is None:
        row["status"] = "unfinished"
        _fill_from_log(row, run_dir / LOG_FILE)
        return row
    row["status"] = "finished"
    row.update(epochs_run=summary.get("epochs_run"), best_epoch=summary.get("best_epoch"),
               train_seconds=summary.get("train_seconds"))
    row["best_valid"] = (summary.get("valid") or {}).get(row["valid_metric"])
    test = summary.get("test") or {}
    for m in TEST_METRICS.get(protocol, ()):
        row[f"test_{m}"] = test.get(m)
    for m, value in (summary.get("test_best_over_epochs") or {}).items():  # select_on: test runs
        if m in TEST_METRICS["paper"]:
            row[f"test_best_{m}"] = value
    row["popularity_test"] = (summary.get("popularity_test") or {}).get(row["valid_metric"])
    entry = published_for(protocol, str(row["dataset"] or ""), str(summary.get("data_dir") or ""))
    if entry is not None:
        row["published"] = entry["source"]
        for m, value in entry["metrics"].items():
            row[f"published_{m}"] = value
            if row.get(f"test_{m}") is not None:
                row[f"diff_{m}"] = float(row[f"test_{m}"]) - value
    return row


def _display_name(model: str) -> str:
    """A model's display name (``neumf`` -> ``NeuMF``); the name itself when it is not registered."""
    from srgnn_paddle.models import MODELS

    return MODELS[model].display_name if model in MODELS else model


def _read_summary(run_dir: Path) -> Optional[Dict[str, Any]]:
    """``summary.json`` as a dict, or None when it is missing or unreadable."""
    try:
        value = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _fill_from_log(row: Dict[str, Any], log_csv: Path) -> None:
    """Epochs run and best validation score so far of an unfinished run (when it has a log)."""
    try:
        log = pd.read_csv(log_csv)
        valid = log[log["phase"] == "valid"]
        metric = row["valid_metric"]
        if valid.empty or metric not in valid.columns:
            return
    except (OSError, ValueError, KeyError):
        return
    best = valid.loc[valid[metric].idxmax()]
    row.update(epochs_run=int(valid["epoch"].max()), best_epoch=int(best["epoch"]), best_valid=float(best[metric]))


# ---------------------------------------------------------------------------- report
def find_runs(exp_dir: Path) -> List[Path]:
    """Run folders under ``exp_dir``: every folder holding a ``config.yaml`` (hidden
    temporary folders skipped), sorted."""
    runs = [p.parent for p in Path(exp_dir).rglob(CONFIG_FILE)
            if not any(part.startswith(".") for part in p.relative_to(exp_dir).parts)]
    return sorted(runs)


def build_report(exp_dir: Union[str, Path]) -> pd.DataFrame:
    """One row per run under ``exp_dir`` (columns :data:`COLUMNS`)."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise SrgnnError(f"{exp_dir}: experiment folder not found; pass the folder 'train' wrote to with --exp_dir")
    rows = [run_row(run, exp_dir) for run in find_runs(exp_dir)]
    return pd.DataFrame(rows, columns=COLUMNS)


def to_markdown(frame: pd.DataFrame) -> str:
    """A Markdown table of the report, leaving out columns that are empty for every run."""
    shown = frame.dropna(axis=1, how="all")
    if shown.empty:
        return "(no runs)\n"
    cells = [[_cell(v) for v in row] for row in shown.itertuples(index=False)]
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + " --- |" * len(shown.columns)]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "/")


def write_report(exp_dir: Union[str, Path]) -> Tuple[pd.DataFrame, str]:
    """Build the report and write ``results.md`` and ``results.csv`` into ``exp_dir``
    atomically; returns the table and its Markdown text."""
    exp_dir = Path(exp_dir)
    frame = build_report(exp_dir)
    text = to_markdown(frame)
    notes = "\n".join(f"- {e['source']}: " + ", ".join(f"{m} {v}" for m, v in e["metrics"].items())
                      for e in PUBLISHED.values())
    atomic_write_text(exp_dir / RESULTS_MD,
                      "# Results\n\nOne row per run folder under this directory; `diff_*` = run - published.\n\n"
                      + text + "\nPublished numbers used:\n\n" + notes + "\n")
    atomic_write_text(exp_dir / RESULTS_CSV, frame.to_csv(index=False))
    return frame, text
