"""srgnn-paddle: SR-GNN session/sequence recall in PaddlePaddle (2.6 and 3.x)."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def read_requirements(path: Path) -> list[str]:
    """requirements.txt's specifiers: one a line, without blank lines and # comments."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


setup(
    name="srgnn-paddle",
    version="0.1.0",
    description="SR-GNN (Wu et al., AAAI 2019) for session and sequence recall in PaddlePaddle 2.6 and 3.x",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["srgnn_paddle", "srgnn_paddle.*"]),
    package_data={"srgnn_paddle": ["published.yaml"]},  # the registry of published figures (report.py)
    # one source: requirements.txt (scripts/missing_requirements.py checks the same file)
    install_requires=read_requirements(HERE / "requirements.txt"),
    # Paddle and Faiss are extras so that an image with paddlepaddle-gpu already installed
    # (Baidu AI Studio) is never given a second, CPU-only Paddle. `cpu` resolves to the newest
    # Paddle; `gpu` to what the package index serves, paddlepaddle-gpu 2.6.2 (the 3.x CUDA wheels
    # are on PaddlePaddle's own index, see the README), which needs numpy 1.x.
    extras_require={
        "cpu": ["paddlepaddle>=2.6", "faiss-cpu"],
        "gpu": ["paddlepaddle-gpu>=2.6", "numpy<2", "faiss-gpu"],
        "vdl": ["visualdl"],
        "serve": ["fastapi", "uvicorn[standard]", "httpx"],  # srgnn-paddle serve (uvloop + httptools; httpx: its tests and bench_serve.py)
        "onnx": ["paddle2onnx", "onnxruntime"],  # srgnn-paddle export --format onnx
        "test": ["pytest", "nbclient", "ipykernel", "nbformat", "fastapi", "uvicorn", "httpx", "onnxruntime", "paddle2onnx"],
    },
    entry_points={"console_scripts": ["srgnn-paddle=srgnn_paddle.cli:main"]},
)
