"""Where REINFORCE's time goes on CartPole-v1: raw environment, vector env, rollouts with a torch policy, training.

Rates are environment steps per second of the process's CPU time (one process, torch and
OpenBLAS on one thread), so they hold on a shared machine; compare ratios from one run.

    .venv/bin/python benchmarks/reinforce_speed.py      # prints the table, writes results/reinforce_speed.json

Rows:

* raw env: one ``gymnasium`` CartPole-v1, random actions, ``reset`` on termination;
* SyncVectorEnv xN: N copies stepped together, random actions;
* collect_episodes xN: :func:`pgnotes.rl.rollouts.collect_episodes` with the chapter's
  4-32-2 categorical policy (a torch forward pass and a sample per vector step), N envs,
  N episodes per call; steps counted are those of kept episodes;
* train: :func:`pgnotes.rl.reinforce.train` (reward-to-go, learned value baseline), 200 episodes,
  gradient steps and value fits included.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pgnotes.provenance import environment, git_commit  # noqa: E402
from pgnotes.rl.policies import CategoricalPolicy  # noqa: E402
from pgnotes.rl.reinforce import train  # noqa: E402
from pgnotes.rl.rollouts import collect_episodes, make_vector_env  # noqa: E402


def cpu_rate(work, seconds: float = 2.0) -> float:
    """Call ``work() -> steps`` until ``seconds`` of CPU time are spent; return steps per CPU-second."""
    steps, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        steps += work()
    return steps / (time.process_time() - start)


def raw_env() -> float:
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    def work():
        for _ in range(1000):
            _, _, term, trunc, _ = env.step(int(rng.integers(2)))
            if term or trunc:
                env.reset()
        return 1000

    return cpu_rate(work)


def vector_env(n: int) -> float:
    envs = make_vector_env("CartPole-v1", n)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)

    def work():
        for _ in range(100):
            envs.step(rng.integers(2, size=n))
        return 100 * n

    return cpu_rate(work)


def rollouts(n: int) -> float:
    envs = make_vector_env("CartPole-v1", n)
    policy = CategoricalPolicy(4, 2, (32,), seed=0)
    gen = torch.Generator().manual_seed(0)
    first = [True]

    def work():
        eps = collect_episodes(envs, policy, n, generator=gen, seed=0 if first[0] else None)
        first[0] = False
        return sum(len(e) for e in eps)

    return cpu_rate(work)


def training() -> tuple[float, float]:
    cpu = time.process_time()
    result = train(total_episodes=200, progress=False, final_eval=False, seed=0)
    seconds = time.process_time() - cpu
    return result.history.env_steps[-1] / seconds, seconds


def main() -> int:
    torch.set_num_threads(1)
    rows = [("raw env (1 CartPole-v1)", raw_env())]
    for n in (1, 10, 50):
        rows.append((f"SyncVectorEnv x{n}", vector_env(n)))
    for n in (1, 10, 50):
        rows.append((f"collect_episodes x{n} (torch policy)", rollouts(n)))
    rate, seconds = training()
    rows.append(("train, 200 episodes (reward-to-go + value)", rate))
    print(f"{'what':45s} {'steps / CPU-s':>14s}")
    for name, r in rows:
        print(f"{name:45s} {r:14,.0f}")
    print(f"(training run: {seconds:.1f} CPU-s)")
    out = ROOT / "results" / "reinforce_speed.json"
    out.write_text(json.dumps({
        "benchmark": "reinforce_speed",
        "command": "python benchmarks/reinforce_speed.py",
        "unit": "environment steps per second of process CPU time",
        "rows": [{"what": n, "steps_per_cpu_second": r} for n, r in rows],
        "commit": git_commit(),
        "environment": environment(),
    }, indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
