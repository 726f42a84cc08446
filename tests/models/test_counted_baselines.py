"""The counted baselines of Ludewig & Jannach 2018 and their successors (sr, vsknn, stan,
vstan) against slow, obviously-correct reference loops on hand-made sessions: the same ranks,
P@K and MRR@K through the evaluator code path every model uses (``full_scores`` + the kernels'
rank counting), ties included; hand-computed scores; and a run through the CLI."""
from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Callable, Dict, List, Sequence

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
from srgnn_paddle.models import build_model

N_ITEMS = 13  # ids 1..12; 12 is never in training
HAND_SESSIONS = [[1, 2, 3], [2, 3, 4], [1, 4], [5, 1, 2], [3, 3, 6], [6, 7], [1, 2], [7, 8, 9, 1], [2, 5],
                 [4, 4, 4], [9, 8], [1, 2, 3, 11], [2, 1, 2, 6, 5, 7, 3, 9, 8, 4, 10, 1, 6]]
HAND_TEST = [[1, 2], [4], [3, 6], [12], [12, 5], [7, 8, 9], [2, 2, 2], [11], [10, 1], [6, 7, 8, 9, 1]]
HAND_LABELS = [3, 4, 7, 1, 2, 1, 3, 1, 2, 4]

Scorer = Callable[[List[int]], Dict[int, object]]


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


def ref_ranks(scorer: Scorer, histories: Sequence[List[int]], labels: Sequence[int]) -> List[int]:
    """Rank of each label among items 1..N-1: how many score at least as high (ties count
    against the label)."""
    ranks = []
    for history, label in zip(histories, labels):
        scores = scorer(list(history))
        ranks.append(sum(1 for i in scores if scores[i] >= scores[label]))
    return ranks


def ref_metrics(ranks: Sequence[int]) -> Dict[str, float]:
    out = {}
    for k in NextItemEvaluator.KS:
        out[f"P@{k}"] = 100.0 * sum(r <= k for r in ranks) / len(ranks)
        out[f"MRR@{k}"] = 100.0 * sum(1.0 / r for r in ranks if r <= k) / len(ranks)
    return out


def _model(name: str, sessions: Sequence[Sequence[int]], n_items: int = N_ITEMS, **options):
    model = build_model(Config(model=name, n_items=n_items, **options))
    model.fit(SessionDataset(*augment_prefixes(sessions), n_items).sessions())  # as runs fits it
    return model


def _random_sessions(seed: int, n: int, lo: int = 2, hi: int = 7) -> List[List[int]]:
    rng = np.random.default_rng(seed)
    # a few popular items and repeats, so that ties and shared neighbours are common
    return [rng.choice(np.arange(1, N_ITEMS - 1), size=int(rng.integers(lo, hi)),
                       p=np.r_[[0.2, 0.15, 0.15], np.full(N_ITEMS - 5, 0.5 / (N_ITEMS - 5))]).tolist()
            for _ in range(n)]


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
]


@pytest.mark.parametrize("name,options,reference", CASES,
                         ids=[f"{c[0]}-{'-'.join(map(str, c[1].values())) or 'default'}" for c in CASES])
@pytest.mark.parametrize("data", ["hand", "random"])
def test_ranks_and_metrics_match_the_reference_loop(name, options, reference, data):
    if data == "hand":
        sessions, histories, labels = HAND_SESSIONS, HAND_TEST, HAND_LABELS
    else:
        sessions = _random_sessions(1, 40, hi=14)
        histories, labels = augment_prefixes(_random_sessions(2, 25, lo=2, hi=9))
    expected = ref_ranks(reference(sessions, N_ITEMS), histories, labels)
    model = _model(name, sessions, **options)
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
    scores = _scores(_model("sr", sessions), [[5, 1], [2]])
    np.testing.assert_allclose(scores[0, 1:5], [1 / 3, 1, 1 / 2, 0], rtol=1e-6)
    np.testing.assert_allclose(scores[1, 1:5], [1.5, 0, 1, 0], rtol=1e-6)
    short = _scores(_model("sr", sessions, sr_steps=2), [[1]])
    np.testing.assert_allclose(short[0, 1:5], [0, 1, 1 / 2, 0], rtol=1e-6)


def test_vsknn_hand_computed_scores():
    """Sessions {1, 2, 3}, {2, 4}, {3, 5}; query [1, 2] (weights 1/2, 1): sims (1/2 + 1) / 2,
    1 / 2 and no share; k = 1 keeps the first. Query [2, 2, 3]: 2 at position 2, 3 at 3 of 3."""
    sessions = [[1, 2, 3], [2, 4], [3, 5]]
    scores = _scores(_model("vsknn", sessions), [[1, 2], [2, 2, 3]])
    np.testing.assert_allclose(scores[0, 1:6], [0.75, 1.25, 0.75, 0.5, 0], rtol=1e-6)
    a, b, c = (2 / 3 + 1) / 2, 2 / 3 / 2, 1 / 2  # sims to {1,2,3}, {2,4}, {3,5}
    np.testing.assert_allclose(scores[1, 1:6], [a, a + b, a + c, b, c], rtol=1e-6)
    top = _scores(_model("vsknn", sessions, vsknn_neighbors=1), [[1, 2]])
    np.testing.assert_allclose(top[0, 1:6], [0.75, 0.75, 0.75, 0, 0], rtol=1e-6)
    # IDF: item 2 is in 2 of 3 sessions (log 3/2), item 1 in one (log 3); an item in every session weighs 0
    idf = _scores(_model("vsknn", sessions, vsknn_idf=True), [[1, 2]])
    s1, s2 = (0.5 * math.log(3) + math.log(1.5)) / 2, math.log(1.5) / 2
    np.testing.assert_allclose(idf[0, 1:6], [s1, s1 + s2, s1, s2, 0], rtol=1e-6)
    everywhere = _scores(_model("vsknn", [[1, 2], [1, 3]], vsknn_idf=True), [[1], [4]])
    np.testing.assert_array_equal(everywhere[:, 1:5], 0)  # candidates with similarity 0, unseen item: nothing


@pytest.mark.parametrize("values,message", [({"sr_steps": 0}, "'sr_steps' must be >= 1"),
                                            ({"sr_weighting": "exp"}, "'sr_weighting' must be one of"),
                                            ({"vsknn_neighbors": 0}, "'vsknn_neighbors' must be >= 1"),
                                            ({"vsknn_sample_size": -1}, "'vsknn_sample_size' must be >= 0"),
                                            ({"vsknn_weighting": "exp"}, "'vsknn_weighting' must be one of")])
def test_bad_options_are_one_error_line(values, message):
    with pytest.raises(SrgnnError, match=message):
        Config.from_dict(values)


# ---------------------------------------------------------------------------- through the CLI
@pytest.mark.parametrize("name,flags,reference", [
    ("sr", ["--sr_steps", "3"], lambda s, n: ref_sr(s, n, 3)),
    ("vsknn", ["--vsknn_neighbors", "5", "--vsknn_idf"], lambda s, n: ref_vsknn(s, n, 5, idf=True)),
], ids=["sr", "vsknn"])
def test_train_counts_once_and_scores_as_the_reference(name, flags, reference, tmp_path):
    data = tmp_path / "hand"
    train, test = _random_sessions(5, 120, lo=2, hi=8), _random_sessions(6, 30, lo=2, hi=6)
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
