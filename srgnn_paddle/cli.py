"""Command-line interface: ``python -m srgnn_paddle <command>`` / ``srgnn-paddle <command>``.

Each command has an ``_add_<name>(subparsers)`` function that declares its arguments and a
``_cmd_<name>(args)`` function that runs it. User errors (:class:`SrgnnError`) are printed as
one line on stderr with exit status 2; no traceback.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Dict, List, Optional

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


_ADDERS: List[Callable[[argparse._SubParsersAction], None]] = []
