"""Worker for ``test_perf_paths.py``: run by ``paddle.distributed.launch`` with 2 CPU ranks.

Each rank computes SR-GNN's gradients on its own batch once without synchronisation and
once through ``paddle.DataParallel`` the way the Trainer calls it (its :class:`Objective`,
with host and with Paddle kernels), and prints whether the synchronised gradients equal the
mean of the ranks' local gradients.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.distributed as dist

from srgnn_paddle.data import Batch
from srgnn_paddle.data.graph import build_packed_graph
from srgnn_paddle.kernels import HostKernels, Kernels
from srgnn_paddle.models import SRGNN
from srgnn_paddle.runtime import select_device
from srgnn_paddle.training import Objective


def main() -> None:
    select_device("cpu")
    dist.init_parallel_env()
    rank, world = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(rank)
    hist = rng.integers(1, 50, (6, 5))
    batch = Batch(hist, np.ones(hist.shape, "float32"), rng.integers(1, 50, 6), build_packed_graph(hist))
    for kernels in (HostKernels(1), Kernels()):
        paddle.seed(3)
        model = SRGNN({"n_items": 50, "embedding_dim": 8, "step": 1}, sparse_item_grad=False)  # as runs.train_run
        with kernels.attach(model):
            parallel = paddle.DataParallel(Objective(model, kernels), find_unused_parameters=True)
            with parallel.no_sync():
                parallel(batch, 1, 0).backward()
            local = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
            model.clear_gradients()
            parallel(batch, 1, 0).backward()
        same = []
        for name, param in model.named_parameters():
            total = paddle.to_tensor(local[name])
            dist.all_reduce(total)
            same.append(bool(np.allclose(param.grad.numpy(), total.numpy() / world, rtol=1e-5, atol=1e-7)))
        print(f"rank {rank}, {kernels.name} kernels: synchronised gradients equal the mean of local ones: "
              f"{all(same)} ({sum(same)}/{len(same)})")


if __name__ == "__main__":
    main()
