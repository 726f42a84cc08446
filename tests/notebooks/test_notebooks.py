"""The notebooks under ``notebooks/``: each one runs top to bottom in a fresh kernel with small
parameters (a cell injected after its ``parameters`` cell, as papermill does), draws at least
one figure inline, and ends with a table whose columns and numbers are checked here. They are
committed without outputs.

Executing needs the test extras (``pip install srgnn-paddle[test]``: nbclient, nbformat,
ipykernel); without them those tests skip and say what to install.
"""
from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Dict, List

import pandas as pd
import pytest

from srgnn_paddle import cli
from srgnn_paddle.report import PUBLISHED
from srgnn_paddle.synthetic import generate_synthetic

from conftest import shared_data_dir

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO_ROOT / "notebooks"
TINY = {"seed": 1, "n_users": 200, "n_items": 120, "n_categories": 6}
INSTALL = "pip install nbclient nbformat ipykernel (or pip install srgnn-paddle[test])"

try:
    import ipykernel  # noqa: F401  (the kernel nbclient starts)
    import nbformat
    from nbclient import NotebookClient
except ImportError as exc:
    MISSING = f"notebook tests need the test extras ({exc.name} is missing): {INSTALL}"
else:
    MISSING = ""

needs_extras = pytest.mark.skipif(bool(MISSING), reason=MISSING)


