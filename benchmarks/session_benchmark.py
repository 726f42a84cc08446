"""The session benchmark: every registered session model, trained with its paper
configuration on each dataset under the paper protocol (the epoch selected on validation,
the test set scored once, a ``--refit`` row beside), into one resumable work folder; each
finished run's ``log.csv``, ``summary.json``, ``config.yaml`` and console output copied to
``docs/results/benchmark/<dataset>/<run>/`` and the tables of ``srgnn-paddle compare``
(one per dataset) written beside them.

    python benchmarks/session_benchmark.py                       # everything (days on a CPU)
    python benchmarks/session_benchmark.py --datasets tmall --models stamp,narm --seeds 1,2
    python benchmarks/session_benchmark.py --dry_run             # the plan and the time estimate

Run the same command again after an interruption (Ctrl-C, a crash, a reboot): finished runs
are skipped, interrupted ones continued from their last epoch (``train --resume``), a
finished run whose refit is missing gets it. Each run is one ``srgnn-paddle train`` process.

Datasets (``--data_root``, default ``../shared/data``): ``diginetica`` (the published
pickles, or prepared here from ``diginetica/train-item-views.csv``), ``tmall`` and
``nowplaying`` (the GCE-GNN authors' pickles), ``yoochoose1_64`` / ``yoochoose1_4``
(prepared here from ``yoochoose/yoochoose-clicks.dat``); ``--data NAME=DIR`` adds a
paper-layout folder of one's own. The configuration of a run is the first of
``configs/paper_<model>_<dataset>.yaml``, ``configs/paper_<model>.yaml`` and the dataset's
paper config that exists (``configs/paper_<dataset>.yaml``, else the paper protocol's
defaults), then the benchmark's :data:`DEFAULT_SETS` (``valid_split: sessions``: the most
recent whole training sessions validate, which tracked the test set where the prefix-pair
split did not, docs/protocols.md), then ``--set KEY=VALUE``; the resolved file is kept in
``<work>/configs/<dataset>/<run>.yaml``. See docs/session_models.md ("The benchmark").
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from srgnn_paddle.config import Config, load_config, save_config  # noqa: E402
from srgnn_paddle.errors import SrgnnError  # noqa: E402
from srgnn_paddle.evaluation.significance import ranks_path  # noqa: E402

#: Console lines of a training process that say nothing about the run (Paddle's import notes).
NOISE = re.compile(r"No ccache found|warnings\.warn\(|Loading faiss|Successfully loaded faiss|Could not load library")
#: What is copied from a finished run folder into the results (name there -> name in the run).
COPIED = {"log.csv": "log.csv", "summary.json": "summary.json", "config.yaml": "config.yaml",
          "refit_log.csv": "refit/log.csv"}
DEFAULT_DATASETS = ("diginetica", "tmall", "nowplaying")
#: What the benchmark sets in every run unless ``--set`` says otherwise: validation on the most recent
#: whole training sessions (``benchmarks/split_check.py``: their validation ranks the models as the test
#: set does; the paper protocol's share of the prefix pairs leaks the other prefixes of its sessions)
DEFAULT_SETS: Dict[str, Any] = {"valid_split": "sessions"}
#: The largest test rank the results keep (see :func:`compact_ranks`).
RANK_CAP = 255


@dataclass(frozen=True)
class Dataset:
    """A benchmark dataset.

    Attributes:
        name: the runs' ``--dataset`` (their folder ``<work>/<name>_paper/``).
        folder: the paper-layout folder under the data root (or an absolute path).
        config: the dataset's paper config under ``configs/`` ("" = the protocol's defaults).
        raw: a raw file under the data root that ``prepare_format`` turns into the folder
            when ``folder`` holds no pickles ("" = none).
        prepare_format: the ``srgnn-paddle prepare`` format of ``raw``.
        prepared: the pickles' folder inside the prepared output ("" = the output itself).
    """

    name: str
    folder: str
    config: str = ""
    raw: str = ""
    prepare_format: str = ""
    prepared: str = ""


DATASETS: Dict[str, Dataset] = {d.name: d for d in (
    Dataset("diginetica", "diginetica", "paper_diginetica.yaml", "diginetica/train-item-views.csv", "diginetica"),
    Dataset("tmall", "tmall", "paper_tmall.yaml"),
    Dataset("nowplaying", "nowplaying", "paper_nowplaying.yaml"),
    Dataset("yoochoose1_64", "yoochoose1_64", "paper_yoochoose.yaml", "yoochoose/yoochoose-clicks.dat", "yoochoose",
            "yoochoose1_64"),
    Dataset("yoochoose1_4", "yoochoose1_4", "paper_yoochoose.yaml", "yoochoose/yoochoose-clicks.dat", "yoochoose",
            "yoochoose1_4"),
)}


@dataclass
class Run:
    """One training run of the benchmark."""

    dataset: str
    data_dir: Path
    model: str
    seed: Optional[int]  # None: the config's seed, no folder suffix
    config_file: str  # the configs/ file it started from ("" = the protocol's defaults)
    cfg: Config
    run_dir: Path
    state: str = ""  # done, resume, refit, overwrite, new
    epochs_done: int = 0
    n_train: int = 0

    @property
    def name(self) -> str:
        return self.run_dir.name


# ---------------------------------------------------------------------------- datasets
def data_folder(spec: Dataset, root: Path, work: Path, prepare: bool, log) -> Path:
    """The paper-layout folder of ``spec``: as found under ``root``, or prepared from its raw
    file into ``<work>/data/`` (once; the prepared folder appears whole or not at all)."""
    from srgnn_paddle.prepare import PrepareOptions, format_summary, prepare_dataset

    folder = Path(spec.folder) if Path(spec.folder).is_absolute() else root / spec.folder
    if _has_pickles(folder):
        return folder
    if spec.raw:
        out = work / "data" / spec.prepare_format
        target = out / spec.prepared if spec.prepared else out
        if _has_pickles(target):
            return target
        raw = root / spec.raw
        if raw.is_file():
            if not prepare:
                return target
            log(f"== preparing {spec.name}: srgnn-paddle prepare {spec.prepare_format} --input {rel(raw)} "
                f"--output {rel(out)}")
            meta = prepare_dataset(spec.prepare_format, raw, out, PrepareOptions(), overwrite=out.exists())
            log(format_summary(meta, out))
            return target
        raise SrgnnError(f"dataset {spec.name}: {folder} holds no all_train_seq.txt / train.txt and test.txt, and "
                         f"the raw file {raw} to prepare them from is absent; put either there (or --data_root DIR)")
    raise SrgnnError(f"dataset {spec.name}: {folder} holds no all_train_seq.txt / train.txt and test.txt; put the "
                     f"published pickles there (or --data_root DIR, --data {spec.name}=DIR)")


def rel(path: Path) -> str:
    """``path`` relative to the checkout (the training processes run there), so that the
    run files and console logs name ``../shared/data/tmall``, not a machine's folders."""
    return os.path.relpath(Path(path).resolve(), REPO)


