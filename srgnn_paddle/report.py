"""Result tables: a run's log in the notebook's layout, the ``report`` over ``exp/`` (one
row per run) and ``compare`` (one table per dataset, one row per model configuration, runs
that differ only in their seed pooled as mean +- std).

:data:`PUBLISHED` is the one place that holds published numbers (the notebook's
MovieLens-20M test row, ``docs/notebooks.md``; SR-GNN and the baselines it quotes on
DIGINETICA / YOOCHOOSE, the SR-GNN paper's Table 2, ``docs/paper.md``; SR-GNN and GCE-GNN
on Tmall, Nowplaying and DIGINETICA, the GCE-GNN paper's Table 3), read from the package's
``published.yaml``; ``report`` and ``compare`` put them beside runs of the same model on the
same dataset, with the difference (run minus published). ``compare`` adds the training and
test-pass timings, the parameter count and a paired significance test of every row against
the best one on the same test pairs (:mod:`srgnn_paddle.evaluation.significance`), and
draws one figure per dataset (``docs/benchmark.md``). The metrics shown are each run's protocol's
(:meth:`srgnn_paddle.protocols.Protocol.test_metrics` at the run's ``topN``).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
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

#: The registry of published figures (a data file in the package; docs/benchmark.md lists it).
PUBLISHED_FILE = Path(__file__).with_name("published.yaml")


def load_published(path: Union[str, Path] = PUBLISHED_FILE) -> Dict[Tuple[str, str], Dict[str, Any]]:
    """The registry of published test figures (``published.yaml``), keyed by (protocol,
    dataset). Each entry: ``aliases`` (the dataset names and data-folder names a run may
    carry for that dataset), ``source`` (paper and table), ``metrics`` (SR-GNN's figures,
    the notebook's model), ``models`` (``--model`` name -> (label, metrics), in the paper's
    order), ``sources`` (``--model`` name -> its figure's source) and ``unchecked`` (the
    ``--model`` names whose figures were taken as quoted, not checked against the paper).
    Every model must say ``checked: true`` or ``checked: false``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries: Dict[Tuple[str, str], Dict[str, Any]] = {}
        for e in data["entries"]:
            for name, m in e["models"].items():
                if not isinstance(m.get("checked"), bool):
                    raise SrgnnError(f"{path}: entry ({e['protocol']}, {e['dataset']}), model {name}: 'checked' "
                                     f"must be true or false (whether the figure was read off its source); "
                                     f"add it to the model's row")
            models = {str(name): (str(m["label"]), {str(k): float(v) for k, v in m["metrics"].items()})
                      for name, m in e["models"].items()}
            entries[(str(e["protocol"]), str(e["dataset"]))] = {
                "aliases": tuple(str(a) for a in e["aliases"]),
                "source": str(e["source"]),
                "metrics": dict(models["srgnn"][1]) if "srgnn" in models else {},
                "models": models,
                "sources": {str(name): str(m.get("source", e["source"])) for name, m in e["models"].items()},
                "unchecked": tuple(str(name) for name, m in e["models"].items() if m["checked"] is False),
            }
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SrgnnError(f"{path}: not a registry of published figures ({type(exc).__name__}: {exc}); "
                         f"restore the file from the package") from None
    return entries


#: Published test numbers, keyed by (protocol, dataset) (:func:`load_published`): the
#: notebook's MovieLens-20M test row (``docs/notebooks.md``); SR-GNN and the baselines it
#: quotes on DIGINETICA / YOOCHOOSE (the SR-GNN paper's Table 2, ``docs/paper.md``);
#: SR-GNN and GCE-GNN on Tmall, Nowplaying and DIGINETICA (the GCE-GNN paper's Table 3);
#: NISER+, TAGNN, SGNN-HN and LESSR on DIGINETICA (their papers; docs/benchmark.md).
PUBLISHED: Dict[Tuple[str, str], Dict[str, Any]] = load_published()

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
        row["published"] = entry["sources"].get(model, entry["source"])
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


