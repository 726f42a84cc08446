"""One dataset's table of the tuned counted baselines (docs/benchmark.md, README), from the
committed raw files: each model's search (docs/results/tune/<dataset>/<model>/trials.csv), its
default run and its tuned run with the same split (docs/results/<dataset>/
defaults_sessions_split/ and tuned/, summary.json). Prints Markdown.

    python benchmarks/tuned_table.py [--dataset diginetica] [--results docs/results]
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

MODELS = (("sr", "SR"), ("sknn", "SKNN"), ("vsknn", "V-SKNN"), ("stan", "STAN"), ("vstan", "VSTAN"))


def run_summary(folder: Path, display: str) -> dict:
    """The summary.json of the one run of ``display`` under ``folder`` ({} when absent)."""
    runs = sorted(p for p in folder.glob(f"{display.replace('-', '')}_*/summary.json")
                  if p.parent.name.split("_")[0] == display.replace("-", ""))
    return json.loads(runs[0].read_text()) if runs else {}


def pair(metrics: dict) -> str:
    return f"{metrics['P@20']:.2f} / {metrics['MRR@20']:.2f}" if metrics else "not run"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="diginetica", help="diginetica (default), tmall, nowplaying")
    parser.add_argument("--results", default="docs/results")
    args = parser.parse_args()
    results, dataset = Path(args.results), args.dataset
    print("| model | settings chosen (trials) | valid: defaults -> tuned | test: defaults -> tuned "
          "| test, refit: defaults -> tuned |")
    print("| --- | --- | --- | --- | --- |")
    for model, display in MODELS:
        table = results / "tune" / dataset / model / "trials.csv"
        if not table.is_file():
            print(f"| {display} | not searched | | | |")
            continue
        rows = list(csv.DictReader(table.open()))
        best = max(range(len(rows)), key=lambda i: (tuple(float(x) for x in rows[i]["score"].split()), -i))
        keys = [k for k in rows[0] if k not in ("trial", "score", "seconds") and "@" not in k]
        settings = ", ".join(f"{k} {rows[best][k]}" for k in keys)
        default = run_summary(results / dataset / "defaults_sessions_split", display)
        tuned = run_summary(results / dataset / "tuned", display)
        print(f"| {display} | {settings} (trial {rows[best]['trial']} of {len(rows)}) "
              f"| {pair(default.get('valid', {}))} -> {pair(tuned.get('valid', {}))} "
              f"| {pair(default.get('test', {}))} -> {pair(tuned.get('test', {}))} "
              f"| {pair(default.get('test_refit', {}))} -> {pair(tuned.get('test_refit', {}))} |")


if __name__ == "__main__":
    main()
