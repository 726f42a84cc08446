"""srgnn-paddle: SR-GNN session/sequence recall in PaddlePaddle 3."""
from setuptools import find_packages, setup

setup(
    name="srgnn-paddle",
    version="0.1.0",
    description="SR-GNN (Wu et al., AAAI 2019) for session and sequence recall in PaddlePaddle 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["srgnn_paddle", "srgnn_paddle.*"]),
    install_requires=[
        "numpy",
        "pandas",
        "scikit-learn",
        "matplotlib",
        "tqdm",
        "PyYAML",
        "threadpoolctl",
    ],
    # Paddle and Faiss are extras so that an image with paddlepaddle-gpu already installed
    # (Baidu AI Studio) is never given a second, CPU-only Paddle.
    extras_require={
        "cpu": ["paddlepaddle>=3.0", "faiss-cpu"],
        "gpu": ["paddlepaddle-gpu>=3.0", "faiss-gpu"],
        "test": ["pytest"],
    },
    entry_points={"console_scripts": ["srgnn-paddle=srgnn_paddle.cli:main"]},
)
