"""Command-line interface: ``python -m srgnn_paddle <command>`` / ``srgnn-paddle <command>``.

Each command has an ``_add_<name>(subparsers)`` function that declares its arguments and a
``_cmd_<name>(args)`` function that runs it. User errors (:class:`SrgnnError`) are printed as
one line on stderr with exit status 2; no traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import sys
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from srgnn_paddle.compat import require_paddle
from srgnn_paddle.config import Config, field_choices, load_config
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.prepare import (
    FORMATS,
    MOVIELENS_LAYOUTS,
    PROTOCOLS,
    TRAIN_PAIRS,
    PrepareOptions,
    format_summary,
    prepare_dataset,
)
from srgnn_paddle.protocols import PROTOCOLS as PROTOCOL_REGISTRY
from srgnn_paddle.protocols import protocol_defaults

_COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {}

#: The paired tests of ``compare --test`` / ``significance --test``: the keys of
#: :data:`srgnn_paddle.evaluation.significance.TESTS` (not imported here: it loads Paddle).
TEST_CHOICES = ("wilcoxon", "ttest")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="srgnn-paddle",
        description="Session and sequence recommenders (SR-GNN, GRU4Rec, NARM, STAMP, NCF, count baselines) "
                    "in PaddlePaddle: prepare public data, train, evaluate, predict and report.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _ADDERS:
        add(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Parse ``argv`` and run the command; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _notes_to_stderr(), warnings.catch_warnings():
            # Paddle warns about a missing C++ compiler cache when it is imported; irrelevant here
            warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
            if args.command != "prepare":  # every other command builds, loads or scores a model
                require_paddle()  # an unsupported Paddle: one `error:` line, before anything imports it
            return int(_COMMANDS[args.command](args) or 0)
    except SrgnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _notes_to_stderr() -> Iterator[None]:
    """While a command runs, the package's warnings (e.g. users too short to be sampled) are
    printed as one ``note:`` line each on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("note: %(message)s"))
    handler.setLevel(logging.WARNING)
    logger = logging.getLogger("srgnn_paddle")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--<key>`` flag per Config field, with the field's help text, default and
    allowed values (:func:`~srgnn_paddle.config.field_choices`); unset flags leave the
    YAML/default value."""
    group = parser.add_argument_group("configuration (also settable in the --config YAML file)")
    choices = field_choices()
    defaults = protocol_defaults()
    for f in dataclasses.fields(Config):
        default = getattr(Config(), f.name)
        others = "".join(f"; {values[f.name]!r} with --protocol {protocol}"
                         for protocol, values in defaults.items() if values.get(f.name, default) != default)
        text = f"{f.metadata['help']} (default: {default!r}{others})"
        if isinstance(default, bool):
            group.add_argument(f"--{f.name}", action=argparse.BooleanOptionalAction, default=None, help=text)
        elif f.name in choices:
            group.add_argument(f"--{f.name}", choices=choices[f.name], default=None, help=text)
        else:
            group.add_argument(f"--{f.name}", type=type(default), default=None,
                               metavar=type(default).__name__.upper(), help=text)


def _config_from_args(args: argparse.Namespace) -> Config:
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}
    return load_config(args.config, overrides)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (--model, default SR-GNN) with early stopping under a "
                                     "protocol, then score the test split once",
                       description="Train one model of the registry (--model: SR-GNN, GRU4Rec, NARM, STAMP, GRUwATT, "
                                   "GGNNwATT, GMF / MLP / NeuMF, or count it: pop, spop, itemknn, sknn, sr, vsknn, stan, "
                                   "vstan) under one "
                                   "protocol (--protocol), select the epoch on the validation split, score the test "
                                   "split and the popularity baseline, draw the curves and the t-SNE map. Without "
                                   "--data_dir the embedded synthetic data is used (generated into data/synthetic/ "
                                   "when missing).")
    p.add_argument("--data_dir", default=None,
                   help="; ".join(f"{name} protocol: {protocol.data_help}"
                                  for name, protocol in PROTOCOL_REGISTRY.items()))
    p.add_argument("--exp_dir", default="exp", help="where run folders go (default: exp/)")
    p.add_argument("--config", default=None, help="YAML config (e.g. configs/notebook.yaml)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in its folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--seeds", default=None, metavar="N,N,...",
                   help="train one run per seed, one after another, each in its own folder <run name>_seed<N> "
                        "('report' shows them as mean +- std); excludes --seed")
    _add_config_flags(p)
    _COMMANDS["train"] = _cmd_train


def _resolve_data(args: argparse.Namespace, cfg: Config) -> Tuple[Path, Config]:
    """The data folder (generating the default synthetic data when none is given), and the
    config whose ``dataset`` names the data actually used: ``--dataset`` when given on the
    command line, else the data folder's (a YAML file's ``dataset`` does not name a run on
    other data)."""
    from srgnn_paddle.data.interactions import dataset_name

    if args.data_dir is None:
        from srgnn_paddle.synthetic import DEFAULT_DIR, ensure_synthetic

        data_dir = ensure_synthetic(Path(DEFAULT_DIR), seed=2024)
    else:
        data_dir = Path(args.data_dir)
    if args.dataset is None:
        cfg = cfg.replace(dataset=dataset_name(data_dir))
    return data_dir, cfg


def _parse_seeds(text: Optional[str], seed: Optional[int]) -> Optional[List[int]]:
    """``--seeds 1,2,3`` as a list of distinct integers (None when not given)."""
    if text is None:
        return None
    if seed is not None:
        raise SrgnnError("--seeds and --seed exclude each other; give the seeds in --seeds only")
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SrgnnError(f"--seeds must be integers separated by commas (e.g. 1,2,3), got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise SrgnnError(f"--seeds must list distinct integers >= 0 (e.g. 1,2,3), got {text!r}")
    return seeds


def _cmd_train(args: argparse.Namespace) -> int:
    """Train (once, or once per ``--seeds`` seed), then print each run's log table (with the
    popularity baseline row)."""
    from srgnn_paddle.report import format_log_table
    from srgnn_paddle.runs import run_dir_for, train_run
    from srgnn_paddle.training import CHECKPOINT_FILE

    seeds = _parse_seeds(args.seeds, args.seed)
    cfg = _config_from_args(args)
    data_dir, cfg = _resolve_data(args, cfg)
    runs = [(cfg, "")] if seeds is None else [(cfg.replace(seed=seed), f"_seed{seed}") for seed in seeds]
    for run_cfg, suffix in runs:
        # with --seeds, --resume continues the seeds that have a checkpoint and starts the others
        resume = args.resume and (seeds is None
                                  or (run_dir_for(run_cfg, Path(args.exp_dir), suffix) / CHECKPOINT_FILE).is_file())
        run_dir, summary = train_run(run_cfg, data_dir, Path(args.exp_dir), resume=resume,
                                     overwrite=args.overwrite, progress=not args.quiet, name_suffix=suffix)
        if not summary:  # a data-parallel rank other than 0: rank 0 reports
            continue
        print(format_log_table(run_dir))
        print(f"best epoch {summary['best_epoch']}; results in {run_dir}")
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a saved run's best weights on the test (or valid) split with its "
                                        "protocol's metrics",
                       description="Load a finished run's config and best weights and print its protocol's metrics "
                                   "on the test (or validation) split of its data folder.")
    p.add_argument("--run_dir", required=True, help="a run folder written by 'train'")
    p.add_argument("--data_dir", default=None,
                   help="the data folder the run was trained on (default: the one recorded in its summary.json)")
    p.add_argument("--split", choices=("test", "valid"), default="test")
    p.add_argument("--quiet", action="store_true")
    _COMMANDS["evaluate"] = _cmd_evaluate


def _cmd_evaluate(args: argparse.Namespace) -> int:
    """Print one ``metric<TAB>value`` line per metric."""
    from srgnn_paddle.runs import evaluate_run

    data_dir = Path(args.data_dir) if args.data_dir else None
    metrics = evaluate_run(Path(args.run_dir), data_dir, args.split, progress=not args.quiet)
    for key, value in metrics.items():
        print(f"{key}\t{value:.6f}")
    return 0


def _add_tsne(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tsne", help="t-SNE map of a saved run's item embeddings as a PNG",
                       description="Draw the t-SNE map of a run's item embeddings, coloured by category when the data folder has items.csv, else by "
                                   "training-popularity decile.")
    p.add_argument("--run_dir", required=True, help="a run folder written by 'train'")
    p.add_argument("--data_dir", default=None,
                   help="the run's data folder, for the colours (default: the one recorded in its summary.json)")
    p.add_argument("--out", default=None, help="PNG to write (default: <run_dir>/tsne.png)")
    p.add_argument("--max_items", type=int, default=None,
                   help="t-SNE on a seeded sample of this many items; 0 = all (default: the run's tsne_max_items)")
    _COMMANDS["tsne"] = _cmd_tsne


def _cmd_tsne(args: argparse.Namespace) -> int:
    """Write the t-SNE PNG and print its path."""
    from srgnn_paddle.runs import tsne_run

    if args.max_items is not None and args.max_items < 0:
        raise SrgnnError(f"--max_items must be >= 0, got {args.max_items}")
    out = tsne_run(Path(args.run_dir), Path(args.data_dir) if args.data_dir else None,
                   Path(args.out) if args.out else None, args.max_items)
    print(f"wrote {out}")
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="top-K next items of every session of a sessions CSV, original item ids",
                       description="Score every session of a CSV with a 'session' column (item ids as [1, 2, 3] or "
                                   "1 2 3; a 'label' column is not needed) with a run's selected model and write "
                                   "the K best next items per session, with the original item ids of the run's "
                                   "data folder (item_map.csv).")
    p.add_argument("--run_dir", required=True, help="a run folder written by 'train'")
    p.add_argument("--input", required=True, help="the sessions CSV (e.g. test_sessions.csv)")
    p.add_argument("--out", required=True, help="CSV to write: the input's columns but label, then 'prediction'")
    p.add_argument("--topk", type=int, default=20, help="items per session (default 20)")
    p.add_argument("--data_dir", default=None,
                   help="the run's data folder, for item_map.csv (default: the one recorded in its summary.json)")
    p.add_argument("--refit", action="store_true", help="use the refit model (train --refit) instead of the selected one")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _COMMANDS["predict"] = _cmd_predict


def _cmd_predict(args: argparse.Namespace) -> int:
    """Write the predictions and say how many sessions they cover."""
    from srgnn_paddle.runs import predict_run

    counts = predict_run(Path(args.run_dir), Path(args.input), Path(args.out), args.topk,
                         Path(args.data_dir) if args.data_dir else None, use_refit=args.refit,
                         progress=not args.quiet, log=lambda line: print(line, file=sys.stderr))
    print(f"wrote the top {args.topk} items of {counts['sessions']} session(s) to {args.out}")
    return 0


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="one table per dataset: every model's runs (mean +- std over seeds) beside "
                                       "the published numbers",
                       description="Scan the experiment folder and print one table per dataset, models as rows "
                                   "(runs differing only in --seed pooled as mean +- std), with the published "
                                   "numbers beside them, the training and test-pass timings, the parameter count "
                                   "and a paired significance test of each row against the best one; writes "
                                   "results.md and results.csv (as 'report'), and with --figure one PNG per "
                                   "dataset.")
    p.add_argument("--exp_dir", default="exp", help="the folder 'train' wrote runs to (default: exp/)")
    p.add_argument("--test", choices=TEST_CHOICES, default="wilcoxon",
                   help="the paired test of the p-value columns, each row against the best one on the same test "
                        "pairs (paper protocol runs, from their test_ranks.npy): wilcoxon (signed-rank, default) or "
                        "ttest (paired t-test); Holm-adjusted over the table")
    p.add_argument("--figure", default=None, metavar="PNG",
                   help="also draw each dataset's models as bars (mean +- std over seeds, published figures as "
                        "markers, training seconds on a log axis) into this PNG; with several dataset folders, "
                        "one file each: <stem>_<dataset folder>.png")
    _COMMANDS["compare"] = _cmd_compare


def _cmd_compare(args: argparse.Namespace) -> int:
    """Print the comparison tables and where they and the figures were written."""
    from srgnn_paddle.report import RESULTS_MD, comparison_markdown, write_figures, write_report

    frame, _ = write_report(Path(args.exp_dir), args.test)
    print(comparison_markdown(Path(args.exp_dir), args.test), end="")
    figures = write_figures(Path(args.exp_dir), Path(args.figure)) if args.figure else []
    print(f"{len(frame)} run(s); wrote {Path(args.exp_dir) / RESULTS_MD}"
          + "".join(f" and {path}" for path in figures))
    return 0


def _add_significance(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("significance", help="paired test of one run against others on the same test pairs "
                                            "(P@K / MRR@K per pair, from their test_ranks.npy)",
                       description="Compare the first run folder with each other one pair by pair on their saved "
                                   "test ranks (paper protocol runs write test_ranks.npy): per-pair hits@K and "
                                   "reciprocal ranks@K, the Wilcoxon signed-rank test or the paired t-test, "
                                   "p-values Holm-adjusted over the comparisons. Runs scored on other test pairs "
                                   "are refused.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders written by 'train' (two or more)")
    p.add_argument("--test", choices=TEST_CHOICES, default="wilcoxon", help="default: wilcoxon")
    p.add_argument("--k", type=int, default=20, help="the cut-off K of P@K and MRR@K (default 20)")
    p.add_argument("--refit", action="store_true", help="compare the runs' refit models (train --refit)")
    _COMMANDS["significance"] = _cmd_significance


def _cmd_significance(args: argparse.Namespace) -> int:
    """Print the table of :func:`srgnn_paddle.evaluation.significance.significance_table`."""
    from srgnn_paddle.evaluation.significance import significance_table

    print(significance_table(args.run_dirs, args.k, args.test, args.refit), end="")
    return 0


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="one row per run folder under --exp_dir (its protocol's metrics at its topN), "
                                      "with published numbers beside; writes results.md / results.csv",
                       description="Scan the experiment folder, print one row per run and write "
                                   "results.md and results.csv into it.")
    p.add_argument("--exp_dir", default="exp", help="the folder 'train' wrote runs to (default: exp/)")
    _COMMANDS["report"] = _cmd_report


def _cmd_report(args: argparse.Namespace) -> int:
    """Print the report table and where it was written."""
    from srgnn_paddle.report import RESULTS_CSV, RESULTS_MD, write_report

    frame, text = write_report(Path(args.exp_dir))
    print(text, end="")
    print(f"{len(frame)} run(s); wrote {Path(args.exp_dir) / RESULTS_MD} and {Path(args.exp_dir) / RESULTS_CSV}")
    return 0


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    """``prepare FORMAT --input PATH --output DIR``: raw public data into a dataset folder."""
    p = sub.add_parser(
        "prepare",
        help="raw public data (MovieLens, Amazon, CSV, DIGINETICA, YOOCHOOSE, labelled sessions) into a dataset folder",
        description="Turn a raw public file into the notebook's CSV triple (train_enc/valid_enc/test_enc.csv), "
                    "the SR-GNN paper's session pickles (all_train_seq.txt, train.txt, test.txt) or the NCF "
                    "leave-one-out files (<name>.train.rating, .test.rating, .test.negative, and the validation "
                    "split's .valid.rating, .valid.negative).",
    )
    p.add_argument("format", choices=FORMATS, help="the raw file's format")
    p.add_argument("--input", required=True,
                   help="the raw file (ratings.dat, Beauty.txt, train-item-views.csv, train_sessions.csv, ...)")
    p.add_argument("--output", required=True, help="dataset folder to create (refused if it exists, see --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    p.add_argument("--protocol", choices=PROTOCOLS, default=None,
                   help="notebook: user CSV triple; paper: session pickles (diginetica/yoochoose/sessions-csv: "
                        "their default; amazon-seq: leave-last-out per user, with valid.txt); loo: NCF leave-one-out "
                        "files (users' latest interaction as test, the one before as validation, sampled negatives)")
    p.add_argument("--layout", choices=MOVIELENS_LAYOUTS, default=None,
                   help="movielens: ratings.dat (dat), ratings.csv (csv) or u.data (udata); default: from the file")
    p.add_argument("--rating_threshold", type=float, default=None,
                   help="notebook, loo: keep interactions with rating >= this")
    p.add_argument("--min_item_count", type=int, default=None,
                   help="minimum interactions per item (notebook default 1, paper default 5)")
    p.add_argument("--min_user_count", type=int, default=None,
                   help="notebook: minimum interactions per user (default 5); loo: (default 3)")
    p.add_argument("--seed", type=int, default=None,
                   help="notebook: seed of the 8:1:1 user split; sessions-csv: of the test hold-out; loo: of the "
                        "sampled negatives (default 2024)")
    p.add_argument("--negatives", type=int, default=None,
                   help="loo: negatives sampled per validation and test item (default 99)")
    p.add_argument("--user_col", default=None, help="interactions-csv: user column (default user_id)")
    p.add_argument("--item_col", default=None, help="interactions-csv: item column (default item_id)")
    p.add_argument("--time_col", default=None,
                   help="interactions-csv: time column, integers or date-times (default timestamp)")
    p.add_argument("--rating_col", default=None, help="interactions-csv: rating column (optional)")
    p.add_argument("--sep", default=None, help="interactions-csv: field separator (default ','; '\\t' or tab for tab)")
    p.add_argument("--test_days", type=int, default=None,
                   help="paper: days at the end that form the test set (diginetica 7, yoochoose 1)")
    p.add_argument("--train_pairs", choices=TRAIN_PAIRS, default=None,
                   help="amazon-seq with --protocol paper: train.txt holds every prefix of each user's training "
                        "items (prefixes, default: the paper's augmentation) or only the longest one (last)")
    p.add_argument("--keep_split_day", action="store_true",
                   help="paper: put sessions dated exactly on the split date into training "
                        "(the published script drops them)")
    p.add_argument("--test_portion", type=float, default=None,
                   help="sessions-csv: share of the labelled rows held out as the test split (default 0.2)")


def _cmd_prepare(args: argparse.Namespace) -> int:
    """Run :func:`srgnn_paddle.prepare.prepare_dataset` and print its summary."""
    options = PrepareOptions(
        protocol=args.protocol, rating_threshold=args.rating_threshold, min_item_count=args.min_item_count,
        min_user_count=args.min_user_count, seed=args.seed, layout=args.layout, user_col=args.user_col,
        item_col=args.item_col, time_col=args.time_col, rating_col=args.rating_col, sep=args.sep,
        test_days=args.test_days, keep_split_day=args.keep_split_day, test_portion=args.test_portion,
        train_pairs=args.train_pairs, negatives=args.negatives,
    )
    meta = prepare_dataset(args.format, args.input, args.output, options, overwrite=args.overwrite)
    print(format_summary(meta, args.output))
    return 0


_COMMANDS["prepare"] = _cmd_prepare


def _add_tune(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="seeded hyper-parameter search of a counted baseline (sknn, vsknn, stan, vstan, "
                                    "sr), scored on the validation split only",
                       description="Search the options a counted model declares (or those of --space): each trial "
                                   "counts the model on the protocol's training part and scores the validation "
                                   "split only (never the test split); the best by the protocol's selection metric "
                                   "(paper: P@20, then MRR@20) is written as a config for 'train --config'. Writes "
                                   "search.yaml, trials.csv, trials.md and best.yaml to --out; run again on the same "
                                   "--out, the trials already in trials.csv are not run again.")
    p.add_argument("--data_dir", default=None,
                   help="the data folder, as for 'train' (default: the embedded synthetic data)")
    p.add_argument("--config", default=None,
                   help="YAML config the search starts from (e.g. configs/paper_diginetica.yaml)")
    p.add_argument("--out", required=True, help="folder for the trials table and best.yaml")
    p.add_argument("--trials", type=int, default=20,
                   help="budget: trials in all, the starting settings (the config's values) first (default 20)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--random", dest="mode", action="store_const", const="random",
                      help="draw distinct settings at random with --search_seed (the default)")
    mode.add_argument("--grid", dest="mode", action="store_const", const="grid",
                      help="the product of the value lists, in order, up to --trials")
    p.set_defaults(mode="random")
    p.add_argument("--search_seed", type=int, default=0,
                   help="seed of the random draws (default 0); --seed is the run's seed, which picks the "
                        "validation pairs with valid_split pairs")
    p.add_argument("--space", default=None, metavar="FILE.yaml",
                   help="search only these of the model's options, with these values: 'option: [v1, v2, ...]' lines")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_config_flags(p)
    _COMMANDS["tune"] = _cmd_tune


def _cmd_tune(args: argparse.Namespace) -> int:
    """Run the search, then print the best trial and where its config is."""
    from srgnn_paddle.training.search import BEST_FILE, TRIALS_MD, Search, model_space, read_space

    if args.trials < 1:
        raise SrgnnError(f"--trials must be at least 1, got {args.trials}")
    cfg = _config_from_args(args)
    model_space(cfg.model)  # a trained or unknown model: one error line before the data is read
    data_dir, cfg = _resolve_data(args, cfg)
    space = read_space(Path(args.space), cfg.model, cfg) if args.space else None
    search = Search(cfg, data_dir, Path(args.out), space, log=lambda line: print(line, file=sys.stderr))
    best = search.run(args.trials, args.mode, args.search_seed, progress=not args.quiet)
    out = Path(args.out)
    print(f"best: trial {best['trial']}: " + " ".join(f"{k}={best[k]}" for k in search.space)
          + "".join(f", {c} {float(best[c]):.2f}" for c in [c for c in best if "@" in c][:2]))
    print(f"{len(search.rows)} trials in {out / TRIALS_MD}; train the best with --config {out / BEST_FILE}")
    return 0


def _add_serving(sub: argparse._SubParsersAction) -> None:
    """``export`` and ``serve``: declared and run by :mod:`srgnn_paddle.serving.commands`."""
    from srgnn_paddle.serving.commands import add_export, add_serve

    _COMMANDS["export"] = add_export(sub)
    _COMMANDS["serve"] = add_serve(sub)


_ADDERS: List[Callable[[argparse._SubParsersAction], None]] = [
    _add_train, _add_tune, _add_evaluate, _add_tsne, _add_predict, _add_report, _add_compare, _add_significance,
    _add_prepare, _add_serving,
]
