r"""Parallelized evolution strategies with seed-only communication (Salimans et al. 2017, Algorithm 2).

Chapter 6. Every worker runs this same program (SPMD) under ``torchrun``::

    torchrun --standalone --nproc-per-node 2 -m pgnotes.distributed.spmd_es \
        --task CartPole-v1 --directions 16 --generations 20 --out results/run.json

One generation on worker ``r`` of ``W``:

1. evaluate its block of directions (:func:`~pgnotes.distributed.algorithm.partition`): for
   direction ``k``, draw ``(index, episode_seed)`` from the stream ``(seed, generation, k)``,
   read :math:`\epsilon_k` from the shared noise table, and roll out
   :math:`\theta \pm \sigma\epsilon_k` (lines 4-7 of Algorithm 2);
2. ``all_gather`` the rows ``[k, index, F+, F-]`` -- four float64 numbers per direction,
   whatever the parameter dimension (line 8: "send all scalar returns");
3. sort the rows by ``k``, rebuild every :math:`\epsilon_j` from its index, and take the same
   Adam step as every other worker (lines 9-12).

Because step 3 sees the same rows in the same order on every worker and for every world
size, the parameters after ``k`` generations are bitwise identical whether 1, 2 or 4 workers
ran them (``tests/test_distributed.py`` checks this).

Fault tolerance: rank 0 writes a checkpoint (theta, Adam state, generation, history)
atomically every ``checkpoint_every`` generations; a restarted job (``torchrun
--max-restarts``) has rank 0 load it and broadcast it, and continues from there. A per-episode
step limit bounds every rollout and the collective timeout (``init_process_group(timeout=)``)
turns a dead or stuck peer into an error instead of a hang; torchrun then restarts the group.

Progress: rank 0 prints one line per generation, ``PGNOTES_ES {json}``, which
:func:`pgnotes.distributed.launcher.launch` turns into a progress bar.

Without ``torchrun`` (no ``WORLD_SIZE`` in the environment), :func:`run` runs the same
algorithm in the calling process as a world of one.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist

from pgnotes.checkpoint import check_resumable, load_checkpoint, save_checkpoint, write_json_atomic
from pgnotes.distributed.algorithm import (
    ESConfig,
    ESState,
    check_world_size,
    direction_draw,
    es_update,
    gather_to_arrays,
    max_block,
    parse_kill_at,
    partition,
    perturb,
    signs,
    theta_digest,
)
from pgnotes.distributed.noise_table import NoiseTable, job_tag, shared_noise_table
from pgnotes.distributed.tasks import make_task
from pgnotes.provenance import environment, git_commit

EVENT_PREFIX = "PGNOTES_ES "


def emit(event: str, **fields: Any) -> None:
    """Print one progress line ``PGNOTES_ES {json}`` (a single write, flushed)."""
    sys.stdout.write(EVENT_PREFIX + json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


class World:
    """Rank, world size and the collectives; a world of one needs no process group.

    Two timeouts bound every wait. ``setup_timeout_s`` covers joining the group and the
    start-up collectives (workers import libraries and build environments at different
    speeds); ``timeout_s`` covers each generation's collectives, on a group of its own, so
    a dead or stuck peer turns into an error after at most that long instead of a hang.
    """

    def __init__(self, timeout_s: float, setup_timeout_s: float = 300.0):
        self.distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
        self.restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.group = None
        if self.distributed:
            if not dist.is_initialized():
                setup = datetime.timedelta(seconds=max(float(setup_timeout_s), float(timeout_s)))
                # torchrun reuses its store across restarts: without a per-attempt prefix the
                # restarted group can read the dead workers' gloo addresses and fail to connect.
                store, rank, size = next(dist.rendezvous("env://", timeout=setup))
                store = dist.PrefixStore(f"pgnotes_es/attempt_{self.restart}", store)
                dist.init_process_group("gloo", store=store, rank=rank, world_size=size, timeout=setup)
            self.group = dist.new_group(backend="gloo", timeout=datetime.timedelta(seconds=float(timeout_s)))
            self.rank, self.size = dist.get_rank(), dist.get_world_size()
        else:
            self.rank, self.size = 0, 1

    def all_gather_rows(self, rows: np.ndarray) -> np.ndarray:
        """All-gather equal-shaped float64 row blocks; returns them stacked in rank order."""
        if not self.distributed:
            return rows
        mine = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float64))
        out = [torch.empty_like(mine) for _ in range(self.size)]
        dist.all_gather(out, mine, group=self.group)
        return torch.cat(out).numpy()

    def broadcast_object(self, obj: Any) -> Any:
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self, *, setup: bool = False) -> None:
        """Wait for every worker (``setup=True``: on the group with the start-up timeout)."""
        if self.distributed:
            dist.barrier(group=None if setup else self.group)

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def open_noise_table(config: ESConfig, world: World) -> NoiseTable:
    """The run's noise table: one shared-memory copy per machine under torchrun, else built here."""
    if world.distributed:
        return shared_noise_table(config.seed, config.noise_size, local_rank=world.local_rank, tag=job_tag())
    return NoiseTable.build(config.seed, config.noise_size)


