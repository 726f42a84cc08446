"""Dataset preparation: raw public formats into the notebook's CSV triple or the paper's pickles.

Formats (``FORMATS``):

* ``movielens``: ``ratings.dat`` (``user::item::rating::time``, ml-1m / ml-10m),
  ``ratings.csv`` (header ``userId,movieId,rating,timestamp``, ml-20m / ml-latest) or
  ``u.data`` (tab-separated, ml-100k); detected from the first line or given as ``layout``;
* ``amazon-seq``: one line per user, ``user item item ...`` in time order; the position in
  the line becomes the timestamp;
* ``interactions-csv``: any delimited file with a header naming user, item and time
  columns (and optionally a rating column);
* ``diginetica``: ``train-item-views.csv`` (``;``-separated, header
  ``session_id;user_id;item_id;timeframe;eventdate``);
* ``yoochoose``: ``yoochoose-clicks.dat`` (no header:
  ``session_id,timestamp,item_id,category`` with ISO 8601 timestamps).

Protocols:

* ``notebook`` (default for the first three): optional rating threshold, iterated
  minimum-count filters on items and users (k-core style), items re-encoded ``1..n`` in the
  order of their original ids (0 = padding), users re-encoded ``1..U`` the same way and
  split 8:1:1 by a seeded shuffle into ``train_enc.csv`` / ``valid_enc.csv`` /
  ``test_enc.csv`` (header ``user_id,item_id,timestamp``), plus ``item_map.csv``,
  ``user_map.csv`` and ``meta.json``. Click logs use the session as the user.
* ``paper`` (default for the click logs): the SR-GNN preprocessing
  (:func:`paper_split`), written as the published pickles (:mod:`srgnn_paddle.data.sessions`),
  plus ``item_map.csv`` and ``meta.json``. For ``amazon-seq`` (user sequences without
  dates): leave-last-out per user (:func:`leave_last_out_split`), the same pickles plus
  ``valid.txt`` and ``user_map.csv``.

The output folder is built in a temporary folder and renamed into place only when every
file is written, so a failed run leaves nothing behind. Every problem with the input is
raised as one :class:`~srgnn_paddle.errors.SrgnnError` line.

Stage 2 of the pipeline: :mod:`~srgnn_paddle.prepare.readers` (raw formats),
:mod:`~srgnn_paddle.prepare.splits` (the protocols), :mod:`~srgnn_paddle.prepare.writers`
(the output folder), :mod:`~srgnn_paddle.prepare.options`.
"""
from srgnn_paddle.prepare.options import FORMATS, MOVIELENS_LAYOUTS, PROTOCOLS, TRAIN_PAIRS, PrepareOptions
from srgnn_paddle.prepare.readers import read_raw
from srgnn_paddle.prepare.splits import leave_last_out_split, notebook_split, paper_split, yoochoose_fraction
from srgnn_paddle.prepare.writers import format_summary, prepare_dataset

__all__ = ["FORMATS", "MOVIELENS_LAYOUTS", "PROTOCOLS", "TRAIN_PAIRS", "PrepareOptions", "read_raw", "notebook_split",
           "leave_last_out_split", "paper_split", "yoochoose_fraction", "format_summary", "prepare_dataset"]
