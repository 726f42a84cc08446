"""Writing a prepared dataset folder (atomically) and its summary."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from srgnn_paddle.data.interactions import SPLIT_FILES
from srgnn_paddle.data.ncf_files import NEGATIVE_SUFFIX, RATING_SUFFIX, write_negative_file, write_rating_file
from srgnn_paddle.data.sessions import augment_prefixes, write_session_pickles
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.fileio import atomic_directory, sha256_of
from srgnn_paddle.prepare.options import (
    LEAVE_LAST_OUT_FORMATS,
    MIN_LEAVE_LAST_OUT_ITEMS,
    MIN_SESSION_LENGTH,
    SESSION_FORMATS,
    SPLIT_NAMES,
    YOOCHOOSE_FRACTIONS,
    PrepareOptions,
    resolve_options,
)
from srgnn_paddle.prepare.readers import check_input, read_frame, read_sessions_csv
from srgnn_paddle.prepare.splits import (
    MIN_SESSION_ITEMS,
    leave_last_out_split,
    loo_split,
    notebook_split,
    paper_split,
    sessions_split,
    yoochoose_fraction,
)


# ============================================================================ writing
def _check_output(output: Union[str, Path], overwrite: bool, source: Path) -> Path:
    """Refuse an existing output (unless ``overwrite``), a file, or a folder holding the input."""
    out = Path(output)
    if out.exists():
        if not out.is_dir():
            raise SrgnnError(f"{out}: exists and is not a folder; choose another --output")
        if not overwrite:
            raise SrgnnError(f"{out}: already exists; pass --overwrite to replace it or choose another --output")
        if out.resolve() in source.resolve().parents:
            raise SrgnnError(f"{out}: holds the input file {source.name}, which --overwrite would delete; "
                             f"choose another --output")
    return out


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A CSV with a header, no index and ``\\n`` line ends (byte-identical on every run)."""
    frame.to_csv(path, index=False, lineterminator="\n")


