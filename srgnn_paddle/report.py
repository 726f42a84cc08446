"""Result tables: a run's log in the notebook's layout, the ``report`` over ``exp/`` (one
row per run) and ``compare`` (one table per dataset, one row per model configuration, runs
that differ only in their seed pooled as mean +- std).

:data:`PUBLISHED` is the one place that holds published numbers (the notebook's
MovieLens-20M test row, ``docs/notebooks.md``; SR-GNN and the baselines it quotes on
DIGINETICA / YOOCHOOSE, the SR-GNN paper's Table 2, ``docs/paper.md``); ``report`` and
``compare`` put them beside runs of the same model on the same dataset, with the
difference (run minus published). The metrics shown are each run's protocol's
(:meth:`srgnn_paddle.protocols.Protocol.test_metrics` at the run's ``topN``).
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import pandas as pd
import yaml

from srgnn_paddle.config import Config
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_write_text
from srgnn_paddle.protocols import PROTOCOLS
from srgnn_paddle.training.checkpoints import CONFIG_FILE, LOG_FILE, SUMMARY_FILE

RESULTS_MD = "results.md"
RESULTS_CSV = "results.csv"

#: Published test numbers, keyed by (protocol, dataset). ``aliases`` are the dataset names
#: and data-folder names a run may carry for that dataset; ``metrics`` are SR-GNN's (the
#: notebook's model); ``models`` maps ``--model`` names to their label and published metrics
#: (SR-GNN's included), in the order the paper lists them.
PUBLISHED: Dict[Tuple[str, str], Dict[str, Any]] = {
    ("notebook", "ml-20m"): {
        "aliases": ("ml-20m", "data173799"),
        "source": "AI Studio notebook, MovieLens-20M (dataset 173799), test row",
        "metrics": {"recall@50": 0.130097, "ndcg@50": 0.328189, "hitrate@50": 0.586691},
        "models": {"srgnn": ("SR-GNN", {"recall@50": 0.130097, "ndcg@50": 0.328189, "hitrate@50": 0.586691})},
    },
    ("paper", "diginetica"): {
        "aliases": ("diginetica",),
        "source": "SR-GNN paper (Wu et al., AAAI 2019), DIGINETICA (Table 2; the baselines as the paper quotes them)",
        "metrics": {"P@20": 50.73, "MRR@20": 17.59},
        "models": {
            "pop": ("POP", {"P@20": 0.89, "MRR@20": 0.20}),
            "spop": ("S-POP", {"P@20": 21.06, "MRR@20": 13.68}),
            "itemknn": ("Item-KNN", {"P@20": 35.75, "MRR@20": 11.57}),
            "gru4rec": ("GRU4Rec", {"P@20": 29.45, "MRR@20": 8.33}),
            "narm": ("NARM", {"P@20": 49.70, "MRR@20": 16.17}),
            "stamp": ("STAMP", {"P@20": 45.64, "MRR@20": 14.32}),
            "srgnn": ("SR-GNN", {"P@20": 50.73, "MRR@20": 17.59}),
        },
    },
    ("paper", "yoochoose1_64"): {
        "aliases": ("yoochoose1_64",),
        "source": "SR-GNN paper (Wu et al., AAAI 2019), YOOCHOOSE 1/64",
        "metrics": {"P@20": 70.57, "MRR@20": 30.94},
        "models": {
            "gru4rec": ("GRU4Rec", {"P@20": 60.64, "MRR@20": 22.89}),
            "narm": ("NARM", {"P@20": 68.32, "MRR@20": 28.63}),
            "srgnn": ("SR-GNN", {"P@20": 70.57, "MRR@20": 30.94}),
        },
    },
    ("paper", "yoochoose1_4"): {
        "aliases": ("yoochoose1_4",),
        "source": "SR-GNN paper (Wu et al., AAAI 2019), YOOCHOOSE 1/4",
        "metrics": {"P@20": 71.36, "MRR@20": 31.89},
        "models": {"srgnn": ("SR-GNN", {"P@20": 71.36, "MRR@20": 31.89})},
    },
}

#: The report's columns before and after the metric columns (``test_<m>``,
#: ``test_best_<m>``, ``published_<m>``, ``diff_<m>`` for the metrics of the runs found).
LEADING_COLUMNS = ["run", "status", "dataset", "protocol", "model", "lr", "batch_size", "dim", "epochs_run",
                   "best_epoch", "valid_metric", "best_valid"]


def test_metrics(protocol: str, top_n: Any) -> List[str]:
    """The test metrics ``report`` / ``compare`` show for a run of ``protocol`` at ``topN``
    (none for a protocol that is not registered)."""
    if protocol not in PROTOCOLS:
        return []
    try:
        k = int(top_n)
    except (TypeError, ValueError):
        k = int(Config().topN if protocol == "notebook" else PROTOCOLS[protocol].defaults.get("topN", Config().topN))
    return PROTOCOLS[protocol].test_metrics(k)


def report_columns(metrics: Sequence[str]) -> List[str]:
    """Every column of the report for these metrics (in order)."""
    return (LEADING_COLUMNS + [f"test_{m}" for m in metrics] + [f"test_best_{m}" for m in metrics]
            + ["popularity_test", "train_seconds", "published"]
            + [f"published_{m}" for m in metrics] + [f"diff_{m}" for m in metrics])


#: The report's columns for the registered protocols at their default ``topN``.
COLUMNS = report_columns([m for name, p in PROTOCOLS.items()
                          for m in test_metrics(name, p.defaults.get("topN", Config().topN))])


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


def published_model(entry: Optional[Dict[str, Any]], model: str) -> Optional[Dict[str, float]]:
    """The published metrics of ``model`` (a ``--model`` name) in a :data:`PUBLISHED` entry."""
    if entry is None or model not in entry["models"]:
        return None
    return entry["models"][model][1]


def _display_name(model: str) -> str:
    """A registered model's display name (``srgnn`` -> ``SRGNN``), else the name itself."""
    from srgnn_paddle.models import MODELS

    return MODELS[model].display_name if model in MODELS else model


