"""pgnotes.watch: stored parameters become the same policy, episodes replay, frames draw offline."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from pgnotes import watch
from pgnotes.experiments.reinforce_cartpole import final_params
from pgnotes.rl.reinforce import train


@pytest.fixture(scope="module")
def cartpole_run():
    result = train(total_episodes=20, seed=3, progress=False, final_eval=False)
    return {"config": result.config.to_dict(), "final_params": final_params(result.policy)}, result.policy


def test_policy_from_run_restores_the_trained_parameters(cartpole_run):
    run, trained = cartpole_run
    restored = watch.policy_from_run(run)
    for a, b in zip(restored.parameters(), trained.parameters()):
        assert torch.equal(a, b)


def test_pendulum_policy_round_trip():
    result = train(env_id="Pendulum-v1", total_episodes=2, episodes_per_batch=2, hidden=(8,), log_std_init=0.3,
                   seed=1, progress=False, final_eval=False)
    run = {"config": result.config.to_dict(), "final_params": final_params(result.policy)}
    restored = watch.policy_from_run(run)
    assert torch.equal(restored.log_std, result.policy.log_std)
    obs = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(restored.mean(obs), result.policy.mean(obs))


def test_play_is_reproducible_and_matches_the_return(cartpole_run):
    run, _ = cartpole_run
    policy = watch.policy_from_run(run)
    a = watch.play(policy, "CartPole-v1", seed=4)
    b = watch.play(policy, "CartPole-v1", seed=4)
    assert np.array_equal(a.observations, b.observations) and np.array_equal(a.actions, b.actions)
    assert a.total_reward == len(a) and (a.terminated or a.truncated)


def test_animation_html_is_self_contained(cartpole_run):
    run, _ = cartpole_run
    html, playback = watch.watch(run, seed=2, every=5)
    text = html.data
    assert "<img" in text and "data:image/jpeg;base64" in text
    assert "http://" not in text and "https://" not in text.replace("https://www.w3.org", "")
    assert len(playback) >= 1


def test_draw_state_pendulum_and_bad_input():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    watch.draw_state(ax, "Pendulum-v1", [1.0, 0.0, 0.0], action=np.array([1.5]))
    assert ax.patches
    with pytest.raises(ValueError, match="env_id"):
        watch.draw_state(ax, "Hopper-v5", [0.0])
    with pytest.raises(ValueError, match="final_params"):
        watch.policy_from_run({"config": {"env_id": "CartPole-v1"}})
    plt.close(fig)
