"""PPO (chapter 7): the clipped surrogate, its gradient at ratio 1, the update loop, bad input."""

import numpy as np
import pytest
import torch

from pgnotes.rl import ppo
from pgnotes.rl.gae import collect_batch
from pgnotes.rl.natural_pg import flat_grad
from pgnotes.rl.policies import CategoricalPolicy, ValueFunction
from pgnotes.rl.rollouts import make_vector_env


def test_clipped_surrogate_values():
    logp = torch.log(torch.tensor([1.5, 0.5, 1.5, 0.5, 1.1]))
    old = torch.zeros(5)
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0, 2.0])
    # ratios 1.5, 0.5, 1.5, 0.5, 1.1 with eps 0.2: min(rA, clip(r)A)
    expected = np.mean([1.2, 0.5, -1.5, -0.8, 2.2])
    assert float(ppo.clipped_surrogate(logp, old, adv, 0.2)) == pytest.approx(expected)


def test_clipped_samples_have_zero_gradient():
    logp = torch.log(torch.tensor([1.5, 0.5, 1.5, 0.5])).requires_grad_(True)
    adv = torch.tensor([1.0, -1.0, -1.0, 1.0])
    ppo.clipped_surrogate(logp, torch.zeros(4), adv, 0.2).backward()
    # past 1+eps with A>0 and below 1-eps with A<0: clipped, no gradient; the other two keep r*A/N
    np.testing.assert_allclose(logp.grad.numpy(), [0.0, 0.0, -1.5 / 4, 0.5 / 4], atol=1e-7)


@pytest.fixture(scope="module")
def batch_and_policy():
    envs = make_vector_env("CartPole-v1", 4)
    try:
        policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
        value_fn = ValueFunction(4, (16,), seed=1)
        batch = collect_batch(envs, policy, value_fn, 300, generator=torch.Generator().manual_seed(1), seed=1)
    finally:
        envs.close()
    return policy.state_dict(), value_fn.state_dict(), batch


@pytest.mark.parametrize("clip", [0.1, 0.2, 10.0])
def test_gradient_at_ratio_one_is_policy_gradient(batch_and_policy, clip):
    state, _, batch = batch_and_policy
    policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
    policy.load_state_dict(state)
    logp = policy.log_prob(batch.observations, batch.actions)
    old = logp.detach()  # the policy that collected the batch: every ratio is exactly 1
    np.testing.assert_allclose(old.numpy(), batch.log_probs.numpy(), atol=1e-5)
    g = flat_grad(ppo.clipped_surrogate(logp, old, batch.advantages, clip), policy)
    pg = flat_grad((policy.log_prob(batch.observations, batch.actions) * batch.advantages).mean(), policy)
    torch.testing.assert_close(g, pg, rtol=1e-5, atol=1e-7)


def test_update_changes_policy_and_reports(batch_and_policy):
    state, vstate, batch = batch_and_policy
    policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
    policy.load_state_dict(state)
    value_fn = ValueFunction(4, (16,), seed=1)
    value_fn.load_state_dict(vstate)
    opt = torch.optim.Adam([*policy.parameters(), *value_fn.parameters()], lr=1e-3)
    before = torch.mean((value_fn(batch.observations) - batch.returns) ** 2).item()
    info = ppo.ppo_update(policy, value_fn, opt, batch, epochs=4, minibatch_size=32, entropy_coef=0.01,
                          generator=torch.Generator().manual_seed(0))
    after = torch.mean((value_fn(batch.observations) - batch.returns) ** 2).item()
    assert info.epochs == 4
    assert info.kl > 0
    assert 0.0 <= info.clip_fraction <= 1.0
    assert after < before