def _write_json(data: Dict[str, Any], path: Path) -> None:
    """Indented JSON with a final newline."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _id_map(original: np.ndarray, column: str, start: int = 1) -> pd.DataFrame:
    """``original_<column>, <column>`` with encoded ids ``start..start+n-1``."""
    return pd.DataFrame({f"original_{column}": original,
                         column: np.arange(start, start + len(original), dtype=np.int64)})


def _pairs_stats(pairs: Tuple[List[List[int]], List[int]]) -> Dict[str, int]:
    """Number of sequences and of prefix items of ``(sequences, labels)``."""
    return {"sequences": len(pairs[0]), "prefix_items": int(sum(map(len, pairs[0])))}


def _session_stats(sessions: Sequence[List[int]], pairs: Tuple[List[List[int]], List[int]]) -> Dict[str, int]:
    """Sessions, clicks and sequences of one side of a paper split."""
    return {"sessions": len(sessions), "clicks": int(sum(map(len, sessions))), **_pairs_stats(pairs)}


def _paper_totals(train: Dict[str, int], test: Dict[str, int]) -> Dict[str, Any]:
    """Clicks and the two average lengths of a paper split.

    ``avg_length`` is the mean length of the augmented sequences counting the label
    (``len(prefix) + 1``) over train and test together: 5.125 for the published DIGINETICA
    files, the paper's "5.12". ``avg_session_length`` is clicks per session (4.85 there).
    """
    sequences = train["sequences"] + test["sequences"]
    sessions = train["sessions"] + test["sessions"]
    clicks = train["clicks"] + test["clicks"]
    return {
        "clicks": clicks,
        "avg_length": round((train["prefix_items"] + test["prefix_items"] + sequences) / sequences, 4),
        "avg_session_length": round(clicks / sessions, 4),
    }


def _prepare_notebook(frame: pd.DataFrame, opts: PrepareOptions, meta: Dict[str, Any], out: Path,
                      overwrite: bool, source: str) -> Dict[str, Any]:
    """Run :func:`notebook_split` and write the CSV triple, the id maps and ``meta.json``."""
    result = notebook_split(frame, rating_threshold=opts.rating_threshold, min_item_count=opts.min_item_count,
                            min_user_count=opts.min_user_count, seed=opts.seed, source=source)
    n_items = len(result.item_ids)
    meta.update({
        "filters": {"rating_threshold": opts.rating_threshold, "min_item_count": opts.min_item_count,
                    "min_user_count": opts.min_user_count},
        "seed": opts.seed,
        "split": "users 8:1:1 (numpy.random.default_rng(seed).permutation; valid and test get users // 10 each)",
        "n_items": n_items + 1,
        "items": n_items,
        "users": len(result.user_ids),
        "interactions": int(sum(len(df) for df in result.splits.values())),
        "counts": {key: result.stats[key] for key in ("read", "after_rating_threshold", "filtered")
                   if key in result.stats},
        "filter_rounds": result.stats["filter_rounds"],
        "splits": result.stats["splits"],
        "files": [*SPLIT_FILES.values(), "item_map.csv", "user_map.csv", "meta.json"],
    })
    with _output_folder(out, overwrite) as tmp:
        for name, df in result.splits.items():
            _write_csv(df, tmp / SPLIT_FILES[name])
        _write_csv(_id_map(result.item_ids, "item_id"), tmp / "item_map.csv")
        _write_csv(_id_map(result.user_ids, "user_id"), tmp / "user_map.csv")
        _write_json(meta, tmp / "meta.json")
    return meta


def _prepare_loo(frame: pd.DataFrame, opts: PrepareOptions, meta: Dict[str, Any], out: Path,
                 overwrite: bool, source: str) -> Dict[str, Any]:
    """Run :func:`loo_split` and write the NCF files (``<name>.train.rating``,
    ``.valid.rating``, ``.valid.negative``, ``.test.rating``, ``.test.negative``; ``<name>``
    is the output folder's name), the id maps and ``meta.json``."""
    result = loo_split(frame, rating_threshold=opts.rating_threshold, min_item_count=opts.min_item_count,
                       min_user_count=opts.min_user_count, negatives=opts.negatives, seed=opts.seed, source=source)
    name = out.name
    n_items = len(result.item_ids)
    meta.update({
        "dataset": name,
        "filters": {"rating_threshold": opts.rating_threshold, "min_item_count": opts.min_item_count,
                    "min_user_count": opts.min_user_count},
        "seed": opts.seed,
        "negatives": opts.negatives,
        "split": "per user, ordered by time (ties: file order) after keeping the latest of repeated (user, item) "
                 "pairs: the latest interaction is the test item, the one before it the validation item, the rest "
                 "training; each test and validation item has `negatives` distinct items the user never "
                 "interacted with (numpy default_rng([seed, 1]) for test, [seed, 2] for validation)",
        "ids": "users and items from 0 in the order of their original ids (user_map.csv, item_map.csv); the "
               "toolkit's item table adds a padding row 0, so n_items = items + 1",
        "n_items": n_items + 1,
        "items": n_items,
        "users": len(result.user_ids),
        "interactions": int(sum(len(df) for df in (result.train, result.valid, result.test))),
        "counts": {key: result.stats[key] for key in ("read", "deduplicated", "after_rating_threshold", "filtered")
                   if key in result.stats},
        "filter_rounds": result.stats["filter_rounds"],
        "splits": result.stats["splits"],
        "files": [name + RATING_SUFFIX["train"], name + RATING_SUFFIX["valid"], name + NEGATIVE_SUFFIX["valid"],
                  name + RATING_SUFFIX["test"], name + NEGATIVE_SUFFIX["test"], "item_map.csv", "user_map.csv",
                  "meta.json"],
    })
    ratings = None if result.train["rating"].isna().all() else "rating"
    with _output_folder(out, overwrite) as tmp:
        for split, df in (("train", result.train), ("valid", result.valid), ("test", result.test)):
            write_rating_file(tmp / (name + RATING_SUFFIX[split]), df["user"].to_numpy(), df["item"].to_numpy(),
                              None if ratings is None else df["rating"].to_numpy(), df["time"].to_numpy())
        for split, df, negatives in (("valid", result.valid, result.valid_negatives),
                                     ("test", result.test, result.test_negatives)):
            write_negative_file(tmp / (name + NEGATIVE_SUFFIX[split]), df["user"].to_numpy(), df["item"].to_numpy(),
                                negatives)
        _write_csv(_id_map(result.item_ids, "item_id", start=0), tmp / "item_map.csv")
        _write_csv(_id_map(result.user_ids, "user_id", start=0), tmp / "user_map.csv")
        _write_json(meta, tmp / "meta.json")
    return meta


def _prepare_paper(frame: pd.DataFrame, fmt: str, opts: PrepareOptions, meta: Dict[str, Any], out: Path,
                   overwrite: bool, source: str) -> Dict[str, Any]:
    """Run :func:`paper_split` and write the published pickle layout, the item map and ``meta.json``."""
    result = paper_split(frame, min_item_count=opts.min_item_count, test_days=opts.test_days,
                         keep_split_day=opts.keep_split_day, source=source)
    test = augment_prefixes(result.test_sessions)
    test_stats = _session_stats(result.test_sessions, test)
    n_items = len(result.item_ids)
    meta.update({
        "filters": {"min_session_length": MIN_SESSION_LENGTH, "min_item_count": opts.min_item_count},
        "split": result.stats["split"],
        "n_items": n_items + 1,
        "items": n_items,
        "counts": {"read": result.stats["read"], "filtered": result.stats["filtered"]},
    })
    folders: Dict[str, Tuple[List[List[int]], Tuple[List[List[int]], List[int]]]] = {}
    if fmt == "yoochoose":
        full = {"sessions": len(result.train_sessions), "clicks": int(sum(map(len, result.train_sessions))),
                "sequences": int(sum(len(s) - 1 for s in result.train_sessions))}
        meta["counts"]["train_all"] = full
        meta["counts"]["test"] = test_stats
        meta["fractions"] = {}
        for fraction in YOOCHOOSE_FRACTIONS:
            sessions, train = yoochoose_fraction(result.train_sessions, fraction)
            name = f"yoochoose1_{fraction}"
            folders[name] = (sessions, train)
            train_stats = _session_stats(sessions, train)
            meta["fractions"][name] = {"train": train_stats, "test": test_stats,
                                       **_paper_totals(train_stats, test_stats)}
        meta["files"] = [f"{name}/{f}" for name in folders for f in ("all_train_seq.txt", "train.txt", "test.txt")]
    else:
        train = augment_prefixes(result.train_sessions)
        folders[""] = (result.train_sessions, train)
        train_stats = _session_stats(result.train_sessions, train)
        meta["counts"].update({"train": train_stats, "test": test_stats})
        meta.update(_paper_totals(train_stats, test_stats))
        meta["files"] = ["all_train_seq.txt", "train.txt", "test.txt"]
    meta["files"] += ["item_map.csv", "meta.json"]
    with _output_folder(out, overwrite) as tmp:
        for name, (sessions, train) in folders.items():
            write_session_pickles(tmp / name, sessions, train, test)
        _write_csv(_id_map(result.item_ids, "item_id"), tmp / "item_map.csv")
        _write_json(meta, tmp / "meta.json")
    return meta


def _prepare_sessions(source: Path, opts: PrepareOptions, meta: Dict[str, Any], out: Path,
                      overwrite: bool) -> Dict[str, Any]:
    """Read labelled sessions, run :func:`sessions_split` and write the paper layout: training
    rows as whole sequences (``all_train_seq.txt``) and their prefix augmentation
    (``train.txt``); held-out rows as they are, one ``(session, label)`` pair each
    (``test.txt``); ``item_map.csv`` and ``meta.json``."""
    rows = read_sessions_csv(source, need_label=True)
    result = sessions_split(rows.sessions, rows.labels, min_item_count=opts.min_item_count,
                            test_portion=opts.test_portion, seed=opts.seed, source=str(source))
    train = augment_prefixes(result.train_sessions)
    n_items = len(result.item_ids)
    train_stats = _session_stats(result.train_sessions, train)
    test_stats = {"sessions": len(result.test[0]),
                  "clicks": int(sum(map(len, result.test[0])) + len(result.test[1])), **_pairs_stats(result.test)}
    meta.update({
        "filters": {"min_session_items": MIN_SESSION_ITEMS, "min_item_count": opts.min_item_count},
        "split": result.stats["split"],
        "encoding": "items 1..n in order of first appearance in the training rows; test items never seen in "
                    "training are removed (predict drops them too)",
        "n_items": n_items + 1,
        "items": n_items,
        "counts": {"read": result.stats["read"], "after_session_length": result.stats["after_session_length"],
                   "filtered": result.stats["filtered"], "train": train_stats, "test": test_stats},
        **_paper_totals(train_stats, test_stats),
        "files": ["all_train_seq.txt", "train.txt", "test.txt", "item_map.csv", "meta.json"],
    })
    with _output_folder(out, overwrite) as tmp:
        write_session_pickles(tmp, result.train_sessions, train, result.test)
        _write_csv(_id_map(result.item_ids, "item_id"), tmp / "item_map.csv")
        _write_json(meta, tmp / "meta.json")
    return meta


def _prepare_leave_last_out(frame: pd.DataFrame, opts: PrepareOptions, meta: Dict[str, Any], out: Path,
                            overwrite: bool, source: str) -> Dict[str, Any]:
    """Run :func:`leave_last_out_split` and write the paper layout with ``valid.txt``, the
    id maps and ``meta.json``."""
    result = leave_last_out_split(frame, min_item_count=opts.min_item_count, train_pairs=opts.train_pairs,
                                  source=source)
    n_items = len(result.item_ids)
    train = {"sessions": len(result.train_sessions), "items": int(sum(map(len, result.train_sessions))),
             "train_pairs": opts.train_pairs, **_pairs_stats(result.train)}
    meta.update({
        "filters": {"min_item_count": opts.min_item_count, "min_user_items": MIN_LEAVE_LAST_OUT_ITEMS},
        "split": {"method": "leave-last-out per user",
                  "test": "each user's last item after the rest (test.txt)",
                  "valid": "each user's second-to-last item after the items before it (valid.txt)",
                  "train": "the items before those two (all_train_seq.txt, sessions of 2 items or more); "
                           + ("train.txt holds every prefix with its next item" if opts.train_pairs == "prefixes"
                              else "train.txt holds each session's longest prefix with its last item")},
        "n_items": n_items + 1,
        "items": n_items,
        "users": len(result.user_ids),
        "counts": {"read": result.stats["read"], "filtered": result.stats["filtered"], "train": train,
                   "valid": _pairs_stats(result.valid), "test": _pairs_stats(result.test)},
        "files": ["all_train_seq.txt", "train.txt", "valid.txt", "test.txt", "item_map.csv", "user_map.csv",
                  "meta.json"],
    })
    with _output_folder(out, overwrite) as tmp:
        write_session_pickles(tmp, result.train_sessions, result.train, result.test, valid=result.valid)
        _write_csv(_id_map(result.item_ids, "item_id"), tmp / "item_map.csv")
        _write_csv(_id_map(result.user_ids, "user_id"), tmp / "user_map.csv")
        _write_json(meta, tmp / "meta.json")
    return meta


@contextlib.contextmanager
def _output_folder(out: Path, overwrite: bool) -> Iterator[Path]:
    """:func:`atomic_directory`, reporting a folder that appeared meanwhile as an SrgnnError."""
    try:
        with atomic_directory(out, overwrite=overwrite) as tmp:
            yield tmp
    except FileExistsError:
        raise SrgnnError(f"{out}: appeared while preparing; pass --overwrite to replace it") from None


def prepare_dataset(fmt: str, input_path: Union[str, Path], output: Union[str, Path],
                    options: Optional[PrepareOptions] = None, overwrite: bool = False) -> Dict[str, Any]:
    """Prepare a raw file into ``output`` with the notebook or the paper protocol.

    Args:
        fmt: one of :data:`FORMATS`.
        input_path: the raw file.
        output: the folder to create (it appears whole or not at all).
        options: see :class:`PrepareOptions`.
        overwrite: replace an existing ``output`` folder.

    Returns:
        The contents of ``meta.json`` (also written into ``output``).

    Raises:
        SrgnnError: one line for any problem with the input, the options or the output.
    """
    opts = resolve_options(fmt, options or PrepareOptions())
    source = check_input(input_path)
    out = _check_output(output, overwrite, source)
    meta: Dict[str, Any] = {"format": fmt, "protocol": opts.protocol,
                            "source": {"path": str(source.resolve()), "bytes": source.stat().st_size,
                                       "sha256": sha256_of(source)}}
    if fmt in SESSION_FORMATS:
        return _prepare_sessions(source, opts, meta, out, overwrite)
    frame, layout = read_frame(fmt, source, opts)
    if layout is not None:
        meta = {"format": fmt, "layout": layout, **{k: v for k, v in meta.items() if k != "format"}}
    if opts.protocol == "paper" and fmt in LEAVE_LAST_OUT_FORMATS:
        return _prepare_leave_last_out(frame, opts, meta, out, overwrite, str(source))
    if opts.protocol == "paper":
        return _prepare_paper(frame, fmt, opts, meta, out, overwrite, str(source))
    if opts.protocol == "loo":
        return _prepare_loo(frame, opts, meta, out, overwrite, str(source))
    return _prepare_notebook(frame, opts, meta, out, overwrite, str(source))



# ============================================================================ summary
def _n(value: int) -> str:
    """An integer with thousands separators."""
    return f"{value:,}"


def format_summary(meta: Dict[str, Any], output: Union[str, Path]) -> str:
    """A few lines describing a prepared dataset (what the CLI prints)."""
    fmt = meta["format"] + (f" ({meta['layout']})" if "layout" in meta else "")
    lines = [f"prepared {fmt} -> {output} [{meta['protocol']} protocol]"]
    counts = meta["counts"]
    if meta["format"] in SESSION_FORMATS:
        s = meta["split"]
        lines.append(f"  read {_n(counts['read']['rows'])} rows; {_n(counts['after_session_length']['rows'])} with "
                     f">= {meta['filters']['min_session_items']} session items; {_n(counts['filtered']['rows'])} "
                     f"after dropping items seen < {meta['filters']['min_item_count']} times")
        lines.append(f"  test: {_n(s['held_out_rows'])} rows held out (test_portion {s['test_portion']}, seed "
                     f"{s['seed']}), {_n(s['test_rows_dropped'])} dropped (label or every item unseen in training)")
        lines.append(f"  train {_n(counts['train']['sessions'])} rows -> {_n(counts['train']['sequences'])} "
                     f"sequences; test {_n(counts['test']['sequences'])} sequences")
        lines.append(f"  items {_n(meta['items'])} (n_items = {_n(meta['n_items'])} with padding); average "
                     f"length {meta['avg_length']:.2f}")
    elif meta["protocol"] in ("notebook", "loo"):
        def row(name: str, c: Dict[str, int]) -> str:
            return (f"  {name:<10} {_n(c['interactions']):>12} interactions {_n(c['users']):>9} users"
                    + (f" {_n(c['items']):>9} items" if "items" in c else ""))
        f = meta["filters"]
        rules = [f"items >= {f['min_item_count']}", f"users >= {f['min_user_count']}"]
        if f["rating_threshold"] is not None:
            rules.insert(0, f"rating >= {f['rating_threshold']}")
        lines.append(row("read", counts["read"]))
        if "deduplicated" in counts:
            lines.append(row("distinct", counts["deduplicated"]) + "  (repeated (user, item) pairs: the latest kept)")
        lines.append(row("filtered", counts["filtered"]) + f"  ({', '.join(rules)}; {meta['filter_rounds']} round(s))")
        for name in SPLIT_NAMES:
            lines.append(row(name, meta["splits"][name]))
        if meta["protocol"] == "loo":
            lines.append(f"  leave-one-out: the latest interaction per user is the test item, the one before it the "
                         f"validation item; {meta['negatives']} negatives each (seed {meta['seed']})")
            lines.append(f"  {_n(meta['users'])} users, {_n(meta['items'])} items (ids from 0 in the files; "
                         f"n_items = {_n(meta['n_items'])} with the toolkit's padding row)")
        else:
            lines.append(f"  n_items = {_n(meta['n_items'])} (ids 1..{_n(meta['items'])}, 0 = padding); "
                         f"users shuffled with seed {meta['seed']}")
    elif meta["split"].get("method") == "leave-last-out per user":
        def row(name: str, c: Dict[str, int]) -> str:
            return f"  {name:<10} {_n(c['interactions']):>12} interactions {_n(c['users']):>9} users {_n(c['items']):>9} items"
        lines.append(row("read", counts["read"]))
        lines.append(row("filtered", counts["filtered"]) + f"  (items >= {meta['filters']['min_item_count']}, "
                                                           f"users >= {meta['filters']['min_user_items']} items; "
                                                           f"{_n(counts['filtered']['users_dropped'])} users dropped)")
        t = counts["train"]
        lines.append(f"  train      {_n(t['sessions']):>12} sessions {_n(t['items']):>12} items "
                     f"{_n(t['sequences']):>9} pairs ({t['train_pairs']})")
        for name in ("valid", "test"):
            lines.append(f"  {name:<10} {_n(counts[name]['sequences']):>12} pairs (one per user: "
                         f"{'second-to-last' if name == 'valid' else 'last'} item)")
        lines.append(f"  items {_n(meta['items'])} (n_items = {_n(meta['n_items'])} with padding)")
    else:
        def row(name: str, c: Dict[str, int]) -> str:
            text = f"  {name:<19} {_n(c['clicks']):>11} clicks {_n(c['sessions']):>10} sessions"
            return text + (f" {_n(c['sequences']):>10} sequences" if "sequences" in c else f" {_n(c['items']):>8} items")
        s = meta["split"]
        lines.append(row("read", counts["read"]))
        lines.append(row("filtered", counts["filtered"]) + f"  (sessions >= 2 clicks, items >= "
                                                           f"{meta['filters']['min_item_count']} clicks)")
        dropped = "" if s["keep_split_day"] else f"; {_n(s['sessions_dropped_on_split_date'])} dated on it dropped"
        lines.append(f"  split: test = sessions dated after {s['split_date']} (last {s['last_date']}, "
                     f"{s['test_days']} day(s)){dropped}")
        blocks = meta.get("fractions") or {"": {"train": counts["train"], "test": counts["test"],
                                                "clicks": meta["clicks"], "avg_length": meta["avg_length"]}}
        if "train_all" in counts:
            lines.append(row("train (all)", counts["train_all"]))
        for name, block in blocks.items():
            prefix = f"{name} " if name else ""
            lines.append(row(f"{prefix}train", block["train"]))
            lines.append(row(f"{prefix}test", block["test"]))
            lines.append(f"  {prefix}clicks {_n(block['clicks'])}, average length {block['avg_length']:.2f} "
                         f"(prefix + label, train and test)")
        lines.append(f"  items {_n(meta['items'])} (n_items = {_n(meta['n_items'])} with padding)")
    lines.append(f"  wrote {', '.join(meta['files'])}")
    return "\n".join(lines)

