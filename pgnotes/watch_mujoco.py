"""Watch a trained linear MuJoCo policy act: render an episode into a small animated GIF (chapter 4).

The ARS runs of chapter 4 store their final parameters in ``results/ars_<preset>.json``
(``theta``, ``obs_mean``, ``obs_std`` per seed). This module replays one of them in its
environment and renders the episode with MuJoCo's own renderer, which needs an OpenGL
backend: ``MUJOCO_GL=egl`` (a GPU or Mesa's EGL) or ``MUJOCO_GL=osmesa`` (software). The
frames go into an animated GIF, stored base64-encoded inside a results file, so that a
notebook shows the animation on any machine (no OpenGL, no network) and the offline book
plays it as a plain ``<img>``::

    MUJOCO_GL=egl python -m pgnotes.watch_mujoco --result ars_swimmer-v1 --seed 0 \\
        --out results/ch04_watch_swimmer.json
    MUJOCO_GL=egl python -m pgnotes.watch_mujoco --result ars_halfcheetah-v2t --seed 1 \\
        --out results/ch04_watch_halfcheetah.json

and in a notebook::

    from pgnotes.watch_mujoco import show
    show("ch04_watch_swimmer")

:func:`replay_return` replays the same episode without rendering (no OpenGL needed), so a
reader can check that the animation shows the return it claims.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

#: Cameras that keep the body in view: Swimmer swims in the plane (seen from above at an angle),
#: HalfCheetah runs along x (seen from the side). Both track the torso (body 1).
CAMERAS = {
    "Swimmer": {"distance": 4.5, "elevation": -55.0, "azimuth": 90.0},
    "HalfCheetah": {"distance": 3.5, "elevation": -12.0, "azimuth": 90.0},
}


def stored_policy(result: str | dict, seed: int) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """``(env_id, theta, obs_mean, obs_std)`` of seed ``seed`` in an ARS results file (name or dict)."""
    from pgnotes.results import load_result

    data = load_result(result) if isinstance(result, str) else result
    for run in data["runs"]:
        if run["seed"] == seed:
            return (data["config"]["env_id"], np.asarray(run["theta"], float), np.asarray(run["obs_mean"], float),
                    np.asarray(run["obs_std"], float))
    raise ValueError(f"seed must be one of the stored runs {[r['seed'] for r in data['runs']]}, got {seed!r}")


@contextlib.contextmanager
def _quiet_fd2():
    """Silence file descriptor 2 (C-level stderr) for a moment.

    MuJoCo's XML compiler prints a deprecation warning about HalfCheetah's model straight to
    file descriptor 2; in a notebook kernel that text arrives at an unpredictable time, so the
    environment is created with it silenced.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _episode(env_id: str, theta, obs_mean, obs_std, *, episode_seed: int, steps: int, on_step=None) -> tuple[float, int]:
    import gymnasium as gym

    from pgnotes.evaluation import linear_policy_for, run_episode

    with _quiet_fd2():
        env = gym.make(env_id)
    try:
        policy = linear_policy_for(env)
        total, t, _, _ = run_episode(env, policy.actor(np.asarray(theta, float), obs_mean, obs_std), seed=episode_seed,
                                     max_steps=steps, on_step=None if on_step is None else lambda e, t, a, r: on_step(e, t))
    finally:
        env.close()
    return total, t


def replay_return(env_id: str, theta, obs_mean, obs_std, *, episode_seed: int = 0, steps: int = 1000) -> float:
    """Return of one episode of the linear policy, without rendering (chapter 4)."""
    return _episode(env_id, theta, obs_mean, obs_std, episode_seed=episode_seed, steps=steps)[0]


