"""Paired significance tests between runs scored on the same test pairs.

A paper-protocol run saves the full-catalogue rank of every test pair's target as
``test_ranks.npy`` (``<run>/refit/test_ranks.npy`` for its refit model), in the test file's
order. From the ranks, every pair has a hit at K (``rank <= K``: its share is P@K) and a
reciprocal rank at K (``1 / rank`` when ``rank <= K``, else 0: its mean is MRR@K). Two
runs on the same pairs are compared pair by pair:

* ``wilcoxon``: the Wilcoxon signed-rank test of the per-pair differences (zero
  differences dropped, as Wilcoxon's original; two-sided; scipy's exact distribution for
  a few pairs without ties, else the normal approximation with the tie correction, no
  continuity correction), :func:`scipy.stats.wilcoxon`;
* ``ttest``: the paired t-test (two-sided), :func:`scipy.stats.ttest_rel`.

The p-values of a table's comparisons are adjusted together with Holm's step-down method
(:func:`holm`). Runs whose test pairs differ (another count of ranks, or another SHA-256
of the test file recorded in ``summary.json``'s ``test_files``) are refused with one
error line. Runs that differ only in their seed are pooled by averaging each pair's hit
(reciprocal rank) over the seeds (:func:`pooled_scores`). See ``docs/benchmark.md``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.training.checkpoints import RANKS_FILE, REFIT_DIR, SUMMARY_FILE

#: The tests offered, by ``--test`` name, with the name printed beside their p-values.
TESTS: Dict[str, str] = {"wilcoxon": "Wilcoxon signed-rank test", "ttest": "paired t-test"}


@dataclass(frozen=True)
class PairedResult:
    """One paired test of ``a`` against ``b``: ``statistic`` (Wilcoxon: the smaller of the
    positive and negative rank sums; t-test: t), two-sided ``p_value``, ``n`` pairs,
    ``nonzero`` pairs with a difference, ``mean_difference`` (mean of ``a - b``)."""

    test: str
    statistic: float
    p_value: float
    n: int
    nonzero: int
    mean_difference: float


# ---------------------------------------------------------------------------- per pair
def pair_scores(ranks: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Per-pair hits and reciprocal ranks at ``k`` from ranks (1 = best):
    ``[N] int -> ([N] float64 hit in {0, 1}, [N] float64 1/rank or 0)``; their means are
    P@k and MRR@k as fractions (the protocol's percentages / 100)."""
    ranks = np.asarray(ranks, dtype=np.int64).reshape(-1)
    found = ranks <= int(k)
    reciprocal = np.where(found, 1.0 / np.maximum(ranks, 1), 0.0)
    return found.astype(np.float64), reciprocal


def pooled_scores(rank_sets: Sequence[np.ndarray], k: int) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`pair_scores` averaged pair by pair over several runs of one configuration
    (its seeds), ``S x [N] -> ([N], [N])``; the runs must hold the same number of ranks."""
    if not rank_sets:
        raise ValueError("no runs to pool")
    scores = [pair_scores(r, k) for r in rank_sets]
    if len({len(h) for h, _ in scores}) != 1:
        raise ValueError("the runs pooled hold different numbers of ranks")
    return (np.mean([h for h, _ in scores], axis=0), np.mean([r for _, r in scores], axis=0))


# ---------------------------------------------------------------------------- tests
def wilcoxon(a: np.ndarray, b: np.ndarray) -> PairedResult:
    """Two-sided Wilcoxon signed-rank test of ``a - b`` (``[N]`` paired scores), zero
    differences dropped; every difference zero gives statistic 0 and p = 1."""
    d = _differences(a, b)
    nonzero = int(np.count_nonzero(d))
    if nonzero == 0:
        return PairedResult("wilcoxon", 0.0, 1.0, len(d), 0, 0.0)
    from scipy import stats

    with warnings.catch_warnings():  # scipy notes its switch to the normal approximation
        warnings.simplefilter("ignore")
        res = stats.wilcoxon(d, zero_method="wilcox", correction=False, alternative="two-sided")
    return PairedResult("wilcoxon", float(res.statistic), _clip(float(res.pvalue)), len(d), nonzero,
                        float(d.mean()))


def paired_t(a: np.ndarray, b: np.ndarray) -> PairedResult:
    """Two-sided paired t-test of ``a - b`` (``[N]`` paired scores, N >= 2): t = mean /
    (sample std / sqrt(N)) with N - 1 degrees of freedom; every difference equal gives
    t = 0, p = 1 when they are zero, else t = +-inf, p = 0."""
    d = _differences(a, b)
    nonzero = int(np.count_nonzero(d))
    if len(d) < 2:
        raise SrgnnError(f"a paired t-test needs at least 2 pairs, got {len(d)}")
    if np.all(d == d[0]):
        if d[0] == 0:
            return PairedResult("ttest", 0.0, 1.0, len(d), 0, 0.0)
        return PairedResult("ttest", math.copysign(math.inf, d[0]), 0.0, len(d), nonzero, float(d[0]))
    from scipy import stats

    res = stats.ttest_rel(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return PairedResult("ttest", float(res.statistic), _clip(float(res.pvalue)), len(d), nonzero, float(d.mean()))


def paired_test(a: np.ndarray, b: np.ndarray, test: str = "wilcoxon") -> PairedResult:
    """:func:`wilcoxon` (``test='wilcoxon'``) or :func:`paired_t` (``'ttest'``) of ``a`` against ``b``."""
    if test not in TESTS:
        raise SrgnnError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")
    return wilcoxon(a, b) if test == "wilcoxon" else paired_t(a, b)


def holm(p_values: Sequence[float]) -> List[float]:
    """Holm's step-down adjustment of a family of p-values, in their order: the i-th
    smallest (i = 1..m) becomes ``max over j <= i of min(1, (m - j + 1) p_(j))``."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted.tolist()


