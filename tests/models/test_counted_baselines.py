"""The counted baselines of Ludewig & Jannach 2018 and their successors (sr, vsknn, stan,
vstan) against slow, obviously-correct reference loops on hand-made sessions: the same ranks,
P@K and MRR@K through the evaluator code path every model uses (``full_scores`` + the kernels'
rank counting), ties included; hand-computed scores; and a run through the CLI."""
from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np
import pytest
import yaml

from srgnn_paddle import cli
from srgnn_paddle.config import Config
from srgnn_paddle.data import SessionDataset, augment_prefixes, make_loader, split_validation
from srgnn_paddle.data.sessions import write_session_pickles
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.evaluation import NextItemEvaluator
from srgnn_paddle.kernels import HostKernels, Kernels

from counted_reference import N_ITEMS, Scorer, fitted_model, random_sessions, ref_metrics, ref_ranks

HAND_SESSIONS = [[1, 2, 3], [2, 3, 4], [1, 4], [5, 1, 2], [3, 3, 6], [6, 7], [1, 2], [7, 8, 9, 1], [2, 5],
                 [4, 4, 4], [9, 8], [1, 2, 3, 11], [2, 1, 2, 6, 5, 7, 3, 9, 8, 4, 10, 1, 6]]
HAND_TEST = [[1, 2], [4], [3, 6], [12], [12, 5], [7, 8, 9], [2, 2, 2], [11], [10, 1], [6, 7, 8, 9, 1]]
HAND_LABELS = [3, 4, 7, 1, 2, 1, 3, 1, 2, 4]


