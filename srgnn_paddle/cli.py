"""Command-line interface: ``python -m srgnn_paddle <command>`` / ``srgnn-paddle <command>``.

Each command has an ``_add_<name>(subparsers)`` function that declares its arguments and a
``_cmd_<name>(args)`` function that runs it. User errors (:class:`SrgnnError`) are printed as
one line on stderr with exit status 2; no traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from srgnn_paddle.config import Config, load_config
from srgnn_paddle.errors import SrgnnError

_COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="srgnn-paddle",
        description="SR-GNN session/sequence recall in PaddlePaddle 3.",
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
        return int(_COMMANDS[args.command](args) or 0)
    except SrgnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--<key>`` flag per Config field; unset flags leave the YAML/default value."""
    for f in dataclasses.fields(Config):
        default = getattr(Config(), f.name)
        if isinstance(default, bool):
            parser.add_argument(f"--{f.name}", action=argparse.BooleanOptionalAction, default=None)
        else:
            parser.add_argument(f"--{f.name}", type=type(default), default=None, metavar=type(default).__name__.upper())


def _config_from_args(args: argparse.Namespace) -> Config:
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}
    return load_config(args.config, overrides)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train SR-GNN with early stopping, then score the test split once",
                       description="Train SR-GNN. Without --data_dir the embedded synthetic data is used "
                                   "(generated into data/synthetic/ when missing).")
    p.add_argument("--data_dir", default=None,
                   help="notebook protocol: folder with train_enc.csv, valid_enc.csv, test_enc.csv; "
                        "paper protocol: folder with all_train_seq.txt or train.txt, and test.txt")
    p.add_argument("--exp_dir", default="exp", help="where run folders go (default: exp/)")
    p.add_argument("--config", default=None, help="YAML config (e.g. configs/notebook.yaml)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in its folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_config_flags(p)
    _COMMANDS["train"] = _cmd_train


def _resolve_data(args: argparse.Namespace, cfg: Config) -> Tuple[Path, Config]:
    """The data folder (generating the default synthetic data when none is given)."""
    if args.data_dir is None:
        from srgnn_paddle.synthetic import DEFAULT_DIR, ensure_synthetic

        data_dir = ensure_synthetic(Path(DEFAULT_DIR), seed=2024)
    else:
        data_dir = Path(args.data_dir)
    if not cfg.dataset:
        cfg = cfg.replace(dataset=data_dir.resolve().name)
    return data_dir, cfg


def _cmd_train(args: argparse.Namespace) -> int:
    from srgnn_paddle.runs import train_run
    from srgnn_paddle.report import format_log_table

    cfg = _config_from_args(args)
    data_dir, cfg = _resolve_data(args, cfg)
    run_dir, summary = train_run(cfg, data_dir, Path(args.exp_dir), resume=args.resume,
                                 overwrite=args.overwrite, progress=not args.quiet)
    print(format_log_table(run_dir))
    print(f"best epoch {summary['best_epoch']}; results in {run_dir}")
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a saved run's best weights on the test (or valid) split")
    p.add_argument("--run_dir", required=True, help="a run folder written by 'train'")
    p.add_argument("--data_dir", required=True, help="the data folder the run was trained on")
    p.add_argument("--split", choices=("test", "valid"), default="test")
    p.add_argument("--quiet", action="store_true")
    _COMMANDS["evaluate"] = _cmd_evaluate


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from srgnn_paddle.runs import evaluate_run

    metrics = evaluate_run(Path(args.run_dir), Path(args.data_dir), args.split, progress=not args.quiet)
    for key, value in metrics.items():
        print(f"{key}\t{value:.6f}")
    return 0


_ADDERS: List[Callable[[argparse._SubParsersAction], None]] = [_add_train, _add_evaluate]
