"""One-off (issue 12): convert ARS checkpoints of the old ``train_ars`` loop to ``optimize``'s format.

Before issue 12, ``train_ars`` ran its own loop and saved ``{config, solver, stats, history,
episodes, timesteps, elapsed}``. It now runs through :func:`pgnotes.solvers.optimize`, whose
checkpoint holds the solver, the fitness object's state (the evaluator's observation statistics,
generation and episode counters), the callbacks' state (the evaluations of theta), the run's
settings (checked on resume) and a per-generation history. The old files did not keep the
per-generation fitness, so the converted history has the generation and evaluation counts with
NaN fitness (nothing reads them to decide anything for ARS: its budget is in episodes).

    python tools/convert_ars_checkpoints.py results/checkpoints/ars/*.ckpt
"""

from __future__ import annotations

import sys


from pgnotes.checkpoint import load_checkpoint, save_checkpoint


def convert(saved: dict) -> dict:
    if "settings" in saved:
        return saved  # already converted
    solver, config = saved["solver"], saved["config"]
    generations, popsize = int(solver["generation"]), int(solver["popsize"])
    history = saved["history"]
    nan = [float("nan")] * generations
    return {
        "solver": solver,
        "history": {"generation": list(range(1, generations + 1)),
                    "evaluations": [popsize * (g + 1) for g in range(generations)],
                    "best_so_far": list(nan), "generation_best": list(nan), "generation_mean": list(nan),
                    "wall_time": list(nan)},
        "evaluations": int(saved["episodes"]),
        "elapsed": float(saved["elapsed"]),
        "settings": {"solver": "ARS", "dim": int(solver["dim"]), "popsize": popsize, **config},
        "stopped": history["episodes_to_threshold"] is not None,
        "fitness": {"normalizer": saved["stats"], "generation": generations, "episodes": int(saved["episodes"]),
                    "steps": int(saved["timesteps"])},
        "callbacks": [history],
    }


def main(paths: list[str]) -> int:
    for path in paths:
        saved = load_checkpoint(path)
        new = convert(saved)
        if new is saved:
            print(f"{path}: already in the new format")
            continue
        assert new["evaluations"] == new["solver"]["popsize"] * new["solver"]["generation"], path
        save_checkpoint(path, new)
        print(f"{path}: converted ({new['solver']['generation']} iterations, {new['evaluations']} episodes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
