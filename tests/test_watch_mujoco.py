"""pgnotes.watch_mujoco: stored ARS policies replay to the return their animation claims (chapter 4)."""

import base64

import numpy as np
import pytest

pytest.importorskip("mujoco")

from pgnotes.results import load_result
from pgnotes.watch_mujoco import encode_gif, replay_return, stored_policy


def test_stored_policy_shapes_and_bad_seed():
    env_id, theta, mean, std = stored_policy("ars_swimmer-v1", 0)
    assert env_id == "Swimmer-v5"
    assert theta.shape == (16,) and mean.shape == std.shape == (8,)
    with pytest.raises(ValueError, match="seed must be one of"):
        stored_policy("ars_swimmer-v1", 99)


@pytest.mark.parametrize("name", ["ch04_watch_swimmer", "ch04_watch_halfcheetah"])
def test_animation_matches_a_replay(name):
    clip = load_result(name)
    cfg = clip["config"]
    env_id, theta, mean, std = stored_policy(cfg["result"], cfg["run_seed"])
    again = replay_return(env_id, theta, mean, std, episode_seed=cfg["episode_seed"], steps=cfg["steps"])
    assert again == pytest.approx(clip["episode_return"], rel=1e-9, abs=1e-9)
    gif = base64.b64decode(clip["gif_base64"])
    assert gif[:6] in (b"GIF87a", b"GIF89a") and len(gif) == clip["gif_bytes"]


def test_encode_gif_round_trip():
    from io import BytesIO

    from PIL import Image

    frames = np.zeros((3, 8, 10, 3), dtype=np.uint8)
    frames[1, :, :, 0] = 255
    frames[2, :, :, 1] = 255
    image = Image.open(BytesIO(encode_gif(frames, fps=10)))
    assert image.size == (10, 8) and image.n_frames == 3
