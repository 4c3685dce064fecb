"""Distributed ES (chapter 6): wall time per generation vs workers, and bytes per generation vs dimension.

Usage::

    python benchmarks/distributed_scaling.py                 # both parts, default settings
    python benchmarks/distributed_scaling.py --part scaling --workers 1,2 --generations 12
    python benchmarks/distributed_scaling.py --part traffic --dims 1000,10000,100000,1000000

Part ``scaling``: a fixed population (``--directions`` antithetic pairs) of a small MLP policy on
HalfCheetah-v5 (MuJoCo; fixed-length episodes, so the work is rollout-bound and balanced) and on
CartPole-v1 (short episodes of an untrained policy: overhead-bound), run with Algorithm 2 under
``torchrun --standalone`` for each worker count. Reported: median wall time per generation
(the first generation is left out) as the median over ``--repeats`` runs interleaved across
worker counts, its range, speedup T(1)/T(W), parallel efficiency speedup/W, and the time spent
in the all_gather (which includes waiting for the slowest worker). As a control, before each
run with the most workers it measures how much faster 2 processes get through a pure-Python
loop than 1 (``machine_parallelism``): on a shared machine that, not the algorithm, often
bounds the speedup.

Part ``traffic``: the synthetic sphere task at parameter dimensions 1e3..1e6 with 2 workers,
Algorithm 2 (seed-only: indices and returns) against the baseline that scatters full
parameter vectors (:mod:`pgnotes.distributed.naive`). Reported: bytes received from other
workers per generation (counted from the tensors handed to the collectives, which agree with
the formulas printed alongside) and the time per generation spent in the collectives
themselves (a barrier before each collective keeps waiting for the slower worker out of it).

Both parts write ``results/distributed_scaling.json`` / ``results/distributed_traffic.json``
with the settings, the commit and the machine's load (the machine is often shared: compare
numbers from one run, and read the load figures before trusting a speedup).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pgnotes.checkpoint import write_json_atomic  # noqa: E402
from pgnotes.distributed.algorithm import ESConfig, max_block  # noqa: E402
from pgnotes.distributed.launcher import launch  # noqa: E402
from pgnotes.provenance import environment, git_commit  # noqa: E402


def machine() -> dict:
    """CPU count, model and load: the conditions of the measurement."""
    model = None
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "platform": platform.platform(),
            "python": platform.python_version(), "loadavg": list(os.getloadavg())}


def _spin(n: int) -> None:
    total = 0
    for i in range(n):
        total += i * i


def machine_parallelism(n: int = 3_000_000) -> float:
    """Throughput of 2 processes over 1 on a pure-Python loop, right now (2.0 on 2 idle cores).

    A control for the scaling numbers: on a shared machine, other users' work decides how
    much of a second core a second worker actually gets.
    """
    import multiprocessing

    def timed(k: int) -> float:
        procs = [multiprocessing.Process(target=_spin, args=(n,)) for _ in range(k)]
        start = time.perf_counter()
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        return time.perf_counter() - start

    return 2 * timed(1) / timed(2)


def per_generation(history: list[dict], key: str = "time_s") -> float:
    values = [h[key] for h in history[1:]] or [h[key] for h in history]
    return statistics.median(values)


def scaling(args) -> dict:
    tasks = {
        "HalfCheetah-v5": dict(task="HalfCheetah-v5", hidden=(32,), max_episode_steps=args.cheetah_steps),
        "CartPole-v1": dict(task="CartPole-v1", hidden=(16,), max_episode_steps=500),
    }
    workers = [int(w) for w in args.workers.split(",")]
    if workers[0] != 1:
        raise ValueError(f"--workers must start with 1 (the baseline of the speedup), got {args.workers!r}")
    runs = []
    for name in args.tasks.split(","):
        # worker counts interleaved, repeated: a shared machine's load drifts, so every
        # worker count sees the same drift
        for repeat in range(args.repeats):
            for w in workers:
                config = ESConfig(**tasks[name], directions=args.directions, generations=args.generations,
                                  seed=args.seed, noise_size=2**22, timeout_s=120.0)
                load_before = os.getloadavg()[0]
                control = machine_parallelism() if w == workers[-1] else None
                result = launch(config, nproc=w, progress=False, timeout_s=args.timeout).result
                run = {"task": name, "workers": w, "repeat": repeat, "dim": result["dim"],
                       "time_per_gen_s": per_generation(result["history"]),
                       "rollout_s": per_generation(result["history"], "rollout_s"),
                       "gather_s": per_generation(result["history"], "gather_s"),
                       "update_s": per_generation(result["history"], "update_s"),
                       "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
                       "machine_2proc_throughput": control, "theta_sha256": result["theta_sha256"]}
                runs.append(run)
                print(f"  {name:15s} W={w} repeat {repeat}: {run['time_per_gen_s'] * 1e3:8.1f} ms/gen "
                      f"(load {load_before:.1f}" + (f", machine's 2-process throughput {control:.2f}x" if control else "")
                      + ")", flush=True)
    rows = []
    for name in args.tasks.split(","):
        base = statistics.median(r["time_per_gen_s"] for r in runs if r["task"] == name and r["workers"] == 1)
        for w in workers:
            mine = [r for r in runs if r["task"] == name and r["workers"] == w]
            t = statistics.median(r["time_per_gen_s"] for r in mine)
            rows.append({
                "task": name, "workers": w, "directions": args.directions, "popsize": 2 * args.directions,
                "dim": mine[0]["dim"], "repeats": len(mine), "time_per_gen_s": t,
                "time_per_gen_range_s": [min(r["time_per_gen_s"] for r in mine), max(r["time_per_gen_s"] for r in mine)],
                "rollout_s": statistics.median(r["rollout_s"] for r in mine),
                "gather_s": statistics.median(r["gather_s"] for r in mine),
                "update_s": statistics.median(r["update_s"] for r in mine),
                "speedup": base / t, "efficiency": base / t / w,
                "loadavg": statistics.mean(r["loadavg_before"] for r in mine),
            })
        controls = [r["machine_2proc_throughput"] for r in runs if r["task"] == name and r["machine_2proc_throughput"]]
        rows[-1]["machine_2proc_throughput"] = statistics.median(controls) if controls else None
        # the runs during which the machine really offered a second core (control >= 1.8x)
        free = [r for r in runs if r["task"] == name and r["workers"] == workers[-1]
                and (r["machine_2proc_throughput"] or 0) >= 1.8]
        rows[-1]["runs_with_free_cores"] = len(free)
        rows[-1]["speedup_with_free_cores"] = (base / statistics.median(r["time_per_gen_s"] for r in free)) if free else None
    print()
    print(f"{'task':15s} {'W':>2s} {'ms/gen':>9s} {'(min-max)':>15s} {'rollout':>9s} {'gather':>8s} {'speedup':>8s} {'effic.':>7s} {'load':>5s}")
    for r in rows:
        lo, hi = (x * 1e3 for x in r["time_per_gen_range_s"])
        print(f"{r['task']:15s} {r['workers']:2d} {r['time_per_gen_s'] * 1e3:9.1f} {f'({lo:.0f}-{hi:.0f})':>15s} "
              f"{r['rollout_s'] * 1e3:9.1f} {r['gather_s'] * 1e3:8.2f} {r['speedup']:7.2f}x {r['efficiency']:7.0%} "
              f"{r['loadavg']:5.1f}")
    for r in rows:
        if r.get("machine_2proc_throughput"):
            free = (f"; in the {r['runs_with_free_cores']} run(s) where it was >= 1.8x, speedup "
                    f"{r['speedup_with_free_cores']:.2f}x" if r["runs_with_free_cores"] else "")
            print(f"{r['task']}: the machine's own 2-process throughput (pure-Python loop) before the "
                  f"{r['workers']}-worker runs: median {r['machine_2proc_throughput']:.2f}x{free}")
    same = all(len({r["theta_sha256"] for r in runs if r["task"] == task}) == 1 for task in {r["task"] for r in runs})
    print(f"\nsame final parameters for every worker count and repeat: {same}")
    return {"rows": rows, "runs": runs, "identical_parameters_across_worker_counts": same}


def seed_only_bytes(directions: int, world: int, m: int = 2) -> int:
    """Bytes received per generation by all workers together in Algorithm 2's all_gather."""
    return world * (world - 1) * max_block(directions, world) * (2 + m) * 8


