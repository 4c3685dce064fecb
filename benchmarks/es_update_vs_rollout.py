"""ES update vs rollouts per generation, for a 10^5-parameter policy and population 256 (chapter 3).

    python benchmarks/es_update_vs_rollout.py                 # HalfCheetah-v5, full 1,000-step episodes
    python benchmarks/es_update_vs_rollout.py --steps 100     # shorter episodes (a quick look)

One generation of :class:`~pgnotes.solvers.openai_es.OpenAIES` on the flat weights of an MLP
policy 17-310-310-6 (103,856 parameters) for HalfCheetah-v5:

* ``ask``  -- draw 128 antithetic pairs of N(0, I) perturbations and form mean + sigma eps;
* ``rollout`` -- play one episode per candidate (256 episodes, batched forward pass of all
  256 policies per step, :func:`pgnotes.evaluation.rollout`);
* ``tell`` -- recover the perturbations, centred ranks, :func:`~pgnotes.solvers.openai_es.es_gradient`
  (a (256,) x (256, 103856) product), and the torch Adam step with weight decay.

Wall and CPU seconds are both printed: on a shared machine wall time is inflated by other
processes, so the ratio of CPU seconds is the steadier number. Writes
results/es_update_vs_rollout.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pgnotes.checkpoint import write_json_atomic  # noqa: E402
from pgnotes.provenance import environment, git_commit  # noqa: E402
from pgnotes.evaluation import make_vector_env
from pgnotes.mlp_policy import make_policy, num_params
from pgnotes.policy_search import rollout  # noqa: E402
from pgnotes.solvers.openai_es import OpenAIES  # noqa: E402


@contextlib.contextmanager
def quiet_stderr():
    """Silence C-level stderr (MuJoCo prints a deprecation warning for every HalfCheetah it compiles)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--hidden", type=int, default=310)
    parser.add_argument("--popsize", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1000, help="per-episode step limit")
    parser.add_argument("--repeats", type=int, default=3, help="updates timed (median reported)")
    parser.add_argument("--out", default=str(ROOT / "results" / "es_update_vs_rollout.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)

    with quiet_stderr():
        policy = make_policy(args.env, hidden=(args.hidden, args.hidden))
    dim = num_params(policy)
    solver = OpenAIES(dim, args.popsize, sigma=0.02, lr=0.01, rng=0)
    with quiet_stderr():
        env = make_vector_env(args.env, args.popsize)

    asks, tells = [], []
    for _ in range(args.repeats):
        with Timer() as t_ask:
            x = solver.ask()
        fitness = np.random.default_rng(len(asks)).standard_normal(args.popsize)
        with Timer() as t_tell:
            solver.tell(x, fitness)
        asks.append(t_ask)
        tells.append(t_tell)
    with Timer() as t_roll:
        result = rollout(policy, solver.ask(), env, max_steps=args.steps, seed=0)
    env.close()

    def med(timers, key):
        return float(np.median([getattr(t, key) for t in timers]))

    rows = {
        "ask (sample noise, form candidates)": (med(asks, "wall"), med(asks, "cpu")),
        "tell (ranks, es_gradient, Adam)": (med(tells, "wall"), med(tells, "cpu")),
    }
    update = (rows["ask (sample noise, form candidates)"][0] + rows["tell (ranks, es_gradient, Adam)"][0],
              rows["ask (sample noise, form candidates)"][1] + rows["tell (ranks, es_gradient, Adam)"][1])
    rows["ES update = ask + tell"] = update
    rows[f"rollouts ({args.popsize} episodes, {result.steps} steps)"] = (t_roll.wall, t_roll.cpu)

    print(f"{args.env}: policy {policy.obs_dim}-{args.hidden}-{args.hidden}-{policy.act_dim}, {dim} parameters, "
          f"population {args.popsize}, episodes up to {args.steps} steps")
    print(f"{'per generation':<44} {'wall s':>9} {'CPU s':>9}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:<44} {wall:9.3f} {cpu:9.3f}")
    ratio_wall, ratio_cpu = t_roll.wall / update[0], t_roll.cpu / update[1]
    print(f"{'rollout / update':<44} {ratio_wall:9.1f}x {ratio_cpu:8.1f}x")
    print(f"env steps per CPU second in the rollout: {result.steps / t_roll.cpu:,.0f}")

    write_json_atomic(args.out, {
        "benchmark": "es_update_vs_rollout",
        "command": ("python benchmarks/es_update_vs_rollout.py " + " ".join(sys.argv[1:])).strip(),
        "commit": git_commit(), "environment": environment(),
        "config": {"env_id": args.env, "hidden": [args.hidden, args.hidden], "num_params": dim,
                   "popsize": args.popsize, "max_steps": args.steps, "repeats": args.repeats},
        "seconds": {name: {"wall": wall, "cpu": cpu} for name, (wall, cpu) in rows.items()},
        "rollout_steps": result.steps,
        "ratio_rollout_over_update": {"wall": ratio_wall, "cpu": ratio_cpu},
        "load_average_1min_at_end": os.getloadavg()[0],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
