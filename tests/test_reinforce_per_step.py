"""The per-step REINFORCE command (Euskirchen, Algorithms 6/7 vs batched) and the command that stores a run's parameters."""

from __future__ import annotations

import json

import pytest

from pgnotes import watch
from pgnotes.experiments import reinforce_per_step
from pgnotes.rl.reinforce import train


def test_per_step_command_writes_both_variants(tmp_path):
    out = tmp_path / "ps.json"
    assert reinforce_per_step.run(reinforce_per_step.Config(seeds=[0], episodes=10, alphas=[0.003], batched_alphas=[0.003],
                                                            out=str(out))) == 0
    data = json.loads(out.read_text())
    per_step, batched = data["runs"]
    assert per_step["variant"] == "per_step" and batched["variant"] == "batched"
    assert per_step["updates"] == sum(per_step["returns"])   # CartPole pays 1 per step: one update per step
    assert batched["updates"] == 1 and len(batched["returns"]) == 10
    with pytest.raises(ValueError, match="variant"):
        reinforce_per_step.train_one("adam", 0.01, 0, 10)


def test_store_params_reproduces_the_stored_curve(tmp_path):
    result = train(total_episodes=20, seed=2, progress=False, eval_episodes=5)
    h = result.history
    run = {"variant": "reward_to_go+value", "seed": 2, "config": result.config.to_dict(), "mean_return": h.mean_return,
           "eval_mean": h.eval_mean}
    (tmp_path / "toy.json").write_text(json.dumps({"runs": [run]}))
    stored = watch.store_params("toy", seed=2, variant="reward_to_go+value", results_dir=str(tmp_path))
    restored = watch.policy_from_run(json.loads((tmp_path / "toy.json").read_text())["runs"][0])
    assert len(stored["final_params"]) == restored.num_params
    for a, b in zip(restored.parameters(), result.policy.parameters()):
        assert (a == b).all()
    run["mean_return"] = [r + 1 for r in run["mean_return"]]      # a curve the retraining cannot reproduce
    (tmp_path / "toy.json").write_text(json.dumps({"runs": [run]}))
    with pytest.raises(RuntimeError, match="did not reproduce"):
        watch.store_params("toy", seed=2, results_dir=str(tmp_path))