def _has_pickles(folder: Path) -> bool:
    return (folder / "test.txt").is_file() and any((folder / f).is_file() for f in ("all_train_seq.txt", "train.txt"))


def dataset_counts(folder: Path) -> Dict[str, Any]:
    """Sessions, pairs, test pairs and items of a paper folder (``data.json`` of the results)."""
    from srgnn_paddle.data.sessions import load_session_pickles

    pickles = load_session_pickles(folder)
    return {"data_dir": rel(folder), "train_sessions": len(pickles.train_sessions or []) or None,
            "train_pairs": len(pickles.train[1]), "test_pairs": len(pickles.test[1]),
            "valid_pairs_file": len(pickles.valid[1]) if pickles.valid is not None else None,
            "n_items": pickles.n_items}


# ---------------------------------------------------------------------------- runs
def session_models() -> List[str]:
    """Every registered model the paper protocol trains (its batch layout is one of the
    protocol's), in the registry's order."""
    from srgnn_paddle.models import MODELS
    from srgnn_paddle.protocols import get_protocol

    layouts = get_protocol("paper").layouts
    return [name for name, cls in MODELS.items() if cls.batch_layout in layouts]


def _trainable(model: str) -> bool:
    from srgnn_paddle.models import model_class

    return bool(model_class(model).trainable)