def _read_config(run_dir: Path) -> Optional[Dict[str, Any]]:
    """``config.yaml`` as a dict, or None when it is missing or unreadable."""
    try:
        cfg = yaml.safe_load((run_dir / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    except (OSError, ValueError, yaml.YAMLError):
        return None
    return cfg if isinstance(cfg, dict) else None


def run_row(run_dir: Path, exp_dir: Path) -> Dict[str, Any]:
    """One report row for a run folder (finished, unfinished or unreadable); its metric
    columns are those of the run's protocol at its ``topN``."""
    row: Dict[str, Any] = {c: None for c in LEADING_COLUMNS}
    row["run"] = str(run_dir.relative_to(exp_dir))
    row["model"] = "SRGNN"
    cfg = _read_config(run_dir)
    if cfg is None:
        row["status"] = f"unreadable {CONFIG_FILE}"
        return row
    model = str(cfg.get("model", "srgnn"))
    row["model"] = _display_name(model) + ("-pretrain" if cfg.get("pretrain_gmf") else "")
    protocol = str(cfg.get("protocol", "notebook"))
    row.update(dataset=cfg.get("dataset"), protocol=protocol, lr=cfg.get("lr"), batch_size=cfg.get("batch_size"),
               dim=cfg.get("embedding_dim"))
    metrics = test_metrics(protocol, cfg.get("topN"))
    row["valid_metric"] = metrics[0] if metrics else None
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
    for m in metrics:
        row[f"test_{m}"] = test.get(m)
    for m, value in (summary.get("test_best_over_epochs") or {}).items():  # select_on: test runs
        if m in metrics:
            row[f"test_best_{m}"] = value
    row["popularity_test"] = (summary.get("popularity_test") or {}).get(row["valid_metric"])
    entry = published_for(protocol, str(row["dataset"] or ""), str(summary.get("data_dir") or ""))
    published = published_model(entry, model)
    if published is not None:
        row["published"] = entry["source"]
        for m, value in published.items():
            row[f"published_{m}"] = value
            if row.get(f"test_{m}") is not None:
                row[f"diff_{m}"] = float(row[f"test_{m}"]) - value
    return row


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
    """One row per run under ``exp_dir``: :data:`LEADING_COLUMNS`, then the metric columns
    of the runs' protocols (:data:`COLUMNS` when every run uses its protocol's default
    ``topN``, more when some configure another)."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise SrgnnError(f"{exp_dir}: experiment folder not found; pass the folder 'train' wrote to with --exp_dir")
    rows = [run_row(run, exp_dir) for run in find_runs(exp_dir)]
    columns = list(COLUMNS)
    for row in rows:
        columns += [c for c in row if c not in columns]
    metrics = [c[len("test_"):] for c in columns if c.startswith("test_") and not c.startswith("test_best_")]
    return pd.DataFrame(rows, columns=report_columns(metrics))


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


# ---------------------------------------------------------------------------- compare
#: Config keys that do not make two runs different configurations: the seed (runs of
#: ``train --seeds`` are pooled) and how a run was computed or drawn.
NOT_CONFIGURATION = ("seed", "device", "kernels", "num_workers", "cpu_threads", "tsne", "tsne_max_items", "refit",
                     "eval_batch_size")
_SEED_SUFFIX = re.compile(r"_seed\d+$")


def _shown_metrics(protocol: str, top_n: Any, keys: Sequence[str]) -> List[str]:
    """The test metrics a comparison table shows: the protocol's at the runs' ``topN``
    that the runs hold (:func:`test_metrics`), every one the runs hold for a protocol that
    is not registered."""
    metrics = test_metrics(protocol, top_n)
    return [k for k in metrics if k in keys] if metrics else list(keys)


def _mean_std(values: Sequence[float], digits: int) -> str:
    """``mean`` of one value, ``mean ± std`` (sample std) of several."""
    if not values:
        return ""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _digits(protocol: str, values: Iterable[float]) -> int:
    """Decimals of a metric: 2 for percentages (:attr:`~srgnn_paddle.protocols.Protocol.percent`,
    e.g. the paper protocol's), 4 for shares."""
    percent = protocol in PROTOCOLS and PROTOCOLS[protocol].percent
    return 2 if percent or any(abs(v) > 1.0 for v in values) else 4


def finished_runs(exp_dir: Path) -> List[Dict[str, Any]]:
    """Every finished run under ``exp_dir``: ``{folder, dataset_folder, name, config, summary}``
    (``name``: the run folder's name without its ``_seed<N>`` suffix)."""
    runs = []
    for run_dir in find_runs(exp_dir):
        cfg, summary = _read_config(run_dir), _read_summary(run_dir)
        if cfg is None or summary is None or not isinstance(summary.get("test"), dict):
            continue
        parts = run_dir.relative_to(exp_dir).parts
        runs.append({"folder": run_dir, "dataset_folder": "/".join(parts[:-1]) or ".",
                     "name": _SEED_SUFFIX.sub("", parts[-1]), "config": cfg, "summary": summary})
    return runs


def _groups(runs: List[Dict[str, Any]]) -> Dict[str, List[List[Dict[str, Any]]]]:
    """Runs by dataset folder, then by configuration (every config key but
    :data:`NOT_CONFIGURATION`, and the run name without its seed suffix)."""
    tables: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
    for run in runs:
        key = json.dumps({k: v for k, v in run["config"].items() if k not in NOT_CONFIGURATION}, sort_keys=True,
                         default=str) + run["name"]
        tables.setdefault(run["dataset_folder"], {}).setdefault(key, []).append(run)
    return {folder: list(groups.values()) for folder, groups in sorted(tables.items())}


def comparison_table(groups: List[List[Dict[str, Any]]]) -> Tuple[str, str]:
    """The heading and Markdown comparison of one dataset folder's finished runs, grouped by
    configuration (:func:`_groups`): one row per configuration (``runs``: how many seeds
    were pooled; metrics as mean ± std), a ``(refit)`` row beside it when its runs were
    refit, and the published models of the dataset (matched by model name) beside them or
    on rows of their own."""
    runs = [run for group in groups for run in group]
    first = runs[0]
    protocol = str(first["config"].get("protocol", "notebook"))
    dataset = str(first["config"].get("dataset") or first["dataset_folder"])
    entry = published_for(protocol, dataset, str(first["summary"].get("data_dir") or ""))
    keys: List[str] = []
    for run in runs:
        keys += [k for k in run["summary"]["test"] if k not in keys]
    metrics = _shown_metrics(protocol, first["config"].get("topN"), keys)
    digits = _digits(protocol, [run["summary"]["test"].get(m, 0.0) or 0.0 for run in runs for m in metrics])
    published_cols = [m for m in metrics if entry and any(m in pm for _, pm in entry["models"].values())]
    header = (["model", "configuration", "runs"] + [f"test {m}" for m in metrics]
              + [f"published {m}" for m in published_cols] + ["best epoch", "s / epoch", "parameters"])
    order = list(entry["models"]) if entry else []

    def sort_key(group: List[Dict[str, Any]]) -> Tuple[int, str, str]:
        model = str(group[0]["config"].get("model", "srgnn"))
        return (order.index(model) if model in order else len(order), model, group[0]["name"])

    rows: List[List[str]] = []
    shown_models = set()
    for group in sorted(groups, key=sort_key):
        model = str(group[0]["config"].get("model", "srgnn"))
        shown_models.add(model)
        published = published_model(entry, model) or {}
        summaries = [run["summary"] for run in group]
        for phase, label in (("test", _display_name(model)), ("test_refit", f"{_display_name(model)} (refit)")):
            done = [sm for sm in summaries if isinstance(sm.get(phase), dict)]
            if not done:
                continue
            epochs_key, seconds_key = (("best_epoch", "train_seconds") if phase == "test"
                                       else ("refit_epochs", "refit_train_seconds"))
            epochs = [float(sm.get(epochs_key) or 0) for sm in done]
            trained = [float(sm.get("epochs_run") or 0) if phase == "test" else float(sm.get(epochs_key) or 0)
                       for sm in done]
            seconds = [float(sm.get(seconds_key) or 0.0) for sm in done]
            if all(n > 0 for n in trained):
                per_epoch = _mean_std([t / n for t, n in zip(seconds, trained)], 1)
            else:  # counted, not trained: the counting time
                per_epoch = f"{_mean_std(seconds, 1)} (count)"
            rows.append([label, group[0]["name"], str(len(done))]
                        + [_mean_std([float(sm[phase][m]) for sm in done if sm[phase].get(m) is not None], digits)
                           for m in metrics]
                        + [_mean_std([published[m]], digits) if m in published else "" for m in published_cols]
                        + [_mean_std(epochs, 1 if len(done) > 1 else 0), per_epoch,
                           _cell(done[0].get("parameters"))])
    for model, (label, published) in (entry["models"].items() if entry else []):
        if model not in shown_models and any(m in published for m in published_cols):
            rows.append([label, "published only", "0"] + [""] * len(metrics)
                        + [_mean_std([published[m]], digits) if m in published else "" for m in published_cols]
                        + ["", "", ""])
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    title = f"{first['dataset_folder']} ({protocol} protocol)"
    note = f"\nPublished: {entry['source']}.\n" if entry else ""
    return title, "\n".join(lines) + "\n" + note


def comparison_markdown(exp_dir: Union[str, Path]) -> str:
    """Every dataset folder's :func:`comparison_table` under a ``###`` heading."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise SrgnnError(f"{exp_dir}: experiment folder not found; pass the folder 'train' wrote to with --exp_dir")
    parts = []
    for groups in _groups(finished_runs(exp_dir)).values():
        title, table = comparison_table(groups)
        parts.append(f"### {title}\n\n{table}")
    return "\n".join(parts) if parts else "(no finished runs)\n"


def write_report(exp_dir: Union[str, Path]) -> Tuple[pd.DataFrame, str]:
    """Build the report and write ``results.md`` (the comparison tables by dataset, then
    every run's row) and ``results.csv`` (every run's row) into ``exp_dir`` atomically;
    returns the per-run table and its Markdown text."""
    exp_dir = Path(exp_dir)
    frame = build_report(exp_dir)
    text = to_markdown(frame)
    notes = "\n".join(f"- {e['source']}: " + "; ".join(f"{label} " + ", ".join(f"{m} {v}" for m, v in pm.items())
                                                       for label, pm in e["models"].values())
                      for e in PUBLISHED.values())
    atomic_write_text(exp_dir / RESULTS_MD,
                      "# Results\n\n## By dataset\n\nOne row per model configuration; runs that differ only in "
                      "their seed (`train --seeds`) are pooled as mean ± sample std over `runs`; `(refit)` rows: "
                      "the same configurations trained again on training + validation (`--refit`).\n\n"
                      + comparison_markdown(exp_dir)
                      + "\n## Every run\n\nOne row per run folder under this directory; `diff_*` = run - "
                        "published.\n\n" + text + "\nPublished numbers used:\n\n" + notes + "\n")
    atomic_write_text(exp_dir / RESULTS_CSV, frame.to_csv(index=False))
    return frame, text
