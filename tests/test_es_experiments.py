"""The black-box CartPole comparison and the MuJoCo command (chapter 3): protocol, outputs, stored results."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pgnotes import command
from pgnotes.experiments import es_cartpole
from pgnotes.results import load_result


def test_every_method_runs_on_one_protocol_and_writes_cwd_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert command.main("pgnotes.experiments.es_cartpole", ["--seeds", "0", "--max-generations", "2"]) == 0
    data = json.loads((tmp_path / "results" / "es_cartpole.json").read_text())
    runs = data["runs"]
    assert [r["method"] for r in runs] == list(es_cartpole.METHODS)
    for r in runs:
        assert r["seed"] == 0 and "solved_train_episodes" in r and r["cpu_seconds"] > 0
        assert r["train_episodes"] == 2 * r["popsize"]  # one episode per candidate
        assert len(r["eval_return"]) == 2  # the mean is evaluated after every generation
    assert set(data["summary"]["by_method"]) == set(es_cartpole.METHODS)
    assert {r["popsize"] for r in runs if r["method"] in ("snes", "xnes", "cmaes")} == {10}  # 4 + floor(3 ln 10)


def test_episode_budget_sets_the_generations():
    config = es_cartpole.ESCartPoleConfig(max_train_episodes=30, eval_episodes=1, confirm_episodes=1)
    record = es_cartpole.run_seed(config, 0, method="snes")
    assert record["train_episodes"] <= 30 and record["popsize"] == 10


def test_policy_init_uses_its_own_generator():
    """Same seed, same weights, whatever came before; the global torch generator is left alone."""
    from pgnotes.mlp_policy import get_flat_params, make_policy

    a, b = make_policy("CartPole-v1", hidden=(8,)), make_policy("CartPole-v1", hidden=(8,))
    es_cartpole.init_policy(b, 4)
    before = torch.get_rng_state()
    wa = get_flat_params(es_cartpole.init_policy(a, 3))
    wb = get_flat_params(es_cartpole.init_policy(b, 3))
    assert torch.equal(torch.get_rng_state(), before)
    np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(wa, get_flat_params(es_cartpole.init_policy(b, 4)))


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="method"):
        es_cartpole.make_solver("pso", 4, 0, es_cartpole.ESCartPoleConfig())


def test_stored_cartpole_results_have_every_method_and_seed():
    data = load_result("es_cartpole")
    runs = data["runs"]
    pairs = {(r["method"], r["seed"]) for r in runs}
    assert pairs == {(m, s) for m in es_cartpole.METHODS for s in range(5)}
    for r in runs:
        assert {"method", "seed", "solved_train_episodes", "cpu_seconds", "eval_return", "eval_train_episodes"} <= set(r)
        if r["solved_train_episodes"] is not None:
            assert r["solved_train_episodes"] == r["eval_train_episodes"][-1]
    for method, s in data["summary"]["by_method"].items():
        solved = [r["solved_train_episodes"] for r in runs if r["method"] == method and r["solved_train_episodes"] is not None]
        assert s["solved"] == len(solved)
        if solved:
            assert s["median_train_episodes"] == float(np.median(solved))


@pytest.mark.slow
def test_es_mujoco_runs_snes_briefly(tmp_path, monkeypatch):
    from pgnotes.experiments import es_mujoco

    monkeypatch.chdir(tmp_path)
    assert command.main("pgnotes.experiments.es_mujoco", ["--method", "snes", "--max-train-episodes", "24", "--eval-every", "1", "--eval-episodes", "1"]) == 0
    data = json.loads((tmp_path / "results" / "es_swimmer_snes.json").read_text())
    run_ = data["runs"][0]
    assert run_["method"] == "snes" and run_["popsize"] == 12 and run_["train_episodes"] == 24
    assert data["config"]["method"] == "snes"


def test_es_cartpole_resumes_between_runs_and_inside_a_run(tmp_path, monkeypatch):
    """A finished (method, seed) is not run again; a per-run checkpoint continues a run to the same numbers."""
    monkeypatch.chdir(tmp_path)
    args = ["--methods", "snes", "--seeds", "0", "1", "--max-generations", "3", "--eval-episodes", "2", "--no-progress"]
    assert command.main("pgnotes.experiments.es_cartpole", [*args, "--out", "whole.json"]) == 0
    whole = json.loads((tmp_path / "whole.json").read_text())
    assert whole["status"] == "complete" and [r["seed"] for r in whole["runs"]] == [0, 1]
    assert command.main("pgnotes.experiments.es_cartpole", [*args, "--out", "whole.json"]) == 0  # nothing left to run
    assert json.loads((tmp_path / "whole.json").read_text())["runs"] == whole["runs"]
    config = es_cartpole.Config(methods=["snes"], max_generations=2, eval_episodes=2, checkpoint="ckpt", progress=False)
    es_cartpole.run_seed(config, 1, method="snes")  # stops after 2 of 3 generations, checkpointed
    resumed = es_cartpole.run_seed(es_cartpole.Config(**{**config.__dict__, "max_generations": 3}), 1, method="snes")
    assert resumed["final_params"] == whole["runs"][1]["final_params"]
    assert resumed["eval_return"] == whole["runs"][1]["eval_return"]