def config_file(model: str, spec: Dataset, configs: Path) -> str:
    """The configs/ file a run starts from: the model's for this dataset, the model's paper
    config, the dataset's paper config ("" when none exists: the protocol's defaults)."""
    for name in (f"paper_{model}_{spec.name}.yaml", f"paper_{model}.yaml", spec.config):
        if name and (configs / name).is_file():
            return name
    return ""


def resolve_config(model: str, spec: Dataset, configs: Path, sets: Dict[str, Any], refit: bool,
                   seed: Optional[int]) -> Tuple[str, Config]:
    """The run's configuration: its configs/ file, then the benchmark's settings."""
    name = config_file(model, spec, configs)
    overrides = {"protocol": "paper", "tsne": False, **sets, "model": model, "dataset": spec.name, "refit": refit}
    if seed is not None:
        overrides["seed"] = seed
    return name, load_config(configs / name if name else None, overrides)


def run_state(run: Run) -> Tuple[str, int]:
    """``(state, epochs done)`` of a run folder: ``done`` (summary.json with the test row, and
    the refit's when asked for), ``refit`` (finished, the refit missing or interrupted),
    ``resume`` (a checkpoint), ``overwrite`` (a folder with nothing to continue), ``new``."""
    summary_path, checkpoint = run.run_dir / "summary.json", run.run_dir / "checkpoint.pdckpt"
    _check_same_settings(run)
    summary: Dict[str, Any] = {}
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text())
        except ValueError:
            summary = {}
    epochs = _epochs_logged(run.run_dir / "log.csv")
    if isinstance(summary.get("test"), dict):
        if not run.cfg.refit or isinstance(summary.get("test_refit"), dict):
            return "done", epochs
        return "refit", epochs
    if checkpoint.is_file():
        return "resume", epochs
    if run.run_dir.exists():
        return "overwrite", 0
    return "new", 0


def _check_same_settings(run: Run) -> None:
    """A run folder trained with other settings than this command's is refused (one error
    naming the keys), so that a changed config or ``--set`` never passes an old run off as
    the new one's (the keys a resume may change, and the sizes train fills in, aside)."""
    from srgnn_paddle.runs import RESUMABLE_CHANGES

    saved_path = run.run_dir / "config.yaml"
    if not saved_path.is_file():
        return
    saved = load_config(saved_path).to_dict()
    ignored = set(RESUMABLE_CHANGES) | {"n_items", "n_users"}
    differ = sorted(k for k, v in run.cfg.to_dict().items() if k not in ignored and saved.get(k) != v)
    if differ:
        changes = ", ".join(f"{k} {saved.get(k)!r} -> {getattr(run.cfg, k)!r}" for k in differ)
        raise SrgnnError(f"{rel(run.run_dir)} was trained with other settings ({changes}); pass another --work "
                         f"(and --results), or remove the folder to train it again")


def _epochs_logged(log_csv: Path) -> int:
    """Training epochs in a run's log.csv (0 without one)."""
    if not log_csv.is_file():
        return 0
    try:
        frame = pd.read_csv(log_csv)
    except (ValueError, OSError):
        return 0
    epochs = frame.loc[frame["phase"].isin(["valid", "train"]), "epoch"]
    return int(epochs.max()) if len(epochs) else 0