def render_episode(env_id: str, theta, obs_mean, obs_std, *, episode_seed: int = 0, steps: int = 1000,
                   every: int = 5, render_steps: int | None = None, width: int = 240,
                   height: int = 160) -> tuple[np.ndarray, float, int]:
    """Frames (n, height, width, 3) uint8 of every ``every``-th step, the return and the steps (chapter 4).

    The whole episode (``steps`` steps) is simulated and its return computed; frames are taken
    during its first ``render_steps`` steps only (default: all). HalfCheetah runs off the end of
    its floor after about 200 steps, so its animation shows the start of the run.
    Needs an OpenGL backend for MuJoCo (set ``MUJOCO_GL=egl`` or ``osmesa`` before importing mujoco).
    """
    import mujoco

    if every < 1:
        raise ValueError(f"every must be >= 1, got {every!r}")
    frames: list[np.ndarray] = []
    state: dict = {}

    last = steps if render_steps is None else render_steps

    def on_step(env, t):
        if t % every or t > last:
            return
        base = env.unwrapped
        if "renderer" not in state:
            state["renderer"] = mujoco.Renderer(base.model, height, width)
            cam = mujoco.MjvCamera()
            cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
            cam.trackbodyid = 1
            for key, value in CAMERAS.get(env_id.split("-")[0], {"distance": 4.0}).items():
                setattr(cam, key, value)
            state["camera"] = cam
        state["renderer"].update_scene(base.data, camera=state["camera"])
        frames.append(state["renderer"].render().copy())

    total, t = _episode(env_id, theta, obs_mean, obs_std, episode_seed=episode_seed, steps=steps, on_step=on_step)
    if "renderer" in state:
        state["renderer"].close()
    return np.stack(frames), total, t


def encode_gif(frames: np.ndarray, fps: float) -> bytes:
    """An animated, looping GIF of ``frames`` (n, h, w, 3) uint8 at ``fps`` frames per second."""
    from PIL import Image

    images = [Image.fromarray(f).quantize(colors=48, method=Image.Quantize.MEDIANCUT) for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=int(round(1000 / fps)),
                   loop=0, optimize=True)
    return buffer.getvalue()


def show(name: str, width: int | None = None):
    """Display a rendered episode stored by this module's command (a results name) in a notebook."""
    from IPython.display import HTML

    from pgnotes.results import load_result

    data = load_result(name)
    w = width or data["config"]["width"]
    return HTML(f'<img alt="{data["config"]["env_id"]}, ARS seed {data["config"]["run_seed"]}" width="{w}" '
                f'src="data:image/gif;base64,{data["gif_base64"]}"/>')


def main(argv: list[str] | None = None) -> int:
    from pgnotes.checkpoint import write_json_atomic
    from pgnotes.provenance import git_commit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", default="ars_swimmer-v1", help="ARS results name holding the parameters")
    parser.add_argument("--seed", type=int, default=0, help="which stored run (training seed)")
    parser.add_argument("--episode-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--every", type=int, default=5, help="keep every k-th simulation step as a frame")
    parser.add_argument("--render-steps", type=int, default=None, help="render only the first n steps (default all)")
    parser.add_argument("--width", type=int, default=240)
    parser.add_argument("--height", type=int, default=160)
    parser.add_argument("--fps", type=float, default=20.0)
    parser.add_argument("--out", default=None, help="default results/ch04_watch_<env>.json (relative to the cwd)")
    args = parser.parse_args(argv)
    env_id, theta, mean, std = stored_policy(args.result, args.seed)
    t0 = time.perf_counter()
    frames, total, steps = render_episode(env_id, theta, mean, std, episode_seed=args.episode_seed, steps=args.steps,
                                          every=args.every, render_steps=args.render_steps, width=args.width,
                                          height=args.height)
    gif = encode_gif(frames, args.fps)
    out = Path(args.out or f"results/ch04_watch_{env_id.split('-')[0].lower()}.json")
    command = (f"MUJOCO_GL={os.environ.get('MUJOCO_GL', 'egl')} python -m pgnotes.watch_mujoco --result {args.result} "
               f"--seed {args.seed} --every {args.every} --width {args.width} --height {args.height} --fps {args.fps:g}"
               + (f" --render-steps {args.render_steps}" if args.render_steps is not None else "") + f" --out {out}")
    write_json_atomic(out, {
        "config": {"result": args.result, "run_seed": args.seed, "env_id": env_id, "episode_seed": args.episode_seed,
                   "steps": args.steps, "every": args.every, "render_steps": args.render_steps, "width": args.width, "height": args.height,
                   "fps": args.fps, "mujoco_gl": os.environ.get("MUJOCO_GL")},
        "commit": git_commit(), "command": command, "episode_return": total, "episode_steps": steps,
        "frames": int(len(frames)), "gif_bytes": len(gif), "seconds": time.perf_counter() - t0,
        "gif_base64": base64.b64encode(gif).decode("ascii"),
    })
    print(f"{env_id} seed {args.seed}: return {total:.1f} over {steps} steps, {len(frames)} frames, "
          f"GIF {len(gif) / 1024:.0f} KiB -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
