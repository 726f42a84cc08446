"""Through the CLI, on short runs over generated sessions: the paper protocol's saved test
ranks and timings (summary.json), ``compare``'s new columns, paired significance column and
figure, and the ``significance`` command (refusing runs on other test pairs)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from scipy import stats

from srgnn_paddle import cli
from srgnn_paddle.data import augment_prefixes
from srgnn_paddle.data.sessions import read_sequence_pairs, write_session_pickles

pytestmark = pytest.mark.cli

FAST = ["--protocol", "paper", "--lr", "0.01", "--batch_size", "32", "--embedding_dim", "8", "--epochs", "2",
        "--valid_portion", "0.2", "--topN", "5", "--quiet", "--no-tsne"]


def _ring(folder: Path, seed: int, n: int = 300) -> Path:
    """Paper-layout sessions walking a ring of 30 items, the last fifth as the test pairs."""
    rng = np.random.default_rng(seed)
    sessions = [[int((s + i) % 30) + 1 for i in range(int(rng.integers(2, 6)))] for s in rng.integers(0, 30, n)]
    cut = int(0.8 * n)
    write_session_pickles(folder, sessions[:cut], augment_prefixes(sessions[:cut]), augment_prefixes(sessions[cut:]))
    return folder


@pytest.fixture(scope="module")
def exp(tmp_path_factory) -> Path:
    """SR-GNN over two seeds with --refit, GRU4Rec (plain-Paddle kernels, what GPUs run) and POP,
    all on one ring's test pairs."""
    root = Path(tmp_path_factory.mktemp("signif"))
    data = _ring(root / "ring", 0)
    out = root / "exp"
    for extra in (["--seeds", "1,2", "--refit"], ["--model", "gru4rec", "--kernels", "paddle"], ["--model", "pop"]):
        assert cli.main(["train", "--data_dir", str(data), "--exp_dir", str(out), *FAST, *extra]) == 0
    return out


def _rows(markdown: str, heading: str) -> List[List[str]]:
    section = markdown.split(f"### {heading}")[1].split("###")[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("|")]


def _summary(run: Path) -> Dict:
    return json.loads((run / "summary.json").read_text())


def _holm(p: List[float]) -> List[float]:
    m, out, running = len(p), [0.0] * len(p), 0.0
    for j, i in enumerate(sorted(range(m), key=lambda i: p[i])):
        running = max(running, min(1.0, (m - j) * p[i]))
        out[i] = running
    return out


def _p_cell(p: float) -> str:
    return "< 0.0001" if p < 1e-4 else f"{p:.3g}"


def test_paper_runs_save_their_test_ranks_and_timings(exp):
    folder = exp / "ring_paper"
    pairs = read_sequence_pairs(folder.parent.parent / "ring" / "test.txt")
    digest = hashlib.sha256((folder.parent.parent / "ring" / "test.txt").read_bytes()).hexdigest()
    for run in ("SRGNN_0.01_32_8_seed1", "SRGNN_0.01_32_8_seed2", "GRU4Rec_0.01_32_8", "POP"):
        summary = _summary(folder / run)
        ranks = np.load(folder / run / "test_ranks.npy")
        assert ranks.dtype == np.int32 and ranks.shape == (len(pairs[1]),) and ranks.min() >= 1
        assert summary["test_sessions"] == len(ranks) and summary["test_files"] == {"test.txt": digest}
        for k in (5, 10):  # the per-pair ranks give back the summary's metrics
            assert 100 * np.mean(ranks <= k) == pytest.approx(summary["test"][f"P@{k}"])
            assert 100 * np.mean(np.where(ranks <= k, 1.0 / ranks, 0.0)) == pytest.approx(summary["test"][f"MRR@{k}"])
        assert summary["test_sessions_per_second"] == pytest.approx(len(ranks) / summary["test_seconds"], rel=0.01)
        assert summary["test_seconds"] > 0 and summary["parameters"] >= 0
        if run == "POP":  # counted, not trained: no epochs to divide by
            assert summary["seconds_per_epoch"] is None
        else:
            assert summary["seconds_per_epoch"] == pytest.approx(summary["train_seconds"] / summary["epochs_run"],
                                                                 abs=0.01)
    refit = _summary(folder / "SRGNN_0.01_32_8_seed1")
    ranks = np.load(folder / "SRGNN_0.01_32_8_seed1" / "refit" / "test_ranks.npy")
    assert 100 * np.mean(ranks <= 5) == pytest.approx(refit["test_refit"]["P@5"])
    assert refit["refit_test_sessions_per_second"] > 0 and refit["refit_seconds_per_epoch"] > 0


