"""Running an exported encoder: Paddle Inference (``paddle.inference.create_predictor``, CPU
or GPU) or ONNX Runtime (the optional ``onnx`` extra). Both take the numpy inputs of
:func:`srgnn_paddle.serving.encoder.encoder_inputs` and return ``[B, D]`` float32."""
from __future__ import annotations

import contextlib
import importlib
import threading
from pathlib import Path
from typing import Dict, List

import numpy as np

from srgnn_paddle import compat
from srgnn_paddle.errors import SrgnnError

#: extra -> (pip name, modules it needs); the one-line error of :func:`require_extra` names it
EXTRAS = {"serve": ["fastapi", "uvicorn", "httpx"], "onnx": ["paddle2onnx", "onnxruntime"]}


def require_extra(extra: str, what: str, modules: List[str] | None = None) -> None:
    """SrgnnError naming the extra when a module ``what`` needs is not installed."""
    for name in modules or EXTRAS[extra]:
        try:
            importlib.import_module(name)
        except ImportError:
            raise SrgnnError(f"{what} needs the optional extra '{extra}' ({name} is not installed): "
                             f"pip install 'srgnn-paddle[{extra}]'") from None


class PaddlePredictor:
    """An exported Paddle encoder behind ``paddle.inference``.

    Args:
        model_file: ``encoder.json`` (Paddle 3) or ``encoder.pdmodel`` (Paddle 2.6).
        params_file: ``encoder.pdiparams``.
        input_names: the encoder's inputs, in order.
        device: ``cpu`` or ``gpu`` (GPU 0, when Paddle is built with CUDA).
        threads: CPU math threads.
    """

    backend = "paddle"

    def __init__(self, model_file: Path, params_file: Path, input_names: List[str], device: str = "cpu",
                 threads: int = 1) -> None:
        from paddle import inference

        config = inference.Config(str(model_file), str(params_file))
        if device == "gpu":
            config.enable_use_gpu(256, 0)
        else:
            config.disable_gpu()
            config.set_cpu_math_library_num_threads(int(threads))
            # oneDNN (on by default) made the DIGINETICA SR-GNN encoder 7x slower at batch 1
            # (1.13 vs 0.16 ms) and no faster at 256 (5.7 vs 6.5 ms): Paddle's own CPU kernels
            compat.disable_onednn(config)
        config.disable_glog_info()
        self.predictor = inference.create_predictor(config)
        self.input_names = list(input_names)
        self.inputs = {name: self.predictor.get_input_handle(name) for name in self.predictor.get_input_names()}
        missing = set(self.input_names) - set(self.inputs)
        if missing:
            raise SrgnnError(f"{model_file}: the encoder lacks the inputs {sorted(missing)}; export the run again")
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])
        self.lock = threading.Lock()  # a predictor runs one batch at a time
        self.built = False  # Paddle builds the predictor's executor at its first run

    def __call__(self, feeds: Dict[str, np.ndarray]) -> np.ndarray:
        """``[B, D]`` float32 session vectors of one batch of inputs."""
        with self.lock:
            for name in self.input_names:
                handle = self.inputs[name]
                handle.reshape(feeds[name].shape)
                handle.copy_from_cpu(feeds[name])
            if self.built:
                self.predictor.run()
            else:
                with _no_eager_deletion():
                    self.predictor.run()
                self.built = True
            return self.output.copy_to_cpu()


@contextlib.contextmanager
def _no_eager_deletion():
    """Paddle's public flag ``FLAGS_eager_delete_tensor_gb`` at -1 (no garbage collection of
    a run's intermediate tensors) during a predictor's first run, when Paddle builds its
    executor and reads the flag; the process's value is restored after. The collector hands
    the tensors to free to two worker threads after every operator: on the DIGINETICA SR-GNN
    encoder at batch 1 they took 0.24 of the 0.36 CPU ms of a call, and the hand-offs most of
    its latency (``benchmarks/results/bench_serve.txt``). Without it the predictor keeps its
    intermediates (kilobytes to a few MB at serving batch sizes) for the next call."""
    import paddle

    name = "FLAGS_eager_delete_tensor_gb"
    before = paddle.get_flags([name])[name]
    paddle.set_flags({name: -1.0})
    try:
        yield
    finally:
        paddle.set_flags({name: before})


class OnnxPredictor:
    """An exported ONNX encoder behind ``onnxruntime`` (CPU, ``threads`` intra-op threads)."""

    backend = "onnx"

    def __init__(self, model_file: Path, input_names: List[str], threads: int = 1) -> None:
        require_extra("onnx", "the ONNX encoder", ["onnxruntime"])
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.input_names = list(input_names)

    def __call__(self, feeds: Dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, {name: feeds[name] for name in self.input_names})[0]