def plan(args: argparse.Namespace, log) -> Tuple[List[Run], Dict[str, Dict[str, Any]]]:
    """Every run of the benchmark with its state, and each dataset's counts."""
    from srgnn_paddle.runs import run_dir_for

    specs = dict(DATASETS)
    for item in args.data:
        name, _, folder = item.partition("=")
        if not name or not folder:
            raise SrgnnError(f"--data must be NAME=DIR, got {item!r}")
        config = f"paper_{name}.yaml" if (args.configs / f"paper_{name}.yaml").is_file() else ""
        specs[name] = Dataset(name, str(Path(folder).resolve()), config)
    chosen = _choose(args.datasets, [d.split("=")[0] for d in args.data] or list(DEFAULT_DATASETS), specs, "dataset")
    registered = session_models()
    models = _choose(args.models, registered, {m: m for m in registered}, "model")
    models = sorted(models, key=lambda m: (_trainable(m), registered.index(m)))  # counted ones first: quick
    seeds: List[Optional[int]] = list(args.seeds) if args.seeds else [None]
    work = args.work
    runs, counts = [], {}
    for name in chosen:
        spec = specs[name]
        folder = data_folder(spec, args.data_root, work, prepare=not args.dry_run, log=log)
        counts[name] = dataset_counts(folder) if _has_pickles(folder) else {"data_dir": rel(folder)}
        for model in models:
            for seed in seeds:
                config_name, cfg = resolve_config(model, spec, args.configs, args.sets, not args.no_refit, seed)
                suffix = f"_seed{seed}" if seed is not None else ""
                run = Run(name, folder, model, seed, config_name, cfg, run_dir_for(cfg, work, suffix))
                run.state, run.epochs_done = run_state(run)
                run.n_train = int(counts[name].get("train_pairs") or 0)
                runs.append(run)
    return runs, counts


def _choose(text: Optional[str], default: Sequence[str], known: Dict[str, Any], what: str) -> List[str]:
    """``--models a,b`` / ``--datasets a,b`` checked against the known names."""
    if not text:
        return list(default)
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        given = ", ".join(unknown) if unknown else repr(text)
        raise SrgnnError(f"unknown {what}(s) {given}; choose among {', '.join(known)}")
    return names


def train_command(run: Run, python: str, work: Path, config_path: Path) -> List[str]:
    """The ``srgnn-paddle train`` command line of a run in its state (run folders under ``work``)."""
    command = shlex.split(python) + ["-m", "srgnn_paddle", "train", "--config", rel(config_path),
                                     "--dataset", run.dataset, "--data_dir", rel(run.data_dir),
                                     "--exp_dir", rel(work), "--quiet"]
    if run.seed is not None:
        command += ["--seeds", str(run.seed)]
    if run.state in ("resume", "refit"):
        command.append("--resume")
    elif run.state == "overwrite":
        command.append("--overwrite")
    return command


def execute(run: Run, python: str, work: Path, console: Path, echo: bool) -> int:
    """Run one training process (run folders under ``work``, its resolved config kept in
    ``<work>/configs/<dataset>/<run>.yaml``), its output appended to ``console`` (and
    echoed) without Paddle's import notes; returns its exit status."""
    config_path = work / "configs" / run.dataset / f"{run.name}.yaml"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    save_config(run.cfg, config_path)
    command = train_command(run, python, work, config_path)
    console.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    with open(console, "a", encoding="utf-8") as out:
        shown = "srgnn-paddle " + shlex.join(command[len(shlex.split(python)) + 2:])  # without the interpreter
        out.write(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} {run.state}: {shown}\n")
        out.flush()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                   cwd=str(REPO))
        try:
            for line in process.stdout:
                if NOISE.search(line):
                    continue
                out.write(line)
                out.flush()
                if echo:
                    print(line, end="", flush=True)
            return process.wait()
        except KeyboardInterrupt:  # the process got the same Ctrl-C: let it save its epoch
            return _wait_interrupted(process)