def _std(values: Sequence[float]) -> float:
    """The sample standard deviation (0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


@dataclass
class ComparisonRow:
    """One row of a comparison table: the runs of one configuration (its seeds) in one
    phase, ``test`` (the selected model) or ``test_refit`` (the refit model of ``--refit``)."""

    label: str
    model: str
    configuration: str
    phase: str
    runs: List[Dict[str, Any]]

    @property
    def refit(self) -> bool:
        return self.phase == "test_refit"

    def summaries(self) -> List[Dict[str, Any]]:
        return [run["summary"] for run in self.runs]

    def values(self, metric: str) -> List[float]:
        """The runs' test values of ``metric`` (those that hold it)."""
        return [float(sm[self.phase][metric]) for sm in self.summaries() if sm[self.phase].get(metric) is not None]

    def mean(self, metric: str) -> float:
        """The mean over the runs of ``metric`` (-inf when none holds it)."""
        values = self.values(metric)
        return sum(values) / len(values) if values else -math.inf

    def train_seconds(self) -> List[float]:
        key = "refit_train_seconds" if self.refit else "train_seconds"
        return [float(sm.get(key) or 0.0) for sm in self.summaries()]

    def epochs(self) -> List[float]:
        """The selected epoch (``test``) or the refit's epochs."""
        key = "refit_epochs" if self.refit else "best_epoch"
        return [float(sm.get(key) or 0) for sm in self.summaries()]

    def seconds_per_epoch(self) -> Tuple[List[float], bool]:
        """(the runs' training seconds per epoch, True), or (their counting seconds, False)
        for counted models; ``seconds_per_epoch`` from ``summary.json`` when recorded,
        else the training seconds over the epochs trained."""
        recorded = "refit_seconds_per_epoch" if self.refit else "seconds_per_epoch"
        trained_key = "refit_epochs" if self.refit else "epochs_run"
        trained = [float(sm.get(trained_key) or 0) for sm in self.summaries()]
        if not all(n > 0 for n in trained):
            return self.train_seconds(), False
        return [float(sm[recorded]) if sm.get(recorded) is not None else t / n
                for sm, t, n in zip(self.summaries(), self.train_seconds(), trained)], True

    def sessions_per_second(self) -> List[float]:
        """The test pass's sessions (cases) per second of the runs that recorded it."""
        key = "refit_test_sessions_per_second" if self.refit else "test_sessions_per_second"
        return [float(sm[key]) for sm in self.summaries() if sm.get(key) is not None]


@dataclass
class Comparison:
    """One dataset folder's comparison: its protocol, published entry, the metrics shown
    (``metrics``: the protocol's at ``topN``, ``extra``: at 10 where the runs hold them),
    their decimals and the rows, in the published table's model order."""

    folder: str
    protocol: str
    entry: Optional[Dict[str, Any]]
    metrics: List[str]
    extra: List[str]
    digits: int
    rows: List[ComparisonRow]


def comparison(groups: List[List[Dict[str, Any]]]) -> Comparison:
    """The :class:`Comparison` of one dataset folder's finished runs grouped by
    configuration (:func:`_groups`): one row per configuration and phase (``(refit)``
    rows for the configurations that were refit)."""
    runs = [run for group in groups for run in group]
    first = runs[0]
    protocol = str(first["config"].get("protocol", "notebook"))
    dataset = str(first["config"].get("dataset") or first["dataset_folder"])
    entry = published_for(protocol, dataset, str(first["summary"].get("data_dir") or ""))
    keys: List[str] = []
    for run in runs:
        keys += [k for k in run["summary"]["test"] if k not in keys]
    metrics = _shown_metrics(protocol, first["config"].get("topN"), keys)
    extra = [m for m in test_metrics(protocol, 10) if m in keys and m not in metrics]
    digits = _digits(protocol, [run["summary"]["test"].get(m, 0.0) or 0.0 for run in runs for m in metrics])
    order = list(entry["models"]) if entry else []

    def sort_key(group: List[Dict[str, Any]]) -> Tuple[int, str, str]:
        model = str(group[0]["config"].get("model", "srgnn"))
        return (order.index(model) if model in order else len(order), model, group[0]["name"])

    rows: List[ComparisonRow] = []
    for group in sorted(groups, key=sort_key):
        model = str(group[0]["config"].get("model", "srgnn"))
        for phase, label in (("test", _display_name(model)), ("test_refit", f"{_display_name(model)} (refit)")):
            done = [run for run in group if isinstance(run["summary"].get(phase), dict)]
            if done:
                rows.append(ComparisonRow(label, model, group[0]["name"], phase, done))
    return Comparison(first["dataset_folder"], protocol, entry, metrics, extra, digits, rows)