def _differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise SrgnnError(f"paired scores differ in length ({len(a)} vs {len(b)} pairs); compare runs on the same "
                         f"test pairs")
    return a - b


def _clip(p: float) -> float:
    return min(1.0, max(0.0, p)) if math.isfinite(p) else 1.0


# ---------------------------------------------------------------------------- runs
@dataclass
class RunRanks:
    """The saved test ranks of one run (or its refit model): ``ranks [N]`` and what
    identifies the test pairs (``test_files``: file name -> SHA-256, from ``summary.json``)."""

    label: str
    ranks: np.ndarray
    test_files: Optional[Dict[str, str]] = None


def ranks_path(run_dir: Union[str, Path], refit: bool = False) -> Path:
    """``<run>/test_ranks.npy`` (``<run>/refit/test_ranks.npy`` for the refit model)."""
    return Path(run_dir) / REFIT_DIR / RANKS_FILE if refit else Path(run_dir) / RANKS_FILE


def read_ranks(path: Union[str, Path], expected: Optional[int] = None) -> np.ndarray:
    """A ``test_ranks.npy``: ``[N]`` ranks >= 1 (``expected``: N as ``summary.json``
    records it); SrgnnError naming the file when it is missing or damaged."""
    path = Path(path)
    if not path.is_file():
        raise SrgnnError(f"{path}: not found; the run saved no test ranks (paper-protocol runs save them since "
                         f"this version: train it again, or leave it out of the test)")
    try:
        ranks = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SrgnnError(f"{path}: cannot be read as a .npy array ({type(exc).__name__}); train the run again") from None
    if ranks.ndim != 1 or not np.issubdtype(ranks.dtype, np.integer) or (len(ranks) and int(ranks.min()) < 1):
        raise SrgnnError(f"{path}: not one rank >= 1 per test pair (shape {ranks.shape}, dtype {ranks.dtype}); "
                         f"train the run again")
    if expected is not None and len(ranks) != int(expected):
        raise SrgnnError(f"{path}: {len(ranks)} ranks, but {path.parent / SUMMARY_FILE} records {expected} test "
                         f"pairs; train the run again")
    return ranks


def run_ranks(run_dir: Union[str, Path], summary: Mapping[str, Any], refit: bool = False,
              label: Optional[str] = None) -> RunRanks:
    """:class:`RunRanks` of a run folder with its ``summary.json`` content ``summary``."""
    expected = None if refit else summary.get("test_sessions")
    ranks = read_ranks(ranks_path(run_dir, refit), expected)
    files = summary.get("test_files")
    return RunRanks(label or str(run_dir), ranks, dict(files) if isinstance(files, dict) else None)


