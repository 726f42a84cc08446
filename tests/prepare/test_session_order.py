"""The order of ``all_train_seq.txt``: the published preprocessing lists the training
sessions by date, which the most-recent-sessions validation split (``valid_split:
sessions``) relies on. Checked on the raw DIGINETICA sample (skipped when absent): every
written session is traced back to its raw session by its items, independently of the
preparation code."""
from __future__ import annotations

import json
import pickle
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from srgnn_paddle.cli import main


def test_the_sample_is_written_in_date_order(shared_data, tmp_path, capsys):
    raw_path = shared_data / "diginetica_sample" / "sample_train-item-views.csv"
    if not raw_path.is_file():
        pytest.skip(f"{raw_path} is absent")
    out = tmp_path / "dig"
    assert main(["prepare", "diginetica", "--input", str(raw_path), "--output", str(out)]) == 0
    capsys.readouterr()
    split_date = json.loads((out / "meta.json").read_text())["split"]["split_date"][:10]
    item_map = dict(pd.read_csv(out / "item_map.csv").itertuples(index=False))  # original -> encoded
    raw = pd.read_csv(raw_path, sep=";").assign(row=lambda f: np.arange(len(f)))
    # as the published script: a session's date is the eventdate of its last row in the file
    session_date = raw.groupby("session_id", sort=False)["eventdate"].last()
    candidates = defaultdict(list)  # encoded item sequence -> (date, session id) of raw training sessions
    for session, clicks in raw.sort_values(["session_id", "timeframe", "row"], kind="mergesort").groupby(
            "session_id", sort=False):
        items = tuple(item_map[i] for i in clicks["item_id"] if i in item_map)
        if len(items) >= 2 and session_date[session] < split_date:
            candidates[items].append((session_date[session], session))
    with open(out / "all_train_seq.txt", "rb") as handle:
        written = pickle.load(handle)
    assert len(written) == sum(map(len, candidates.values())) == 469
    used = defaultdict(int)
    traced = []
    for session in written:  # sessions with the same items take their raw sessions in date order
        key = tuple(session)
        traced.append(sorted(candidates[key])[used[key]])
        used[key] += 1
    dates = [date for date, _ in traced]
    assert dates == sorted(dates) and len(set(dates)) > 100  # ~ 4 months of days, in order
    # within a day, in order of first appearance (the raw file lists sessions by id)
    assert all(a < b for a, b in zip(traced, traced[1:]))