# ---------------------------------------------------------------------------- references
def ref_sr(sessions: Sequence[Sequence[int]], n_items: int, steps: int = 10, weighting: str = "div") -> Scorer:
    decay = {"div": lambda d: 1 / d, "linear": lambda d: max(1 - 0.1 * d, 0.0), "same": lambda d: 1.0,
             "log": lambda d: 1 / math.log10(d + 1.7), "quadratic": lambda d: 1 / d ** 2}[weighting]
    rules: Dict[int, Dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for s in sessions:
        for p in range(len(s)):
            for q in range(p + 1, min(p + steps, len(s) - 1) + 1):
                rules[s[p]][s[q]] += decay(q - p)
    return lambda history: {b: np.float32(rules[history[-1]][b]) for b in range(1, n_items)}


def ref_position_weight(weighting: str, p: int, length: int) -> float:
    return {"linear": p / length, "same": 1.0, "div": 1 / (length - p + 1), "log": 1 / math.log10(length - p + 2.7),
            "quadratic": (p / length) ** 2}[weighting]


def ref_vsknn(sessions: Sequence[Sequence[int]], n_items: int, k: int = 100, sample: int = 500,
              weighting: str = "linear", idf: bool = False) -> Scorer:
    sets = [set(s) for s in sessions]
    idfs = {i: math.log(len(sets) / sum(i in t for t in sets)) if any(i in t for t in sets) else 0.0
            for i in range(n_items)}

    def score(history: List[int]) -> Dict[int, object]:
        weight = {}
        for p, item in enumerate(history, start=1):  # a repeated item: its last position
            weight[item] = ref_position_weight(weighting, p, len(history)) * (idfs[item] if idf else 1.0)
        candidates = [n for n in range(len(sets)) if set(history) & sets[n]]  # oldest first
        if sample:
            candidates = candidates[-sample:]
        sim = {n: sum(weight[i] for i in weight if i in sets[n]) / len(weight) for n in candidates}
        neighbours = sorted(candidates, key=lambda n: (-sim[n], -n))[:k]
        return {i: np.float32(sum(sim[n] for n in neighbours if i in sets[n])) for i in range(1, n_items)}

    return score


def ref_stan(sessions: Sequence[Sequence[int]], n_items: int, k: int = 100, sample: int = 0, l1: float = 1.02,
             l2: float = 10000.0, l3: float = 2.05, l4: float = 0.0, idf: bool = False) -> Scorer:
    """STAN (VSTAN with ``l4`` / ``idf``): positions are 1-based, a repeated item at its last."""
    sets = [set(s) for s in sessions]
    where = [{item: p for p, item in enumerate(s, start=1)} for s in sessions]  # last position wins
    idfs = {i: math.log(len(sets) / sum(i in t for t in sets)) if any(i in t for t in sets) else 0.0
            for i in range(n_items)}

    def score(history: List[int]) -> Dict[int, object]:
        length = len(history)
        pos = {item: p for p, item in enumerate(history, start=1)}
        weight = {i: math.exp((p - length) / l1) * (idfs[i] if idf else 1.0) for i, p in pos.items()}
        candidates = [n for n in range(len(sets)) if set(pos) & sets[n]]
        if sample:
            candidates = candidates[-sample:]
        sim = {}
        for n in candidates:
            sim[n] = sum(weight[i] for i in pos if i in sets[n]) / math.sqrt(len(pos) * len(sets[n]))
            if l2:
                sim[n] *= math.exp(-(len(sets) - n) / l2)
        neighbours = sorted(candidates, key=lambda n: (-sim[n], -n))[:k]
        scores = defaultdict(float)
        for n in neighbours:
            match = max((i for i in pos if i in sets[n]), key=lambda i: pos[i])  # the most recent shared item
            vote = sim[n] * (math.exp(-(length - pos[match]) / l4) if l4 else 1.0)
            for i in sets[n]:
                scores[i] += vote * math.exp(-abs(where[n][i] - where[n][match]) / l3)
        return {i: np.float32(scores[i]) for i in range(1, n_items)}

    return score


CASES = [
    ("sr", {}, ref_sr),
    ("sr", {"sr_steps": 2, "sr_weighting": "linear"}, lambda s, n: ref_sr(s, n, 2, "linear")),
    ("sr", {"sr_steps": 1, "sr_weighting": "same"}, lambda s, n: ref_sr(s, n, 1, "same")),
    ("sr", {"sr_steps": 3, "sr_weighting": "log"}, lambda s, n: ref_sr(s, n, 3, "log")),
    ("sr", {"sr_weighting": "quadratic"}, lambda s, n: ref_sr(s, n, 10, "quadratic")),
    ("vsknn", {}, ref_vsknn),
    ("vsknn", {"vsknn_neighbors": 2, "vsknn_sample_size": 0}, lambda s, n: ref_vsknn(s, n, 2, 0)),
    ("vsknn", {"vsknn_neighbors": 3, "vsknn_sample_size": 4, "vsknn_idf": True},
     lambda s, n: ref_vsknn(s, n, 3, 4, idf=True)),
    ("vsknn", {"vsknn_weighting": "div", "vsknn_idf": True}, lambda s, n: ref_vsknn(s, n, weighting="div", idf=True)),
    ("vsknn", {"vsknn_neighbors": 1, "vsknn_sample_size": 2, "vsknn_weighting": "same"},
     lambda s, n: ref_vsknn(s, n, 1, 2, "same")),
    ("vsknn", {"vsknn_weighting": "log"}, lambda s, n: ref_vsknn(s, n, weighting="log")),
    ("vsknn", {"vsknn_weighting": "quadratic", "vsknn_neighbors": 4}, lambda s, n: ref_vsknn(s, n, 4, weighting="quadratic")),
    ("stan", {}, ref_stan),
    ("stan", {"stan_neighbors": 3, "stan_sample_size": 5, "stan_lambda1": 0.5, "stan_lambda2": 20.0,
              "stan_lambda3": 0.7}, lambda s, n: ref_stan(s, n, 3, 5, 0.5, 20.0, 0.7)),
    ("stan", {"stan_neighbors": 2, "stan_lambda2": 0.0}, lambda s, n: ref_stan(s, n, 2, l2=0.0)),
    ("vstan", {}, lambda s, n: ref_stan(s, n, l4=2.0, idf=True)),
    ("vstan", {"stan_neighbors": 4, "stan_sample_size": 6, "stan_lambda2": 15.0, "vstan_lambda4": 0.8,
               "vstan_idf": False}, lambda s, n: ref_stan(s, n, 4, 6, l2=15.0, l4=0.8)),
    ("vstan", {"stan_neighbors": 1, "vstan_lambda4": 0.0}, lambda s, n: ref_stan(s, n, 1, idf=True)),
]


@pytest.mark.parametrize("name,options,reference", CASES,
                         ids=[f"{c[0]}-{'-'.join(map(str, c[1].values())) or 'default'}" for c in CASES])
@pytest.mark.parametrize("data", ["hand", "random"])
def test_ranks_and_metrics_match_the_reference_loop(name, options, reference, data):
    if data == "hand":
        sessions, histories, labels = HAND_SESSIONS, HAND_TEST, HAND_LABELS
    else:
        sessions = random_sessions(1, 40, hi=14)
        histories, labels = augment_prefixes(random_sessions(2, 25, lo=2, hi=9))
    expected = ref_ranks(reference(sessions, N_ITEMS), histories, labels)
    model = fitted_model(name, sessions, **options)
    dataset = SessionDataset(histories, labels, N_ITEMS)
    cfg = Config(eval_batch_size=4)
    for kernels in (Kernels(), HostKernels(2)):
        with kernels:
            ranks = np.concatenate([kernels.target_ranks(model, b) for b in make_loader(dataset, 4, graph=None)])
            metrics = NextItemEvaluator(dataset, cfg, model, kernels)(model)
        assert ranks.tolist() == expected, kernels.name
        assert metrics == pytest.approx(ref_metrics(expected), abs=1e-9)


def _scores(model, histories: List[List[int]]) -> np.ndarray:
    batch = make_loader(SessionDataset(histories, [1] * len(histories), N_ITEMS), len(histories),
                        graph=None).batch_view.batch(0)
    scores = model.full_scores(batch).numpy()
    assert (scores[:, 0] < -1e8).all()  # the padding column is never a candidate
    return scores


def test_sr_hand_computed_scores():
    """Sessions [1, 2, 3, 1] and [2, 1]: from 1, 1 -> 2 (1), 1 -> 3 (1/2), 1 -> 1 (1/3);
    from 2, 2 -> 3 (1), 2 -> 1 (1/2 + 1); steps = 2 drops 1 -> 1 (3 steps)."""
    sessions = [[1, 2, 3, 1], [2, 1]]
    scores = _scores(fitted_model("sr", sessions), [[5, 1], [2]])
    np.testing.assert_allclose(scores[0, 1:5], [1 / 3, 1, 1 / 2, 0], rtol=1e-6)
    np.testing.assert_allclose(scores[1, 1:5], [1.5, 0, 1, 0], rtol=1e-6)
    short = _scores(fitted_model("sr", sessions, sr_steps=2), [[1]])
    np.testing.assert_allclose(short[0, 1:5], [0, 1, 1 / 2, 0], rtol=1e-6)


def test_vsknn_hand_computed_scores():
    """Sessions {1, 2, 3}, {2, 4}, {3, 5}; query [1, 2] (weights 1/2, 1): sims (1/2 + 1) / 2,
    1 / 2 and no share; k = 1 keeps the first. Query [2, 2, 3]: 2 at position 2, 3 at 3 of 3."""
    sessions = [[1, 2, 3], [2, 4], [3, 5]]
    scores = _scores(fitted_model("vsknn", sessions), [[1, 2], [2, 2, 3]])
    np.testing.assert_allclose(scores[0, 1:6], [0.75, 1.25, 0.75, 0.5, 0], rtol=1e-6)
    a, b, c = (2 / 3 + 1) / 2, 2 / 3 / 2, 1 / 2  # sims to {1,2,3}, {2,4}, {3,5}
    np.testing.assert_allclose(scores[1, 1:6], [a, a + b, a + c, b, c], rtol=1e-6)
    top = _scores(fitted_model("vsknn", sessions, vsknn_neighbors=1), [[1, 2]])
    np.testing.assert_allclose(top[0, 1:6], [0.75, 0.75, 0.75, 0, 0], rtol=1e-6)
    # IDF: item 2 is in 2 of 3 sessions (log 3/2), item 1 in one (log 3); an item in every session weighs 0
    idf = _scores(fitted_model("vsknn", sessions, vsknn_idf=True), [[1, 2]])
    s1, s2 = (0.5 * math.log(3) + math.log(1.5)) / 2, math.log(1.5) / 2
    np.testing.assert_allclose(idf[0, 1:6], [s1, s1 + s2, s1, s2, 0], rtol=1e-6)
    everywhere = _scores(fitted_model("vsknn", [[1, 2], [1, 3]], vsknn_idf=True), [[1], [4]])
    np.testing.assert_array_equal(everywhere[:, 1:5], 0)  # candidates with similarity 0, unseen item: nothing


def test_stan_and_vstan_hand_computed_scores():
    """Sessions [1, 2, 3], [4, 2]; query [2]: sims 1/sqrt 3 and 1/sqrt 2 (times exp(-2 / lambda2),
    exp(-1 / lambda2): t_now = 2 sessions); the shared item 2 is at position 2 in both, so the
    others vote with exp(-1 / lambda3)."""
    sessions = [[1, 2, 3], [4, 2]]
    a, b, e = 1 / math.sqrt(3), 1 / math.sqrt(2), math.exp(-1)
    plain = _scores(fitted_model("stan", sessions, stan_lambda2=0.0, stan_lambda3=1.0), [[2]])
    np.testing.assert_allclose(plain[0, 1:6], [a * e, a + b, a * e, b * e, 0], rtol=1e-6)
    a2, b2 = a * math.exp(-2), b * math.exp(-1)
    recency = _scores(fitted_model("stan", sessions, stan_lambda2=1.0, stan_lambda3=1.0), [[2]])
    np.testing.assert_allclose(recency[0, 1:6], [a2 * e, a2 + b2, a2 * e, b2 * e, 0], rtol=1e-6)
    # query [3, 4] (l = 2): w1(3) = exp(-1 / lambda1), w1(4) = 1; each session shares one item, at its end
    # in [1, 2, 3] (item 3, votes 2 -> e, 1 -> e^2) and at its start in [4, 2] (4: 1, 2: e)
    w = math.exp(-1 / 0.5)
    two = _scores(fitted_model("stan", sessions, stan_lambda1=0.5, stan_lambda2=0.0, stan_lambda3=1.0), [[3, 4]])
    sa, sb = w / math.sqrt(2 * 3), 1 / math.sqrt(2 * 2)
    np.testing.assert_allclose(two[0, 1:6], [sa * e * e, sa * e + sb * e, sa, sb, 0], rtol=1e-6)
    # VSTAN: [1, 2, 3] matches only the older item 3 (l - p = 1): its votes times exp(-1 / lambda4)
    vstan = _scores(fitted_model("vstan", sessions, stan_lambda1=0.5, stan_lambda2=0.0, stan_lambda3=1.0,
                                 vstan_lambda4=2.0, vstan_idf=False), [[3, 4]])
    d = math.exp(-1 / 2.0)
    np.testing.assert_allclose(vstan[0, 1:6], [sa * d * e * e, sa * d * e + sb * e, sa * d, sb, 0], rtol=1e-6)
    # with IDF (log 2 for both items): both similarities times log 2; item 2 (in both sessions) weighs 0 in a query
    idf = _scores(fitted_model("vstan", sessions, stan_lambda2=0.0, stan_lambda3=1.0, vstan_lambda4=0.0), [[3, 4], [2]])
    w1 = math.exp(-1 / 1.02)
    sa, sb = w1 * math.log(2) / math.sqrt(6), math.log(2) / 2
    np.testing.assert_allclose(idf[0, 1:6], [sa * e * e, sa * e + sb * e, sa, sb, 0], rtol=1e-6)
    np.testing.assert_array_equal(idf[1, 1:6], 0)


@pytest.mark.parametrize("values,message", [({"sr_steps": 0}, "'sr_steps' must be >= 1"),
                                            ({"sr_weighting": "exp"}, "'sr_weighting' must be one of"),
                                            ({"vsknn_neighbors": 0}, "'vsknn_neighbors' must be >= 1"),
                                            ({"vsknn_sample_size": -1}, "'vsknn_sample_size' must be >= 0"),
                                            ({"vsknn_weighting": "exp"}, "'vsknn_weighting' must be one of"),
                                            ({"stan_neighbors": 0}, "'stan_neighbors' must be >= 1"),
                                            ({"stan_sample_size": -1}, "'stan_sample_size' must be >= 0"),
                                            ({"stan_lambda1": 0}, "'stan_lambda1' must be > 0"),
                                            ({"stan_lambda2": -1}, "'stan_lambda2' must be >= 0"),
                                            ({"stan_lambda3": -2}, "'stan_lambda3' must be > 0"),
                                            ({"vstan_lambda4": -1}, "'vstan_lambda4' must be >= 0")])
def test_bad_options_are_one_error_line(values, message):
    with pytest.raises(SrgnnError, match=message):
        Config.from_dict(values)


# ---------------------------------------------------------------------------- through the CLI
@pytest.mark.parametrize("name,flags,reference", [
    ("sr", ["--sr_steps", "3"], lambda s, n: ref_sr(s, n, 3)),
    ("vsknn", ["--vsknn_neighbors", "5", "--vsknn_idf"], lambda s, n: ref_vsknn(s, n, 5, idf=True)),
    ("stan", ["--stan_neighbors", "7", "--stan_lambda2", "50"], lambda s, n: ref_stan(s, n, 7, l2=50.0)),
    ("vstan", ["--stan_sample_size", "30"], lambda s, n: ref_stan(s, n, 100, 30, l4=2.0, idf=True)),
], ids=["sr", "vsknn", "stan", "vstan"])
def test_train_counts_once_and_scores_as_the_reference(name, flags, reference, tmp_path):
    data = tmp_path / "hand"
    train, test = random_sessions(5, 120, lo=2, hi=8), random_sessions(6, 30, lo=2, hi=6)
    write_session_pickles(data, train, augment_prefixes(train), augment_prefixes(test))
    exp = tmp_path / "exp"
    argv = ["train", "--model", name, "--protocol", "paper", "--data_dir", str(data), "--exp_dir", str(exp),
            "--quiet", "--valid_portion", "0.2", "--seed", "3", *flags]
    assert cli.main(argv) == 0
    (run,) = list((exp / "hand_paper").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["model"], summary["epochs_run"], summary["parameters"]) == (name, 0, 0)
    # counted from the training split's sessions: each up to its longest kept pair's label
    train_idx, _ = split_validation(len(augment_prefixes(train)[0]), 0.2, seed=3)
    kept, counted, first = set(train_idx.tolist()), [], 0
    for s in train:
        chosen = [m for m in range(len(s) - 1) if first + m in kept]  # pair first + m: prefix s[:len(s) - 1 - m]
        first += len(s) - 1
        if chosen:
            counted.append(s[: len(s) - min(chosen)])
    n_items = int(yaml.safe_load((run / "config.yaml").read_text())["n_items"])
    scorer = reference(counted, n_items)
    assert summary["test"] == pytest.approx(ref_metrics(ref_ranks(scorer, *augment_prefixes(test))), abs=1e-9)
    assert cli.main(["evaluate", "--run_dir", str(run), "--quiet"]) == 0  # the saved counts load back
