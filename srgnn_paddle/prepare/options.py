"""Options of ``prepare``: the formats, the protocols and their defaults."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence


from srgnn_paddle.errors import SrgnnError

FORMATS = ("movielens", "amazon-seq", "interactions-csv", "diginetica", "yoochoose", "sessions-csv")
PROTOCOLS = ("notebook", "paper", "loo")
MOVIELENS_LAYOUTS = ("auto", "dat", "csv", "udata")
CLICK_FORMATS = ("diginetica", "yoochoose")
#: labelled sessions (the course data's ``train_sessions.csv``: ``session``, ``label``)
SESSION_FORMATS = ("sessions-csv",)
SESSIONS_DEFAULTS = {"min_item_count": 5, "seed": 2024, "test_portion": 0.2}
#: formats with whole user histories that ``--protocol paper`` splits leave-last-out per user
LEAVE_LAST_OUT_FORMATS = ("amazon-seq",)
TRAIN_PAIRS = ("prefixes", "last")
MIN_LEAVE_LAST_OUT_ITEMS = 3  # one training item, the validation item, the test item
DEFAULT_TEST_DAYS = {"diginetica": 7, "yoochoose": 1}
YOOCHOOSE_FRACTIONS = (4, 64)
SPLIT_NAMES = ("train", "valid", "test")
NOTEBOOK_DEFAULTS = {"min_item_count": 1, "min_user_count": 5, "seed": 2024}
LOO_DEFAULTS = {"min_item_count": 1, "min_user_count": 3, "seed": 2024, "negatives": 99}
PAPER_MIN_ITEM_COUNT = 5
MIN_SESSION_LENGTH = 2
SECONDS_PER_DAY = 86400



# ============================================================================ options
@dataclass
class PrepareOptions:
    """Options of :func:`prepare_dataset`; ``None`` means the protocol's default.

    Attributes:
        protocol: ``notebook``, ``paper`` or ``loo``; default ``paper`` for the click logs
            (diginetica, yoochoose) and sessions-csv, ``notebook`` otherwise. ``paper`` for
            ``amazon-seq`` splits each user leave-last-out (see
            :func:`~srgnn_paddle.prepare.splits.leave_last_out_split`).
        rating_threshold: notebook, loo: keep interactions with rating >= this (formats with
            ratings only).
        min_item_count: minimum interactions per item (notebook default 1; paper default 5,
            counted once, as published).
        min_user_count: notebook: minimum interactions per user (default 5, so every user
            can be sampled by the notebook's dataset); loo: default 3 (training,
            validation and test need one each).
        seed: notebook: seed of the user shuffle; loo: of the sampled negatives (default 2024).
        negatives: loo: sampled negatives per validation and test item (default 99).
        layout: movielens: ``auto`` (from the first line), ``dat``, ``csv`` or ``udata``.
        user_col, item_col, time_col, rating_col, sep: interactions-csv columns and
            separator (defaults ``user_id``, ``item_id``, ``timestamp``, no rating, ``,``).
        test_days: paper: days at the end that form the test set (7 DIGINETICA, 1 YOOCHOOSE).
        keep_split_day: paper: put sessions dated exactly ``test_days`` before the last
            date into training. The published script drops them (its training set is
            ``date < split`` and its test set ``date > split``); the default does the same so
            that the published files are reproduced.
        test_portion: sessions-csv: share of the labelled rows held out (seeded by ``seed``)
            as the test split (default 0.2, the course report's hold-out).
        train_pairs: amazon-seq, paper: the training pairs written to ``train.txt``:
            ``prefixes`` (default; every prefix of each user's training items with its next
            item, the paper's augmentation) or ``last`` (one pair per user, the training
            items' last one after the rest: no augmentation).
    """

    protocol: Optional[str] = None
    rating_threshold: Optional[float] = None
    min_item_count: Optional[int] = None
    min_user_count: Optional[int] = None
    seed: Optional[int] = None
    layout: Optional[str] = None
    user_col: Optional[str] = None
    item_col: Optional[str] = None
    time_col: Optional[str] = None
    rating_col: Optional[str] = None
    sep: Optional[str] = None
    test_days: Optional[int] = None
    keep_split_day: bool = False
    test_portion: Optional[float] = None
    train_pairs: Optional[str] = None
    negatives: Optional[int] = None


def resolve_options(fmt: str, opts: PrepareOptions) -> PrepareOptions:
    """Check that every option given applies to ``fmt`` and its protocol; fill defaults."""
    if fmt not in FORMATS:
        raise SrgnnError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    protocol = opts.protocol or ("paper" if fmt in CLICK_FORMATS + SESSION_FORMATS else "notebook")
    if protocol not in PROTOCOLS:
        raise SrgnnError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if protocol == "paper" and fmt not in CLICK_FORMATS + SESSION_FORMATS + LEAVE_LAST_OUT_FORMATS:
        raise SrgnnError(f"--protocol paper needs a session click log ({', '.join(CLICK_FORMATS)}), labelled "
                         f"sessions (sessions-csv) or user sequences ({', '.join(LEAVE_LAST_OUT_FORMATS)}); {fmt} "
                         f"has timed user interactions: use --protocol notebook or loo")
    if protocol != "paper" and fmt in SESSION_FORMATS:
        raise SrgnnError(f"{fmt} holds anonymous sessions with their next item, not users: use --protocol paper")
    if protocol == "loo" and fmt in CLICK_FORMATS:
        raise SrgnnError(f"--protocol loo needs users' interactions (movielens, amazon-seq, interactions-csv); "
                         f"{fmt} has anonymous sessions: use --protocol paper or notebook")

    def refuse(names: Sequence[str], why: str) -> None:
        for name in names:
            value = getattr(opts, name)
            if value is not None and value is not False:
                raise SrgnnError(f"--{name} {why}; drop it")

    if fmt != "interactions-csv":
        refuse(("user_col", "item_col", "time_col", "rating_col", "sep"), "applies to interactions-csv only")
    if fmt != "movielens":
        refuse(("layout",), "applies to movielens only")
    if fmt not in SESSION_FORMATS:
        refuse(("test_portion",), "applies to sessions-csv only")
    if fmt in SESSION_FORMATS:
        refuse(("rating_threshold", "min_user_count"), "applies to the notebook and loo protocols only")
        refuse(("test_days", "keep_split_day"), "applies to dated click logs (diginetica, yoochoose) only")
    elif protocol == "paper":
        refuse(("rating_threshold", "min_user_count", "seed"), "applies to the notebook and loo protocols only")
    else:
        refuse(("test_days", "keep_split_day"), "applies to the paper protocol only")
    if fmt in LEAVE_LAST_OUT_FORMATS:
        refuse(("test_days", "keep_split_day"), "applies to the click logs only (amazon-seq is split leave-last-out)")
    if not (protocol == "paper" and fmt in LEAVE_LAST_OUT_FORMATS):
        refuse(("train_pairs",), f"applies to --protocol paper with {', '.join(LEAVE_LAST_OUT_FORMATS)} only")
    if protocol != "loo":
        refuse(("negatives",), "applies to --protocol loo only")

    out = PrepareOptions(**{**opts.__dict__, "protocol": protocol})
    if fmt == "movielens":
        out.layout = opts.layout or "auto"
        if out.layout not in MOVIELENS_LAYOUTS:
            raise SrgnnError(f"unknown movielens layout {out.layout!r}; choose one of {', '.join(MOVIELENS_LAYOUTS)}")
    if fmt == "interactions-csv":
        out.user_col = opts.user_col or "user_id"
        out.item_col = opts.item_col or "item_id"
        out.time_col = opts.time_col or "timestamp"
        out.sep = _unescape_sep(opts.sep if opts.sep is not None else ",")
    if fmt in SESSION_FORMATS:
        for key, default in SESSIONS_DEFAULTS.items():
            if getattr(opts, key) is None:
                setattr(out, key, default)
        if not 0.0 < out.test_portion < 1.0:
            raise SrgnnError(f"--test_portion must be between 0 and 1 (exclusive), got {out.test_portion}")
    elif protocol == "paper" and fmt in LEAVE_LAST_OUT_FORMATS:
        out.min_item_count = 1 if opts.min_item_count is None else opts.min_item_count
        out.train_pairs = opts.train_pairs or "prefixes"
        if out.train_pairs not in TRAIN_PAIRS:
            raise SrgnnError(f"unknown --train_pairs {out.train_pairs!r}; choose one of {', '.join(TRAIN_PAIRS)}")
    elif protocol == "paper":
        out.min_item_count = PAPER_MIN_ITEM_COUNT if opts.min_item_count is None else opts.min_item_count
        out.test_days = DEFAULT_TEST_DAYS[fmt] if opts.test_days is None else opts.test_days
        if out.test_days < 1:
            raise SrgnnError(f"--test_days must be >= 1, got {out.test_days}")
    else:
        for key, default in (LOO_DEFAULTS if protocol == "loo" else NOTEBOOK_DEFAULTS).items():
            if getattr(opts, key) is None:
                setattr(out, key, default)
    if out.negatives is not None and out.negatives < 1:
        raise SrgnnError(f"--negatives must be >= 1, got {out.negatives}")
    if out.min_item_count < 1:
        raise SrgnnError(f"--min_item_count must be >= 1, got {out.min_item_count}")
    if out.min_user_count is not None and out.min_user_count < 1:
        raise SrgnnError(f"--min_user_count must be >= 1, got {out.min_user_count}")
    return out


def _unescape_sep(sep: str) -> str:
    """Accept ``\\t`` / ``tab`` for a tab, as typed on a command line."""
    if sep in ("\\t", "tab"):
        return "\t"
    if not sep:
        raise SrgnnError("--sep must not be empty")
    return sep

