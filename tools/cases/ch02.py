"""Generate pgnotes/grading/cases/ch02.json from the reference implementation in pgnotes.

Run: .venv/bin/python tools/cases/ch02.py   (deterministic: fixed seeds)

Exercises of chapter 2 (from the search gradient to REINFORCE): the reward-to-go, the surrogate
loss, a time-indexed mean baseline, the REINFORCE gradient of a tabular softmax policy, and
per-decision importance weights. Expected values come from pgnotes.rl; the learner works in NumPy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pgnotes.rl import tabular_mdp as tm
from pgnotes.rl.offpolicy import off_policy_weights
from pgnotes.rl.reinforce import policy_gradient_weights, reward_to_go
from pgnotes.rl.rollouts import Episode, EpisodeBatch

OUT = Path(__file__).resolve().parents[2] / "pgnotes" / "grading" / "cases" / "ch02.json"


def arr(a, dtype="float64") -> dict:
    return {"__ndarray__": np.asarray(a).astype(dtype).tolist(), "dtype": dtype}


def close(name, args, expected, hint, kwargs=None, points=1) -> dict:
    return {"name": name, "args": args, "kwargs": kwargs or {}, "expected": expected, "compare": "allclose",
            "rtol": 1e-6, "atol": 1e-9, "points": points, "hint": hint}


def _batch(reward_lists):
    return EpisodeBatch([Episode(np.zeros((len(r), 1)), np.zeros(len(r), np.int64), np.asarray(r, float), np.zeros(len(r)), True, False)
                         for r in reward_lists])


def reward_to_go_cases() -> list[dict]:
    rng = np.random.default_rng(201)
    cases = []
    for name, rewards, gamma in [("three steps, gamma 0.5", [1.0, 2.0, 3.0], 0.5),
                                 ("CartPole-like: ten rewards of 1, gamma 0.99", np.ones(10), 0.99),
                                 ("random rewards, no discount", rng.normal(size=7).round(3), 1.0),
                                 ("a single step", [4.0], 0.9),
                                 ("gamma 0: only the reward that follows each action", [1.0, -2.0, 0.5], 0.0)]:
        cases.append(close(name, [arr(rewards), gamma], arr(reward_to_go(rewards, gamma)),
                           "work backwards: G[T-1] = r[T-1], then G[t] = r[t] + gamma * G[t+1]"))
    for name, gamma in [("gamma above 1 is an error", 1.5), ("a negative gamma is an error", -0.1)]:
        cases.append({"name": name, "args": [arr([1.0, 2.0]), gamma], "kwargs": {},
                      "expected": "ValueError", "compare": "raises", "points": 1,
                      "idea": "a discount outside [0, 1] is an error the caller must hear about (both ends are allowed)",
                      "hint": "raise ValueError when gamma is not in [0, 1]"})
    return cases


def surrogate_cases() -> list[dict]:
    rng = np.random.default_rng(202)
    cases = []
    for name, steps, episodes in [("5 steps from 1 episode", 5, 1), ("12 steps from 3 episodes", 12, 3), ("40 steps from 10 episodes", 40, 10)]:
        logp = np.log(rng.uniform(0.05, 1.0, size=steps))
        w = rng.normal(size=steps) * 10
        cases.append(close(name, [arr(logp), arr(w), episodes], float(-(w * logp).sum() / episodes),
                           "minus the sum over steps of weight * log-probability, divided by the number of EPISODES"))
    return cases


def mean_baseline_cases() -> list[dict]:
    rng = np.random.default_rng(203)
    cases = []
    for name, lengths, gamma in [("two episodes of lengths 3 and 2", [3, 2], 0.9),
                                 ("four CartPole episodes", [5, 9, 3, 9], 0.99),
                                 ("random rewards, three episodes", [4, 1, 6], 0.95)]:
        if name.startswith("random"):
            reward_lists = [rng.normal(size=n).round(3) for n in lengths]
        else:
            reward_lists = [np.ones(n) for n in lengths]
        expected = policy_gradient_weights(_batch(reward_lists), estimator="reward_to_go", baseline="mean", gamma=gamma)
        cases.append(close(name, [[arr(r) for r in reward_lists], gamma], arr(expected),
                           "for each time step t, subtract the mean of G_t over the episodes that lasted longer than t"))
    return cases


def reinforce_gradient_cases() -> list[dict]:
    cases = []
    for name, seed, n, S, A in [("one episode, 3 states x 2 actions", 204, 1, 3, 2),
                                ("five episodes, 4 states x 3 actions", 205, 5, 4, 3),
                                ("forty episodes, 5 states x 2 actions", 206, 40, 5, 2)]:
        rng = np.random.default_rng(seed)
        mdp = tm.random_mdp(S, A, rng=rng, termination=0.25, gamma=0.9)
        theta = rng.normal(size=(S, A)).round(3)
        episodes = tm.sample_episodes(mdp, theta, n, rng)
        # reference: the estimator of tm.reinforce_estimate (reward-to-go with gamma^t), on these episodes
        expected = np.zeros((S, A))
        for s, a, r in episodes:
            disc = mdp.gamma ** np.arange(r.size)
            tail = np.cumsum((disc * r)[::-1])[::-1]
            scores = tm.categorical_score(a, theta[s])
            np.add.at(expected, s, tail[:, None] * scores)
        expected /= n
        cases.append(close(name, [arr(theta), [arr(s, "int64") for s, _, _ in episodes], [arr(a, "int64") for _, a, _ in episodes],
                                  [arr(r) for _, _, r in episodes], mdp.gamma], arr(expected),
                           "grad of log softmax row s: one_hot(a) - pi(s); weight step t by gamma**t * G_t; average over episodes",
                           points=1))
    return cases


def per_decision_cases() -> list[dict]:
    rng = np.random.default_rng(207)
    cases = []
    for name, T, gamma, same in [("on-policy: the weights are the reward-to-go", 4, 0.9, True),
                                 ("six steps, gamma 0.9", 6, 0.9, False),
                                 ("ten steps, no discount", 10, 1.0, False)]:
        rewards = rng.normal(size=T).round(3)
        behaviour = np.log(rng.uniform(0.1, 0.9, size=T))
        target = behaviour.copy() if same else np.log(rng.uniform(0.1, 0.9, size=T))
        batch = EpisodeBatch([Episode(np.zeros((T, 1)), np.zeros(T, np.int64), rewards, behaviour, True, False)])
        expected = off_policy_weights(batch, target, gamma=gamma, mode="per_decision")
        cases.append(close(name, [arr(rewards), arr(target), arr(behaviour), gamma], arr(expected),
                           "rho[t'] = exp(cumsum(target - behaviour))[t']; weight[t] = sum over t' >= t of gamma**(t'-t) * rho[t'] * r[t']"))
    return cases


def main() -> None:
    exercises = [
        {"id": "ch02.reward_to_go", "function": "reward_to_go", "points": 3,
         "description": "reward-to-go G_t of one episode (Algorithms 5-7)",
         "idea": "the weight of step t counts only the rewards that follow action a_t, each discounted by how many "
                 "steps later it arrives; a backward pass can reuse the value of the next step",
         "section": 'Chapter 2, "4. REINFORCE: Algorithms 4 to 7"',
         "hint": "G_t = r_t + gamma * G_{t+1}, computed from the last step backwards", "cases": reward_to_go_cases()},
        {"id": "ch02.surrogate_loss", "function": "surrogate_loss", "points": 2,
         "description": "the REINFORCE surrogate loss whose gradient is minus the policy-gradient estimate",
         "idea": "the surrogate is built so that its gradient is minus the estimate, and the estimate averages "
                 "over episodes, not over steps",
         "section": 'Chapter 2, "4. REINFORCE: Algorithms 4 to 7"',
         "hint": "L = -(1/N) sum_t w_t log pi(a_t|s_t), N = number of episodes", "cases": surrogate_cases()},
        {"id": "ch02.mean_baseline_weights", "function": "mean_baseline_weights", "points": 3,
         "description": "reward-to-go minus a time-indexed batch-mean baseline",
         "idea": "the baseline of step t averages the discounted reward-to-go of the episodes that reached step t, "
                 "and of those only",
         "section": 'Chapter 2, "6. Baselines"',
         "hint": "compute G_t per episode, then subtract the per-time-step average", "cases": mean_baseline_cases()},
        {"id": "ch02.reinforce_gradient", "function": "reinforce_gradient", "points": 4,
         "description": "REINFORCE gradient of a tabular softmax policy from sampled episodes",
         "idea": "the score of a step touches only the row of its state; weight it by the step's reward-to-go and "
                 "by the discount of the step itself, then average over episodes",
         "section": 'Chapter 2, "4. REINFORCE: Algorithms 4 to 7"',
         "hint": "sum over steps of gamma^t G_t (one_hot(a_t) - pi(s_t)) in row s_t, averaged over episodes",
         "cases": reinforce_gradient_cases()},
        {"id": "ch02.per_decision_weights", "function": "per_decision_weights", "points": 3,
         "description": "per-decision importance-weighted reward-to-go for off-policy episodes",
         "idea": "each reward is reweighted by the likelihood ratio of all the actions up to and including the one "
                 "that earned it, no more and no fewer",
         "section": 'Chapter 2b, "7. Off-policy gradients: importance weights and a replay buffer"',
         "hint": "cumulative likelihood ratios rho_{0:t}, then a discounted reverse sum of rho * r", "cases": per_decision_cases()},
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"exercises": exercises}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