def full_vector_bytes(directions: int, world: int, dim: int, m: int = 2) -> int:
    """Bytes received per generation in the baseline (vectors + metadata scattered, returns gathered)."""
    width = max_block(directions, world)
    return (world - 1) * (width * m * dim * 4 + width * 3 * 8 + width * (2 + m) * 8)


def traffic(args) -> dict:
    dims = [int(float(d)) for d in args.dims.split(",")]
    rows = []
    for dim in dims:
        for module in ("spmd", "naive"):
            config = ESConfig(task="sphere", dim=dim, directions=args.directions, generations=args.traffic_generations,
                              seed=args.seed, noise_size=max(2**22, 4 * dim), timeout_s=120.0, timing_barrier=True)
            result = launch(config, nproc=2, module=module, progress=False, timeout_s=args.timeout).result
            h = result["history"]
            comm = per_generation(h, "gather_s") + (per_generation(h, "scatter_s") if module == "naive" else 0.0)
            predicted = seed_only_bytes(args.directions, 2) if module == "spmd" else full_vector_bytes(args.directions, 2, dim)
            rows.append({"dim": dim, "method": "seed-only" if module == "spmd" else "full-vector",
                         "bytes_per_gen": h[-1]["bytes"], "predicted_bytes": predicted,
                         "comm_s": comm, "time_per_gen_s": per_generation(h), "theta_sha256": result["theta_sha256"]})
            print(f"  dim={dim:>8d} {rows[-1]['method']:11s}: {h[-1]['bytes']:>12,d} B/gen, comm {comm * 1e3:8.2f} ms", flush=True)
    print()
    print(f"{'dim':>9s} {'seed-only B/gen':>16s} {'full-vector B/gen':>18s} {'ratio':>9s} {'comm seed':>10s} {'comm full':>10s}")
    for dim in dims:
        s = next(r for r in rows if r["dim"] == dim and r["method"] == "seed-only")
        f = next(r for r in rows if r["dim"] == dim and r["method"] == "full-vector")
        print(f"{dim:9d} {s['bytes_per_gen']:16,d} {f['bytes_per_gen']:18,d} {f['bytes_per_gen'] / s['bytes_per_gen']:9.0f} "
              f"{s['comm_s'] * 1e3:8.2f}ms {f['comm_s'] * 1e3:8.2f}ms")
    same = all(
        next(r for r in rows if r["dim"] == d and r["method"] == "seed-only")["theta_sha256"]
        == next(r for r in rows if r["dim"] == d and r["method"] == "full-vector")["theta_sha256"]
        for d in dims
    )
    print(f"\nseed-only and full-vector runs end with identical parameters: {same}")
    return {"rows": rows, "identical_parameters": same, "workers": 2, "directions": args.directions}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["scaling", "traffic", "both"], default="both")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (start with 1)")
    parser.add_argument("--tasks", default="HalfCheetah-v5,CartPole-v1")
    parser.add_argument("--directions", type=int, default=16, help="antithetic pairs per generation")
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=6, help="runs per worker count, interleaved")
    parser.add_argument("--cheetah-steps", type=int, default=200, help="episode length on HalfCheetah")
    parser.add_argument("--dims", default="1000,10000,100000,1000000")
    parser.add_argument("--traffic-generations", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900.0, help="bound on each torchrun job (s)")
    parser.add_argument("--results", default=str(ROOT / "results"))
    args = parser.parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    common = {"command": "python benchmarks/" + Path(__file__).name + " " + " ".join(argv if argv is not None else sys.argv[1:]),
              "commit": git_commit(), "environment": environment(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if args.part in ("scaling", "both"):
        print("Wall time per generation vs workers (Algorithm 2, torchrun --standalone, gloo)")
        m0 = machine()
        out = scaling(args)
        write_json_atomic(Path(args.results) / "distributed_scaling.json",
                          {**common, "machine_before": m0, "machine_after": machine(), "settings": vars(args), **out})
    if args.part in ("traffic", "both"):
        print("\nBytes per generation vs parameter dimension (2 workers, sphere task)")
        m0 = machine()
        out = traffic(args)
        write_json_atomic(Path(args.results) / "distributed_traffic.json",
                          {**common, "machine_before": m0, "machine_after": machine(), "settings": vars(args), **out})
    return 0


if __name__ == "__main__":
    sys.exit(main())
