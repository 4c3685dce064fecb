r"""Watch a trained agent act: an episode drawn with matplotlib, as an animation that plays offline (chapter 2).

The course stores trained policies as flat parameter vectors in ``results/*.json`` (the
``final_params`` of a run, in ``torch.nn.utils.parameters_to_vector`` order, next to the run's
``config``). This module turns such a run back into a policy, plays one episode, and draws
every frame from the environment's *state* with matplotlib, so no OpenGL, display or network
is needed: the animation's frames are embedded in the page as images with play controls.

Drawn environments: ``CartPole-v1`` (cart, pole, track limits) and ``Pendulum-v1`` (rod,
angle, applied torque). Any other environment raises ``ValueError``.

Typical use in a chapter::

    from pgnotes.results import load_result
    from pgnotes import watch
    run = load_result("reinforce_cartpole")["runs"][-1]
    watch.watch(run, seed=1)          # HTML animation of one episode of the trained policy
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import gymnasium as gym
import numpy as np
import torch

from pgnotes import _validate
from pgnotes.evaluation import run_episode
from pgnotes.rl.policies import Policy, make_policy

__all__ = ["DRAWABLE", "Playback", "policy_from_run", "play", "draw_state", "animate", "watch"]

DRAWABLE = ("CartPole-v1", "Pendulum-v1")
"""Environment ids :func:`draw_state` can draw."""


def _check_env(env_id: str) -> str:
    if env_id not in DRAWABLE:
        raise ValueError(f"env_id must be one of {DRAWABLE} (the environments this module can draw), got {env_id!r}")
    return env_id


def policy_from_run(run: dict) -> Policy:
    """The trained policy of a stored run: ``run["config"]`` (a ``ReinforceConfig`` as a dict) and ``run["final_params"]``. Chapter 2.

    The network is built as :func:`pgnotes.rl.reinforce.train` built it (same spaces, hidden
    sizes, initial log-std), then its parameters are overwritten with the stored vector.
    """
    if not isinstance(run, dict):
        raise TypeError(f"run must be a dict from a results file, got {type(run).__name__}")
    for key in ("config", "final_params"):
        if key not in run:
            raise ValueError(f"run has no {key!r} entry: re-run the experiment command that stores final parameters")
    config = run["config"]
    env = gym.make(config["env_id"])
    try:
        kwargs = {} if isinstance(env.action_space, gym.spaces.Discrete) else {"log_std_init": config.get("log_std_init", 0.0)}
        policy = make_policy(env.observation_space, env.action_space, tuple(config["hidden"]), seed=config.get("seed", 0), **kwargs)
    finally:
        env.close()
    params = _validate.finite_array("final_params", run["final_params"], ndim=1)
    if params.size != policy.num_params:
        raise ValueError(f"final_params has {params.size} numbers but the policy of this config has {policy.num_params}")
    torch.nn.utils.vector_to_parameters(torch.as_tensor(params, dtype=torch.float32), policy.parameters())
    return policy


@dataclass
class Playback:
    """One episode played by a policy: observations before each step, actions, rewards. Chapter 2."""

    env_id: str
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool
    truncated: bool
    seed: int
    notes: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def total_reward(self) -> float:
        """Undiscounted return of the episode."""
        return float(np.sum(self.rewards))


def play(policy, env_id: str, *, seed: int = 0, deterministic: bool = False, max_steps: int | None = None) -> Playback:
    """Play one episode of ``policy`` in ``env_id`` (reset with ``seed``). Chapters 2 and 3.

    ``policy`` is a policy-gradient policy (:class:`pgnotes.rl.policies.Policy`, chapter 2), whose
    actions are sampled with a generator seeded by ``seed`` (``deterministic=True`` takes the most
    likely action), or an evolution-strategies policy (:class:`pgnotes.mlp_policy.MLPPolicy`,
    chapter 3), which is deterministic. Continuous actions are clipped to the action space, as
    during training.
    """
    from pgnotes.mlp_policy import MLPPolicy

    _check_env(env_id)
    if not isinstance(policy, (Policy, MLPPolicy)):
        raise TypeError(f"policy must be a pgnotes.rl.policies.Policy or a pgnotes.mlp_policy.MLPPolicy, got {type(policy).__name__}")
    seed = _validate.integer_at_least("seed", seed, 0)
    env = gym.make(env_id) if max_steps is None else gym.make(env_id, max_episode_steps=_validate.integer_at_least("max_steps", max_steps, 1))
    generator = torch.Generator().manual_seed(seed)
    observations, actions, rewards = [], [], []
    try:
        if isinstance(policy, Policy):
            policy.check_spaces(env.observation_space, env.action_space)
        elif policy.obs_dim != env.observation_space.shape[0]:
            raise ValueError(f"policy takes {policy.obs_dim} observations but {env_id} gives {env.observation_space.shape[0]}")
        box = isinstance(env.action_space, gym.spaces.Box)

        def act(obs):
            if isinstance(policy, Policy):
                action = policy.act(obs[None], generator, deterministic=deterministic)[0][0]
            else:
                action = policy.act(obs)
            return np.clip(action, env.action_space.low, env.action_space.high) if box else action

        def record(env_, t, action, reward):
            if t:
                actions.append(action)
                rewards.append(float(reward))

        episode = run_episode(env, act, seed=seed, observations=observations, on_step=record)
        terminated, truncated = episode.terminated, episode.truncated
    finally:
        env.close()
    observations = [np.asarray(obs, dtype=np.float64) for obs in observations]
    return Playback(env_id, np.array(observations), np.array(actions), np.array(rewards), bool(terminated), bool(truncated), seed)


def _draw_cartpole(ax, obs, action):
    import matplotlib.patches as patches

    x, theta = float(obs[0]), float(obs[2])
    limit, pole = 2.4, 1.0                      # track half-width (episode ends beyond it); pole length 2 x 0.5
    ax.plot([-limit, limit], [0, 0], color="0.4", lw=1.5)
    for edge in (-limit, limit):
        ax.plot([edge, edge], [-0.08, 0.08], color="tab:red", lw=1.5)
    ax.add_patch(patches.Rectangle((x - 0.25, -0.075), 0.5, 0.15, color="tab:blue"))
    tip = (x + pole * np.sin(theta), pole * np.cos(theta))
    ax.plot([x, tip[0]], [0, tip[1]], color="tab:brown", lw=4, solid_capstyle="round")
    if action is not None:
        ax.annotate("", xy=(x + (0.45 if int(action) == 1 else -0.45), -0.2), xytext=(x, -0.2),
                    arrowprops={"arrowstyle": "->", "color": "k"})
    ax.set(xlim=(-limit - 0.3, limit + 0.3), ylim=(-0.35, 1.15), aspect="equal")


def _draw_pendulum(ax, obs, action):
    import matplotlib.patches as patches

    cos_t, sin_t = float(obs[0]), float(obs[1])   # angle measured from upright
    tip = (sin_t, cos_t)
    ax.add_patch(patches.Circle((0, 0), 1.0, fill=False, ls=":", color="0.7"))
    ax.plot([0, tip[0]], [0, tip[1]], color="tab:brown", lw=5, solid_capstyle="round")
    ax.plot([0], [0], "ko", ms=4)
    if action is not None:
        torque = float(np.ravel(action)[0])
        ax.barh([-1.35], [torque / 2.0], height=0.12, color="tab:orange")
        ax.plot([0, 0], [-1.45, -1.25], color="k", lw=0.8)
    ax.set(xlim=(-1.4, 1.4), ylim=(-1.55, 1.3), aspect="equal")


def draw_state(ax, env_id: str, observation, action=None) -> None:
    """Draw one state of ``env_id`` from its observation on a matplotlib axis (no rendering engine). Chapter 2.

    CartPole-v1: the cart at position ``x``, the pole at angle ``theta`` from upright, red marks
    at the track limits, an arrow for the push. Pendulum-v1: the rod at the angle given by
    ``(cos, sin)``, upright at the top, and a bar for the torque (full width = the bound 2).
    """
    _check_env(env_id)
    observation = _validate.finite_array("observation", observation, ndim=1)
    ax.clear()
    (_draw_cartpole if env_id == "CartPole-v1" else _draw_pendulum)(ax, observation, action)
    ax.set_xticks([])
    ax.set_yticks([])


_SIZES = {"CartPole-v1": (5.0, 1.9), "Pendulum-v1": (3.0, 3.0)}


def animate(playback: Playback, *, every: int = 2, interval: int = 60, size: Sequence[float] | None = None, dpi: int = 72,
            title: str | None = None):
    """A ``matplotlib.animation.FuncAnimation`` of every ``every``-th step of ``playback``. Chapter 2.

    ``size`` is the figure size in inches (default: one that fits the environment's drawing).

    Embed it in a page with :func:`pgnotes.viz.animation_html` (frames as images, works offline).
    """
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    if not isinstance(playback, Playback):
        raise TypeError(f"playback must be a Playback from play(), got {type(playback).__name__}")
    every = _validate.integer_at_least("every", every, 1)
    interval = _validate.integer_at_least("interval", interval, 1)
    dpi = _validate.integer_at_least("dpi", dpi, 10)
    frames = list(range(0, len(playback), every))
    if frames[-1] != len(playback) - 1:
        frames.append(len(playback) - 1)
    fig, ax = plt.subplots(figsize=tuple(size) if size is not None else _SIZES[playback.env_id])
    cumulative = np.cumsum(playback.rewards)
    label = title or playback.env_id

    def update(t):
        draw_state(ax, playback.env_id, playback.observations[t], playback.actions[t])
        ax.set_title(f"{label}   step {t + 1}/{len(playback)}   return so far {cumulative[t]:.0f}", fontsize=8)
        return []

    update(frames[0])
    fig.tight_layout()
    anim = FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)
    anim.pgnotes_dpi = dpi  # read by pgnotes.viz.animation_html
    plt.close(fig)
    return anim


def watch(run: dict, *, seed: int = 0, deterministic: bool = False, every: int = 2, interval: int = 60,
          title: str | None = None):
    """Load a stored run's policy, play one episode and return it as an offline HTML animation. Chapter 2.

    Returns ``(html, playback)``: ``html`` displays as the animation in a notebook or the built
    book; ``playback`` holds the episode (its ``total_reward``, length, observations).
    """
    from pgnotes.viz import animation_html

    policy = policy_from_run(run)
    playback = play(policy, run["config"]["env_id"], seed=seed, deterministic=deterministic)
    anim = animate(playback, every=every, interval=interval, title=title)
    return animation_html(anim), playback


def store_params(name: str, *, seed: int, variant: str | None = None, results_dir: str = "results") -> dict:
    """Retrain one stored run with its own config and add its ``final_params`` to ``results/<name>.json``. Chapter 2.

    For results written before the experiment commands stored final parameters: training is
    deterministic for a given seed, so the retrained run must reproduce the stored learning curve
    exactly. Whether it did is stored next to the parameters (``final_params_reproduced``); the
    command refuses to store parameters whose curve differs.
    """
    import json
    from pathlib import Path

    from pgnotes.checkpoint import write_json_atomic
    from pgnotes.rl.reinforce import train

    path = Path(results_dir) / f"{name}.json"
    data = json.loads(path.read_text())
    matches = [r for r in data["runs"] if r["seed"] == seed and (variant is None or r.get("variant") == variant)]
    if len(matches) != 1:
        raise ValueError(f"{path} has {len(matches)} runs with seed={seed} and variant={variant!r}; name exactly one")
    run = matches[0]
    result = train(**run["config"], progress=False)
    reproduced = result.history.mean_return == run["mean_return"] and result.history.eval_mean == run.get("eval_mean", result.history.eval_mean)
    if not reproduced:
        raise RuntimeError(f"retraining seed {seed} of {name} did not reproduce the stored learning curve; parameters not stored")
    from torch.nn.utils import parameters_to_vector

    run["final_params"] = parameters_to_vector(result.policy.parameters()).detach().double().tolist()
    run["final_params_reproduced"] = f"retrained with the stored config by `python -m pgnotes.watch {name} --seed {seed}" + (
        f" --variant {variant}`" if variant else "`") + "; learning curve and evaluations identical to the stored run"
    write_json_atomic(path, data)
    return run


def main(argv: list[str] | None = None) -> int:
    """``python -m pgnotes.watch NAME --seed S [--variant V]``: add one run's final parameters to results/NAME.json."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("name", help="results file stem, e.g. reinforce_cartpole or reinforce_pendulum")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--variant", default=None, help="run variant (reinforce_cartpole: e.g. reward_to_go+value)")
    parser.add_argument("--results-dir", default="results")
    args = parser.parse_args(argv)
    run = store_params(args.name, seed=args.seed, variant=args.variant, results_dir=args.results_dir)
    print(f"stored {len(run['final_params'])} parameters for seed {args.seed} of {args.name}: {run['final_params_reproduced']}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