def test_compare_shows_timings_and_paired_p_values_against_the_best_row(exp, tmp_path, capsys):
    capsys.readouterr()
    figure = tmp_path / "figures" / "compare.png"
    assert cli.main(["compare", "--exp_dir", str(exp), "--figure", str(figure)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"and {figure}") and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _rows(out, "ring_paper (paper protocol)")
    header = rows[0]
    assert header == ["model", "configuration", "runs", "test P@5", "test MRR@5", "best epoch", "s / epoch",
                      "parameters", "test P@10", "test MRR@10", "train s", "test sessions / s",
                      "p P@5 vs best (Wilcoxon signed-rank test, Holm)", "p MRR@5 vs best (Wilcoxon signed-rank test, Holm)"]
    table = {(r[0], r[1]): dict(zip(header, r)) for r in rows[2:]}
    folder = exp / "ring_paper"
    seeds = [folder / f"SRGNN_0.01_32_8_seed{s}" for s in (1, 2)]
    members = {("SRGNN", "SRGNN_0.01_32_8"): [p / "test_ranks.npy" for p in seeds],
               ("SRGNN (refit)", "SRGNN_0.01_32_8"): [p / "refit" / "test_ranks.npy" for p in seeds],
               ("GRU4Rec", "GRU4Rec_0.01_32_8"): [folder / "GRU4Rec_0.01_32_8" / "test_ranks.npy"],
               ("POP", "POP"): [folder / "POP" / "test_ranks.npy"]}
    assert set(table) == set(members)
    srgnn = table[("SRGNN", "SRGNN_0.01_32_8")]
    sps = [_summary(p)["test_sessions_per_second"] for p in seeds]
    assert srgnn["runs"] == "2" and srgnn["test sessions / s"] == f"{np.mean(sps):.0f} ± {np.std(sps, ddof=1):.0f}"
    secs = [_summary(p)["train_seconds"] for p in seeds]
    assert srgnn["train s"] == f"{np.mean(secs):.1f} ± {np.std(secs, ddof=1):.1f}"
    p10 = [_summary(p)["test"]["P@10"] for p in seeds]
    assert srgnn["test P@10"] == f"{np.mean(p10):.2f} ± {np.std(p10, ddof=1):.2f}"
    assert table[("POP", "POP")]["s / epoch"].endswith("(count)")

    # the p-values again, the slow way: per-pair scores averaged over seeds, scipy, a plain Holm loop
    scores = {}
    for key, files in members.items():
        ranks = [np.load(f).astype(np.int64) for f in files]
        scores[key] = (np.mean([r <= 5 for r in ranks], axis=0),
                       np.mean([np.where(r <= 5, 1.0 / r, 0.0) for r in ranks], axis=0))
    best = max(scores, key=lambda key: (scores[key][0].mean(), scores[key][1].mean()))
    assert table[best]["p P@5 vs best (Wilcoxon signed-rank test, Holm)"] == "best"
    others = [key for key in members if key != best]
    raw = []
    for key in others:
        for j in (0, 1):
            d = scores[best][j] - scores[key][j]
            raw.append(1.0 if not d.any() else stats.wilcoxon(d, zero_method="wilcox", correction=False).pvalue)
    adjusted = _holm(raw)
    for n, key in enumerate(others):
        assert table[key]["p P@5 vs best (Wilcoxon signed-rank test, Holm)"] == _p_cell(adjusted[2 * n])
        assert table[key]["p MRR@5 vs best (Wilcoxon signed-rank test, Holm)"] == _p_cell(adjusted[2 * n + 1])
    assert f"on the same {len(scores[best][0])} test pairs" in out and "over the 6 tests of this table" in out
    assert "p P@5 vs best (Wilcoxon signed-rank test, Holm)" in (exp / "results.md").read_text()

    assert cli.main(["compare", "--exp_dir", str(exp), "--test", "ttest"]) == 0
    out = capsys.readouterr().out
    assert "p P@5 vs best (paired t-test, Holm)" in out and "p: two-sided paired t-test of each row" in out


def test_compare_refuses_rows_on_other_test_pairs_and_marks_runs_without_ranks(exp, tmp_path, capsys):
    other = tmp_path / "exp"
    shutil.copytree(exp, other)
    folder = other / "ring_paper"
    # a run of another test file in the same table: its fingerprint differs
    shutil.copytree(folder / "GRU4Rec_0.01_32_8", folder / "GRU4Rec_0.01_32_8_other")
    summary = _summary(folder / "GRU4Rec_0.01_32_8_other")
    summary["test_files"] = {"test.txt": "0" * 64}
    (folder / "GRU4Rec_0.01_32_8_other" / "summary.json").write_text(json.dumps(summary))
    # a run from before the ranks were saved
    (folder / "POP" / "test_ranks.npy").unlink()
    capsys.readouterr()
    assert cli.main(["compare", "--exp_dir", str(other)]) == 0
    out = capsys.readouterr().out
    rows = {(r[0], r[1]): r[-2:] for r in _rows(out, "ring_paper (paper protocol)")[2:]}
    assert rows[("POP", "POP")] == ["no ranks", "no ranks"]
    assert rows[("GRU4Rec", "GRU4Rec_0.01_32_8_other")] == ["other test pairs", "other test pairs"]
    assert "different test.txt files" in out and "over the 4 tests of this table" in out

    capsys.readouterr()
    runs = [str(folder / "SRGNN_0.01_32_8_seed1"), str(folder / "GRU4Rec_0.01_32_8_other")]
    assert cli.main(["significance", *runs, "--k", "5"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "different test.txt files" in err[0] and "a paired test needs the same test pairs" in err[0]
    assert cli.main(["significance", runs[0], str(folder / "POP")]) == 2
    assert "test_ranks.npy: not found" in capsys.readouterr().err


def test_significance_command_tests_the_first_run_against_the_others(exp, capsys):
    folder = exp / "ring_paper"
    first, second = folder / "SRGNN_0.01_32_8_seed1", folder / "POP"
    capsys.readouterr()
    assert cli.main(["significance", str(first), str(second), "--k", "5", "--test", "ttest"]) == 0
    out = capsys.readouterr().out
    a, b = (np.load(p / "test_ranks.npy").astype(np.int64) for p in (first, second))
    t_hits = stats.ttest_rel((a <= 5).astype(float), (b <= 5).astype(float))
    t_rr = stats.ttest_rel(np.where(a <= 5, 1.0 / a, 0.0), np.where(b <= 5, 1.0 / b, 0.0))
    adjusted = _holm([t_hits.pvalue, t_rr.pvalue])
    line = next(line for line in out.splitlines() if line.startswith(f"| {second} |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == f"{100 * np.mean(b <= 5):.2f}"
    assert cells[3:] == [f"{t_hits.statistic:.6g}", _p_cell(adjusted[0]), f"{t_rr.statistic:.6g}", _p_cell(adjusted[1])]
    assert "two-sided paired t-test of each run against the first" in out
    assert cli.main(["significance", str(first)]) == 2
    assert "at least two run folders" in capsys.readouterr().err


def test_compare_figure_per_dataset_folder(exp, tmp_path, capsys):
    other = tmp_path / "exp"
    shutil.copytree(exp / "ring_paper", other / "ring_paper")
    data = _ring(tmp_path / "ring2", 1, n=150)
    assert cli.main(["train", "--data_dir", str(data), "--exp_dir", str(other), *FAST, "--model", "pop"]) == 0
    capsys.readouterr()
    assert cli.main(["compare", "--exp_dir", str(other), "--figure", str(tmp_path / "cmp.png")]) == 0
    out = capsys.readouterr().out
    for name in ("cmp_ring_paper.png", "cmp_ring2_paper.png"):
        assert (tmp_path / name).is_file() and str(tmp_path / name) in out
    # one row only: nothing to test against
    assert "vs best" not in out.split("### ring2_paper")[1].split("###")[0]


def test_the_published_registry_refuses_a_row_without_checked(tmp_path):
    from srgnn_paddle.errors import SrgnnError
    from srgnn_paddle.report import PUBLISHED, PUBLISHED_FILE, load_published

    text = PUBLISHED_FILE.read_text(encoding="utf-8")
    row = "tagnn: {label: TAGNN, metrics: {P@20: 51.31, MRR@20: 18.03}, source: *tagnn, checked: true}"
    assert row in text
    for broken, value in ((row.replace(", checked: true", ""), "missing"),
                          (row.replace("checked: true", "checked: 'yes'"), "a string")):
        path = tmp_path / f"{value.replace(' ', '_')}.yaml"
        path.write_text(text.replace(row, broken), encoding="utf-8")
        with pytest.raises(SrgnnError) as err:
            load_published(path)
        message = str(err.value)
        assert "\n" not in message and str(path) in message
        assert "entry (paper, diginetica), model tagnn: 'checked' must be true or false" in message
    assert load_published(PUBLISHED_FILE) == PUBLISHED


def test_the_published_registry_and_docs_benchmark_list_the_same_figures():
    from srgnn_paddle.report import PUBLISHED

    names = {"diginetica": "DIGINETICA", "tmall": "Tmall", "nowplaying": "Nowplaying",
             "yoochoose1_64": "YOOCHOOSE 1/64", "yoochoose1_4": "YOOCHOOSE 1/4"}
    registry = {(names[dataset], label, figures["P@20"], figures["MRR@20"], model not in entry["unchecked"])
                for (protocol, dataset), entry in PUBLISHED.items() if protocol == "paper"
                for model, (label, figures) in entry["models"].items()}
    text = (Path(__file__).resolve().parents[2] / "docs" / "benchmark.md").read_text(encoding="utf-8")
    section = text.split("## Published figures")[1].split("\n\n(")[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| dataset") and not line.startswith("| ---")]
    documented = {(r[0], r[1], float(r[2]), float(r[3]), r[5] == "yes") for r in rows}
    assert documented == registry