_P_AT = re.compile(r"^P@(\d+)$")


def significance(table: Comparison, test: str = "wilcoxon") -> Optional[Tuple[Dict[int, List[str]], List[str]]]:
    """The paired significance cells of a comparison (:mod:`srgnn_paddle.evaluation.significance`):
    ``({row index: [cell of metric 1, cell of metric 2]}, note lines)``, or None when the
    table has no P@K / MRR@K pair, fewer than two rows, or no row with saved test ranks.

    The best row is the one with the highest mean P@K (MRR@K breaking ties) among the rows
    whose runs saved ``test_ranks.npy``; each other such row is tested against it on the
    per-pair hits@K and reciprocal ranks@K (seeds averaged per pair); the p-values are
    Holm-adjusted over all the table's tests. A row whose runs were scored on other test
    pairs than the best row's is refused (``other test pairs``, the reason in the notes)."""
    from srgnn_paddle.evaluation import significance as sig

    if len(table.metrics) < 2 or len(table.rows) < 2:
        return None
    found = _P_AT.match(table.metrics[0])
    if not found or table.metrics[1] != f"MRR@{found.group(1)}":
        return None
    k = int(found.group(1))
    cells: Dict[int, List[str]] = {}
    notes: List[str] = []
    usable: Dict[int, List[Any]] = {}
    for i, row in enumerate(table.rows):
        try:
            ranks = [sig.run_ranks(run["folder"], run["summary"], refit=row.refit,
                                   label=f"{run['folder'].name}{' (refit)' if row.refit else ''}") for run in row.runs]
            sig.check_same_pairs(ranks)
        except SrgnnError as exc:
            missing = not sig.ranks_path(row.runs[0]["folder"], row.refit).is_file()
            cells[i] = ["no ranks"] * 2 if missing else ["unusable ranks"] * 2
            if not missing:
                notes.append(f"{row.label} {row.configuration}: {exc}")
            continue
        usable[i] = ranks
    if not usable:
        return None
    best = max(usable, key=lambda i: (table.rows[i].mean(table.metrics[0]), table.rows[i].mean(table.metrics[1])))
    cells[best] = ["best"] * 2
    compared: List[int] = []
    for i in usable:
        if i == best:
            continue
        try:
            sig.check_same_pairs([usable[best][0], usable[i][0]])
        except SrgnnError as exc:
            cells[i] = ["other test pairs"] * 2
            notes.append(f"{table.rows[i].label} {table.rows[i].configuration}: {exc}")
            continue
        compared.append(i)
    if compared:
        results = sig.compare_scores(sig.pooled_scores([r.ranks for r in usable[best]], k),
                                     [sig.pooled_scores([r.ranks for r in usable[i]], k) for i in compared], test)
        for i, (_, _, p_hits, p_rr) in zip(compared, results):
            cells[i] = [sig.format_p(p_hits), sig.format_p(p_rr)]
    row = table.rows[best]
    n_pairs = len(usable[best][0].ranks)
    if not compared:
        notes.insert(0, f"p: no other row has test ranks on the test pairs of the best row ({row.label}, "
                        f"{row.configuration}), so nothing was tested. `no ranks`: the run saved no test_ranks.npy "
                        f"(runs before it was saved, or another protocol).")
        return cells, notes
    notes.insert(0, f"p: two-sided {sig.TESTS[test]} of each row against the best row ({row.label}, "
                    f"{row.configuration}) on the same {n_pairs} test pairs: per-pair hits@{k} for {table.metrics[0]}, "
                    f"reciprocal ranks@{k} for {table.metrics[1]} (seeds averaged per pair); Holm-adjusted over the "
                    f"{2 * len(compared)} tests of this table. `no ranks`: the run saved no test_ranks.npy (runs "
                    f"before it was saved, or another protocol).")
    return cells, notes


