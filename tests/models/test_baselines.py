"""The count baselines (pop, spop, itemknn, sknn) against slow, obviously-correct reference
loops on hand-made sessions: the same ranks, P@K and MRR@K through the evaluator code path
the neural models use (``full_scores`` + the kernels' rank counting), ties included; the
sessions the trainer counts from; and the baselines trained through the CLI."""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import pandas as pd
import pytest
import yaml

from srgnn_paddle import cli
from srgnn_paddle.config import Config
from srgnn_paddle.data import (
    SequenceDataset,
    SessionDataset,
    SessionTable,
    SubsetDataset,
    augment_prefixes,
    make_loader,
    split_validation,
)
from srgnn_paddle.data.sessions import write_session_pickles
from srgnn_paddle.evaluation import NextItemEvaluator, evaluate
from srgnn_paddle.kernels import HostKernels, Kernels
from srgnn_paddle.models import build_model

from counted_reference import N_ITEMS, Scorer, fitted_model, random_sessions, ref_metrics, ref_ranks
from srgnn_paddle.synthetic import generate_synthetic

HAND_SESSIONS = [[1, 2, 3], [2, 3, 4], [1, 4], [5, 1, 2], [3, 3, 6], [6, 7], [1, 2], [7, 8, 9, 1], [2, 5],
                 [4, 4, 4], [9, 8], [1, 2, 3, 11]]
HAND_TEST = [[1, 2], [4], [3, 6], [12], [12, 5], [7, 8, 9], [2, 2, 2], [11], [10, 1], [6, 7, 8, 9, 1]]
HAND_LABELS = [3, 4, 7, 1, 2, 1, 3, 1, 2, 4]


# ---------------------------------------------------------------------------- references


def ref_pop(sessions: Sequence[Sequence[int]], n_items: int) -> Scorer:
    counts = Counter(i for s in sessions for i in s)
    return lambda history: {i: counts[i] for i in range(1, n_items)}


def ref_spop(sessions: Sequence[Sequence[int]], n_items: int) -> Scorer:
    """Keys compared as tuples: (count in the session, training count)."""
    counts = Counter(i for s in sessions for i in s)
    return lambda history: {i: (history.count(i), counts[i]) for i in range(1, n_items)}


def ref_itemknn(sessions: Sequence[Sequence[int]], n_items: int, regularisation: float = 0.0) -> Scorer:
    holding = {i: {n for n, s in enumerate(sessions) if i in s} for i in range(n_items)}

    def sim(i: int, j: int) -> float:
        if i == j or not holding[i] or not holding[j]:
            return 0.0
        return len(holding[i] & holding[j]) / (math.sqrt(len(holding[i]) * len(holding[j])) + regularisation)

    return lambda history: {j: np.float32(sim(history[-1], j)) for j in range(1, n_items)}


def ref_sknn(sessions: Sequence[Sequence[int]], n_items: int, k: int, sample: int) -> Scorer:
    sets = [set(s) for s in sessions]

    def score(history: List[int]) -> Dict[int, object]:
        q = set(history)
        candidates = [n for n in range(len(sets)) if q & sets[n]]  # oldest first
        if sample:
            candidates = candidates[-sample:]
        sim = {n: len(q & sets[n]) / math.sqrt(len(q) * len(sets[n])) for n in candidates}
        neighbours = sorted(candidates, key=lambda n: (-sim[n], -n))[:k]
        return {i: np.float32(sum(sim[n] for n in neighbours if i in sets[n])) for i in range(1, n_items)}

    return score


def _lists(table: SessionTable) -> List[List[int]]:
    """The table's sequences as Python lists (from its public arrays)."""
    bounds = table.offsets.tolist()
    return [table.items[a:b].tolist() for a, b in zip(bounds[:-1], bounds[1:])]


CASES = [
    ("pop", {}, ref_pop),
    ("spop", {}, ref_spop),
    ("itemknn", {}, ref_itemknn),
    ("itemknn", {"itemknn_lambda": 2.5}, lambda s, n: ref_itemknn(s, n, 2.5)),
    ("sknn", {}, lambda s, n: ref_sknn(s, n, 100, 500)),
    ("sknn", {"sknn_neighbors": 2, "sknn_sample_size": 0}, lambda s, n: ref_sknn(s, n, 2, 0)),
    ("sknn", {"sknn_neighbors": 3, "sknn_sample_size": 4}, lambda s, n: ref_sknn(s, n, 3, 4)),
    ("sknn", {"sknn_neighbors": 1, "sknn_sample_size": 2}, lambda s, n: ref_sknn(s, n, 1, 2)),
]


@pytest.mark.parametrize("name,options,reference", CASES,
                         ids=[f"{c[0]}-{'-'.join(map(str, c[1].values())) or 'default'}" for c in CASES])
@pytest.mark.parametrize("data", ["hand", "random"])
def test_ranks_and_metrics_match_the_reference_loop(name, options, reference, data):
    if data == "hand":
        sessions, histories, labels = HAND_SESSIONS, HAND_TEST, HAND_LABELS
    else:
        sessions = random_sessions(1, 40)
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


