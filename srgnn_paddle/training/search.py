"""Hyper-parameter search of the counted baselines (``python -m srgnn_paddle tune``).

Each counted model declares the options worth searching and their values in its own file
(:attr:`~srgnn_paddle.models.counts.CountModel.search_space`: config key -> values); a
``--space`` YAML file narrows the search to some of them, with its own values. The search
lists its trials (:func:`trial_settings`): the starting settings (the base config's values)
first, then distinct settings drawn with a seeded RNG (``random``) or the product of the value
lists in order (``grid``), each draw independent of the budget, so a larger budget extends
the same list. Each trial counts the model's statistics on the protocol's training part and
scores the **validation split only** with the protocol's evaluator (the test split is loaded
by the protocol but never given to an evaluator); the best trial is the one with the largest
selection key (:meth:`~srgnn_paddle.evaluation.NextItemEvaluator.score`, ``(P@20, MRR@20)``
for the paper protocol), the earlier on ties.

The output folder holds ``search.yaml`` (what was searched: model, data folder, base config,
space), ``trials.csv`` / ``trials.md`` (one row per trial: settings, validation metrics,
seconds; rewritten after every trial) and ``best.yaml`` (the base config with the best
settings, for ``train --config``). Run again on the same folder, the trials already in
``trials.csv`` are not run again.
"""
from __future__ import annotations

import csv
import io
import itertools
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
import yaml

from srgnn_paddle.config import Config, read_yaml_file
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_write_text

MODES = ("random", "grid")
SEARCH_FILE, TRIALS_CSV, TRIALS_MD, BEST_FILE = "search.yaml", "trials.csv", "trials.md", "best.yaml"

#: Options that do not change a trial's validation metrics: a search resumed with other values
#: of these continues the same table.
RUN_ONLY = ("device", "kernels", "num_workers", "cpu_threads", "eval_batch_size", "tsne", "tsne_max_items",
            "visualdl", "refit")

Space = Dict[str, Tuple[Any, ...]]
Settings = Dict[str, Any]


def model_space(model: str) -> Space:
    """The search space a counted model declares; SrgnnError for a trained model or a model
    without one."""
    from srgnn_paddle.models import MODELS, model_class

    cls = model_class(model)
    tunable = ", ".join(name for name, c in MODELS.items() if getattr(c, "search_space", None))
    if cls.trainable:
        raise SrgnnError(f"model {model} is trained, not counted: tune searches the counted baselines ({tunable}); "
                         f"tune a trained model's options with 'train' runs")
    if not cls.search_space:
        raise SrgnnError(f"model {model} declares no search space; tunable models: {tunable}")
    return {key: tuple(values) for key, values in cls.search_space.items()}


def read_space(path: Path, model: str, base: Config) -> Space:
    """The ``--space`` YAML file: a mapping ``option: [values]`` over some of the model's
    declared options; each value is checked as the config checks it."""
    declared = model_space(model)
    data = read_yaml_file(path, "space", "--space")
    if not isinstance(data, dict) or not data:
        raise SrgnnError(f"{path}: must map option names to lists of values, e.g. 'stan_neighbors: [50, 100]'")
    space: Space = {}
    for key, values in data.items():
        if key not in declared:
            raise SrgnnError(f"{path}: '{key}' is not a tunable option of {model}; tunable: {', '.join(declared)}")
        values = values if isinstance(values, list) else [values]
        if not values:
            raise SrgnnError(f"{path}: '{key}' lists no values; give at least one")
        checked = [getattr(Config.from_dict({**base.to_dict(), key: value}, source=str(path)), key) for value in values]
        if len(set(checked)) != len(checked):
            raise SrgnnError(f"{path}: '{key}' lists a value twice; list each value once")
        space[key] = tuple(checked)
    return space