def _fresh_state(config: ESConfig, task) -> dict[str, Any]:
    theta = task.initial_theta(config.seed)
    es = ESState(theta, config.lr, config.weight_decay)
    return {"generation": 0, "es": es.state_dict(), "history": []}


def _load_or_init(config: ESConfig, task, world: World) -> dict[str, Any]:
    """Rank 0 loads the checkpoint if there is one, and everyone receives the same state.

    A checkpoint continues only the run that wrote it: :func:`pgnotes.checkpoint.check_resumable`
    compares its settings with these, except those in ``ESConfig.MAY_CHANGE``.
    """
    state = None
    if world.rank == 0:
        if config.checkpoint and os.path.exists(config.checkpoint):
            state = load_checkpoint(config.checkpoint)
            try:
                check_resumable(config.checkpoint, state.get("config", {}), config.to_dict(), may_change=ESConfig.MAY_CHANGE)
            except ValueError as error:  # every rank raises it, not only rank 0
                state = {"error": str(error)}
        else:
            state = _fresh_state(config, task)
    state = world.broadcast_object(state)
    if "error" in state:
        raise ValueError(state["error"])
    return state


def run(config: ESConfig, *, on_generation: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run Algorithm 2 as this process's part of the job; returns the result (rank 0: complete).

    Under ``torchrun`` every rank calls this; alone, it is a world of one. ``on_generation``
    (rank 0 only) receives each generation's statistics.
    """
    torch.set_num_threads(1)
    world = World(config.timeout_s, config.setup_timeout_s)
    try:
        return _run(config, world, on_generation)
    finally:
        world.close()


def _run(config: ESConfig, world: World, on_generation) -> dict[str, Any]:
    t_start = time.perf_counter()
    check_world_size(world.size, config.directions)
    kill = parse_kill_at(config.kill_at) if config.kill_at else None
    hang = parse_kill_at(config.hang_at, "hang_at") if config.hang_at else None

    task = make_task(config)
    dim = task.dim
    table = open_noise_table(config, world)
    table.check_dim(dim)

    state = _load_or_init(config, task, world)
    es = ESState(np.zeros(dim, dtype=np.float32), config.lr, config.weight_decay)
    es.load_state_dict(state["es"])
    start_gen, history = int(state["generation"]), list(state["history"])
    emit("start", rank=world.rank, world_size=world.size, pid=os.getpid(), restart=world.restart,
         resumed_from=start_gen, dim=dim, generations=config.generations)

    block = partition(config.directions, world.size, world.rank)
    width = max_block(config.directions, world.size)
    sg = signs(config.antithetic)
    m = len(sg)
    world.barrier(setup=True)  # generation timings start when every worker is ready
    setup_s = time.perf_counter() - t_start

    for gen in range(start_gen, config.generations):
        t0 = time.perf_counter()
        theta = es.theta.copy()
        rows = np.full((width, 2 + m), -1.0)
        for row, k in enumerate(block):
            index, episode_seed = direction_draw(config.seed, gen, k, table, dim)
            epsilon = table.get(index, dim)
            rows[row, 0], rows[row, 1] = k, index
            for j, s in enumerate(sg):
                rows[row, 2 + j] = task.evaluate(perturb(theta, epsilon, config.sigma, s), episode_seed)
            if kill is not None and kill == (gen, world.rank) and world.restart == 0:
                sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGKILL)  # fault injection: die mid-generation
            if hang is not None and hang == (gen, world.rank) and world.restart == 0:
                time.sleep(10 * config.timeout_s)  # fault injection: a stuck episode
        t1 = time.perf_counter()
        if config.timing_barrier:
            world.barrier()  # benchmarks: separate waiting for peers from the transfer itself
        t1b = time.perf_counter()
        gathered = world.all_gather_rows(rows)
        t2 = time.perf_counter()
        indices, returns = gather_to_arrays(gathered, config.directions, m)
        stats = es_update(es, table, indices, returns, config)
        t3 = time.perf_counter()
        record = {
            "generation": gen,
            **stats,
            "time_s": t3 - t0,
            "rollout_s": t1 - t0,
            "wait_s": t1b - t1,
            "gather_s": t2 - t1b,
            "update_s": t3 - t2,
            "bytes": int(rows.nbytes * (world.size - 1) * world.size) if world.distributed else 0,
            "restart": world.restart,
        }
        history.append(record)
        done = gen + 1
        if world.rank == 0:
            if config.checkpoint and (done % config.checkpoint_every == 0 or done == config.generations):
                save_checkpoint(config.checkpoint, {
                    "generation": done, "es": es.state_dict(), "history": history, "config": config.to_dict(),
                })
            emit("generation", **record, generations=config.generations)
            if on_generation is not None:
                on_generation(record)

    world.barrier(setup=True)  # everyone is done with the noise table
    if world.distributed and world.local_rank == 0:
        table.unlink()  # the mapped copies stay valid; a crashed job leaves it for its restart
    return finish(config, world, "OpenAI ES, Algorithm 2 (seed-only communication)", es.theta, history,
                  setup_s=setup_s, wall_s=time.perf_counter() - t_start)


def finish(config: ESConfig, world: World, algorithm: str, theta: np.ndarray, history: list, **timings: float) -> dict[str, Any]:
    """The result of a run (both loops): rank 0 writes ``theta_out`` and ``out`` and reports "done"."""
    theta = np.array(theta, copy=True)
    result: dict[str, Any] = {
        "algorithm": algorithm,
        "config": config.to_dict(),
        "world_size": world.size,
        "dim": int(theta.size),
        "popsize": config.popsize,
        "commit": git_commit(),
        "environment": environment(),
        "theta_sha256": theta_digest(theta),
        "history": history,
        **timings,
        "restarts": world.restart,
    }
    if theta.size <= 20000:
        result["theta"] = theta.astype(float).tolist()
    if world.rank == 0:
        if config.theta_out:
            Path(config.theta_out).parent.mkdir(parents=True, exist_ok=True)
            np.save(config.theta_out, theta)
        if config.out:
            write_json_atomic(config.out, result)
        emit("done", theta_sha256=result["theta_sha256"], wall_s=result["wall_s"])
    return result


# -- command line --------------------------------------------------------------------------
def build_parser(prog: str = "python -m pgnotes.distributed.spmd_es") -> argparse.ArgumentParser:
    """One flag per :class:`~pgnotes.distributed.algorithm.ESConfig` field."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    defaults = ESConfig()
    for f in dataclasses.fields(ESConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if f.name == "extra":
            parser.add_argument(flag, type=json.loads, default={}, help="extra JSON recorded with the result")
        elif isinstance(default, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default)
        elif f.name == "hidden":
            parser.add_argument(flag, type=lambda s: tuple(int(v) for v in s.split(",") if v.strip()), default=default,
                                help="hidden sizes, comma separated ('' for a linear policy)")
        elif default is None:
            parser.add_argument(flag, type=str, default=None)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    return parser


def command(run: Callable[[ESConfig], Any], argv: list[str] | None, prog: str, *, unsupported: tuple[str, ...] = ()) -> int:
    """The command line of both loops: parse an :class:`ESConfig`, run, report an error as an event.

    ``unsupported`` names settings this loop does not implement; setting one is an error.
    """
    args = build_parser(prog).parse_args(argv)
    try:
        config = ESConfig(**vars(args))
        given = [name for name in unsupported if getattr(config, name)]
        if given:
            raise ValueError(f"{prog} does not implement {', '.join(given)}")
        run(config)
    except Exception as error:
        emit("error", rank=int(os.environ.get("RANK", "0")), type=type(error).__name__, message=str(error))
        raise
    return 0


def main(argv: list[str] | None = None) -> int:
    return command(run, argv, "python -m pgnotes.distributed.spmd_es")


if __name__ == "__main__":
    sys.exit(main())