def test_hand_computed_scores():
    """The SKNN example worked by hand: query {1, 2}; sessions {1,2,3} (2/sqrt 6),
    {2,3,4} (1/sqrt 6), {1,4} (1/2), {5,1,2} (2/sqrt 6); k = 2 keeps the two at 2/sqrt 6."""
    sessions = [[1, 2, 3], [2, 3, 4], [1, 4], [5, 1, 2]]
    batch = make_loader(SessionDataset([[1, 2], [4]], [3, 1], N_ITEMS), 2, graph=None).batch_view.batch(0)
    sknn = fitted_model("sknn", sessions, sknn_neighbors=2).full_scores(batch).numpy()
    s = 2 / math.sqrt(6)
    np.testing.assert_allclose(sknn[0, 1:6], [2 * s, 2 * s, s, 0, s], rtol=1e-6)
    assert sknn[0, 0] < -1e8  # the padding column is never a candidate
    # query {4}: {2,3,4} (1/sqrt 3) and {1,4} (1/sqrt 2) are the only candidates
    np.testing.assert_allclose(sknn[1, 1:6], [1 / math.sqrt(2), 1 / math.sqrt(3), 1 / math.sqrt(3),
                                              1 / math.sqrt(2) + 1 / math.sqrt(3), 0], rtol=1e-6)
    # item-KNN of the last item 4: sessions with 4 are {2,3,4}, {1,4} -> cos(4, 1) = 1 / sqrt(2 * 3)
    knn = fitted_model("itemknn", sessions).full_scores(batch).numpy()
    np.testing.assert_allclose(knn[1, 1:6], [1 / math.sqrt(6), 1 / math.sqrt(6), 1 / math.sqrt(4), 0, 0], rtol=1e-6)
    pop = fitted_model("pop", sessions).full_scores(batch).numpy()
    np.testing.assert_array_equal(pop[0, 1:7], [3, 3, 2, 2, 1, 0])
    # S-POP, session [1, 2]: items 1 and 2 first (tie: equal counts), then 3, 4 (counts 2), then 5
    spop = fitted_model("spop", sessions).full_scores(batch).numpy()[0]
    assert spop[1] == spop[2] > spop[3] == spop[4] > spop[5] > spop[6]


# ---------------------------------------------------------------------------- the sessions counted from
def ref_training_sessions(sessions: Sequence[List[int]], kept_pairs: Sequence[int]) -> List[List[int]]:
    """Each session up to its longest kept pair's label (pairs in augmentation order)."""
    kept, out, first = set(kept_pairs), [], 0
    for s in sessions:
        pairs = list(range(first, first + len(s) - 1))  # pair first + m: prefix s[:len(s) - 1 - m]
        first += len(s) - 1
        chosen = [p for p in pairs if p in kept]
        if chosen:
            out.append(s[: len(s) - (min(chosen) - pairs[0])])
    return out


@pytest.mark.parametrize("portion", [0.0, 0.1, 0.5])
def test_sessions_are_rebuilt_from_the_pairs(portion):
    sessions = random_sessions(3, 50, lo=2, hi=8) + [[5, 5], [5, 5], [5, 5, 5]]  # repeats and duplicates
    full = SessionDataset(*augment_prefixes(sessions), N_ITEMS)
    assert _lists(full.sessions()) == sessions
    train_idx, _ = split_validation(len(full), portion, seed=4)
    assert _lists(SubsetDataset(full, train_idx).sessions()) == ref_training_sessions(sessions, train_idx)
    # pairs that are not an augmentation: each its own session
    singles = SessionDataset([[1, 2], [3], [1]], [3, 4, 2], N_ITEMS)
    assert _lists(singles.sessions()) == [[1, 2, 3], [3, 4], [1, 2]]
    # notebook protocol: users' whole sequences (users too short for the sampler are left out)
    frame = pd.DataFrame({"user_id": [1] * 6 + [2] * 3 + [3] * 5, "item_id": [1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 2, 3, 1, 1],
                          "timestamp": list(range(14))})
    users = SequenceDataset({"n_items": N_ITEMS}, frame, "train")
    assert _lists(users.sessions()) == [[1, 2, 3, 4, 5, 6], [2, 2, 3, 1, 1]]
    assert _lists(SubsetDataset(users, np.array([1])).sessions()) == [[2, 2, 3, 1, 1]]


# ---------------------------------------------------------------------------- through the CLI
@pytest.fixture(scope="module")
def paper_data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data") / "hand"
    train, test = random_sessions(5, 120, lo=2, hi=8), random_sessions(6, 30, lo=2, hi=6)
    write_session_pickles(folder, train, augment_prefixes(train), augment_prefixes(test))
    (folder / "sessions.json").write_text(json.dumps({"train": train, "test": test}))
    return folder


@pytest.mark.parametrize("name,options,reference", CASES[:5] + CASES[6:7],
                         ids=["pop", "spop", "itemknn", "itemknn-2.5", "sknn", "sknn-3-4"])
