"""``srgnn-paddle export`` and :class:`~srgnn_paddle.serving.SessionRecommender`: every
exportable model's top-K through Paddle Inference (and ONNX Runtime) equals the eager
model's on the same sessions; unknown ids are dropped and reported, sessions without a
known item get the popularity ranking, long sessions are cut as in training; models that
cannot be served are refused with the reason; a changed file is refused at load; missing
extras are one error line."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from srgnn_paddle import cli
from srgnn_paddle.data import Batch
from srgnn_paddle.data.sessions import augment_prefixes, write_session_pickles
from srgnn_paddle.errors import SrgnnError
from srgnn_paddle.evaluation.retrieval import l2_normalize, top_items
from srgnn_paddle.models import MODELS
from srgnn_paddle.runs import load_model, load_run
from srgnn_paddle.serving import MANIFEST_FILE, SessionRecommender
from srgnn_paddle.serving.encoder import pad_histories
from srgnn_paddle.serving.export import check_exportable
from srgnn_paddle.synthetic import generate_synthetic

SESSION_MODELS = [name for name, cls in MODELS.items()  # the servable ones: encoder + item table
                  if cls.trainable and cls.inner_product and cls.batch_layout != "pairs"]
N = 40  # items of the chain data: ids 1..40, originals "sku-<id>"
MAX_LENGTH = 5  # --session_max_length of the paper runs: longer sessions are cut to their last 5 items


def _original(code: int) -> str:
    return f"sku-{code}"


@pytest.fixture(scope="module")
def chain_dir(tmp_path_factory) -> Path:
    """Sessions walking a cycle of N items, in the paper's pickles, with an item_map.csv of string ids."""
    path = tmp_path_factory.mktemp("chain") / "chain"
    rng = np.random.default_rng(0)

    def walk(length):
        start = int(rng.integers(0, N))
        return [(start + k) % N + 1 for k in range(length)]

    sessions = [walk(int(rng.integers(2, 9))) for _ in range(300)]
    write_session_pickles(path, sessions, augment_prefixes(sessions), augment_prefixes([walk(4) for _ in range(40)]))
    rows = "".join(f"{_original(code)},{code}\n" for code in range(1, N + 1))
    (path / "item_map.csv").write_text("original_item_id,item_id\n" + rows)
    return path


@pytest.fixture(scope="module")
def exp_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exp")


def _train(model: str, data_dir: Path, exp_dir: Path, *extra: str) -> Path:
    argv = ["train", "--model", model, "--data_dir", str(data_dir), "--exp_dir", str(exp_dir), "--epochs", "1",
            "--embedding_dim", "8", "--batch_size", "64", "--lr", "0.01", "--quiet", "--no-tsne", *extra]
    assert cli.main(argv) == 0
    (config,) = exp_dir.rglob("config.yaml")  # one run per experiment folder
    return config.parent


@pytest.fixture(scope="module")
def paper_runs(chain_dir, exp_dir):
    """One short paper-protocol run of every session model (scoring: inner product)."""
    return {name: _train(name, chain_dir, exp_dir / name, "--protocol", "paper", "--session_max_length",
                         str(MAX_LENGTH)) for name in SESSION_MODELS}


def _sessions(rng):
    """Original-id sessions: short, longer than MAX_LENGTH, with unknown ids, repeats, one all unknown."""
    sessions = [[_original(int(i)) for i in rng.integers(1, N + 1, size=rng.integers(1, 12))] for _ in range(30)]
    sessions[3] = sessions[3] + ["no-such-item", 987654]  # unknown ids, dropped and reported
    sessions[5] = [_original(7), _original(8), _original(7), _original(9)]  # a repeat: a cycle in the graph
    sessions[7] = ["nope", 12345]  # nothing known: the popularity fallback
    return sessions


