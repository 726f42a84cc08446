"""Embedded default dataset: a seeded, structured synthetic stand-in for MovieLens-20M.

``bash scripts/train.sh`` must run with nothing downloaded, so the toolkit ships this
generator. It writes the notebook's three files (``docs/notebook.md`` §1)::

    train_enc.csv  valid_enc.csv  test_enc.csv   header user_id,item_id,timestamp
    items.csv                                    header item_id,category
    meta.json                                    generator, seed, parameters, counts

Users are split 8:1:1 by a seeded shuffle (disjoint users per file); item ids are
``1 .. n_items-1`` with ``0`` kept for padding.

The data has structure a sequence model can learn and a popularity ranking cannot:

* items belong to ``n_categories`` categories; popularity is Zipf-like inside each
  category and categories themselves are unevenly popular;
* every item has a few likely successors (out-degree ``min_out_degree .. max_out_degree``),
  mostly in its own category: a sparse Markov chain over items;
* every user prefers 1 .. ``max_user_categories`` categories and walks: mostly along the
  chain from the current item, sometimes to a popular item of the category in focus,
  sometimes switching focus to another preferred category, rarely anywhere (noise).
  Items are not repeated within a user, as in MovieLens (up to a few redraws);
* sequence lengths vary from ``min_length`` to ``max_length`` (skewed to short);
  timestamps are strictly increasing integers per user.

Everything is drawn from ``numpy.random.Generator(PCG64(seed)).random`` uniforms through
explicit inverse-CDF transforms, so the same seed gives byte-identical files.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from srgnn_paddle.data.interactions import SPLIT_FILES
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_directory

GENERATOR_NAME = "srgnn_paddle.synthetic/v1"
ITEMS_FILE = "items.csv"
META_FILE = "meta.json"
DEFAULT_DIR = "data/synthetic"  # where `train` without --data_dir generates and reads the data

#: Default parameters (see docs/synthetic.md for why these sizes).
DEFAULTS: Dict[str, Any] = {
    "n_users": 8000,
    "n_items": 2000,  # ids 1..1999, 0 = padding
    "n_categories": 20,
    "min_length": 8,
    "max_length": 60,
    "max_user_categories": 3,
    "item_zipf": 0.8,
    "category_zipf": 0.4,
    "min_out_degree": 2,
    "max_out_degree": 5,
    "p_successor_in_category": 0.85,
    "successor_pop_power": 0.5,
    "p_follow": 0.75,
    "p_jump": 0.12,
    "p_switch": 0.10,
    "repeat_redraws": 3,
    "start_timestamp": 1_500_000_000,
    "mean_gap_seconds": 3600,
}


# --------------------------------------------------------------------------- helpers
def _sample_in_ranges(
    cum: np.ndarray, starts: np.ndarray, ends: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Inverse-CDF sampling inside per-row slices of one flat weight array.

    ``cum`` is the inclusive cumulative sum of non-negative weights (a leading 0 is
    prepended internally); row ``r`` samples a position in ``[starts[r], ends[r])`` with
    probability proportional to its weight, using the uniform ``u[r]``.
    """
    c0 = np.concatenate(([0.0], cum))
    lo = c0[starts]
    hi = c0[ends]
    target = lo + u * (hi - lo)
    pos = np.searchsorted(cum, target, side="right")
    return np.clip(pos, starts, ends - 1)


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    """``1 / rank**exponent`` for ranks 1..n."""
    return 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent


def _check_params(p: Dict[str, Any]) -> None:
    """Raise SrgnnError on parameter values the generator cannot honour."""
    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise SrgnnError(f"generate_synthetic: {msg}")

    need(p["n_users"] >= 10, f"n_users must be >= 10 (8:1:1 split), got {p['n_users']}")
    need(p["n_categories"] >= 1, f"n_categories must be >= 1, got {p['n_categories']}")
    need(p["n_items"] - 1 >= 2 * p["n_categories"],
         f"n_items must leave >= 2 items per category, got n_items={p['n_items']} for "
         f"{p['n_categories']} categories")
    need(5 <= p["min_length"] <= p["max_length"],
         f"need 5 <= min_length <= max_length, got {p['min_length']}..{p['max_length']}")
    need(1 <= p["max_user_categories"] <= p["n_categories"],
         f"max_user_categories must be in 1..n_categories, got {p['max_user_categories']}")
    need(1 <= p["min_out_degree"] <= p["max_out_degree"],
         f"need 1 <= min_out_degree <= max_out_degree, got "
         f"{p['min_out_degree']}..{p['max_out_degree']}")
    probs = (p["p_follow"], p["p_jump"], p["p_switch"])
    need(all(x >= 0 for x in probs) and sum(probs) <= 1.0 + 1e-12,
         f"p_follow, p_jump, p_switch must be >= 0 with sum <= 1, got {probs}")
    need(0.0 <= p["p_successor_in_category"] <= 1.0, "p_successor_in_category must be in [0, 1]")
    need(p["item_zipf"] >= 0 and p["category_zipf"] >= 0, "zipf exponents must be >= 0")
    need(p["successor_pop_power"] >= 0, "successor_pop_power must be >= 0")
    need(p["repeat_redraws"] >= 0, "repeat_redraws must be >= 0")
    need(p["mean_gap_seconds"] >= 1, "mean_gap_seconds must be >= 1")


