"""The paired significance tests (srgnn_paddle/evaluation/significance.py) against hand-made
cases with known answers and plainly written slow formulas."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.evaluation import significance as sig


def test_pair_scores_are_hits_and_cut_reciprocal_ranks():
    hits, rr = sig.pair_scores(np.array([1, 3, 20, 21, 2], dtype=np.int32), k=20)
    assert hits.tolist() == [1, 1, 1, 0, 1]
    assert rr == pytest.approx([1, 1 / 3, 1 / 20, 0, 1 / 2])
    hits, rr = sig.pooled_scores([np.array([1, 30]), np.array([5, 2])], k=4)  # two seeds, averaged per pair
    assert hits.tolist() == [0.5, 0.5] and rr == pytest.approx([0.5, 0.25])


def test_wilcoxon_small_case_exact_distribution_by_hand():
    # differences 1.5, -0.5, 2.5, 3.5, -4.5, 5.5: |d| ranks 2, 1, 3, 4, 5, 6; W+ = 2+3+4+6 = 15, W- = 1+5 = 6
    a = np.array([2.0, 0.0, 3.0, 4.0, 0.5, 6.0])
    b = np.array([0.5, 0.5, 0.5, 0.5, 5.0, 0.5])
    result = sig.wilcoxon(a, b)
    assert (result.statistic, result.n, result.nonzero) == (6.0, 6, 6)
    # exact null: every sign pattern of the ranks 1..6 equally likely; P(W+ <= 6) = 14 / 64
    sums = [sum(r for r, plus in zip(range(1, 7), signs) if plus) for signs in itertools.product([0, 1], repeat=6)]
    assert sum(s <= 6 for s in sums) == 14
    assert result.p_value == pytest.approx(2 * 14 / 64)
    assert result.mean_difference == pytest.approx(np.mean(a - b))


def _slow_wilcoxon_normal(d):
    """Zeros dropped; average ranks of |d| by a plain loop; W+; the normal approximation
    with the tie correction, no continuity correction; two-sided p."""
    d = [x for x in d if x != 0]
    n = len(d)
    order = sorted(range(n), key=lambda i: abs(d[i]))
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and abs(d[order[j + 1]]) == abs(d[order[i]]):
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    w_plus = sum(r for r, x in zip(ranks, d) if x > 0)
    w_minus = sum(r for r, x in zip(ranks, d) if x < 0)
    ties = {}
    for r in ranks:
        ties[r] = ties.get(r, 0) + 1
    var = n * (n + 1) * (2 * n + 1) / 24 - sum(t ** 3 - t for t in ties.values()) / 48
    z = (w_plus - n * (n + 1) / 4) / math.sqrt(var)
    return min(w_plus, w_minus), math.erfc(abs(z) / math.sqrt(2))


def test_wilcoxon_many_tied_pairs_matches_the_normal_approximation_by_hand():
    rng = np.random.default_rng(3)
    a = (rng.random(400) < 0.55).astype(float)  # hits of two models: differences in {-1, 0, 1}
    b = (rng.random(400) < 0.45).astype(float)
    stat, p = _slow_wilcoxon_normal((a - b).tolist())
    result = sig.wilcoxon(a, b)
    assert result.statistic == pytest.approx(stat) and result.p_value == pytest.approx(p, rel=1e-9)
    ra, rb = rng.random(300) ** 2, rng.random(300) ** 2 * 0.9  # reciprocal ranks: continuous, no ties
    stat, p = _slow_wilcoxon_normal((ra - rb).tolist())
    assert sig.wilcoxon(ra, rb).p_value == pytest.approx(p, rel=1e-9)


def test_wilcoxon_without_any_difference_is_p_one():
    result = sig.wilcoxon(np.ones(5), np.ones(5))
    assert (result.statistic, result.p_value, result.nonzero) == (0.0, 1.0, 0)


def test_paired_t_three_pairs_closed_form():
    # d = 1, 2, 4: mean 7/3, sample var 7/3, t = (7/3) / sqrt(7/3 / 3) = sqrt(7); with 2 degrees of
    # freedom the two-sided p is 1 - |t| / sqrt(2 + t^2) = 1 - sqrt(7) / 3
    result = sig.paired_t(np.array([3.0, 4.0, 9.0]), np.array([2.0, 2.0, 5.0]))
    assert result.statistic == pytest.approx(math.sqrt(7))
    assert result.p_value == pytest.approx(1 - math.sqrt(7) / 3)
    assert sig.paired_test(np.array([3.0, 4.0, 9.0]), np.array([2.0, 2.0, 5.0]), "ttest") == result


def test_paired_t_degenerate_differences():
    assert sig.paired_t(np.ones(4), np.ones(4)).p_value == 1.0
    constant = sig.paired_t(np.ones(4), np.zeros(4))
    assert (constant.statistic, constant.p_value) == (math.inf, 0.0)
    with pytest.raises(SrgnnError, match="at least 2 pairs"):
        sig.paired_t(np.ones(1), np.zeros(1))
    with pytest.raises(SrgnnError, match="differ in length"):
        sig.wilcoxon(np.ones(3), np.ones(4))
    with pytest.raises(SrgnnError, match="unknown test 'sign'"):
        sig.paired_test(np.ones(3), np.ones(3), "sign")


def test_holm_on_a_hand_made_list():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1: 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert sig.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert sig.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert sig.holm([]) == []


def test_holm_matches_a_plain_loop():
    rng = np.random.default_rng(1)
    for _ in range(20):
        p = rng.random(int(rng.integers(1, 9))) ** 3
        m = len(p)
        ordered = sorted(range(m), key=lambda i: p[i])
        expected = [0.0] * m
        running = 0.0
        for j, i in enumerate(ordered):
            running = max(running, min(1.0, (m - j) * p[i]))
            expected[i] = running
        assert sig.holm(p.tolist()) == pytest.approx(expected)


def test_compare_scores_adjusts_the_whole_family():
    rng = np.random.default_rng(2)
    best = sig.pair_scores(rng.integers(1, 30, 200), 20)
    others = [sig.pair_scores(rng.integers(1, 40, 200), 20), sig.pair_scores(rng.integers(1, 60, 200), 20)]
    results = sig.compare_scores(best, others, "wilcoxon")
    raw = [p for h, r, _, _ in results for p in (h.p_value, r.p_value)]
    assert [p for _, _, ph, pr in results for p in (ph, pr)] == pytest.approx(sig.holm(raw))
    assert results[0][0] == sig.wilcoxon(best[0], others[0][0])


def test_runs_on_other_test_pairs_are_refused():
    one = sig.RunRanks("a", np.array([1, 2, 3]), {"test.txt": "aa" * 32})
    sig.check_same_pairs([one, sig.RunRanks("b", np.array([3, 2, 1]), {"test.txt": "aa" * 32})])
    sig.check_same_pairs([one, sig.RunRanks("old", np.array([3, 2, 1]), None)])  # no fingerprint: the count decides
    with pytest.raises(SrgnnError, match="b was scored on 2 test pairs, a on 3"):
        sig.check_same_pairs([one, sig.RunRanks("b", np.array([1, 2]), {"test.txt": "aa" * 32})])
    with pytest.raises(SrgnnError, match="different test.txt files"):
        sig.check_same_pairs([one, sig.RunRanks("b", np.array([1, 2, 3]), {"test.txt": "bb" * 32})])


def test_read_ranks_refuses_missing_and_damaged_files(tmp_path):
    with pytest.raises(SrgnnError, match="not found; the run saved no test ranks"):
        sig.read_ranks(tmp_path / "test_ranks.npy")
    np.save(tmp_path / "test_ranks.npy", np.array([[1, 2]]))
    with pytest.raises(SrgnnError, match="not one rank >= 1 per test pair"):
        sig.read_ranks(tmp_path / "test_ranks.npy")
    np.save(tmp_path / "test_ranks.npy", np.array([1, 2, 3], dtype=np.int32))
    with pytest.raises(SrgnnError, match="3 ranks, but .* records 4 test pairs"):
        sig.read_ranks(tmp_path / "test_ranks.npy", expected=4)
    (tmp_path / "test_ranks.npy").write_bytes(b"not numpy")
    with pytest.raises(SrgnnError, match="cannot be read"):
        sig.read_ranks(tmp_path / "test_ranks.npy")


def test_format_p():
    assert (sig.format_p(0.04567), sig.format_p(0.00005), sig.format_p(1.0)) == ("0.0457", "< 0.0001", "1")