def _eager_top(run_dir: Path, sessions, k: int, cosine: bool, max_length: int, code=None):
    """The eager model's top-k original ids, from ``full_scores`` (inner product) or the
    L2-normalised vectors (cosine), on each session's known items cut to the last max_length."""
    code = code or (lambda item: int(item.split("-")[1]) if isinstance(item, str) and item.startswith("sku-") else 0)
    cfg, _ = load_run(run_dir)
    model = load_model(cfg, run_dir)
    model.eval()
    histories = [[c for c in map(code, s) if c][-max_length:] if max_length else [c for c in map(code, s) if c]
                 for s in sessions]
    keep = [i for i, h in enumerate(histories) if h]
    history = pad_histories([histories[i] for i in keep])
    batch = Batch(history, (history > 0).astype("float32"), None)
    with paddle.no_grad():
        if cosine:
            scores = l2_normalize(model.encode(batch).numpy()) @ l2_normalize(model.item_embeddings().numpy()).T
        else:
            scores = model.full_scores(batch).numpy()
    return keep, top_items(scores, k), scores


def _assert_same_ranking(got_codes, ref_codes, scores, tol=1e-5):
    """Equal rankings; where two items trade places their eager scores must be within ``tol``."""
    got_codes, ref_codes = np.asarray(got_codes), np.asarray(ref_codes)
    rows, cols = np.nonzero(got_codes != ref_codes)
    for r, c in zip(rows, cols):
        assert abs(scores[r, got_codes[r, c]] - scores[r, ref_codes[r, c]]) < tol, (r, c)


@pytest.mark.parametrize("name", SESSION_MODELS)
def test_every_session_model_exports_and_recommends_the_eager_top_k(name, paper_runs, tmp_path):
    out = tmp_path / "export"
    assert cli.main(["export", "--run_dir", str(paper_runs[name]), "--out", str(out)]) == 0
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["model"] == name and manifest["scoring"] == "inner_product" and manifest["max_length"] == MAX_LENGTH
    assert manifest["n_items"] == N + 1 and manifest["index"]["kind"] == "flat"
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {MANIFEST_FILE}
    recommender = SessionRecommender.load(out)
    sessions = _sessions(np.random.default_rng(1))
    k = 10
    results = recommender.recommend(sessions, k)
    keep, ref, scores = _eager_top(paper_runs[name], sessions, k, cosine=False, max_length=MAX_LENGTH)
    got = [[int(i.split("-")[1]) for i in results[row].items] for row in keep]
    _assert_same_ranking(got, ref, scores)
    assert all(not results[row].fallback for row in keep)
    assert results[3].unknown == ["no-such-item", 987654] and results[0].unknown == []
    np.testing.assert_allclose([results[row].scores for row in keep],
                               np.take_along_axis(scores, np.asarray(got), axis=1), rtol=1e-4, atol=1e-5)
    # nothing known: the training popularity ranking, flagged
    assert results[7].fallback and results[7].unknown == ["nope", 12345]
    counts = np.load(out / "popularity.npy")
    assert [int(i.split("-")[1]) for i in results[7].items] == list(top_items(counts[None, :].astype(float), k)[0])


def test_a_session_longer_than_max_length_is_answered_from_its_latest_items(paper_runs, tmp_path):
    out = tmp_path / "export"
    assert cli.main(["export", "--run_dir", str(paper_runs["srgnn"]), "--out", str(out)]) == 0
    recommender = SessionRecommender.load(out)
    tail = [_original(i) for i in (3, 9, 4, 1, 22)]
    long, short = recommender.recommend([[_original(i) for i in (30, 31, 32, 5, 6)] + tail, tail], 8)
    # the same items; scores to float rounding (the two rows of one batch may take different
    # GEMM code paths, seen as 1e-8 apart on some CPUs)
    assert long.items == short.items
    np.testing.assert_allclose(long.scores, short.scores, rtol=1e-6, atol=1e-6)


def test_gcegnn_with_two_hops_and_four_slots_is_served_from_its_exported_global_graph(chain_dir, exp_dir, tmp_path):
    """A later aggregation (two hops) and 4 of each item's neighbours per row: the recorded
    pre-processing samples the exported global graph as the model does."""
    run = _train("gcegnn", chain_dir, exp_dir / "gcegnn_2hops", "--protocol", "paper", "--num_layers", "2",
                 "--n_sample", "4")
    out = tmp_path / "export"
    assert cli.main(["export", "--run_dir", str(run), "--out", str(out)]) == 0
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["global_graph"] == {"neighbors": "global_neighbors.npy", "weights": "global_weights.npy",
                                        "hops": 2, "n_sample": 4}
    assert "later_0_unit" in [spec["name"] for spec in manifest["encoders"]["paddle"]["inputs"]]
    cfg, _ = load_run(run)
    np.testing.assert_array_equal(np.load(out / "global_neighbors.npy"), load_model(cfg, run).global_neighbors.numpy())
    sessions = _sessions(np.random.default_rng(2))
    results = SessionRecommender.load(out).recommend(sessions, 10)
    keep, ref, scores = _eager_top(run, sessions, 10, cosine=False, max_length=0)
    _assert_same_ranking([[int(i.split("-")[1]) for i in results[row].items] for row in keep], ref, scores)


