r"""The baseline: a master ships full parameter vectors to the workers (chapter 6).

This is how estool's MPI version and most first attempts distribute ES: rank 0 holds
:math:`\theta`, builds every perturbed parameter vector :math:`\theta + \sigma\epsilon_k`,
*scatters* the vectors (``dim`` float32 numbers each) to the workers, the workers roll them
out and *gather* the returns back, and rank 0 alone updates :math:`\theta`. Per generation the
traffic is about ``popsize * dim * 4`` bytes, growing with the parameter dimension, against
``4 * 8`` bytes per direction for Algorithm 2 (:mod:`pgnotes.distributed.spmd_es`).

It uses the same noise table, direction draws, episode seeds and update as Algorithm 2, so
for the same config it ends with bitwise the same parameters -- only the communication
differs. That makes the traffic comparison in the chapter a like-for-like one.

Run it like the SPMD version::

    torchrun --standalone --nproc-per-node 2 -m pgnotes.distributed.naive --task sphere --dim 100000

(It takes the same flags; checkpoints and fault injection are not implemented here.)
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from pgnotes.distributed.algorithm import (ESConfig, ESState, check_world_size, direction_draw, es_update,
                                           gather_to_arrays, max_block, partition, perturb, signs)
from pgnotes.distributed.spmd_es import World, command, emit, finish, open_noise_table
from pgnotes.distributed.tasks import make_task


def run(config: ESConfig) -> dict[str, Any]:
    """The master/worker loop; rank 0 returns the full result, other ranks a stub."""
    torch.set_num_threads(1)
    world = World(config.timeout_s, config.setup_timeout_s)
    try:
        return _run(config, world)
    finally:
        world.close()


def _run(config: ESConfig, world: World) -> dict[str, Any]:
    t_start = time.perf_counter()
    check_world_size(world.size, config.directions)
    task = make_task(config)
    dim = task.dim
    sg = signs(config.antithetic)
    m = len(sg)
    width = max_block(config.directions, world.size)
    blocks = [partition(config.directions, world.size, r) for r in range(world.size)]
    es = None
    table = None
    if world.rank == 0:  # only the master needs theta and the noise
        table = open_noise_table(config, world)
        table.check_dim(dim)
        es = ESState(task.initial_theta(config.seed), config.lr, config.weight_decay)
    emit("start", rank=world.rank, world_size=world.size, pid=os.getpid(), restart=world.restart,
         resumed_from=0, dim=dim, generations=config.generations)
    history = []
    world.barrier(setup=True)
    for gen in range(config.generations):
        t0 = time.perf_counter()
        # master: the perturbed vectors of every block, and their [k, index, episode_seed]
        vectors = torch.zeros(width * m, dim, dtype=torch.float32)
        meta = torch.full((width, 3), -1.0, dtype=torch.float64)
        scatter_vectors = scatter_meta = None
        if world.rank == 0:
            theta = es.theta.copy()
            scatter_vectors, scatter_meta = [], []
            for block in blocks:
                vecs = np.zeros((width * m, dim), dtype=np.float32)
                rows = np.full((width, 3), -1.0)
                for row, k in enumerate(block):
                    index, episode_seed = direction_draw(config.seed, gen, k, table, dim)
                    epsilon = table.get(index, dim)
                    rows[row] = (k, index, episode_seed)
                    for j, s in enumerate(sg):
                        vecs[row * m + j] = perturb(theta, epsilon, config.sigma, s)
                scatter_vectors.append(torch.from_numpy(vecs))
                scatter_meta.append(torch.from_numpy(rows))
        if config.timing_barrier:
            world.barrier()
        t_prep = time.perf_counter()
        if world.distributed:
            dist.scatter(vectors, scatter_vectors, src=0, group=world.group)
            dist.scatter(meta, scatter_meta, src=0, group=world.group)
        else:
            vectors, meta = scatter_vectors[0], scatter_meta[0]
        t1 = time.perf_counter()
        returns = np.full((width, 2 + m), -1.0)
        meta_np, vec_np = meta.numpy(), vectors.numpy()
        for row in range(width):
            k = int(meta_np[row, 0])
            if k < 0:
                continue
            returns[row, 0], returns[row, 1] = k, meta_np[row, 1]
            for j in range(m):
                returns[row, 2 + j] = task.evaluate(vec_np[row * m + j], int(meta_np[row, 2]))
        t2a = time.perf_counter()
        if config.timing_barrier:
            world.barrier()
        t2 = time.perf_counter()
        mine = torch.from_numpy(returns)
        if world.distributed:
            gathered = [torch.empty_like(mine) for _ in range(world.size)] if world.rank == 0 else None
            dist.gather(mine, gathered, dst=0, group=world.group)
        else:
            gathered = [mine]
        t3 = time.perf_counter()
        if world.rank == 0:
            indices, rets = gather_to_arrays(torch.cat(gathered).numpy(), config.directions, m)
            stats = es_update(es, table, indices, rets, config)
        else:
            stats = {}
        t4 = time.perf_counter()
        # bytes received from another rank: the scattered blocks of ranks 1.. and their returns
        other = world.size - 1
        nbytes = other * (vectors.numel() * 4 + meta.numel() * 8 + returns.size * 8) if world.distributed else 0
        record = {"generation": gen, **stats, "time_s": t4 - t0, "prepare_s": t_prep - t0,
                  "scatter_s": t1 - t_prep, "rollout_s": t2a - t1, "wait_s": t2 - t2a, "gather_s": t3 - t2,
                  "update_s": t4 - t3, "bytes": int(nbytes), "restart": world.restart}
        history.append(record)
        if world.rank == 0:
            emit("generation", **record, generations=config.generations)
    world.barrier(setup=True)
    if table is not None and world.distributed:
        table.unlink()
    if world.rank != 0:
        return {"rank": world.rank}
    return finish(config, world, "ES with full-vector communication (master scatters parameter vectors)", es.theta,
                  history, wall_s=time.perf_counter() - t_start)


def main(argv: list[str] | None = None) -> int:
    return command(run, argv, "python -m pgnotes.distributed.naive", unsupported=("checkpoint", "kill_at", "hang_at"))


if __name__ == "__main__":
    sys.exit(main())
