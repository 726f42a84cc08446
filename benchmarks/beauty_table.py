"""Print the Beauty comparison table of docs/session_models.md from the raw run outputs
under docs/results/beauty/ (summary.json and log.csv of each run).

    python benchmarks/beauty_table.py [RESULTS_DIR]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

MODELS = ["gru4rec", "narm", "stamp", "gruwatt", "ggnnwatt", "srgnn"]
#: (column title, data folder, targets)
CONDITIONS = [
    ("last, one pair per user (no augmentation)", "beauty_last", "last"),
    ("all positions", "beauty_last", "all"),
    ("last, every prefix pair (the paper's augmentation)", "beauty_prefixes", "last"),
]


def runs(results: Path):
    """``{(data folder, model, targets): (summary, log)}`` of every finished run."""
    found = {}
    for summary_path in sorted(results.glob("*/*/summary.json")):
        summary = json.loads(summary_path.read_text())
        config = summary_path.with_name("config.yaml").read_text()
        targets = "all" if "targets: all" in config else "last"
        log = pd.read_csv(summary_path.with_name("log.csv"))
        found[summary_path.parent.parent.name, summary["model"], targets] = (summary, log)
    return found


def main(results: Path) -> None:
    found = runs(results)
    for metric in ("P@20", "MRR@20"):
        print(f"test {metric} (x100; selected on validation P@20, test scored once)\n")
        print("| model | " + " | ".join(title for title, _, _ in CONDITIONS) + " |")
        print("| --- | " + " | ".join("---" for _ in CONDITIONS) + " |")
        for model in MODELS:
            cells = [f"{found[key][0]['test'][metric]:.2f}" if key in found else "not run"
                     for key in ((data, model, targets) for _, data, targets in CONDITIONS)]
            print(f"| {model} | " + " | ".join(cells) + " |")
        popularity = [summary["popularity_test"] for (data, _, _), (summary, _) in found.items()
                      if data == "beauty_prefixes"]
        if popularity:
            print(f"| popularity (counts of the prefix pairs' labels) | {popularity[0][metric]:.2f} | | |")
        print()
    print("best epoch / epochs run, training seconds per epoch (median), validation P@20 at the best epoch\n")
    print("| model | " + " | ".join(title for title, _, _ in CONDITIONS) + " |")
    print("| --- | " + " | ".join("---" for _ in CONDITIONS) + " |")
    for model in MODELS:
        cells = []
        for _, data, targets in CONDITIONS:
            if (data, model, targets) not in found:
                cells.append("not run")
                continue
            summary, log = found[data, model, targets]
            seconds = log.loc[log["phase"] == "valid", "seconds"].median()
            cells.append(f"{summary['best_epoch']} / {summary['epochs_run']}, {seconds:.0f} s, "
                         f"{summary['valid']['P@20']:.2f}")
        print(f"| {model} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "results" / "beauty")