def _wait_interrupted(process: subprocess.Popen) -> int:
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return 130


# ---------------------------------------------------------------------------- results
def collect(run: Run, results: Path, console: Path) -> Path:
    """Copy a finished run's files and console output to ``<results>/<dataset>/<run>/``
    (:func:`copy_run`)."""
    return copy_run(run.run_dir, console, results / run.dataset / run.name)


def copy_run(run_dir: Path, console: Path, target: Path) -> Path:
    """Copy what the results keep of the run folder ``run_dir`` into ``target``: the files of
    :data:`COPIED` it has, ``console`` as ``console.txt`` when it exists, and its test ranks
    (the refit model's too) compacted by :func:`compact_ranks`. The one copy step of the
    benchmark and of the shell scripts that train rows outside it (``python
    benchmarks/copy_run.py RUN_DIR CONSOLE TARGET``)."""
    target.mkdir(parents=True, exist_ok=True)
    for name, source in COPIED.items():
        if (run_dir / source).is_file():
            shutil.copyfile(run_dir / source, target / name)
    for refit in (False, True):
        source = ranks_path(run_dir, refit)
        if source.is_file():
            ranks_path(target, refit).parent.mkdir(exist_ok=True)
            np.save(ranks_path(target, refit), compact_ranks(np.load(source, allow_pickle=False)), allow_pickle=False)
    if console.is_file():
        shutil.copyfile(console, target / "console.txt")
    return target


def validation_note(folder: Path) -> str:
    """The line under a dataset's table naming its runs' validation split(s)."""
    splits = sorted({str(yaml.safe_load(path.read_text()).get("valid_split", "pairs"))
                     for path in folder.glob("*/config.yaml")})
    said = {"sessions": "sessions (the most recent 10% of the training sessions validate; the benchmark's default)",
            "pairs": "pairs (a seeded 10% of the training prefix pairs validate: the paper protocol's official split)"}
    return f"\nValidation split of these runs: {'; '.join(said.get(s, s) for s in splits)}.\n" if splits else ""


def compact_ranks(ranks: np.ndarray) -> np.ndarray:
    """A run's test ranks as the results keep them: ``uint8``, every rank past
    :data:`RANK_CAP` stored as ``RANK_CAP`` (a miss at every cut-off the tables use, K <= 50),
    so the significance columns come out as from the full ranks at a quarter of the size."""
    return np.minimum(ranks, RANK_CAP).astype(np.uint8)


def write_tables(results: Path, counts: Dict[str, Dict[str, Any]]) -> str:
    """``srgnn-paddle compare`` over the results: ``results.md`` / ``results.csv`` with one
    table per dataset, each dataset's table alone in ``<dataset>/compare.md`` and its figure
    (``compare --figure``) in ``<dataset>/compare.png``."""
    from srgnn_paddle.report import comparison_figure, comparison_groups, comparison_markdown, write_report

    for name, data in counts.items():
        (results / name).mkdir(parents=True, exist_ok=True)
        (results / name / "data.json").write_text(json.dumps(data, indent=2) + "\n")
    write_report(results)
    text = comparison_markdown(results)
    for section in text.split("### ")[1:]:
        dataset = section.split(" ", 1)[0]
        if (results / dataset).is_dir():
            (results / dataset / "compare.md").write_text("### " + section + validation_note(results / dataset))
    for folder, groups in comparison_groups(results).items():
        dataset = folder.split("/")[0]
        if (results / dataset).is_dir():
            comparison_figure(groups, results / dataset / "compare.png")
    return text


