"""srgnn_paddle.compat: the Paddle 2.6 / 3.x differences, and the one-line error of an
unsupported Paddle (a fake ``paddle`` package put first on sys.path of a subprocess)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from srgnn_paddle import compat
from srgnn_paddle.models.layers import segment_sum

REPO = Path(__file__).resolve().parents[2]


def _fake_paddle(tmp_path: Path, version: str, body: str = "") -> Path:
    folder = tmp_path / "fake"
    (folder / "paddle").mkdir(parents=True)
    (folder / "paddle" / "__init__.py").write_text(f"__version__ = {version!r}\n{body}")
    return folder


def _run(fake: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{fake}{os.pathsep}{REPO}")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=fake, timeout=120)


@pytest.mark.parametrize("command", [["-m", "srgnn_paddle", "train", "--epochs", "1"], ["-c", "import srgnn_paddle.models"]])
def test_a_paddle_older_than_2_6_stops_with_one_error_line(tmp_path, command):
    result = _run(_fake_paddle(tmp_path, "2.5.2"), *command)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: srgnn-paddle needs PaddlePaddle 2.6 or newer, but Paddle 2.5.2 is installed")
    assert "pip install" in lines[0] and "paddlepaddle-gpu==2.6.2" in lines[0]


def test_a_paddle_lacking_a_needed_api_stops_with_one_error_line(tmp_path):
    fake = _fake_paddle(tmp_path, "3.9.0", "def take_along_axis(*args): pass\n")  # no index_add, ...
    result = _run(fake, "-m", "srgnn_paddle", "evaluate", "--run_dir", "exp/any")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: Paddle 3.9.0 lacks paddle.index_add, paddle.autograd.PyLayer")
    assert "paddle.take_along_axis" not in lines[0] and "pip install" in lines[0]


def test_no_paddle_at_all_stops_with_one_error_line(tmp_path):
    fake = _fake_paddle(tmp_path, "3.0.0", "raise ImportError('libpaddle.so: cannot open shared object file')\n")
    result = _run(fake, "-c", "import srgnn_paddle.models")
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: PaddlePaddle cannot be imported (libpaddle.so") and "pip install" in lines[0]


def test_versions_are_read_by_their_release_numbers():
    assert compat.release("2.6.2") == (2, 6, 2)
    assert compat.release("3.0.0rc1") == (3, 0, 0)
    assert compat.release("unknown") == ()
    assert compat.is_develop("0.0.0") and not compat.is_develop("2.6.0")
    assert compat.paddle_problem() is None  # the Paddle running this test is supported
    assert compat.paddle_release() >= compat.MIN_PADDLE


def test_index_add_backward_when_the_tensor_added_into_needs_no_gradient():
    """What crashed SR-GNN's first step on Paddle 2.6 ('Required tensor shall not be nullptr')."""
    rng = np.random.default_rng(0)
    values_np = rng.standard_normal((6, 3)).astype(np.float32)
    index = np.array([0, 2, 2, 1, 0, 2])
    values = paddle.to_tensor(values_np, stop_gradient=False)
    zeros = paddle.zeros([3, 3])
    out = segment_sum(values, paddle.to_tensor(index), 3)
    weights = np.arange(9, dtype=np.float32).reshape(3, 3)
    (out * paddle.to_tensor(weights)).sum().backward()
    expected = np.zeros((3, 3), np.float32)
    np.add.at(expected, index, values_np)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(values.grad.numpy(), weights[index])  # d out[index[j]] / d values[j]
    assert zeros.stop_gradient and not zeros.numpy().any()  # the caller's tensor is untouched


def test_numpy_view_shares_memory_and_writes_through():
    tensor = paddle.to_tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    view = compat.numpy_view(tensor)
    assert view.shape == (2, 3) and view.dtype == np.float32
    assert view.__array_interface__["data"][0] == tensor.data_ptr()
    view += 1
    np.testing.assert_array_equal(tensor.numpy(), np.arange(1, 7, dtype=np.float32).reshape(2, 3))


def test_adam_amsgrad_is_false_for_plain_adam():
    opt = paddle.optimizer.Adam(parameters=[paddle.create_parameter([2], "float32")])
    assert compat.adam_amsgrad(opt) is False