# --------------------------------------------------------------------------- generation
def _simulate(p: Dict[str, Any], seed: int) -> Dict[str, Any]:
    """Draw the catalogue, the transition chain and every user's sequence (in memory)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    uni = rng.random  # the only source of randomness (stable across numpy versions)
    n_real = p["n_items"] - 1  # ids 1..n_real
    n_cat = p["n_categories"]
    n_users = p["n_users"]

    # ---- catalogue: shuffled ids, uneven category sizes, Zipf popularity in category
    ids = np.argsort(uni(n_real), kind="stable") + 1
    size_w = 0.5 + uni(n_cat)
    extra = n_real - 2 * n_cat
    sizes = 2 + np.floor(extra * size_w / size_w.sum()).astype(np.int64)
    sizes[np.argsort(-size_w, kind="stable")[: n_real - int(sizes.sum())]] += 1
    cat_start = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    cat_end = cat_start + sizes
    # flat order: items grouped by category, most popular first inside each category
    item_of_pos = ids  # position -> item id
    cat_of_pos = np.repeat(np.arange(n_cat), sizes)
    pop_w = np.concatenate([_zipf_weights(int(s), p["item_zipf"]) for s in sizes])
    cat_w = _zipf_weights(n_cat, p["category_zipf"])[np.argsort(uni(n_cat), kind="stable")]
    pop_w = pop_w * (cat_w / np.array([pop_w[a:b].sum() for a, b in zip(cat_start, cat_end)]))[cat_of_pos]
    pop_cum = np.cumsum(pop_w)
    pos_of_item = np.empty(p["n_items"], dtype=np.int64)
    pos_of_item[0] = -1
    pos_of_item[item_of_pos] = np.arange(n_real)
    category = np.zeros(p["n_items"], dtype=np.int64)
    category[item_of_pos] = cat_of_pos
    cat_cum = np.cumsum(cat_w)
    all_cats_start = np.zeros(1, dtype=np.int64)
    all_cats_end = np.full(1, n_cat, dtype=np.int64)

    succ_pop_cum = np.cumsum(pop_w ** p["successor_pop_power"])

    def pick_in_cat(cats: np.ndarray, cum: np.ndarray = pop_cum) -> np.ndarray:
        """Item positions drawn by popularity (``cum``) within the given categories."""
        return _sample_in_ranges(cum, cat_start[cats], cat_end[cats], uni(len(cats)))

    def pick_cat(n: int) -> np.ndarray:
        """Categories drawn by category popularity."""
        return _sample_in_ranges(cat_cum, np.repeat(all_cats_start, n),
                                 np.repeat(all_cats_end, n), uni(n))

    # ---- sparse item -> item chain (positions), successors mostly in-category
    max_deg = p["max_out_degree"]
    deg = p["min_out_degree"] + np.floor(
        uni(n_real) * (max_deg - p["min_out_degree"] + 1)).astype(np.int64)
    succ = np.zeros((n_real, max_deg), dtype=np.int64)
    same = uni((n_real, max_deg)) < p["p_successor_in_category"]
    for k in range(max_deg):
        own = cat_of_pos
        other = pick_cat(n_real)
        cats = np.where(same[:, k], own, other)
        cand = pick_in_cat(cats, succ_pop_cum)
        # no self-loops: step to the neighbour position inside the same category
        selfl = cand == np.arange(n_real)
        if selfl.any():
            c = cats[selfl]
            nxt = cand[selfl] + 1
            nxt = np.where(nxt >= cat_end[c], cat_start[c], nxt)
            cand[selfl] = nxt
        succ[:, k] = cand
    # successor weights: random, decreasing by slot, zero beyond the out-degree
    sw = -np.log1p(-uni((n_real, max_deg)))  # Exp(1)
    sw = -np.sort(-sw, axis=1)
    sw[np.arange(max_deg)[None, :] >= deg[:, None]] = 0.0
    succ_flat = succ.ravel()
    succ_cum = np.cumsum(sw.ravel())
    succ_start = np.arange(n_real, dtype=np.int64) * max_deg
    succ_end = succ_start + deg

    # ---- users: preferred categories (Gumbel top-k by category popularity), lengths
    n_pref = 1 + np.floor(uni(n_users) * p["max_user_categories"]).astype(np.int64)
    gumbel = np.log(cat_w)[None, :] - np.log(-np.log(uni((n_users, n_cat))))
    prefs = np.argsort(-gumbel, axis=1, kind="stable")[:, : p["max_user_categories"]]
    pref_w = -np.log1p(-uni((n_users, p["max_user_categories"])))
    pref_w = -np.sort(-pref_w, axis=1)
    pref_w[np.arange(p["max_user_categories"])[None, :] >= n_pref[:, None]] = 0.0
    mpc = p["max_user_categories"]
    pref_cum = np.cumsum(pref_w.ravel())
    pref_start = np.arange(n_users, dtype=np.int64) * mpc
    pref_end = pref_start + n_pref

    def pick_pref(users: np.ndarray) -> np.ndarray:
        """A preferred category of each given user, by the user's preference weights."""
        slot = _sample_in_ranges(pref_cum, pref_start[users], pref_end[users], uni(len(users)))
        return prefs.ravel()[slot]

    span = p["max_length"] - p["min_length"] + 1
    lengths = p["min_length"] + np.floor(uni(n_users) ** 2 * span).astype(np.int64)
    max_len = int(lengths.max())

    # ---- walk all users in lockstep
    seqs = np.zeros((n_users, max_len), dtype=np.int64)  # item positions
    seen = np.zeros((n_users, n_real), dtype=bool)
    users = np.arange(n_users)
    focus = pick_pref(users)
    cur = pick_in_cat(focus)
    seqs[:, 0] = cur
    seen[users, cur] = True
    p_follow, p_jump, p_switch = p["p_follow"], p["p_jump"], p["p_switch"]
    for t in range(1, max_len):
        act = users[lengths > t]
        pending = act
        new_focus = focus.copy()
        chosen = np.full(n_users, -1, dtype=np.int64)
        for attempt in range(p["repeat_redraws"] + 1):
            n = len(pending)
            if n == 0:
                break
            a = uni(n)
            cand = np.empty(n, dtype=np.int64)
            nf = focus[pending].copy()
            follow = a < p_follow
            jump = (a >= p_follow) & (a < p_follow + p_jump)
            switch = (a >= p_follow + p_jump) & (a < p_follow + p_jump + p_switch)
            noise = a >= p_follow + p_jump + p_switch
            if follow.any():
                c = cur[pending[follow]]
                cand[follow] = succ_flat[_sample_in_ranges(
                    succ_cum, succ_start[c], succ_end[c], uni(int(follow.sum())))]
                nf[follow] = cat_of_pos[cand[follow]]
            if jump.any():
                cand[jump] = pick_in_cat(nf[jump])
            if switch.any():
                nf[switch] = pick_pref(pending[switch])
                cand[switch] = pick_in_cat(nf[switch])
            if noise.any():
                cand[noise] = _sample_in_ranges(
                    pop_cum, np.zeros(int(noise.sum()), dtype=np.int64),
                    np.full(int(noise.sum()), n_real, dtype=np.int64), uni(int(noise.sum())))
            chosen[pending] = cand
            new_focus[pending] = nf
            if attempt < p["repeat_redraws"]:
                pending = pending[seen[pending, cand]]
        c = chosen[act]
        seqs[act, t] = c
        seen[act, c] = True
        cur[act] = c
        focus[act] = new_focus[act]

    # ---- timestamps: random start, strictly increasing by >= 1 s
    gaps = 1 + np.floor(-np.log1p(-uni((n_users, max_len))) * p["mean_gap_seconds"]).astype(np.int64)
    gaps[:, 0] = np.floor(uni(n_users) * 3.0e7).astype(np.int64)
    ts = p["start_timestamp"] + np.cumsum(gaps, axis=1)

    # ---- split users 8:1:1 by a seeded shuffle
    order = np.argsort(uni(n_users), kind="stable")
    n_train = int(0.8 * n_users)
    n_valid = int(0.1 * n_users)
    split_users = {
        "train": np.sort(order[:n_train]),
        "valid": np.sort(order[n_train:n_train + n_valid]),
        "test": np.sort(order[n_train + n_valid:]),
    }
    # ---- make sure the largest id occurs in training, so n_items = max id + 1 holds
    items_seq = item_of_pos[seqs]
    top_id = p["n_items"] - 1
    tr = split_users["train"]
    used = np.zeros(p["n_items"], dtype=bool)
    used[items_seq[tr][np.arange(max_len)[None, :] < lengths[tr][:, None]]] = True
    if not used[top_id]:
        swap = int(np.flatnonzero(used).max())
        relabel = np.arange(p["n_items"])
        relabel[[swap, top_id]] = [top_id, swap]
        items_seq = relabel[items_seq]
        category[[swap, top_id]] = category[[top_id, swap]]
    return {
        "seqs": items_seq,
        "ts": ts,
        "lengths": lengths,
        "category": category,
        "split_users": split_users,
    }