def test_train_counts_once_and_writes_a_run_folder(name, options, reference, paper_data, tmp_path, capsys):
    exp = tmp_path / "exp"
    flags = [f for key, value in options.items() for f in (f"--{key}", str(value))]
    argv = ["train", "--model", name, "--protocol", "paper", "--data_dir", str(paper_data), "--exp_dir", str(exp),
            "--quiet", "--valid_portion", "0.2", "--seed", "3", *flags]
    assert cli.main(argv) == 0
    runs = list((exp / "hand_paper").iterdir())
    assert len(runs) == 1
    run = runs[0]
    log = pd.read_csv(run / "log.csv")
    assert list(log["phase"]) == ["valid", "test"] and list(log["epoch"]) == [0, 0]
    summary = json.loads((run / "summary.json").read_text())
    assert (summary["model"], summary["best_epoch"], summary["epochs_run"], summary["parameters"]) == (name, 0, 0, 0)
    assert not (run / "curves.png").exists() and not (run / "tsne.png").exists()
    # the statistics are the training split's (the validation pairs are held out)
    data = json.loads((paper_data / "sessions.json").read_text())
    pairs = augment_prefixes(data["train"])
    train_idx, valid_idx = split_validation(len(pairs[0]), 0.2, seed=3)
    n_items = int(yaml.safe_load((run / "config.yaml").read_text())["n_items"])
    scorer = reference(ref_training_sessions(data["train"], train_idx), n_items)
    assert summary["test"] == pytest.approx(ref_metrics(ref_ranks(scorer, *augment_prefixes(data["test"]))), abs=1e-9)
    valid = ([pairs[0][i] for i in valid_idx], [pairs[1][i] for i in valid_idx])
    assert summary["valid"]["P@20"] == pytest.approx(ref_metrics(ref_ranks(scorer, *valid))["P@20"], abs=1e-9)
    # the saved statistics score the same through evaluate; the report names the model
    capsys.readouterr()
    assert cli.main(["evaluate", "--run_dir", str(run), "--quiet"]) == 0
    out = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert float(out["MRR@20"]) == pytest.approx(summary["test"]["MRR@20"], abs=1e-6)
    assert cli.main(["report", "--exp_dir", str(exp)]) == 0
    row = pd.read_csv(exp / "results.csv").iloc[0]
    assert row["model"] == build_model(Config(model=name, n_items=N_ITEMS)).display_name
    assert row["test_P@20"] == pytest.approx(summary["test"]["P@20"])


def test_a_count_model_refuses_tsne_and_resumes_as_finished(paper_data, tmp_path, capsys):
    exp = tmp_path / "exp"
    argv = ["train", "--model", "pop", "--protocol", "paper", "--data_dir", str(paper_data), "--exp_dir", str(exp),
            "--quiet"]
    assert cli.main(argv) == 0
    run = exp / "hand_paper" / "POP"
    before = (run / "summary.json").read_text()
    assert cli.main(argv + ["--resume"]) == 0  # finished: nothing counted again
    assert (run / "summary.json").read_text() == before
    capsys.readouterr()
    assert cli.main(["tsne", "--run_dir", str(run)]) == 2
    assert "has no item vectors" in capsys.readouterr().err


def test_notebook_protocol_ranks_the_full_scores(tmp_path):
    """Notebook protocol: POP's top 50 of the full scores are the most clicked training items."""
    data = tmp_path / "nb"
    generate_synthetic(data, seed=2, n_users=120, n_items=80, n_categories=4)
    exp = tmp_path / "exp"
    assert cli.main(["train", "--model", "pop", "--data_dir", str(data), "--exp_dir", str(exp), "--quiet"]) == 0
    summary = json.loads((exp / "nb_softmax" / "POP" / "summary.json").read_text())
    frames = {n: pd.read_csv(data / f"{n}_enc.csv").sort_values(["user_id", "timestamp"], kind="mergesort")
              for n in ("train", "test")}
    users = frames["train"].groupby("user_id")["item_id"].apply(list)
    counts = Counter(i for items in users if len(items) >= 5 for i in items)
    top = sorted(range(1, 81), key=lambda i: (-counts[i], i))[:50]
    gts = [items[int(len(items) * 0.8):] for items in frames["test"].groupby("user_id")["item_id"].apply(list)
           if int(len(items) * 0.8) > 0]
    expected = evaluate([top] * len(gts), gts, topN=50)
    assert summary["test"] == pytest.approx(expected)


@pytest.mark.slow
def test_published_diginetica_pairs_give_back_every_training_session(shared_data):
    from srgnn_paddle.data.sessions import load_session_pickles

    pickles = load_session_pickles(shared_data / "diginetica")
    full = SessionDataset(*pickles.train, pickles.n_items)
    rebuilt = full.sessions()
    assert len(rebuilt) == len(pickles.train_sessions) == 186_670
    assert _lists(rebuilt) == pickles.train_sessions
