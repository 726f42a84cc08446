"""The package's public names: the notebook's building blocks importable from the top level."""
from __future__ import annotations

import srgnn_paddle
from srgnn_paddle import data, models
from srgnn_paddle.data import graph, sessions
from srgnn_paddle.evaluation import metrics, retrieval

NOTEBOOK_NAMES = {
    "SequenceDataset": data.SequenceDataset,
    "SeqnenceDataset": data.SequenceDataset,  # the notebook's spelling is an alias, not a copy
    "build_session_graph": graph.build_session_graph,
    "GNN": models.GNN,
    "SRGNN": models.SRGNN,
    "get_predict": retrieval.get_predict,
    "evaluate": metrics.evaluate,
    "evaluate_model": retrieval.evaluate_model,
    "augment_prefixes": sessions.augment_prefixes,
}


def test_top_level_exports_the_notebooks_building_blocks():
    for name, obj in NOTEBOOK_NAMES.items():
        assert name in srgnn_paddle.__all__, name
        assert getattr(srgnn_paddle, name) is obj, name
    assert set(srgnn_paddle.__all__) <= set(dir(srgnn_paddle))  # nothing listed that is not there


def test_a_notebook_style_dict_config_takes_the_notebooks_defaults():
    m = srgnn_paddle.SRGNN({"n_items": 10})  # the notebook's D 16, step 2, Paddle's initialisation
    assert m.embedding_dim == 16 and m.gnn.step == 2 and m.score_padding
    assert srgnn_paddle.SRGNN({"n_items": 10, "step": 1, "embedding_dim": 4}).gnn.step == 1