def _frame(sim: Dict[str, Any], users: np.ndarray) -> pd.DataFrame:
    """Interaction rows of the given users (ids = index + 1), ordered by user then time."""
    lengths = sim["lengths"][users]
    mask = np.arange(sim["seqs"].shape[1])[None, :] < lengths[:, None]
    return pd.DataFrame({
        "user_id": np.repeat(users + 1, lengths).astype(np.int64),
        "item_id": sim["seqs"][users][mask].astype(np.int64),
        "timestamp": sim["ts"][users][mask].astype(np.int64),
    })


def _statistics(frames: Dict[str, pd.DataFrame], category: np.ndarray, n_items: int) -> Dict[str, Any]:
    """Counts and structure measures reported in meta.json and returned to the caller."""
    all_df = pd.concat(list(frames.values()), ignore_index=True)
    counts = np.bincount(all_df["item_id"].to_numpy(), minlength=n_items)[1:]
    top = np.sort(counts)[::-1]
    n_top = max(1, int(math.ceil(0.1 * len(top))))
    items = all_df["item_id"].to_numpy()
    same_user = all_df["user_id"].to_numpy()[1:] == all_df["user_id"].to_numpy()[:-1]
    same_cat = category[items[1:]] == category[items[:-1]]
    lengths = all_df.groupby("user_id", sort=False).size().to_numpy()
    n_distinct = all_df.groupby("user_id", sort=False)["item_id"].nunique().to_numpy()
    return {
        "n_items": int(n_items),
        "n_interactions": int(len(all_df)),
        "n_users": int(all_df["user_id"].nunique()),
        "users": {k: int(v["user_id"].nunique()) for k, v in frames.items()},
        "interactions": {k: int(len(v)) for k, v in frames.items()},
        "items_never_used": int((counts == 0).sum()),
        "user_length_mean": round(float(lengths.mean()), 3),
        "user_length_min": int(lengths.min()),
        "user_length_max": int(lengths.max()),
        "top10pct_item_share": round(float(top[:n_top].sum() / top.sum()), 4),
        "within_category_transition_share": round(float(same_cat[same_user].mean()), 4),
        "repeat_share": round(float(1.0 - n_distinct.sum() / lengths.sum()), 4),
    }