def check_same_pairs(runs: Sequence[RunRanks]) -> None:
    """Refuse (SrgnnError, one line) runs whose test pairs differ: another number of ranks,
    or another SHA-256 of a test file both record."""
    if not runs:
        return
    first = runs[0]
    for other in runs[1:]:
        if len(other.ranks) != len(first.ranks):
            raise SrgnnError(f"{other.label} was scored on {len(other.ranks)} test pairs, {first.label} on "
                             f"{len(first.ranks)}: a paired test needs the same test pairs; compare runs on one "
                             f"test file")
        if first.test_files and other.test_files:
            for name in sorted(set(first.test_files) & set(other.test_files)):
                if first.test_files[name] != other.test_files[name]:
                    raise SrgnnError(f"{other.label} and {first.label} were scored on different {name} files "
                                     f"(SHA-256 {other.test_files[name][:12]} vs {first.test_files[name][:12]}): "
                                     f"a paired test needs the same test pairs")


def compare_scores(best: Tuple[np.ndarray, np.ndarray], others: Sequence[Tuple[np.ndarray, np.ndarray]],
                   test: str = "wilcoxon") -> List[Tuple[PairedResult, PairedResult, float, float]]:
    """``best`` (hits, reciprocal ranks) against each of ``others``: per other, the two
    :class:`PairedResult` (hits, reciprocal ranks) and their Holm-adjusted p-values, the
    family being all ``2 x len(others)`` tests."""
    results = [(paired_test(best[0], o[0], test), paired_test(best[1], o[1], test)) for o in others]
    adjusted = holm([p for pair in results for p in (pair[0].p_value, pair[1].p_value)])
    return [(h, r, adjusted[2 * i], adjusted[2 * i + 1]) for i, (h, r) in enumerate(results)]


def format_p(p: float) -> str:
    """A p-value for a table: ``< 0.0001`` below 1e-4, else three significant digits."""
    return "< 0.0001" if p < 1e-4 else f"{p:.3g}"


def significance_table(run_dirs: Sequence[Union[str, Path]], k: int = 20, test: str = "wilcoxon",
                       refit: bool = False) -> str:
    """The first run against each other one (``significance`` command): a Markdown table
    of P@k and MRR@k from the saved ranks, the statistic and the Holm-adjusted two-sided
    p-value of ``test`` on the per-pair hits and reciprocal ranks (``refit``: the runs'
    refit models). Refuses runs without saved ranks or scored on other test pairs."""
    from srgnn_paddle.fileio import read_json_object

    if len(run_dirs) < 2:
        raise SrgnnError("give at least two run folders: the first is compared with each other one")
    if test not in TESTS:
        raise SrgnnError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")
    if k < 1:
        raise SrgnnError(f"--k must be >= 1, got {k}")
    runs = []
    for run_dir in map(Path, run_dirs):
        summary = read_json_object(run_dir / SUMMARY_FILE, "train the run again")
        if not isinstance(summary.get("test"), dict):
            raise SrgnnError(f"{run_dir / SUMMARY_FILE}: not found or no test scores; pass the folder of a finished "
                             f"run")
        runs.append(run_ranks(run_dir, summary, refit, label=str(run_dir) + (" (refit)" if refit else "")))
    check_same_pairs(runs)
    scores = [pair_scores(run.ranks, k) for run in runs]
    results = compare_scores(scores[0], scores[1:], test)
    head = (f"two-sided {TESTS[test]} of each run against the first, on the same {len(runs[0].ranks)} test "
            f"pairs (per-pair hits@{k} for P@{k}, reciprocal ranks@{k} for MRR@{k}); p Holm-adjusted over the "
            f"{2 * len(results)} tests")
    stat = "W" if test == "wilcoxon" else "t"
    header = ["run", f"P@{k}", f"MRR@{k}", f"{stat} P@{k}", f"p P@{k}", f"{stat} MRR@{k}", f"p MRR@{k}"]
    lines = [head, "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    cells = [[runs[0].label, f"{100 * scores[0][0].mean():.2f}", f"{100 * scores[0][1].mean():.2f}",
              "reference", "", "", ""]]
    for run, score, (hits, rr, p_hits, p_rr) in zip(runs[1:], scores[1:], results):
        cells.append([run.label, f"{100 * score[0].mean():.2f}", f"{100 * score[1].mean():.2f}",
                      f"{hits.statistic:.6g}", format_p(p_hits), f"{rr.statistic:.6g}", format_p(p_rr)])
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in cells]
    return "\n".join(lines) + "\n"