# ---------------------------------------------------------------------------- helpers
def _execute(name: str, params: Dict[str, Any], folder: Path = NOTEBOOKS) -> Any:
    """Run ``<folder>/<name>`` (default ``notebooks/``) in a fresh ``python3`` kernel whose
    working folder is ``folder``, with ``params`` assigned in a cell right after the one
    tagged ``parameters``; returns the executed notebook (a failing cell raises
    ``CellExecutionError``)."""
    nb = nbformat.read(folder / name, as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: needs exactly one cell tagged 'parameters'"
    source = "# injected by tests/notebooks/test_notebooks.py\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
    nb.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    client.execute(env=env)
    return nb


def _outputs(nb: Any) -> List[Dict[str, Any]]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def _inline_images(nb: Any) -> int:
    """How many outputs carry an inline PNG."""
    return sum("image/png" in out.get("data", {}) for out in _outputs(nb))


class _TableParser(HTMLParser):
    """The header and body rows of the first HTML table (pandas' ``DataFrame._repr_html_``)."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ""
        self.rows: Dict[str, List[List[str]]] = {"thead": [], "tbody": []}
        self.cell: List[str] = []
        self.in_cell = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("thead", "tbody"):
            self.section = tag
        elif tag == "tr" and self.section:
            self.rows[self.section].append([])
        elif tag in ("th", "td") and self.section:
            self.in_cell, self.cell = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self.in_cell:
            self.rows[self.section][-1].append("".join(self.cell).strip())
            self.in_cell = False

    def handle_data(self, data: str) -> None:
        if self.in_cell:
            self.cell.append(data)


def _final_table(nb: Any) -> pd.DataFrame:
    """The DataFrame the last code cell displays, read back from its HTML output (index =
    row labels, numbers as floats)."""
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    html = [o["data"]["text/html"] for o in last.outputs if "text/html" in o.get("data", {})]
    assert html, "the last cell shows no table"
    parser = _TableParser()
    parser.feed(html[-1])
    header = parser.rows["thead"][0][1:]  # the first header cell is the index's
    body = parser.rows["tbody"]
    frame = pd.DataFrame([row[1:] for row in body], index=[row[0] for row in body], columns=header)
    for column in frame.columns:
        numbers = pd.to_numeric(frame[column], errors="coerce")
        if numbers.notna().all():
            frame[column] = numbers
    return frame


def _tiny_data(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "tiny"
    generate_synthetic(path, **TINY)
    return path


# ---------------------------------------------------------------------------- always
def test_notebooks_are_committed_without_outputs():
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == sorted(EXECUTED), "every notebook needs an execution test here"
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name}: cell {i} has outputs"
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: one cell tagged 'parameters'"
        # inline figures: the notebook turns the inline backend on and nothing turns it off
        text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert "%matplotlib inline" in text and "matplotlib.use(" not in text and "pyplot" not in text


# ---------------------------------------------------------------------------- execution
EXECUTED = ("srgnn_recall.ipynb", "paper_protocol.ipynb", "compare_models.ipynb", "srgnn_walkthrough.ipynb",
            "course_report.ipynb", "ncf_tutorial.ipynb")


@needs_extras
@pytest.mark.slow
def test_srgnn_recall_notebook_runs_and_ends_with_the_result_table(tmp_path):
    data, exp = _tiny_data(tmp_path), tmp_path / "exp"
    nb = _execute("srgnn_recall.ipynb", {"DATA_DIR": str(data), "EPOCHS": 2, "EXP_DIR": str(exp),
                                         "TSNE_MAX_ITEMS": 60})
    assert _inline_images(nb) >= 3  # session graph, curves, t-SNE
    table = _final_table(nb)
    assert list(table.columns) == ["recall@50", "ndcg@50", "hitrate@50"]
    assert len(table) == 3 and ((table >= 0) & (table <= 1)).all().all()
    published = PUBLISHED[("notebook", "ml-20m")]["metrics"]
    assert table.iloc[2].round(6).to_dict() == published
    # the run the notebook trained: 2 epochs (the injected parameter), the table's first row is its test row
    run = exp / "tiny_softmax" / "SRGNN_0.005_128_16"
    log = pd.read_csv(run / "log.csv")
    assert list(log["phase"]) == ["valid", "valid", "test"]
    summary = json.loads((run / "summary.json").read_text())
    assert table.iloc[0]["recall@50"] == pytest.approx(summary["test"]["recall@50"], abs=1e-6)
    assert table.iloc[0]["recall@50"] > 0
    assert (run / "curves.png").is_file() and (run / "config.yaml").is_file()


def _ai_studio_173799(folder: Path, n_users: int = 3000) -> None:
    """``folder`` in the exact layout of AI Studio dataset 173799 as the notebook reads it:
    ``train_enc.csv``, ``valid_enc.csv``, ``test_enc.csv`` only, header
    ``user_id,item_id,timestamp``, item ids ``1..15405`` (so ``n_items`` is 15,406, the
    notebook's constant), users split 8:1:1 (disjoint users per file)."""
    generate_synthetic(folder, seed=173799, n_users=n_users, n_items=15406, n_categories=30)
    for extra in ("items.csv", "meta.json"):
        (folder / extra).unlink()
    train = pd.read_csv(folder / "train_enc.csv")
    train.loc[train.index[-1], "item_id"] = 15405  # the largest id occurs, as in the real files
    train.to_csv(folder / "train_enc.csv", index=False)


@needs_extras
def test_srgnn_recall_notebook_on_the_ai_studio_dataset_173799(tmp_path):
    """The notebook's main case, with nothing injected but sizes: a checkout (the package and
    configs linked, the notebook copied) whose data/data173799 holds the dataset's files; the
    notebook must find them itself, say so in its first code cell, and train with
    configs/notebook.yaml."""
    root = tmp_path / "checkout"
    (root / "notebooks").mkdir(parents=True)
    for name in ("srgnn_paddle", "configs"):
        (root / name).symlink_to(REPO_ROOT / name, target_is_directory=True)
    (root / "notebooks" / "srgnn_recall.ipynb").write_bytes((NOTEBOOKS / "srgnn_recall.ipynb").read_bytes())
    data = root / "data" / "data173799"
    _ai_studio_173799(data)
    assert sorted(p.name for p in data.iterdir()) == ["test_enc.csv", "train_enc.csv", "valid_enc.csv"]
    users = {split: set(pd.read_csv(data / f"{split}_enc.csv")["user_id"]) for split in ("train", "valid", "test")}
    assert [len(u) for u in users.values()] == [2400, 300, 300] and not (users["train"] & users["test"])

    nb = _execute("srgnn_recall.ipynb", {"EPOCHS": 1, "TSNE_MAX_ITEMS": 60}, folder=root / "notebooks")
    first = [c for c in nb.cells if c.cell_type == "code"][2]  # parameters, injected, then the set-up cell
    said = "".join(o.get("text", "") for o in first.outputs)
    assert f"data: AI Studio dataset 173799 (MovieLens-20M) in {data}" in said and "configs/notebook.yaml" in said
    text = "".join(o.get("text", "") for o in _outputs(nb))
    assert "n_items = 15406" in text and "train:   2400 users" in text
    run = root / "exp" / "notebooks" / "data173799_softmax" / "SRGNN_0.0001_256_16"
    log = pd.read_csv(run / "log.csv")
    assert list(log["phase"]) == ["valid", "test"]
    table = _final_table(nb)
    assert list(table.columns) == ["recall@50", "ndcg@50", "hitrate@50"]
    summary = json.loads((run / "summary.json").read_text())
    assert table.iloc[0]["recall@50"] == pytest.approx(summary["test"]["recall@50"], abs=1e-6)
    assert table.iloc[2].round(6).to_dict() == PUBLISHED[("notebook", "ml-20m")]["metrics"]
    assert _inline_images(nb) >= 3
    assert not (root / "data" / "synthetic").exists()  # the synthetic fallback was not taken


def _paper_checks(nb: Any, exp: Path, dataset: str, sessions: int) -> pd.DataFrame:
    assert _inline_images(nb) >= 2  # the session graph and the curves
    table = _final_table(nb)
    assert list(table.columns) == ["P@20", "MRR@20"]
    assert len(table) == 3 and ((table >= 0) & (table <= 100)).all().all()
    assert (table["MRR@20"] <= table["P@20"]).all()
    assert table.iloc[2].to_dict() == PUBLISHED[("paper", "diginetica")]["metrics"]
    run = exp / f"{dataset}_last{sessions}_paper" / "SRGNN_0.001_100_100"
    assert list(pd.read_csv(run / "log.csv")["phase"]) == ["valid", "valid", "test"]
    summary = json.loads((run / "summary.json").read_text())
    assert table.iloc[0]["P@20"] == pytest.approx(summary["test"]["P@20"], abs=1e-6)
    return table


@needs_extras
@pytest.mark.slow
def test_paper_protocol_notebook_on_a_few_diginetica_sessions(tmp_path):
    """On ../shared/data/diginetica when it is there (the 300 most recent sessions, 500 test
    pairs), else on the generated sessions (the notebook's fallback)."""
    digi = shared_data_dir() / "diginetica"
    dataset = "diginetica" if (digi / "all_train_seq.txt").is_file() else "generated"
    exp = tmp_path / "exp"
    nb = _execute("paper_protocol.ipynb", {"DIGINETICA_DIR": str(digi), "MAX_SESSIONS": 300, "MAX_TEST": 500,
                                           "EPOCHS": 2, "EXP_DIR": str(exp)})
    _paper_checks(nb, exp, dataset, 300)
    text = "".join(o.get("text", "") for o in _outputs(nb))
    assert f"sessions: {dataset}" in text
    if dataset == "diginetica":  # the statistics cell reproduces the paper's numbers on the full data
        stats = [o["data"]["text/plain"] for o in _outputs(nb) if "719470" in o.get("data", {}).get("text/plain", "")]
        assert stats and "60858" in stats[0] and "43097" in stats[0] and "5.125" in stats[0]


@needs_extras
@pytest.mark.slow
def test_paper_protocol_notebook_on_generated_sessions(tmp_path):
    exp = tmp_path / "exp"
    nb = _execute("paper_protocol.ipynb", {"SESSIONS": "generated", "MAX_SESSIONS": 200, "MAX_TEST": 300,
                                           "EPOCHS": 2, "EXP_DIR": str(exp)})
    _paper_checks(nb, exp, "generated", 200)


@needs_extras
@pytest.mark.slow
def test_compare_models_notebook_plots_the_runs_of_an_experiment_folder(tmp_path):
    data, exp = _tiny_data(tmp_path), tmp_path / "exp"
    for lr in ("0.005", "0.01"):
        assert cli.main(["train", "--data_dir", str(data), "--exp_dir", str(exp), "--lr", lr, "--batch_size", "64",
                         "--epochs", "2", "--quiet", "--no-tsne"]) == 0
    nb = _execute("compare_models.ipynb", {"EXP_DIR": str(exp)})
    assert _inline_images(nb) == 1  # one dataset folder: one figure
    table = _final_table(nb)
    assert sorted(table.index) == ["tiny_softmax/SRGNN_0.005_64_16", "tiny_softmax/SRGNN_0.01_64_16"]
    assert set(table["model"]) == {"SRGNN"} and sorted(table["lr"]) == [0.005, 0.01]
    for metric in ("recall@50", "ndcg@50", "hitrate@50"):
        assert ((table[f"test_{metric}"] >= 0) & (table[f"test_{metric}"] <= 1)).all()
    for run in table.index:
        summary = json.loads((exp / run / "summary.json").read_text())
        assert table.loc[run, "test_recall@50"] == pytest.approx(summary["test"]["recall@50"], abs=1e-5)
        assert table.loc[run, "epochs_run"] == 2


@needs_extras
@pytest.mark.slow
def test_compare_models_notebook_says_what_to_do_with_an_empty_folder(tmp_path):
    (tmp_path / "exp").mkdir()
    nb = _execute("compare_models.ipynb", {"EXP_DIR": str(tmp_path / "exp")})
    text = "".join(o.get("text", "") for o in _outputs(nb))
    assert "0 run(s)" in text and "train some first" in text
    assert _inline_images(nb) == 0


@needs_extras
def test_srgnn_walkthrough_notebook_checks_the_hand_computed_step_and_trains_both_models(tmp_path):
    """On ../shared/data/diginetica when present (else the generated sessions): the numpy
    propagation step, readout and loss asserted equal to the package's inside the notebook,
    both graphs drawn, the simplified model and SR-GNN trained, their test rows in the table."""
    digi = shared_data_dir() / "diginetica"
    dataset = "diginetica" if (digi / "all_train_seq.txt").is_file() else "generated"
    exp = tmp_path / "exp"
    nb = _execute("srgnn_walkthrough.ipynb", {"DIGINETICA_DIR": str(digi), "MAX_SESSIONS": 300, "MAX_TEST": 300,
                                              "EPOCHS": 2, "EMBEDDING_DIM": 32, "EXP_DIR": str(exp)})
    text = "".join(o.get("text", "") for o in _outputs(nb))
    assert f"sessions: {dataset}" in text
    assert "numpy step == srgnn_paddle GNN" in text and "by hand == SRGNN.encode_graph" in text
    # the worked example's matrices as printed: node 2 has two outgoing edges (1/2 each), two incoming
    assert "2  0.0  0.0  0.5  0.5" in text and "2  0.5  0.0  0.5  0.0" in text
    assert _inline_images(nb) >= 3  # the example's graph, the real session's graph, the validation curves
    table = _final_table(nb)
    assert list(table.columns) == ["P@20", "MRR@20"]
    assert len(table) == 3 and ((table >= 0) & (table <= 100)).all().all()
    assert (table["MRR@20"] <= table["P@20"]).all()
    assert table.iloc[2].to_dict() == PUBLISHED[("paper", "diginetica")]["metrics"]
    for row, name in ((0, "Simplified"), (1, "SRGNN")):
        run = exp / f"walkthrough_{dataset}_last300" / name
        assert list(pd.read_csv(run / "log.csv")["phase"]) == ["valid", "valid", "test"]
        summary = json.loads((run / "summary.json").read_text())
        assert table.iloc[row]["P@20"] == pytest.approx(summary["test"]["P@20"], abs=1e-6)
        assert table.iloc[row]["MRR@20"] == pytest.approx(summary["test"]["MRR@20"], abs=1e-6)


@needs_extras
def test_course_report_notebook_trains_five_models_both_ways_and_reads_the_full_size_answer(tmp_path):
    """On ../shared/data/amazon_beauty when present (its first 200 users), else the generated
    sessions: ten runs of one epoch, a predictions CSV per run scored with the report's metrics,
    the committed full-size answer beside the report's table."""
    beauty = shared_data_dir() / "amazon_beauty" / "Beauty.txt"
    data = "beauty" if beauty.is_file() else "generated"
    exp = tmp_path / "exp"
    nb = _execute("course_report.ipynb", {"BEAUTY": str(beauty), "MAX_USERS": 200, "EPOCHS": 1,
                                          "EMBEDDING_DIM": 16, "EXP_DIR": str(exp)})
    text = "".join(o.get("text", "") for o in _outputs(nb))
    assert f"data: {data}" in text and "Conclusion: the augmentation, not the architecture" in text
    assert "12 full-size runs read from docs/results/beauty/beauty_last/" in text
    assert _inline_images(nb) >= 1
    work = exp / "course_report"
    runs = sorted(p.name for p in (work / "exp" / f"{data}_last_paper").iterdir())
    assert len(runs) == 10 and sum(r.endswith("_all") for r in runs) == 5
    predictions = sorted((work / "results").glob("test_result_*.csv"))
    assert len(predictions) == 10
    unlabelled = pd.read_csv(work / "test_sessions.csv")
    assert list(unlabelled.columns) == ["session"] and len(unlabelled) == 200  # one test session per user
    first = pd.read_csv(predictions[0])
    assert list(first.columns) == ["session", "prediction"] and len(first) == 200
    assert all(len(p.strip("[]").split(",")) == 20 for p in first["prediction"])
    table = _final_table(nb)
    models = ["gru4rec", "narm", "srgnn", "gruwatt", "ggnnwatt"]
    assert list(table.index) == models
    assert list(table["report: targets"]) == ["all", "last", "last", "all", "last"]
    assert table.loc["gru4rec", "report HR@20"] == 50.2 and table.loc["gru4rec", "report MRR@20"] == 45.0
    full = REPO_ROOT / "docs" / "results" / "beauty" / "beauty_last"
    for model, name in zip(models, ["GRU4Rec", "NARM", "SRGNN", "GRUwATT", "GGNNwATT"]):
        for targets, suffix in (("last", ""), ("all", "_all")):
            committed = json.loads((full / f"{name}_0.001_100_100{suffix}" / "summary.json").read_text())["test"]
            assert table.loc[model, f"toolkit, all of Beauty, {targets}: HR@20"] == pytest.approx(
                committed["P@20"], abs=0.006)
            run = json.loads((work / "exp" / f"{data}_last_paper" / f"{name}_0.001_100_16{suffix}" / "summary.json")
                             .read_text())
            assert table.loc[model, f"this run, {targets}: HR@20"] == pytest.approx(run["test"]["P@20"], abs=0.006)


@needs_extras
def test_ncf_tutorial_notebook_trains_the_four_models_and_sets_them_beside_the_tutorial(tmp_path):
    """On ../shared/data/amazon_beauty when present (its first 300 users), else generated
    interactions: GMF, MLP, NeuMF and pretrained NeuMF for 2 epochs, two curve figures, the
    sampled and full metrics, the final table with the tutorial's, the paper's and the committed
    full-size rows."""
    beauty = shared_data_dir() / "amazon_beauty" / "Beauty.txt"
    data = "beauty" if beauty.is_file() else "generated"
    exp = tmp_path / "exp"
    nb = _execute("ncf_tutorial.ipynb", {"BEAUTY": str(beauty), "MAX_USERS": 300, "EPOCHS": 2, "EXP_DIR": str(exp)})
    text = "".join(o.get("text", "") for o in _outputs(nb))
    assert f"data: {data}" in text and "(99 negatives)" in text
    assert _inline_images(nb) == 2  # HR@10 and NDCG@10 per epoch
    table = _final_table(nb)
    assert list(table.columns) == ["HR@10", "NDCG@10"] and len(table) == 10
    assert table.iloc[0].to_dict() == {"HR@10": 0.557, "NDCG@10": 0.315}
    assert ((table >= 0) & (table <= 1)).all().all()
    names = ["GMF_0.001_256_8", "MLP_0.001_256_8", "NeuMF_0.001_256_8", "NeuMF-pretrain_0.001_256_8"]
    for row, name in enumerate(names):
        committed = json.loads((REPO_ROOT / "docs" / "results" / "ncf_beauty" / name / "summary.json").read_text())
        assert table.iloc[2 + row]["HR@10"] == pytest.approx(committed["test"]["HR@10"], abs=6e-5)
        run = exp / "ncf_tutorial" / "exp" / f"{data}_loo" / name
        assert list(pd.read_csv(run / "log.csv")["phase"])[:3] == ["valid", "valid", "test"]
        summary = json.loads((run / "summary.json").read_text())
        assert table.iloc[6 + row]["HR@10"] == pytest.approx(summary["test"]["HR@10"], abs=6e-5)