# ---------------------------------------------------------------------------- time
def estimate_seconds(runs: Sequence[Run]) -> Tuple[float, int, int]:
    """``(seconds, finished, unknown)``: the training time left, the epochs still to train
    times the seconds per epoch of the finished runs (the same model's per training pair,
    on the dataset's training pairs; as many epochs as the model's finished runs trained,
    at most the run's ``epochs``, and as many refit epochs); counted models
    their counting seconds. ``finished``: the runs it is based on; ``unknown``: the runs left
    out, whose model has no finished run yet."""
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    rates: Dict[str, List[float]] = {}  # model -> seconds per epoch per training pair
    epochs: Dict[str, List[Tuple[int, int]]] = {}  # model -> (epochs trained, refit epochs)
    counted: Dict[str, List[float]] = {}  # model -> counting seconds (and the refit's)
    finished = [r for r in runs if r.state == "done"]
    for run in finished:
        summary = json.loads((run.run_dir / "summary.json").read_text())
        frame = pd.read_csv(run.run_dir / "log.csv")
        seconds = frame.loc[frame["phase"].isin(["valid", "train"]), "seconds"].dropna()
        if int(summary.get("epochs_run") or 0) > 0 and len(seconds) and run.n_train:
            rates.setdefault(run.model, []).append(float(seconds.mean()) / run.n_train)
            epochs.setdefault(run.model, []).append((int(summary["epochs_run"]), int(summary.get("refit_epochs") or 0)))
        elif int(summary.get("epochs_run") or 0) == 0:
            counted.setdefault(run.model, []).append(float(summary.get("train_seconds") or 0)
                                                     + float(summary.get("refit_train_seconds") or 0))
    left, unknown = 0.0, 0
    for run in runs:
        if run.state == "done":
            continue
        if run.model in counted:
            left += mean(counted[run.model])
            continue
        if run.model not in rates:
            unknown += 1
            continue
        trained, refit = (mean([pair[i] for pair in epochs[run.model]]) for i in (0, 1))
        to_train = 0.0 if run.state == "refit" else max(min(trained, run.cfg.epochs) - run.epochs_done, 0.0)
        left += mean(rates[run.model]) * run.n_train * (to_train + (refit if run.cfg.refit else 0.0))
    return left, len(finished), unknown


def format_duration(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def estimate_line(runs: Sequence[Run]) -> str:
    """``N run(s) to go; estimated time left ...`` (:func:`estimate_seconds`)."""
    left, finished, unknown = estimate_seconds(runs)
    pending = sum(r.state != "done" for r in runs)
    if pending == unknown:
        return f"{pending} run(s) to go; time left: estimated once a run of their model has finished"
    line = (f"{pending} run(s) to go; estimated time left {format_duration(left)} (training epochs, from "
            f"{finished} finished run(s)' seconds per epoch")
    return line + (f"; {unknown} run(s) whose model has no finished run not counted)" if unknown else ")")


# ---------------------------------------------------------------------------- main
def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--datasets", default=None,
                   help=f"comma-separated (default: {', '.join(DEFAULT_DATASETS)}, or the --data ones); known: "
                        f"{', '.join(DATASETS)}")
    p.add_argument("--models", default=None, help="comma-separated (default: every registered session model)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds, one run each (<run>_seed<N>); default: "
                                                 "one run with the config's seed")
    p.add_argument("--data_root", type=Path, default=REPO.parent / "shared" / "data",
                   help="where the datasets' folders are (default: ../shared/data)")
    p.add_argument("--data", action="append", default=[], metavar="NAME=DIR",
                   help="a paper-layout folder of one's own as dataset NAME (repeatable)")
    p.add_argument("--work", type=Path, default=REPO / "exp" / "benchmark",
                   help="the run folders, prepared data and console logs (default: exp/benchmark)")
    p.add_argument("--results", type=Path, default=REPO / "docs" / "results" / "benchmark",
                   help="where finished runs and the tables are copied (default: docs/results/benchmark)")
    p.add_argument("--configs", type=Path, default=REPO / "configs", help="the configs folder (default: configs/)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a config value for every run (YAML value; repeatable), e.g. --set cpu_threads=8; "
                        "the benchmark's own default: valid_split=sessions (--set valid_split=pairs for the "
                        "paper protocol's official split)")
    p.add_argument("--no_refit", action="store_true", help="no refit on training + validation")
    p.add_argument("--python", default=sys.executable,
                   help="the Python command that runs 'srgnn_paddle train' (default: this interpreter)")
    p.add_argument("--dry_run", action="store_true", help="print the runs, their states and the estimate; train nothing")
    p.add_argument("--quiet", action="store_true", help="do not echo the training output (it is still logged)")
    args = p.parse_args(argv)
    if args.seeds is not None:
        try:
            args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            raise SrgnnError(f"--seeds must be integers separated by commas, got {args.seeds!r}") from None
        if not args.seeds or len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
            raise SrgnnError(f"--seeds must list distinct integers >= 0, got {args.seeds!r}")
    sets = {}
    for item in args.sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SrgnnError(f"--set must be KEY=VALUE, got {item!r}")
        sets[key] = yaml.safe_load(value)
    for key in ("model", "dataset", "protocol", "refit", "seed"):
        if key in sets:
            raise SrgnnError(f"--set {key}=...: the benchmark sets '{key}' itself; use --models / --datasets / "
                             f"--seeds / --no_refit")
    sets = {**DEFAULT_SETS, **sets}
    Config().replace(**sets)  # a wrong key or value: one error before anything runs
    args.sets = sets
    args.work, args.results = args.work.resolve(), args.results.resolve()
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        return benchmark(parse_args(argv))
    except SrgnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue", file=sys.stderr)
        return 130