def generate_synthetic(
    out_dir: Union[str, Path],
    seed: int = 2024,
    n_users: int = DEFAULTS["n_users"],
    n_items: int = DEFAULTS["n_items"],
    n_categories: int = DEFAULTS["n_categories"],
    min_length: int = DEFAULTS["min_length"],
    max_length: int = DEFAULTS["max_length"],
    overwrite: bool = False,
    **options: Any,
) -> Dict[str, Any]:
    """Generate the synthetic dataset into ``out_dir`` and return its summary statistics.

    ``n_items`` counts the padding id, so item ids are ``1 .. n_items-1`` (as the notebook's
    ``n_items = max id + 1``). Further structure parameters (``item_zipf``, ``p_follow``,
    ... see :data:`DEFAULTS`) can be passed as keyword options. The folder is written
    atomically: it appears complete or not at all. An existing non-empty ``out_dir`` is
    replaced only with ``overwrite=True``; otherwise :class:`SrgnnError` is raised.
    The output depends only on the seed and the parameters (byte-identical reruns).
    """
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise SrgnnError(
            f"generate_synthetic: unknown option(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(DEFAULTS))}")
    params: Dict[str, Any] = {**DEFAULTS, **options, "n_users": n_users, "n_items": n_items,
                              "n_categories": n_categories, "min_length": min_length,
                              "max_length": max_length}
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SrgnnError(f"generate_synthetic: '{key}' must be a number, got {value!r}")
    _check_params(params)
    seed = int(seed)

    out = Path(out_dir)
    replace = False
    if out.exists():
        if not out.is_dir():
            raise SrgnnError(f"{out}: exists and is not a folder; choose another data folder")
        if any(out.iterdir()):
            if not overwrite:
                raise SrgnnError(
                    f"{out}: folder is not empty; remove it or pass overwrite=True (--overwrite) to regenerate")
        replace = True

    sim = _simulate(params, seed)
    frames = {name: _frame(sim, users) for name, users in sim["split_users"].items()}
    stats = _statistics(frames, sim["category"], params["n_items"])
    items = pd.DataFrame({
        "item_id": np.arange(1, params["n_items"], dtype=np.int64),
        "category": sim["category"][1:].astype(np.int64),
    })
    meta = {
        "generator": GENERATOR_NAME,
        "seed": seed,
        "parameters": {k: params[k] for k in sorted(params)},
        **stats,
    }
    with atomic_directory(out, overwrite=replace) as tmp:
        for (name, frame), fname in zip(frames.items(), SPLIT_FILES.values()):
            frame.to_csv(tmp / fname, index=False, lineterminator="\n")
        items.to_csv(tmp / ITEMS_FILE, index=False, lineterminator="\n")
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n",
                                     encoding="utf-8")
    return meta


def ensure_synthetic(data_dir: Union[str, Path], seed: int = 2024) -> Path:
    """Return ``data_dir``, generating the default synthetic dataset there if needed.

    Nothing is written when the three split CSVs already exist (whatever their origin).
    When only some of them exist the folder is inconsistent and :class:`SrgnnError` says
    so, rather than silently mixing old and new files.
    """
    path = Path(data_dir)
    present = [f for f in SPLIT_FILES.values() if (path / f).is_file()]
    if len(present) == len(SPLIT_FILES):
        return path
    if present:
        missing = [f for f in SPLIT_FILES.values() if f not in present]
        raise SrgnnError(
            f"{path}: has {', '.join(present)} but not {', '.join(missing)}; "
            "delete the folder to regenerate the synthetic data or add the missing files")
    if path.is_dir() and any(path.iterdir()):
        raise SrgnnError(
            f"{path}: folder holds other files but no {', '.join(SPLIT_FILES.values())}; "
            "empty it or point the data folder elsewhere")
    print(f"generating the embedded synthetic dataset (seed {seed}) into {path}/")
    generate_synthetic(path, seed=seed)
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m srgnn_paddle.synthetic OUT_DIR [--seed S] [--overwrite]``."""
    parser = argparse.ArgumentParser(prog="python -m srgnn_paddle.synthetic",
                                     description="Write the synthetic SR-GNN dataset.")
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--n-users", type=int, default=DEFAULTS["n_users"])
    parser.add_argument("--n-items", type=int, default=DEFAULTS["n_items"])
    parser.add_argument("--n-categories", type=int, default=DEFAULTS["n_categories"])
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    try:
        meta = generate_synthetic(args.out_dir, seed=args.seed, n_users=args.n_users,
                                  n_items=args.n_items, n_categories=args.n_categories,
                                  overwrite=args.overwrite)
    except SrgnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keep: List[str] = ["n_items", "n_interactions", "users", "user_length_mean",
                       "top10pct_item_share", "within_category_transition_share"]
    print(json.dumps({k: meta[k] for k in keep}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