@pytest.mark.parametrize("name", ["srgnn", "ggnnwatt", "gru4rec", "sgnnhn", "lessr", "gcegnn"])
def test_a_batch_of_one_item_sessions_has_no_transition_and_is_answered(name, paper_runs, tmp_path):
    out = tmp_path / "export"
    assert cli.main(["export", "--run_dir", str(paper_runs[name]), "--out", str(out)]) == 0
    sessions = [[_original(4)], [_original(17)], [_original(4), "unknown"]]
    answers = SessionRecommender.load(out).recommend(sessions, 6)
    keep, ref, scores = _eager_top(paper_runs[name], sessions, 6, cosine=False, max_length=MAX_LENGTH)
    _assert_same_ranking([[int(i.split("-")[1]) for i in answers[r].items] for r in keep], ref, scores)
    assert answers[0].items == answers[2].items and answers[2].unknown == ["unknown"]


@pytest.mark.parametrize("name", ["srgnn", "gru4rec", "stamp", "sasrec"])
def test_onnx_runtime_gives_the_same_top_k(name, paper_runs, tmp_path):
    pytest.importorskip("paddle2onnx", reason="the optional extra 'onnx' is not installed")
    pytest.importorskip("onnxruntime", reason="the optional extra 'onnx' is not installed")
    out = tmp_path / "export"
    assert cli.main(["export", "--run_dir", str(paper_runs[name]), "--out", str(out), "--format", "both"]) == 0
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert set(manifest["encoders"]) == {"paddle", "onnx"}
    assert manifest["encoders"]["onnx"]["max_abs_diff_vs_eager"] < 1e-4
    sessions = _sessions(np.random.default_rng(2))
    paddle_answers = SessionRecommender.load(out, backend="paddle").recommend(sessions, 10)
    onnx_answers = SessionRecommender.load(out, backend="onnx").recommend(sessions, 10)
    keep, ref, scores = _eager_top(paper_runs[name], sessions, 10, cosine=False, max_length=MAX_LENGTH)
    _assert_same_ranking([[int(i.split("-")[1]) for i in onnx_answers[r].items] for r in keep], ref, scores)
    assert [a.items for a in onnx_answers if a.fallback] == [a.items for a in paddle_answers if a.fallback]