def benchmark(args: argparse.Namespace) -> int:
    log = lambda line: print(line, flush=True)  # noqa: E731
    runs, counts = plan(args, log)
    for run in runs:
        if run.state == "done":
            collect(run, args.results, _console(args, run))
    log(f"== {len(runs)} run(s): " + ", ".join(f"{sum(r.state == s for r in runs)} {s}"
                                               for s in ("done", "refit", "resume", "overwrite", "new")
                                               if any(r.state == s for r in runs)))
    if args.dry_run:
        for run in runs:
            log(f"{run.state:9s} {run.dataset}/{run.name} ({run.config_file or 'paper defaults'}; "
                f"{run.epochs_done} epoch(s) done)")
        log(estimate_line(runs))
        return 0
    failed = []
    for index, run in enumerate(runs, 1):
        if run.state == "done":
            continue
        log(f"== [{index}/{len(runs)}] {time.strftime('%H:%M:%S')} {run.dataset} {run.name}: {run.state} "
            f"({run.config_file or 'paper defaults'}); {estimate_line(runs)}")
        console = _console(args, run)
        status = execute(run, args.python, args.work, console, echo=not args.quiet)
        run.state, run.epochs_done = run_state(run)
        if status in (130, -2):  # Ctrl-C (exit 130, or killed by SIGINT)
            log(f"interrupted during {run.dataset}/{run.name}; run the same command again to continue it")
            return 130
        if status != 0 or run.state != "done":
            failed.append(f"{run.dataset}/{run.name} (exit {status}, see {rel(console)})")
            log(f"== failed: {failed[-1]}")
            continue
        collect(run, args.results, console)
        write_tables(args.results, counts)
    text = write_tables(args.results, counts) if any(r.state == "done" for r in runs) else "(no finished runs)\n"
    log(text + f"== tables in {rel(args.results / 'results.md')} and {rel(args.results)}/<dataset>/compare.md")
    if failed:
        log("== failed runs (run again to retry): " + "; ".join(failed))
        return 1
    return 0


def _console(args: argparse.Namespace, run: Run) -> Path:
    return args.work / "console" / run.dataset / f"{run.name}.txt"


if __name__ == "__main__":
    sys.exit(main())
