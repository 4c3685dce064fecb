"""The Gymnasium environment pgnotes/Tetris-v0 (chapter 5)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import pgnotes.tetris  # noqa: F401  (registers pgnotes/Tetris-v0)
from pgnotes.tetris import DELLACHERIE_WEIGHTS, fast
from pgnotes.tetris.env import TetrisEnv


@pytest.mark.parametrize("render_mode", ["ansi", "rgb_array"])
def test_check_env(render_mode):
    # check_env steps with unmasked random actions, which the default mode refuses loudly
    env = gym.make("pgnotes/Tetris-v0", invalid_action="end", render_mode=render_mode)
    check_env(env.unwrapped)


def test_observation_mask_and_reward():
    env = gym.make("pgnotes/Tetris-v0", width=6, height=8)
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    assert obs["board"].shape == (8, 6) and obs["board"].sum() == 0
    assert info["action_mask"].shape == (24,) and info["action_mask"].dtype == np.int8
    board = env.unwrapped.board
    assert np.array_equal(info["action_mask"], board.legal_actions(obs["piece"]).astype(np.int8))
    total, steps, terminated = 0.0, 0, False
    while not terminated:
        action = int(np.flatnonzero(info["action_mask"])[0])
        lines_before = env.unwrapped.board.lines
        obs, reward, terminated, truncated, info = env.step(action)
        assert reward == env.unwrapped.board.lines - lines_before
        total += reward
        steps += 1
        assert not truncated and steps < 1000
    assert info["action_mask"].sum() == 0  # terminated: the next piece fits nowhere
    assert info["lines"] == total and info["pieces"] == steps
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_board_is_drawn_top_row_first():
    env = gym.make("pgnotes/Tetris-v0", width=4, height=6, render_mode="ansi")
    obs, info = env.reset(seed=0)
    obs, *_ = env.step(int(np.flatnonzero(info["action_mask"])[0]))
    assert obs["board"][-1].sum() > 0 and obs["board"][0].sum() == 0
    text = env.render()
    assert text.splitlines()[5].count("#") == int(obs["board"][-1].sum())
    assert "lines 0" in text


def test_illegal_action_raises_and_leaves_the_board():
    env = gym.make("pgnotes/Tetris-v0")
    obs, info = env.reset(seed=1)
    illegal = int(np.flatnonzero(info["action_mask"] == 0)[0])
    before = env.unwrapped.board.to_array().copy()
    with pytest.raises(ValueError, match="illegal action"):
        env.step(illegal)
    with pytest.raises(ValueError, match=r"integer in \[0, 39\]"):
        env.step(40)
    with pytest.raises(ValueError, match="integer"):
        env.step(1.5)
    assert np.array_equal(env.unwrapped.board.to_array(), before)
    obs2, _, terminated, _, _ = env.step(int(np.flatnonzero(info["action_mask"])[0]))  # still playable
    assert not terminated


def test_illegal_action_can_end_the_episode_instead():
    env = gym.make("pgnotes/Tetris-v0", invalid_action="end")
    obs, info = env.reset(seed=1)
    illegal = int(np.flatnonzero(info["action_mask"] == 0)[0])
    obs2, reward, terminated, truncated, info2 = env.step(illegal)
    assert terminated and reward == 0 and info2["invalid_action"]
    assert np.array_equal(obs2["board"], obs["board"])


def test_rgb_array_and_truncation():
    env = gym.make("pgnotes/Tetris-v0", width=5, height=7, render_mode="rgb_array", max_pieces=3, pieces="bag")
    obs, info = env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (7 * 8, 5 * 8, 3) and frame.dtype == np.uint8
    truncated = False
    for _ in range(3):
        obs, r, terminated, truncated, info = env.step(int(np.flatnonzero(info["action_mask"])[-1]))
    assert truncated and not terminated


def test_env_with_dellacherie_controller_matches_fast_game():
    env = gym.make("pgnotes/Tetris-v0", width=10, height=20, max_pieces=300)
    obs, info = env.reset(seed=4)
    total, done = 0.0, False
    while not done:
        p = env.unwrapped.placements("dellacherie")
        action = int(np.argmax(np.where(p.legal, p.features @ DELLACHERIE_WEIGHTS, -np.inf)))
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        done = terminated or truncated
    assert total == info["lines"] > 100


def test_bad_constructor_arguments():
    for kwargs, match in [({"width": 2}, "width"), ({"pieces": "nes"}, "pieces"), ({"invalid_action": "ignore"}, "invalid_action"),
                          ({"render_mode": "rgb"}, "render_mode"), ({"max_pieces": 0}, "max_pieces")]:
        with pytest.raises(ValueError, match=match):
            TetrisEnv(**kwargs)


def test_fast_board_best_action_agrees_with_the_env_features():
    board = fast.Board(10, 20)
    a = board.best_action(2, DELLACHERIE_WEIGHTS, "dellacherie")
    assert board.legal_actions(2)[a]
