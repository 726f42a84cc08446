"""Copy what the results keep of one finished run folder, as the session benchmark does: its
``log.csv``, ``summary.json``, ``config.yaml``, ``refit/log.csv`` (as ``refit_log.csv``), the
console output (as ``console.txt``) and its test ranks, compacted to ``uint8``. The shell
scripts that train rows outside the benchmark (``diginetica_session_models.sh``,
``tuned_counted_runs.sh``) call it, so every results folder holds the same files.

    python benchmarks/copy_run.py RUN_DIR CONSOLE TARGET
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from session_benchmark import copy_run  # noqa: E402


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path, help="a finished run folder (with summary.json)")
    p.add_argument("console", type=Path, help="the run's console log (skipped when absent)")
    p.add_argument("target", type=Path, help="the results folder of the run (created)")
    args = p.parse_args(argv)
    if not (args.run_dir / "summary.json").is_file():
        print(f"error: {args.run_dir}: no summary.json, so the run has not finished; train it first",
              file=sys.stderr)
        return 2
    copy_run(args.run_dir, args.console, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
