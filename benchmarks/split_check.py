"""Which validation split's choices track the test set better: the official seeded share of
the prefix pairs (``valid_split: pairs``, whose sessions also have pairs in training) or the
most recent whole sessions (``valid_split: sessions``, nothing of them trained on).

Every (model, ``--grid`` point, seed) is trained once with each split under the paper protocol, the test set
scored after every epoch (``select_on: test``; the epoch is still selected on validation).
From the runs' ``log.csv``:

* epoch choice, per run: the Spearman rank correlation of the validation and the test
  ``P@K`` over the epochs, the test ``P@K`` lost by taking validation's epoch instead of the
  test-best one (regret), and whether both are the same epoch;
* model choice, per split: the Spearman correlation, over the runs, of the selected epoch's
  validation and test ``P@K`` (does validation rank the configurations as the test set
  does?), and the test ``P@K`` lost by taking the validation-best run;
* how far validation's ``P@K`` is above the test's (the leak inflates it).

Counted models (``pop``, ``sknn``, ``stan``, ...) have no epochs: they add their one validation
and one test score to the model choice and to the validation - test gap, not to the epoch
figures (``epochs`` 0 in their rows).

    python benchmarks/split_check.py --data_dir ../shared/data/tmall --models stamp,narm --seeds 1,2,3
    python benchmarks/split_check.py ... --epochs 3           # a bounded form

Resumable like ``benchmarks/session_benchmark.py`` (finished runs skipped, interrupted ones
continued); the run folders go to ``--work``, each finished run's files and the analysis
(``split_check.json``, ``split_check.md``) to ``--results/<dataset>/``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import session_benchmark as sb  # noqa: E402
from srgnn_paddle.errors import SrgnnError  # noqa: E402

SPLITS = ("pairs", "sessions")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_dir", type=Path, required=True, help="a paper-layout folder (all_train_seq.txt, test.txt)")
    p.add_argument("--dataset", default=None, help="its name (default: the folder's)")
    p.add_argument("--models", default="stamp,narm", help="comma-separated (default: stamp,narm)")
    p.add_argument("--seeds", default="1,2,3", help="comma-separated (default: 1,2,3)")
    p.add_argument("--splits", default=",".join(SPLITS), help="comma-separated (default: pairs,sessions)")
    p.add_argument("--epochs", type=int, default=0, help="epochs of every run (default: the config's)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a config value for every run (YAML value; repeatable)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="train every combination of these values (repeatable), e.g. --grid lr=0.001,0.0005; "
                        "each combination's runs go to <work>/<split>/<key><value>_.../")
    p.add_argument("--configs", type=Path, default=sb.REPO / "configs", help="the configs folder")
    p.add_argument("--work", type=Path, default=sb.REPO / "exp" / "split_check", help="run folders (default: exp/split_check)")
    p.add_argument("--results", type=Path, default=sb.REPO / "docs" / "results" / "split_check",
                   help="where the runs' files and the analysis go (default: docs/results/split_check)")
    p.add_argument("--python", default=sys.executable, help="the Python command that runs 'srgnn_paddle train'")
    p.add_argument("--analyse_only", action="store_true", help="train nothing; analyse the finished runs")
    p.add_argument("--quiet", action="store_true", help="do not echo the training output (it is still logged)")
    args = p.parse_args(argv)
    args.sets = {}
    for item in p.parse_args(argv).sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise SrgnnError(f"--set must be KEY=VALUE, got {item!r}")
        args.sets[key] = yaml.safe_load(value)
    for key in ("valid_split", "select_on", "model", "seed", "refit"):
        if key in args.sets:
            raise SrgnnError(f"--set {key}=...: the split check sets '{key}' itself")
    if args.epochs:
        args.sets["epochs"] = args.epochs
    args.grid_points = [{}]
    for item in args.grid:
        key, sep, values = item.partition("=")
        if not sep or not values or key in args.sets or key in ("valid_split", "select_on", "model", "seed", "refit"):
            raise SrgnnError(f"--grid must be KEY=V1,V2,... with a key neither --set nor set by the check, got {item!r}")
        args.grid_points = [{**point, key: yaml.safe_load(v)} for point in args.grid_points for v in values.split(",")]
    args.splits = [s for s in args.splits.split(",") if s]
    if not args.splits or set(args.splits) - set(SPLITS):
        raise SrgnnError(f"--splits must name some of {', '.join(SPLITS)}, got {','.join(args.splits)!r}")
    args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.work, args.results = args.work.resolve(), args.results.resolve()
    return args


def plan(args: argparse.Namespace) -> List[sb.Run]:
    from srgnn_paddle.data.interactions import dataset_name
    from srgnn_paddle.runs import run_dir_for

    if not sb._has_pickles(args.data_dir):
        raise SrgnnError(f"{args.data_dir}: no all_train_seq.txt / train.txt and test.txt there")
    name = args.dataset or dataset_name(args.data_dir)
    spec = sb.Dataset(name, str(args.data_dir.resolve()), f"paper_{name}.yaml")
    registered = sb.session_models()
    models = sb._choose(args.models, registered, {m: m for m in registered}, "session model")
    n_train = sb.dataset_counts(args.data_dir)["train_pairs"]
    runs = []
    for split in args.splits:
        for model in models:
            for point in args.grid_points:
                for seed in args.seeds:
                    sets = {**args.sets, **point, "valid_split": split, "select_on": "test"}
                    config_name, cfg = sb.resolve_config(model, spec, args.configs, sets, False, seed)
                    run = sb.Run(name, args.data_dir.resolve(), model, seed, config_name, cfg,
                                 run_dir_for(cfg, args.work / split / grid_tag(point), f"_seed{seed}"))
                    run.state, run.epochs_done = sb.run_state(run)
                    run.n_train = n_train
                    runs.append(run)
    return runs


def grid_tag(point: Dict[str, Any]) -> str:
    """The folder of one ``--grid`` point (``lr0.0005_dropout0.2``; ``default`` without a grid)."""
    return "_".join(f"{key}{value}" for key, value in point.items()) or "default"


def work_of(run: sb.Run) -> Path:
    """The exp folder of a run (``<work>/<split>/<grid point>``)."""
    return run.run_dir.parent.parent


def label(run: sb.Run) -> str:
    """``<grid point>/<run folder>``."""
    return f"{work_of(run).name}/{run.name}"


# ---------------------------------------------------------------------------- analysis
def run_row(run: sb.Run) -> Dict[str, Any]:
    """The epoch-choice figures of one finished run (``P@K`` and ``MRR@K`` at its ``topN``)."""
    k = run.cfg.topN
    p, mrr = f"P@{k}", f"MRR@{k}"
    log = pd.read_csv(run.run_dir / "log.csv")
    summary = json.loads((run.run_dir / "summary.json").read_text())
    valid = log[log["phase"] == "valid"].set_index("epoch")
    test = log[log["phase"] == "test_epoch"].set_index("epoch")
    counted = test.empty  # a counted model: one validation and one test score (epoch 0)
    if counted:
        test = log[log["phase"] == "test"].set_index("epoch")
    epochs = valid.index.intersection(test.index)
    chosen = int(summary["best_epoch"])
    best_test = int(test.loc[epochs, p].idxmax())
    rho = spearman(valid.loc[epochs, p], test.loc[epochs, p]) if len(epochs) >= 3 else None
    return {"split": run.cfg.valid_split, "model": run.model, "seed": run.seed, "run": label(run),
            "epochs": 0 if counted else len(epochs), "chosen_epoch": chosen, "test_best_epoch": best_test,
            "same_epoch": bool(test.loc[chosen, p] == test.loc[best_test, p]), "epoch_spearman": rho,
            "valid_at_chosen": float(valid.loc[chosen, p]), "test_at_chosen": float(test.loc[chosen, p]),
            "test_best": float(test.loc[best_test, p]), "regret": float(test.loc[best_test, p] - test.loc[chosen, p]),
            "valid_mrr_at_chosen": float(valid.loc[chosen, mrr]), "test_mrr_at_chosen": float(test.loc[chosen, mrr]),
            "valid_minus_test": float(valid.loc[chosen, p] - test.loc[chosen, p]), "metric": p}


def spearman(a: pd.Series, b: pd.Series) -> Optional[float]:
    """The Spearman rank correlation of two equally long series (average ranks for ties);
    ``None`` when either is constant."""
    a, b = pd.Series(list(a), dtype=float), pd.Series(list(b), dtype=float)
    if a.nunique() < 2 or b.nunique() < 2:
        return None
    return float(a.rank().corr(b.rank()))


def analyse(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Per split: the epoch-choice means over its runs and the model choice over its runs."""
    out: Dict[str, Dict[str, Any]] = {}
    frame = pd.DataFrame(rows)
    for split, part in frame.groupby("split", sort=False) if len(frame) else []:
        chosen = part.loc[part["valid_at_chosen"].idxmax()]
        trained = part[part["epochs"] > 0]  # the epoch figures: trained models only
        out[split] = {
            "runs": int(len(part)),
            "epoch_spearman_mean": _finite(pd.to_numeric(trained["epoch_spearman"]).mean()),
            "same_epoch_share": float(trained["same_epoch"].mean()) if len(trained) else None,
            "epoch_regret_mean": float(trained["regret"].mean()) if len(trained) else None,
            "model_spearman": spearman(part["valid_at_chosen"], part["test_at_chosen"]) if len(part) >= 3 else None,
            "model_regret": float(part["test_at_chosen"].max() - chosen["test_at_chosen"]),
            "valid_minus_test_mean": float(part["valid_minus_test"].mean()),
        }
    return out