def test_update_is_deterministic_with_a_generator(batch_and_policy):
    state, vstate, batch = batch_and_policy
    outs = []
    for _ in range(2):
        policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
        policy.load_state_dict(state)
        value_fn = ValueFunction(4, (16,), seed=1)
        value_fn.load_state_dict(vstate)
        opt = torch.optim.Adam([*policy.parameters(), *value_fn.parameters()], lr=1e-3)
        ppo.ppo_update(policy, value_fn, opt, batch, epochs=2, minibatch_size=50, generator=torch.Generator().manual_seed(5))
        outs.append(torch.nn.utils.parameters_to_vector(policy.parameters()).detach())
    assert torch.equal(outs[0], outs[1])


def test_target_kl_stops_early(batch_and_policy):
    state, vstate, batch = batch_and_policy
    policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
    policy.load_state_dict(state)
    value_fn = ValueFunction(4, (16,), seed=1)
    opt = torch.optim.Adam([*policy.parameters(), *value_fn.parameters()], lr=0.05)
    info = ppo.ppo_update(policy, value_fn, opt, batch, epochs=20, target_kl=1e-6, generator=torch.Generator().manual_seed(0))
    assert info.epochs == 1


def test_bad_input_names_the_argument(batch_and_policy):
    state, _, batch = batch_and_policy
    policy = CategoricalPolicy(4, 2, hidden=(16,), seed=0)
    value_fn = ValueFunction(4, (16,), seed=1)
    opt = torch.optim.Adam(policy.parameters())
    x = torch.zeros(3)
    for bad in (0.0, -0.2):
        with pytest.raises(ValueError, match="clip"):
            ppo.clipped_surrogate(x, x, x, bad)
        with pytest.raises(ValueError, match="clip"):
            ppo.PPOConfig(clip=bad)
    with pytest.raises(ValueError, match="minibatch_size"):
        ppo.ppo_update(policy, value_fn, opt, batch, minibatch_size=0)
    with pytest.raises(ValueError, match="epochs"):
        ppo.ppo_update(policy, value_fn, opt, batch, epochs=0)
    with pytest.raises(ValueError, match="minibatch_size"):
        ppo.PPOConfig(minibatch_size=0)
    with pytest.raises(ValueError, match="steps_per_batch"):
        ppo.PPOConfig(steps_per_batch=0)
    with pytest.raises(ValueError, match="min_steps"):
        collect_batch(None, policy, value_fn, 0)
    with pytest.raises(ValueError, match="batch size"):
        ppo.clipped_surrogate(x[:0], x[:0], x[:0], 0.2)


def test_train_smoke_and_seeded():
    a = ppo.train(total_steps=500, steps_per_batch=250, hidden=(8,), progress=False, seed=3)
    b = ppo.train(total_steps=500, steps_per_batch=250, hidden=(8,), progress=False, seed=3)
    assert a.history.mean_return == b.history.mean_return
    assert len(a.history) >= 2
    assert len(a.history.kl) == len(a.history) and a.history.env_steps[-1] >= 500
    assert type(a.history).from_dict(a.history.to_dict()) == a.history
    ax = a.history.plot()
    assert ax.get_xlabel() == "environment steps"


def test_train_evaluates_when_due_and_stops_at_target():
    h = ppo.train(total_steps=1000, steps_per_batch=250, hidden=(8,), progress=False, seed=3, eval_threshold=0.0, target=0.0,
                  stop_at_target=True, eval_episodes=2).history
    assert len(h) == 1 and h.eval_at == h.env_steps and h.solved_at == h.env_steps[0]


def test_cartpole_command_writes_results(tmp_path):
    import json

    from pgnotes import command

    out = tmp_path / "ppo.json"
    assert command.main("pgnotes.experiments.ppo_cartpole",
                        ["--algo", "ppo", "--seeds", "0", "--budget", "300", "--out", str(out), "--no-progress"]) == 0
    data = json.loads(out.read_text())
    assert data["summary"]["seeds"] == [0]
    assert data["runs"][0]["config"]["total_steps"] == 300
    assert "commit" in data and "environment" in data
