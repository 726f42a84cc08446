"""Session tools through the CLI: the ``sessions-csv`` prepare format (against a plain-loop
restatement, malformed rows), ``predict`` (original ids round-trip the item map),
``train --refit``, ``train --seeds`` and ``compare``."""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pandas as pd
import pytest
import yaml

from srgnn_paddle import cli
from srgnn_paddle.data import SessionDataset, augment_prefixes, make_loader
from srgnn_paddle.data.sessions import read_sequence_pairs, read_session_list, write_session_pickles
from srgnn_paddle.evaluation import top_items
from srgnn_paddle.prepare.readers import parse_session
from srgnn_paddle.runs import load_model, load_run

pytestmark = pytest.mark.cli

Rows = List[Tuple[List[int], int]]


def _errors(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# ---------------------------------------------------------------------------- sessions-csv
def ref_prepare(rows: Rows, min_count: int, portion: float, seed: int):
    """The sessions-csv preprocessing with plain loops: (train sequences, test pairs, item ids)."""
    rows = [(s, l) for s, l in rows if len(s) >= 2]
    counts = Counter(i for s, l in rows for i in s + [l])
    kept = []
    for s, l in rows:
        frequent = [i for i in s if counts[i] >= min_count]
        if counts[l] >= min_count and len(frequent) >= 2:
            kept.append((frequent, l))
    held = set(np.random.default_rng(seed).permutation(len(kept))[: max(1, int(round(portion * len(kept))))])
    code: Dict[int, int] = {}
    train = []
    for n, (s, l) in enumerate(kept):
        if n not in held:
            for i in s + [l]:
                code.setdefault(i, len(code) + 1)
            train.append([code[i] for i in s + [l]])
    test: Tuple[List[List[int]], List[int]] = ([], [])
    for n, (s, l) in enumerate(kept):
        known = [code[i] for i in s if i in code]
        if n in held and l in code and known:
            test[0].append(known)
            test[1].append(code[l])
    return train, test, sorted(code, key=code.get)


def _course_rows(seed: int, n: int) -> Rows:
    """Labelled sessions with raw ids (1000 + 7 k), a next item that mostly follows a cycle,
    single-item sessions and rare items among them."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        start = int(rng.integers(0, 25))
        session = [1000 + 7 * ((start + k) % 25) for k in range(int(rng.integers(1, 6)))]
        if rng.random() < 0.05:
            session.insert(1, 5000 + int(rng.integers(0, 40)))  # rare
        label = 1000 + 7 * ((start + len(session)) % 25) if rng.random() < 0.8 else 1000 + 7 * int(rng.integers(0, 25))
        rows.append((session, label))
    return rows


def _write_sessions(path: Path, rows: Rows, with_label: bool = True, extra: bool = False) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow((["id"] if extra else []) + ["session"] + (["label"] if with_label else []))
        for n, (session, label) in enumerate(rows):
            text = str(session) if n % 2 else " ".join(map(str, session))  # both syntaxes
            writer.writerow(([f"s{n}"] if extra else []) + [text] + ([label] if with_label else []))


def test_parse_session_syntaxes():
    assert parse_session("[1, 2, 3]") == parse_session("1 2 3") == parse_session(" [1 2 3] ") == [1, 2, 3]
    assert parse_session("[]") == [] and parse_session("[-4,5]") == [-4, 5]
    for bad in ("[1, 2", "1, 2", "[1,,2]", "[[1]]", "[1.5]", "[a]", "1 x"):
        with pytest.raises(ValueError):
            parse_session(bad)


@pytest.mark.parametrize("portion,seed,min_count", [(0.2, 2024, 5), (0.3, 7, 3)])
def test_sessions_csv_is_prepared_as_the_plain_loops_do(portion, seed, min_count, tmp_path, capsys):
    rows = _course_rows(1, 400)
    source = tmp_path / "train_sessions.csv"
    _write_sessions(source, rows, extra=True)
    out = tmp_path / "course"
    argv = ["prepare", "sessions-csv", "--input", str(source), "--output", str(out)]
    if (portion, seed, min_count) != (0.2, 2024, 5):  # else: the defaults
        argv += ["--test_portion", str(portion), "--seed", str(seed), "--min_item_count", str(min_count)]
    assert cli.main(argv) == 0
    train, test, item_ids = ref_prepare(rows, min_count, portion, seed)
    assert read_session_list(out / "all_train_seq.txt") == train
    assert read_sequence_pairs(out / "train.txt") == augment_prefixes(train)
    assert read_sequence_pairs(out / "test.txt") == test
    item_map = pd.read_csv(out / "item_map.csv")
    assert item_map["original_item_id"].tolist() == item_ids
    assert item_map["item_id"].tolist() == list(range(1, len(item_ids) + 1))
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["format"], meta["protocol"], meta["n_items"]) == ("sessions-csv", "paper", len(item_ids) + 1)
    assert meta["counts"]["read"]["rows"] == 400 and meta["counts"]["test"]["sequences"] == len(test[0])
    assert "prepared sessions-csv" in capsys.readouterr().out
    # byte-identical on a second run
    again = tmp_path / "again"
    assert cli.main([*argv[:5], str(again), *argv[6:]]) == 0
    for name in ("all_train_seq.txt", "train.txt", "test.txt", "item_map.csv"):
        assert (again / name).read_bytes() == (out / name).read_bytes()


BAD_ROWS = [
    ('"[1, 2",3', 3, "brackets do not pair up"),
    ('"[1, x]",3', 3, "holds 'x', not an integer item id"),
    ('"[1, 2.5]",3', 3, "holds '2.5', not an integer item id"),
    ("1,2,3", 3, "3 field(s), the header has 2"),
    ('"[1, 2]",', 3, "missing label"),
    ('"[1, 2]",abc', 3, "label 'abc' is not an integer item id"),
    ('"[1, 2]"', 3, "1 field(s), the header has 2"),
]


@pytest.mark.parametrize("line,number,what", BAD_ROWS)
def test_malformed_rows_are_one_error_line_with_the_line(line, number, what, tmp_path, capsys):
    source = tmp_path / "train_sessions.csv"
    source.write_text(f'session,label\n"[4, 5, 6]",7\n{line}\n"[1, 2]",3\n')
    out = tmp_path / "out"
    assert cli.main(["prepare", "sessions-csv", "--input", str(source), "--output", str(out)]) == 2
    errors = _errors(capsys.readouterr().err)
    assert len(errors) == 1
    assert f"line {number}:" in errors[0] and what in errors[0] and repr(line) in errors[0]
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_sessions_csv_header_and_option_errors(tmp_path, capsys):
    source = tmp_path / "s.csv"
    source.write_text('session,other\n"[1, 2]",3\n')
    assert cli.main(["prepare", "sessions-csv", "--input", str(source), "--output", str(tmp_path / "o")]) == 2
    assert "lacks the column(s) session,label" in _errors(capsys.readouterr().err)[0]
    source.write_text('session,label\n"[1, 2]",3\n')
    for flags, message in ((["--test_days", "3"], "--test_days applies to dated click logs"),
                           (["--protocol", "notebook"], "use --protocol paper"),
                           (["--test_portion", "1.5"], "--test_portion must be between 0 and 1"),
                           (["--min_user_count", "2"], "--min_user_count applies to the notebook and loo protocols only")):
        assert cli.main(["prepare", "sessions-csv", "--input", str(source), "--output", str(tmp_path / "o"),
                         *flags]) == 2
        assert message in _errors(capsys.readouterr().err)[0]
    assert cli.main(["prepare", "amazon-seq", "--input", str(source), "--output", str(tmp_path / "o"),
                     "--test_portion", "0.1"]) == 2
    assert "--test_portion applies to sessions-csv only" in _errors(capsys.readouterr().err)[0]
    assert cli.main(["prepare", "sessions-csv", "--input", str(source), "--output", str(tmp_path / "o")]) == 2
    assert "nothing left after preprocessing" in _errors(capsys.readouterr().err)[0]


# ---------------------------------------------------------------------------- predict
@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A prepared sessions-csv folder (raw ids 1000 + 7 k)."""
    root = tmp_path_factory.mktemp("course")
    _write_sessions(root / "train_sessions.csv", _course_rows(2, 500))
    assert cli.main(["prepare", "sessions-csv", "--input", str(root / "train_sessions.csv"),
                     "--output", str(root / "course")]) == 0
    return root / "course"


@pytest.mark.parametrize("model,flags", [("itemknn", []),
                                         ("srgnn", ["--epochs", "2", "--embedding_dim", "8", "--batch_size", "64",
                                                    "--no-tsne"])])
def test_predict_writes_original_ids_that_round_trip_the_item_map(model, flags, course, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert cli.main(["train", "--model", model, "--protocol", "paper", "--data_dir", str(course),
                     "--exp_dir", str(exp), "--quiet", *flags]) == 0
    run = next((exp / "course_paper").iterdir())
    rows = _course_rows(9, 40)
    rows[3] = ([424242, 1000], 0)  # an unknown id: dropped
    rows[5] = ([424242], 0)  # nothing known: the training popularity ranking
    test_csv = tmp_path / "test_sessions.csv"
    _write_sessions(test_csv, rows, with_label=True, extra=True)  # a label column is not copied
    out = tmp_path / "results.csv"
    capsys.readouterr()
    assert cli.main(["predict", "--run_dir", str(run), "--input", str(test_csv), "--out", str(out), "--topk", "5",
                     "--quiet"]) == 0
    captured = capsys.readouterr()
    item_map = pd.read_csv(course / "item_map.csv")
    encode = dict(zip(item_map["original_item_id"], item_map["item_id"]))
    unknown = sum(i not in encode for s, _ in rows for i in s)
    assert unknown >= 2 and f"note: {unknown} item id(s)" in captured.err
    assert "1 session(s) had no known item" in captured.err
    result = pd.read_csv(out, dtype=str)
    assert list(result.columns) == ["id", "session", "prediction"] and len(result) == len(rows)
    assert result["id"].tolist() == [f"s{n}" for n in range(len(rows))]
    predicted = [[encode[i] for i in parse_session(text)] for text in result["prediction"]]  # every id is known
    assert all(len(p) == 5 == len(set(p)) for p in predicted)
    # the same as the model's own top 5 on the encoded sessions
    cfg, _ = load_run(run)
    model_ = load_model(cfg, run)
    model_.eval()
    sessions = [[encode[i] for i in s if i in encode] for s, _ in rows]
    filled = [n for n, s in enumerate(sessions) if s]
    dataset = SessionDataset([sessions[n] for n in filled], [sessions[n][0] for n in filled], cfg.n_items)
    expected = np.concatenate([top_items(model_.full_scores(b).numpy(), 5)
                               for b in make_loader(dataset, 16, layout=model_.batch_layout)])
    assert [predicted[n] for n in filled] == expected.tolist()
    counts = np.bincount(read_sequence_pairs(course / "train.txt")[1], minlength=cfg.n_items)
    assert predicted[5] == sorted(range(1, cfg.n_items), key=lambda i: (-counts[i], i))[:5]


def test_predict_errors(course, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert cli.main(["train", "--model", "pop", "--protocol", "paper", "--data_dir", str(course),
                     "--exp_dir", str(exp), "--quiet"]) == 0
    run = exp / "course_paper" / "POP"
    good = tmp_path / "t.csv"
    good.write_text('session\n"[1000, 1007]"\n')
    bad = tmp_path / "bad.csv"
    bad.write_text('session\n"[1000, 1007]"\n"[1000, oops]"\n')
    capsys.readouterr()
    for argv, message in (
            (["--input", str(bad)], "line 3: column 'session' holds 'oops'"),
            (["--input", str(good), "--topk", "0"], "--topk must be between 1 and"),
            (["--input", str(good), "--refit"], "the run has no refit model"),
            (["--input", str(tmp_path / "none.csv")], "input file not found")):
        out = tmp_path / "out.csv"
        assert cli.main(["predict", "--run_dir", str(run), "--out", str(out), *argv]) == 2
        assert message in _errors(capsys.readouterr().err)[0] and not out.exists()


# ---------------------------------------------------------------------------- refit
@pytest.fixture(scope="module")
def ring(tmp_path_factory) -> Path:
    """Paper-layout sessions walking a ring of 30 items (learnable in a few epochs)."""
    rng = np.random.default_rng(0)
    sessions = [[int((s + i) % 30) + 1 for i in range(int(rng.integers(2, 6)))] for s in rng.integers(0, 30, 300)]
    data = Path(tmp_path_factory.mktemp("ring")) / "ring"
    write_session_pickles(data, sessions[:240], augment_prefixes(sessions[:240]), augment_prefixes(sessions[240:]))
    return data


SRGNN_FAST = ["--protocol", "paper", "--lr", "0.01", "--batch_size", "32", "--embedding_dim", "8", "--epochs", "3",
              "--valid_portion", "0.2", "--quiet", "--no-tsne"]


@pytest.mark.slow
def test_refit_trains_best_epoch_epochs_on_all_pairs_and_keeps_the_selected_row(ring, tmp_path, capsys):
    plain, refit = tmp_path / "plain", tmp_path / "refit"
    assert cli.main(["train", "--data_dir", str(ring), "--exp_dir", str(plain), *SRGNN_FAST]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--data_dir", str(ring), "--exp_dir", str(refit), *SRGNN_FAST, "--refit"]) == 0
    out = capsys.readouterr().out
    run_name = "ring_paper/SRGNN_0.01_32_8"
    log, plain_log = pd.read_csv(refit / run_name / "log.csv"), pd.read_csv(plain / run_name / "log.csv")
    summary = json.loads((refit / run_name / "summary.json").read_text())
    best = summary["best_epoch"]
    assert list(log["phase"]) == ["valid"] * 3 + ["test", "test_refit"]
    # the selected model's test row is the run's without refit
    pd.testing.assert_frame_equal(log.iloc[:4].drop(columns="seconds"), plain_log.drop(columns="seconds"))
    refit_row = log[log["phase"] == "test_refit"].iloc[0]
    assert refit_row["epoch"] == best == summary["refit_epochs"]
    assert refit_row["P@20"] == pytest.approx(summary["test_refit"]["P@20"])
    # the refit is a run of its own: best_epoch epochs on the training + validation pairs
    inner = pd.read_csv(refit / run_name / "refit" / "log.csv")
    assert list(inner["phase"]) == ["train"] * best + ["test"] and list(inner["epoch"][:best]) == list(range(1, best + 1))
    assert inner.iloc[-1]["MRR@20"] == pytest.approx(summary["test_refit"]["MRR@20"])
    n_pairs = len(augment_prefixes(read_session_list(ring / "all_train_seq.txt"))[0])
    assert f"on {n_pairs} training + validation samples, {best} epoch(s)" in out
    assert summary["test_refit"] != summary["test"]
    # --resume --refit adds the same refit to the finished plain run
    assert cli.main(["train", "--data_dir", str(ring), "--exp_dir", str(plain), *SRGNN_FAST, "--resume",
                     "--refit"]) == 0
    resumed = json.loads((plain / run_name / "summary.json").read_text())
    assert resumed["test_refit"] == pytest.approx(summary["test_refit"])
    assert resumed["test"] == summary["test"]
    assert yaml.safe_load((plain / run_name / "config.yaml").read_text())["refit"] is True
    # predict --refit uses the refit model
    sessions = tmp_path / "s.csv"
    sessions.write_text('session\n"[1, 2, 3]"\n')
    assert cli.main(["predict", "--run_dir", str(plain / run_name), "--input", str(sessions),
                     "--out", str(tmp_path / "p.csv"), "--refit", "--quiet"]) == 0


def test_notebook_refit_counts_the_training_and_validation_users(tmp_path):
    from srgnn_paddle.evaluation import evaluate
    from srgnn_paddle.synthetic import generate_synthetic

    data = tmp_path / "nb"
    generate_synthetic(data, seed=3, n_users=150, n_items=70, n_categories=4)
    exp = tmp_path / "exp"
    assert cli.main(["train", "--model", "pop", "--data_dir", str(data), "--exp_dir", str(exp), "--quiet",
                     "--refit"]) == 0
    summary = json.loads((exp / "nb_softmax" / "POP" / "summary.json").read_text())
    frames = {n: pd.read_csv(data / f"{n}_enc.csv").sort_values(["user_id", "timestamp"], kind="mergesort")
              for n in ("train", "valid", "test")}
    users = pd.concat([frames["train"], frames["valid"]]).groupby("user_id")["item_id"].apply(list)
    counts = Counter(i for items in users if len(items) >= 5 for i in items)
    top = sorted(range(1, 71), key=lambda i: (-counts[i], i))[:50]
    gts = [items[int(len(items) * 0.8):] for items in frames["test"].groupby("user_id")["item_id"].apply(list)
           if int(len(items) * 0.8) > 0]
    assert summary["test_refit"] == pytest.approx(evaluate([top] * len(gts), gts, topN=50))
    assert list(pd.read_csv(exp / "nb_softmax" / "POP" / "log.csv")["phase"]) == ["valid", "test", "test_refit"]


# ---------------------------------------------------------------------------- seeds and compare
def test_seeds_train_one_run_per_seed(ring, tmp_path, capsys):
    exp = tmp_path / "exp"
    fast = [*SRGNN_FAST, "--epochs", "1"]  # the last --epochs counts
    assert cli.main(["train", "--data_dir", str(ring), "--exp_dir", str(exp), *fast, "--seeds", "1"]) == 0
    assert cli.main(["train", "--data_dir", str(ring), "--exp_dir", str(exp), *fast, "--seeds", "1,2",
                     "--resume"]) == 0  # seed 1 continues (finished), seed 2 starts
    folder = exp / "ring_paper"
    assert sorted(p.name for p in folder.iterdir()) == ["SRGNN_0.01_32_8_seed1", "SRGNN_0.01_32_8_seed2"]
    for seed in (1, 2):
        assert yaml.safe_load((folder / f"SRGNN_0.01_32_8_seed{seed}" / "config.yaml").read_text())["seed"] == seed
    capsys.readouterr()
    assert cli.main(["compare", "--exp_dir", str(exp)]) == 0
    table = capsys.readouterr().out
    p20 = [json.loads((folder / f"SRGNN_0.01_32_8_seed{s}" / "summary.json").read_text())["test"]["P@20"]
           for s in (1, 2)]
    assert f"| SRGNN | SRGNN_0.01_32_8 | 2 | {np.mean(p20):.2f} ± {np.std(p20, ddof=1):.2f} |" in table
    for argv, message in ((["--seeds", "1,x"], "--seeds must be integers"), (["--seeds", "1,1"], "distinct"),
                          (["--seeds", "1", "--seed", "2"], "--seeds and --seed exclude each other")):
        assert cli.main(["train", "--data_dir", str(ring), "--exp_dir", str(exp), *fast, *argv]) == 2
        assert message in _errors(capsys.readouterr().err)[0]


def _fake_run(exp: Path, folder: str, cfg: dict, summary=None) -> None:
    run = exp / folder
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary))


def _table_rows(markdown: str, heading: str) -> List[List[str]]:
    section = markdown.split(f"### {heading}")[1].split("###")[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("|")]


def test_compare_pools_seeds_and_puts_published_numbers_beside(tmp_path, capsys):
    exp = tmp_path / "exp"
    paper = {"dataset": "diginetica", "protocol": "paper", "lr": 0.001, "batch_size": 100, "embedding_dim": 100,
             "model": "srgnn"}
    scores = [(50.0, 17.0, 4, 1000.0), (51.0, 17.5, 5, 1200.0), (52.0, 18.5, 4, 800.0)]
    for seed, (p20, mrr, best, seconds) in enumerate(scores, start=1):
        _fake_run(exp, f"diginetica_paper/SRGNN_0.001_100_100_seed{seed}", {**paper, "seed": seed}, {
            "best_epoch": best, "epochs_run": 10, "train_seconds": seconds, "parameters": 4400000,
            "test": {"P@20": p20, "MRR@20": mrr, "P@10": 1.0},
            "test_refit": {"P@20": p20 + 1, "MRR@20": mrr}, "refit_epochs": best, "refit_train_seconds": 100.0})
    _fake_run(exp, "diginetica_paper/SRGNN_0.01_100_100", {**paper, "lr": 0.01}, {
        "best_epoch": 2, "epochs_run": 4, "train_seconds": 40.0, "parameters": 4400000,
        "test": {"P@20": 40.0, "MRR@20": 12.0}})
    _fake_run(exp, "diginetica_paper/POP", {**paper, "model": "pop"}, {
        "best_epoch": 0, "epochs_run": 0, "train_seconds": 1.5, "parameters": 0, "test": {"P@20": 0.93, "MRR@20": 0.21}})
    _fake_run(exp, "diginetica_paper/SRGNN_0.1_100_100", {**paper, "lr": 0.1})  # unfinished: left out
    _fake_run(exp, "beauty_ncf/NeuMF_0.001_256_8", {"dataset": "beauty", "protocol": "ncf", "model": "neumf"}, {
        "best_epoch": 3, "epochs_run": 5, "train_seconds": 50.0, "parameters": 10,
        "test": {"HR@10": 0.7, "NDCG@10": 0.45}})
    assert cli.main(["compare", "--exp_dir", str(exp)]) == 0
    printed, last = capsys.readouterr().out.rstrip("\n").rsplit("\n", 1)
    assert printed in (exp / "results.md").read_text() and last.startswith("7 run(s); wrote")
    rows = _table_rows(printed, "diginetica_paper (paper protocol)")
    # the columns of earlier versions first, in their order; then what was added after them
    assert rows[0][:10] == ["model", "configuration", "runs", "test P@20", "test MRR@20", "published P@20",
                            "published MRR@20", "best epoch", "s / epoch", "parameters"]
    assert rows[0][10:] == ["test P@10", "train s", "test sessions / s"]  # the @10 the runs hold; no ranks: no p
    by_label = {(r[0], r[1]): r for r in rows[2:]}
    assert by_label[("POP", "POP")][2:] == ["1", "0.93", "0.21", "0.89", "0.20", "0", "1.5 (count)", "0", "",
                                            "1.5", ""]
    srgnn = by_label[("SRGNN", "SRGNN_0.001_100_100")]
    assert srgnn[2:] == ["3", "51.00 ± 1.00", "17.67 ± 0.76", "50.73", "17.59", "4.3 ± 0.6", "100.0 ± 20.0", "4400000",
                         "1.00 ± 0.00", "1000.0 ± 200.0", ""]
    assert by_label[("SRGNN (refit)", "SRGNN_0.001_100_100")][2:5] == ["3", "52.00 ± 1.00", "17.67 ± 0.76"]
    assert by_label[("SRGNN", "SRGNN_0.01_100_100")][2:4] == ["1", "40.00"]
    assert by_label[("NARM", "published only")][5:7] == ["49.70", "16.17"]
    assert by_label[("Item-KNN", "published only")][5:7] == ["35.75", "11.57"]
    assert by_label[("GCE-GNN", "published only")][5:7] == ["54.22", "19.04"]  # the GCE-GNN paper's Table 3
    assert "GCE-GNN: GCE-GNN paper (Wang et al., SIGIR 2020), Table 3." in printed
    assert ("SRGNN", "SRGNN_0.1_100_100") not in by_label
    ncf = _table_rows(printed, "beauty_ncf (ncf protocol)")
    assert ncf[0][3:5] == ["test HR@10", "test NDCG@10"] and ncf[2][3:5] == ["0.7000", "0.4500"]
    # report: the per-run table names each run's model and compares it with its own published row
    frame = pd.read_csv(exp / "results.csv").set_index("run")
    assert frame.loc["diginetica_paper/POP", "published_P@20"] == 0.89
    assert frame.loc["diginetica_paper/POP", "model"] == "POP"
    assert pd.isna(frame.loc["beauty_ncf/NeuMF_0.001_256_8", "published"])
    assert re.search(r"## Every run", (exp / "results.md").read_text())
    # the figures of runs from before the ranks and timings were recorded, published-only models included
    assert cli.main(["compare", "--exp_dir", str(exp), "--figure", str(tmp_path / "cmp.png")]) == 0
    assert (tmp_path / "cmp_diginetica_paper.png").is_file() and (tmp_path / "cmp_beauty_ncf.png").is_file()


# ---------------------------------------------------------------------------- benchmark
@pytest.mark.slow
def test_bench_models_json(ring):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_models.py"
    out = subprocess.run([sys.executable, str(script), "--data_dir", str(ring), "--models", "srgnn,sknn,gcegnn",
                          "--max_steps", "3", "--eval_sessions", "50", "--json"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    srgnn, sknn, gcegnn = result["models"]
    assert (srgnn["model"], srgnn["timed_steps"], srgnn["fit_seconds"]) == ("srgnn", 2, None)
    assert srgnn["train_samples_per_s"] > 0 and srgnn["eval_sessions_per_s"] > 0 and srgnn["parameters"] > 0
    assert sknn["train_samples_per_s"] is None and sknn["fit_seconds"] >= 0 and sknn["eval_sessions_per_s"] > 0
    assert result["eval_sessions"] == 50 and "P@20" in sknn["eval_metrics"]
    assert srgnn["sessions_seconds"] is None and gcegnn["sessions_seconds"] >= 0  # its global graph first
    assert gcegnn["loss_first"] > 0 and gcegnn["loss_last"] > 0


@pytest.mark.slow
def test_refit_seeds_repeats_the_refit_of_train_refit(ring, tmp_path):
    """benchmarks/refit_seeds.py with a run's seed and selected epochs scores exactly the run's
    ``test_refit``; another seed trains its own model; finished seeds are read back."""
    exp = tmp_path / "exp"
    assert cli.main(["train", "--data_dir", str(ring), "--exp_dir", str(exp), *SRGNN_FAST, "--refit"]) == 0
    summary = json.loads((exp / "ring_paper" / "SRGNN_0.01_32_8" / "summary.json").read_text())
    config = tmp_path / "fast.yaml"
    config.write_text(yaml.safe_dump({"protocol": "paper", "lr": 0.01, "batch_size": 32, "embedding_dim": 8,
                                      "valid_portion": 0.2}))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "refit_seeds.py"
    argv = [sys.executable, str(script), "--data_dir", str(ring), "--work_dir", str(tmp_path / "seeds"),
            "--config", str(config), "--seeds", "2024,7", "--epochs", str(summary["refit_epochs"]), "--json"]
    results = []
    for _ in range(2):
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    same, other = results[0]["rows"]
    assert (same["P@20"], same["MRR@20"]) == (summary["test_refit"]["P@20"], summary["test_refit"]["MRR@20"])
    assert other["seed"] == 7 and other["MRR@20"] != same["MRR@20"]
    assert results[1] == results[0]  # read back from the seeds' summary.json, not trained again