# the models that read only the packed graph, and LESSR's and GCE-GNN's graphs: segment sums
@pytest.mark.parametrize("name", ["ggnnwatt", "niser", "gcsan", "sgnnhn", "lessr", "gcegnn"])
def test_packed_only_onnx_is_refused_with_the_reason_and_leaves_nothing(name, paper_runs, tmp_path, capsys):
    pytest.importorskip("paddle2onnx", reason="the optional extra 'onnx' is not installed")
    out = tmp_path / "export"
    assert cli.main(["export", "--run_dir", str(paper_runs[name]), "--out", str(out), "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "index_add" in err[0] and "--format paddle" in err[0]
    assert not out.exists() and not list(tmp_path.glob(".export*"))


def test_a_notebook_run_is_served_by_cosine_as_its_recall_was(tmp_path):
    pytest.importorskip("paddle2onnx", reason="the optional extra 'onnx' is not installed")
    data = tmp_path / "tiny"
    generate_synthetic(data, seed=2, n_users=150, n_items=80, n_categories=4)
    run = _train("srgnn", data, tmp_path / "exp")
    out = tmp_path / "export"
    assert cli.main(["export", "--run_dir", str(run), "--out", str(out), "--format", "both"]) == 0
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["scoring"] == "cosine" and manifest["max_length"] == 20
    rng = np.random.default_rng(3)
    sessions = [[int(i) for i in rng.integers(1, 80, size=rng.integers(1, 30))] for _ in range(40)]
    keep, ref, scores = _eager_top(run, sessions, 15, cosine=True, max_length=20,
                                   code=lambda i: i if 1 <= i < 80 else 0)
    for backend in ("paddle", "onnx"):
        answers = SessionRecommender.load(out, backend=backend).recommend(sessions, 15)
        _assert_same_ranking([answers[r].items for r in keep], ref, scores)
        assert all(0.0 < max(a.scores) <= 1.0 + 1e-5 for a in answers)  # cosine
    # the ids of a folder without item_map.csv are the encoded ids; text forms of them are the same ids
    recommender = SessionRecommender.load(out)
    assert recommender.recommend([["5", " 17"]], 5)[0].items == recommender.recommend([[5, 17]], 5)[0].items


def test_bad_arguments_of_recommend_are_errors(paper_runs, tmp_path):
    out = tmp_path / "export"
    assert cli.main(["export", "--run_dir", str(paper_runs["stamp"]), "--out", str(out)]) == 0
    recommender = SessionRecommender.load(out)
    with pytest.raises(SrgnnError, match="k must be between 1 and 40"):
        recommender.recommend([[_original(1)]], 41)
    with pytest.raises(SrgnnError, match="session 1 is empty"):
        recommender.recommend([[_original(1)], []], 5)
    assert len(recommender.recommend([[_original(1)]], 40)[0].items) == 40


def test_counted_and_pair_models_are_refused_with_the_reason(chain_dir, exp_dir, tmp_path, capsys):
    run = _train("pop", chain_dir, exp_dir / "pop", "--protocol", "paper")
    assert cli.main(["export", "--run_dir", str(run), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "count baseline" in err[0] and not (tmp_path / "x").exists()
    for name in ("gmf", "mlp", "neumf"):
        with pytest.raises(SrgnnError, match="not sessions"):
            check_exportable(MODELS[name])
    for name in ("spop", "itemknn", "sknn"):
        with pytest.raises(SrgnnError, match="count baseline"):
            check_exportable(MODELS[name])


def test_tagnn_is_refused_in_one_line_as_its_scores_are_not_inner_products(chain_dir, exp_dir, tmp_path, capsys):
    """TAGNN gives every candidate item a session vector of its own: no encoder + Faiss search."""
    run = _train("tagnn", chain_dir, exp_dir / "tagnn", "--protocol", "paper")
    assert cli.main(["export", "--run_dir", str(run), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "does not score by inner product" in err[0]
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".export*"))


def test_a_changed_or_missing_file_is_refused_at_load(paper_runs, tmp_path, capsys):
    out = tmp_path / "export"
    assert cli.main(["export", "--run_dir", str(paper_runs["narm"]), "--out", str(out)]) == 0
    assert cli.main(["export", "--run_dir", str(paper_runs["narm"]), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    SessionRecommender.load(out)
    table = out / "items.npy"
    original = table.read_bytes()
    table.write_bytes(original[:-4] + b"\0\0\0\1")
    with pytest.raises(SrgnnError, match="items.npy: SHA-256 does not match"):
        SessionRecommender.load(out)
    if importlib.util.find_spec("uvicorn") is not None:  # the optional extra 'serve'
        assert cli.main(["serve", "--export_dir", str(out), "--port", "0"]) == 2
        assert "SHA-256 does not match" in capsys.readouterr().err
    table.write_bytes(original)
    (out / "index.faiss").unlink()
    with pytest.raises(SrgnnError, match="index.faiss: listed in the manifest but missing"):
        SessionRecommender.load(out)
    with pytest.raises(SrgnnError, match="manifest.json: not found"):
        SessionRecommender.load(tmp_path)


def test_missing_extras_are_one_error_line_naming_them(paper_runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "paddle2onnx", None)  # `import paddle2onnx` now raises ImportError
    assert cli.main(["export", "--run_dir", str(paper_runs["srgnn"]), "--out", str(tmp_path / "x"),
                     "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --format onnx needs the optional extra 'onnx' (paddle2onnx is not installed): "
                   "pip install 'srgnn-paddle[onnx]'"]
    assert not (tmp_path / "x").exists()
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # the result must not depend on what this venv holds:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # with both blocked, the first the extra needs is named
    assert cli.main(["serve", "--export_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: srgnn-paddle serve needs the optional extra 'serve' (fastapi is not installed): "
                   "pip install 'srgnn-paddle[serve]'"]