def trial_settings(space: Space, start: Settings, trials: int, mode: str, seed: int) -> List[Settings]:
    """The settings of the first ``trials`` trials: ``start`` first, then (``random``) settings
    drawn uniformly from the product of the value lists with ``np.random.default_rng(seed)``,
    skipping repeats, or (``grid``) the product in order; never more than the product holds
    (plus ``start`` when it is outside it). The list for a budget is a prefix of the list for
    a larger one."""
    if trials < 1:
        raise SrgnnError(f"the budget must be at least 1 trial, got {trials}")
    if mode not in MODES:
        raise SrgnnError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
    keys = list(space)
    total = int(np.prod([len(space[k]) for k in keys]))
    out: List[Settings] = [dict(start)]
    seen = {_key(start)}
    if mode == "grid":
        draws = (dict(zip(keys, values)) for values in itertools.product(*(space[k] for k in keys)))
    else:
        rng = np.random.default_rng(seed)
        draws = ({k: space[k][int(rng.integers(len(space[k])))] for k in keys} for _ in itertools.count())
    inside = all(start.get(k) in space[k] for k in keys)
    available = total + (0 if inside else 1)
    for settings in draws:
        if len(out) >= min(trials, available):
            break
        if _key(settings) not in seen:
            seen.add(_key(settings))
            out.append(settings)
    return out


def _key(settings: Mapping[str, Any]) -> Tuple[Tuple[str, str], ...]:
    """A hashable key of a settings dict (values as written in the table)."""
    return tuple((k, format_value(settings[k])) for k in sorted(settings))


def format_value(value: Any) -> str:
    """A setting as written in the table (read back by :func:`parse_value`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def parse_value(key: str, text: str) -> Any:
    """A setting of the table (:func:`format_value`) back as the config field's type."""
    kind = type(getattr(Config(), key))
    if kind is bool:
        return text == "true"
    return kind(text)