def comparison_table(groups: List[List[Dict[str, Any]]], test: str = "wilcoxon") -> Tuple[str, str]:
    """The heading and Markdown comparison of one dataset folder's finished runs
    (:func:`comparison`): one row per configuration (``runs``: how many seeds were pooled;
    metrics as mean ± std), a ``(refit)`` row beside it when its runs were refit, the
    published models of the dataset (matched by model name) beside them or on rows of
    their own; then the metrics at 10, the training seconds, the test pass's sessions per
    second and, where runs saved their test ranks, the p-values of the paired ``test``
    (``wilcoxon`` or ``ttest``) against the best row (:func:`significance`)."""
    table = comparison(groups)
    entry, metrics, digits = table.entry, table.metrics, table.digits
    published_cols = [m for m in metrics if entry and any(m in pm for _, pm in entry["models"].values())]
    tested = significance(table, test)
    from srgnn_paddle.evaluation.significance import TESTS

    header = (["model", "configuration", "runs"] + [f"test {m}" for m in metrics]
              + [f"published {m}" for m in published_cols] + ["best epoch", "s / epoch", "parameters"]
              + [f"test {m}" for m in table.extra] + ["train s", "test sessions / s"]
              + ([f"p {m} vs best ({TESTS[test]}, Holm)" for m in metrics[:2]] if tested else []))
    rows: List[List[str]] = []
    shown_models = set()
    for i, row in enumerate(table.rows):
        shown_models.add(row.model)
        published = published_model(entry, row.model) or {}
        per_epoch, trained = row.seconds_per_epoch()
        rows.append([row.label, row.configuration, str(len(row.runs))]
                    + [_mean_std(row.values(m), digits) for m in metrics]
                    + [_mean_std([published[m]], digits) if m in published else "" for m in published_cols]
                    + [_mean_std(row.epochs(), 1 if len(row.runs) > 1 else 0),
                       _mean_std(per_epoch, 1) if trained else f"{_mean_std(per_epoch, 1)} (count)",
                       _cell(row.summaries()[0].get("parameters"))]
                    + [_mean_std(row.values(m), digits) for m in table.extra]
                    + [_mean_std(row.train_seconds(), 1), _mean_std(row.sessions_per_second(), 0)]
                    + ((tested[0].get(i) or ["", ""]) if tested else []))
    width = len(header)
    for model, (label, published) in (entry["models"].items() if entry else []):
        if model not in shown_models and any(m in published for m in published_cols):
            cells = ([label, "published only", "0"] + [""] * len(metrics)
                     + [_mean_std([published[m]], digits) if m in published else "" for m in published_cols])
            rows.append(cells + [""] * (width - len(cells)))
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    title = f"{table.folder} ({table.protocol} protocol)"
    note = f"\nPublished: {entry['source']}.\n" if entry else ""
    if entry:
        own = sorted({src for model, src in entry["sources"].items() if src != entry["source"]
                      and (model in shown_models or any(m in entry["models"][model][1] for m in published_cols))})
        for src in own:
            labels = [entry["models"][m][0] for m, s in entry["sources"].items() if s == src]
            note += f"{', '.join(labels)}: {src}.\n"
        unchecked = [entry["models"][m][0] for m in entry["unchecked"]]
        if unchecked:
            note += (f"As quoted, not yet checked against the paper's table: {', '.join(unchecked)} "
                     f"(docs/benchmark.md).\n")
    if tested:
        note += "\n" + "\n".join(f"- {line}" if n else line for n, line in enumerate(tested[1])) + "\n"
    return title, "\n".join(lines) + "\n" + note


def comparison_figure(groups: List[List[Dict[str, Any]]], out: Union[str, Path]) -> Path:
    """Draw one dataset folder's comparison as a PNG (:func:`srgnn_paddle.plots.comparison_plot`):
    the rows' test metrics as bars with the seeds' sample std as error bars, the published
    figures as markers (published models without runs: markers alone), the training seconds
    on a second, logarithmic axis. Returns the path."""
    from srgnn_paddle.plots import comparison_plot, save_png

    table = comparison(groups)
    metrics = table.metrics[:2]
    published = [published_model(table.entry, row.model) or {} for row in table.rows]
    shown = {row.model for row in table.rows}
    only = [(label, figures) for model, (label, figures) in (table.entry["models"].items() if table.entry else [])
            if model not in shown and any(m in figures for m in metrics)]  # published models without runs
    nan = math.nan
    fig = comparison_plot(
        labels=[f"{row.label}\n{row.configuration}" for row in table.rows] + [f"{label}\npublished only"
                                                                               for label, _ in only],
        metrics=metrics,
        means=[[max(row.mean(m), 0.0) for m in metrics] for row in table.rows] + [[nan] * len(metrics)] * len(only),
        stds=[[_std(row.values(m)) for m in metrics] for row in table.rows] + [[0.0] * len(metrics)] * len(only),
        published=[[p.get(m) for m in metrics] for p in published] + [[f.get(m) for m in metrics] for _, f in only],
        seconds=[sum(row.train_seconds()) / len(row.runs) for row in table.rows] + [nan] * len(only),
        seconds_std=[_std(row.train_seconds()) for row in table.rows] + [0.0] * len(only),
        runs=[len(row.runs) for row in table.rows] + [0] * len(only),
        title=f"{table.folder} ({table.protocol} protocol)",
        percent=table.digits == 2)
    return save_png(fig, out)


