"""Worker for ``test_perf_paths.py``: run by ``paddle.distributed.launch`` with 2 CPU ranks.

Each rank computes SR-GNN's gradients on its own batch once without synchronisation and
once through ``paddle.DataParallel`` the way ``Trainer.encode`` calls it, and prints whether
the synchronised gradients equal the mean of the ranks' local gradients.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.distributed as dist

from srgnn_paddle.graph import build_packed_graph
from srgnn_paddle.model import SRGNN
from srgnn_paddle.runtime import select_device


def main() -> None:
    select_device("cpu", 1)
    dist.init_parallel_env()
    rank, world = dist.get_rank(), dist.get_world_size()
    paddle.seed(3)
    model = SRGNN({"n_items": 50, "embedding_dim": 8, "step": 1}, sparse_item_grad=False)  # as runs.train_run
    parallel = paddle.DataParallel(model)
    rng = np.random.default_rng(rank)
    graph = build_packed_graph(rng.integers(1, 50, (6, 5)))
    target = paddle.to_tensor(rng.integers(1, 50, 6))

    with parallel.no_sync():
        model.loss(parallel(None, None, None, train=False, graph=graph)["user_emb"], target).backward()
    local = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
    model.clear_gradients()
    model.loss(parallel(None, None, None, train=False, graph=graph)["user_emb"], target).backward()
    same = []
    for name, param in model.named_parameters():
        total = paddle.to_tensor(local[name])
        dist.all_reduce(total)
        same.append(bool(np.allclose(param.grad.numpy(), total.numpy() / world, rtol=1e-5, atol=1e-7)))
    print(f"rank {rank}: synchronised gradients equal the mean of local ones: {all(same)} ({sum(same)}/{len(same)})")


if __name__ == "__main__":
    main()