class Search:
    """One search: a model, a data folder, a base config and a space, recorded in ``out``.

    Args:
        cfg: the base config (``cfg.model`` the counted model; the protocol, validation split
            and seed say which validation pairs are scored).
        data_dir: the data folder.
        out: the output folder (created; an existing one must hold the same search).
        space: the options searched and their values (default: the model's declared space).
        log: where one line per trial goes.
    """

    def __init__(self, cfg: Config, data_dir: Path, out: Path, space: Optional[Space] = None,
                 log: Callable[[str], None] = print) -> None:
        self.space = dict(space) if space is not None else model_space(cfg.model)
        unknown = [k for k in self.space if k not in model_space(cfg.model)]
        if unknown:
            raise SrgnnError(f"'{unknown[0]}' is not a tunable option of {cfg.model}; "
                             f"tunable: {', '.join(model_space(cfg.model))}")
        self.cfg, self.data_dir, self.out, self.log = cfg, Path(data_dir), Path(out), log
        self.header = {"model": cfg.model, "data_dir": str(self.data_dir.resolve()),
                       "space": {k: list(v) for k, v in self.space.items()},
                       "base_config": {k: v for k, v in cfg.to_dict().items()
                                       if k not in self.space and k not in RUN_ONLY}}
        self.rows: List[Dict[str, str]] = []

    # ------------------------------------------------------------------ the folder
    def open(self) -> None:
        """Create ``out`` with ``search.yaml``, or check that an existing one holds this
        search and read its finished trials."""
        path = self.out / SEARCH_FILE
        if path.is_file():
            try:
                saved = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError:
                saved = None
            if saved != self.header:
                differs = next((k for k in self.header
                                if not isinstance(saved, dict) or saved.get(k) != self.header[k]), "model")
                raise SrgnnError(f"{path}: this folder holds another search (its {differs} differs); "
                                 f"use another --out, or delete the folder to start again")
            self.rows = _read_rows(self.out / TRIALS_CSV)
        else:
            try:
                self.out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SrgnnError(f"{self.out}: cannot create the output folder ({exc.strerror}); "
                                 f"pass a writable --out") from None
            atomic_write_text(path, yaml.safe_dump(self.header, sort_keys=False))

    def start_settings(self) -> Settings:
        """The base config's values of the searched options."""
        return {k: getattr(self.cfg, k) for k in self.space}

    # ------------------------------------------------------------------ running
    def run(self, trials: int, mode: str = "random", seed: int = 0, progress: bool = False) -> Dict[str, str]:
        """Run the trials not yet in the table, then write ``best.yaml``; returns the best row."""
        from srgnn_paddle.models import build_model
        from srgnn_paddle.protocols import get_protocol
        from srgnn_paddle.runs import load_data
        from srgnn_paddle.kernels import select_kernels
        from srgnn_paddle.runtime import host_threads, select_device

        plan = trial_settings(self.space, self.start_settings(), trials, mode, seed)
        self.open()
        done = {_key({k: parse_value(k, row[k]) for k in self.space}) for row in self.rows}
        todo = [s for s in plan if _key(s) not in done]
        if len(plan) < trials:
            self.log(f"the space holds {len(plan)} settings: {len(plan)} trials, not {trials}")
        if todo:
            protocol = get_protocol(self.cfg.protocol)
            data = load_data(self.cfg, self.data_dir)
            kernels = select_kernels(self.cfg.kernels, select_device(self.cfg.device),
                                     host_threads(self.cfg.cpu_threads), notice=self.log)
            with kernels:
                for settings in todo:
                    cfg = self.cfg.replace(**settings, n_items=data.n_items)
                    start = time.time()
                    model = build_model(cfg)
                    model.fit(data.train.sessions())
                    evaluator = protocol.evaluator(cfg, data.valid, model, kernels, progress)
                    metrics = evaluator(model, desc="valid")
                    seconds = time.time() - start
                    columns = evaluator.columns()
                    row = {"trial": str(len(self.rows)), **{k: format_value(v) for k, v in settings.items()},
                           **{c: repr(float(metrics[c])) for c in columns},
                           "score": " ".join(repr(float(x)) for x in evaluator.score(metrics)),
                           "seconds": f"{seconds:.1f}"}
                    self.rows.append(row)
                    self.write_tables()
                    shown = ", ".join(f"{c} {float(metrics[c]):.2f}" for c in columns[:2])
                    self.log(f"trial {row['trial']} ({len(self.rows)}/{max(len(plan), len(self.rows))}): "
                             + " ".join(f"{k}={row[k]}" for k in settings) + f": {shown} ({seconds:.1f} s)")
        if not self.rows:
            raise SrgnnError(f"{self.out}: no trials recorded")
        best = self.best()
        self.write_tables()
        write_config(self.cfg.replace(**{k: parse_value(k, best[k]) for k in self.space}), self.out / BEST_FILE,
                     list(self.space), f"best of {len(self.rows)} trials of 'tune' (trial {best['trial']}), "
                                       f"chosen on the validation split")
        return best

    def best(self) -> Dict[str, str]:
        """The row with the largest selection key (``score``), the earlier on ties."""
        scores = [tuple(float(x) for x in row["score"].split()) for row in self.rows]
        return self.rows[max(range(len(scores)), key=lambda i: (scores[i], -i))]

    def write_tables(self) -> None:
        """``trials.csv`` and ``trials.md`` from the rows (the best marked in the markdown)."""
        fields = list(self.rows[0])
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.out / TRIALS_CSV, buffer.getvalue())
        best = self.best()["trial"]
        shown = [f for f in fields if f != "score"]
        lines = [f"{self.cfg.model} on {self.data_dir.name}: {len(self.rows)} trials scored on the validation split "
                 f"(protocol {self.cfg.protocol}, valid_split {self.cfg.valid_split}, valid_portion "
                 f"{self.cfg.valid_portion}); best: trial {best} (**bold**)", "",
                 "| " + " | ".join(shown) + " |", "|" + " --- |" * len(shown)]
        for row in self.rows:
            cells = [_cell(f, row[f]) for f in shown]
            if row["trial"] == best:
                cells = [f"**{c}**" for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
        atomic_write_text(self.out / TRIALS_MD, "\n".join(lines) + "\n")


def write_config(cfg: Config, path: Path, keys: List[str], comment: str) -> None:
    """``cfg`` as a short YAML for ``train --config``: ``model``, ``protocol``, ``keys`` and
    every other key that differs from the protocol's defaults (``load_config`` of the file
    gives ``cfg`` back)."""
    from srgnn_paddle.config import load_config

    defaults = load_config(None, {"protocol": cfg.protocol}).to_dict()
    values = {k: v for k, v in cfg.to_dict().items() if k in ("model", "protocol", *keys) or v != defaults[k]}
    atomic_write_text(path, f"# {comment}\n" + yaml.safe_dump(values, sort_keys=False))


def _cell(field: str, value: str) -> str:
    """A metric with two decimals, anything else as in the CSV."""
    if "@" in field:
        return f"{float(value):.2f}"
    return value


def _read_rows(path: Path) -> List[Dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"trial", "score", "seconds"} <= set(rows[0]):
        raise SrgnnError(f"{path}: not a trials table of 'tune'; use another --out")
    return rows


__all__ = ["MODES", "Search", "model_space", "read_space", "trial_settings", "format_value", "parse_value",
           "write_config",
           "SEARCH_FILE", "TRIALS_CSV", "TRIALS_MD", "BEST_FILE"]