def comparison_groups(exp_dir: Union[str, Path]) -> Dict[str, List[List[Dict[str, Any]]]]:
    """The finished runs under ``exp_dir`` by dataset folder, grouped by configuration."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise SrgnnError(f"{exp_dir}: experiment folder not found; pass the folder 'train' wrote to with --exp_dir")
    return _groups(finished_runs(exp_dir))


def comparison_markdown(exp_dir: Union[str, Path], test: str = "wilcoxon") -> str:
    """Every dataset folder's :func:`comparison_table` under a ``###`` heading."""
    parts = []
    for groups in comparison_groups(exp_dir).values():
        title, table = comparison_table(groups, test)
        parts.append(f"### {title}\n\n{table}")
    return "\n".join(parts) if parts else "(no finished runs)\n"


def figure_paths(out: Union[str, Path], folders: Sequence[str]) -> Dict[str, Path]:
    """Where ``compare --figure OUT`` writes each dataset folder's figure: ``OUT`` itself for
    one folder, else ``OUT``'s stem, ``_<folder>`` (``/`` as ``_``) and its suffix for each."""
    out = Path(out)
    if len(folders) == 1:
        return {folders[0]: out}
    return {f: out.with_name(f"{out.stem}_{f.replace('/', '_')}{out.suffix or '.png'}") for f in folders}


def write_figures(exp_dir: Union[str, Path], out: Union[str, Path]) -> List[Path]:
    """One :func:`comparison_figure` per dataset folder under ``exp_dir`` (paths from
    :func:`figure_paths`); returns the PNGs written."""
    groups = comparison_groups(exp_dir)
    if not groups:
        raise SrgnnError(f"{exp_dir}: no finished runs to draw; train some first")
    paths = figure_paths(out, list(groups))
    return [comparison_figure(groups[folder], paths[folder]) for folder in groups]


def write_report(exp_dir: Union[str, Path], test: str = "wilcoxon") -> Tuple[pd.DataFrame, str]:
    """Build the report and write ``results.md`` (the comparison tables by dataset, with the
    paired ``test``'s p-values, then every run's row) and ``results.csv`` (every run's row)
    into ``exp_dir`` atomically; returns the per-run table and its Markdown text."""
    exp_dir = Path(exp_dir)
    frame = build_report(exp_dir)
    text = to_markdown(frame)
    notes = "\n".join(_published_note(e) for e in PUBLISHED.values())
    atomic_write_text(exp_dir / RESULTS_MD,
                      "# Results\n\n## By dataset\n\nOne row per model configuration; runs that differ only in "
                      "their seed (`train --seeds`) are pooled as mean ± sample std over `runs`; `(refit)` rows: "
                      "the same configurations trained again on training + validation (`--refit`).\n\n"
                      + comparison_markdown(exp_dir, test)
                      + "\n## Every run\n\nOne row per run folder under this directory; `diff_*` = run - "
                        "published.\n\n" + text + "\nPublished numbers used:\n\n" + notes + "\n")
    atomic_write_text(exp_dir / RESULTS_CSV, frame.to_csv(index=False))
    return frame, text


def _published_note(entry: Dict[str, Any]) -> str:
    """One line per source of a :data:`PUBLISHED` entry: ``- source: label metric value, ...; ...``
    (figures not yet checked against the paper marked ``(as quoted)``)."""
    lines = []
    for source in dict.fromkeys(entry["sources"].values()):
        figures = [f"{label} " + ", ".join(f"{m} {v}" for m, v in pm.items())
                   + (" (as quoted)" if model in entry["unchecked"] else "")
                   for model, (label, pm) in entry["models"].items() if entry["sources"][model] == source]
        lines.append(f"- {source}: " + "; ".join(figures))
    return "\n".join(lines)