def _finite(value: float) -> Optional[float]:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def report(rows: List[Dict[str, Any]], summary: Dict[str, Dict[str, Any]], dataset: str, command: str) -> str:
    metric = rows[0]["metric"] if rows else "P@20"
    lines = [f"# Validation split check: {dataset}", "", f"Command: `{command}`", "",
             f"## Per split ({metric})", "",
             "| split | runs | epoch Spearman (mean) | same epoch as test-best | epoch regret (mean) | "
             "model Spearman | model regret | valid - test (mean) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    fmt = lambda v, d=3: "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{d}f}"  # noqa: E731
    for split, s in summary.items():
        share = "n/a" if s["same_epoch_share"] is None else f"{s['same_epoch_share']:.0%}"
        lines.append(f"| {split} | {s['runs']} | {fmt(s['epoch_spearman_mean'])} | {share} | "
                     f"{fmt(s['epoch_regret_mean'], 2)} | {fmt(s['model_spearman'])} | {fmt(s['model_regret'], 2)} | "
                     f"{fmt(s['valid_minus_test_mean'], 2)} |")
    lines += ["", "## Per run", "", "| split | run | epochs | chosen | test-best | epoch Spearman | valid | test | "
              "test best | regret |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['split']} | {r['run']} | {r['epochs']} | {r['chosen_epoch']} | {r['test_best_epoch']} | "
                     f"{fmt(r['epoch_spearman'])} | {r['valid_at_chosen']:.2f} | {r['test_at_chosen']:.2f} | "
                     f"{r['test_best']:.2f} | {r['regret']:.2f} |")
    lines += ["", "Epoch Spearman needs 3 epochs or more (n/a otherwise); model Spearman 3 runs or more. Regrets "
              "are test points lost by following validation. Counted models (epochs 0) count in the model "
              "choice and the valid - test gap only."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- main
def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        return check(parse_args(argv), argv)
    except SrgnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue", file=sys.stderr)
        return 130


def check(args: argparse.Namespace, argv: Optional[Sequence[str]]) -> int:
    runs = plan(args)
    dataset = runs[0].dataset
    results = args.results / dataset
    failed = []
    for index, run in enumerate(runs, 1):
        if args.analyse_only or run.state == "done":
            continue
        split = run.cfg.valid_split
        print(f"== [{index}/{len(runs)}] {time.strftime('%H:%M:%S')} {split} {label(run)}: {run.state}; "
              f"{sb.estimate_line(runs)}", flush=True)
        console = work_of(run) / "console" / f"{run.name}.txt"
        status = sb.execute(run, args.python, work_of(run), console, echo=not args.quiet)
        run.state, run.epochs_done = sb.run_state(run)
        if status in (130, -2):
            print(f"interrupted during {split}/{label(run)}; run the same command again to continue it")
            return 130
        if status != 0 or run.state != "done":
            failed.append(f"{split}/{label(run)} (exit {status}, see {sb.rel(console)})")
    done = [r for r in runs if r.state == "done"]
    for run in done:
        sb.copy_run(run.run_dir, work_of(run) / "console" / f"{run.name}.txt",
                    results / run.cfg.valid_split / label(run))
    rows = [run_row(r) for r in done]
    summary = analyse(rows)
    given = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--analyse_only"]
    command = "python benchmarks/split_check.py " + " ".join(given)
    if done:
        results.mkdir(parents=True, exist_ok=True)
        (results / "split_check.json").write_text(json.dumps({"command": command, "per_split": summary,
                                                               "runs": rows}, indent=2, default=str) + "\n")
        text = report(rows, summary, dataset, command)
        (results / "split_check.md").write_text(text)
        print(text + f"== {len(done)} of {len(runs)} run(s) finished; written to {sb.rel(results)}")
    else:
        print(f"== no finished run yet ({len(runs)} planned)")
    if failed:
        print("== failed runs (run again to retry): " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
