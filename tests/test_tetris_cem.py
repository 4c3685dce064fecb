"""The noisy-CEM Tetris experiment: resumable, worker-independent, bit for bit (chapter 5)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pgnotes import command
from pgnotes.experiments import tetris_cem as T

ROOT = Path(__file__).resolve().parents[1]  # the clone

FIXTURES = Path(__file__).parent / "fixtures"
TINY = dict(noise="decreasing", iterations=4, popsize=12, elite_frac=0.25, eval_games=3, width=6, height=8, seed=3)


def tiny(tmp_path, **changes) -> T.Config:
    """The tiny run, writing into ``tmp_path`` (no checkpoint unless ``checkpoint`` is given)."""
    options = {"out": str(tmp_path / "results.json"), "checkpoint": None, "workers": 1, "progress": False}
    return T.Config(**{**TINY, **options, **changes})


def strip(results: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "worker_seconds")} for r in results["records"]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The tiny run, uninterrupted, in this process."""
    return T.run_cem(tiny(tmp_path_factory.mktemp("reference")))


def test_killed_run_resumes_to_the_same_result(tmp_path, monkeypatch, reference):
    assert reference["status"] == "complete" and reference["iterations_done"] == 4
    config = tiny(tmp_path, checkpoint=str(tmp_path / "ckpt"))

    # kill the run in the middle of its third iteration's games (samples of one iteration and
    # evaluation games of the one before it are in flight together)
    real_play, calls = T.play, {"n": 0}

    def dying_play(*args):
        calls["n"] += 1
        if calls["n"] == 60:
            raise KeyboardInterrupt
        return real_play(*args)

    monkeypatch.setattr(T, "play", dying_play)
    with pytest.raises(KeyboardInterrupt):
        T.run_cem(config)
    partial = json.loads(Path(config.out).read_text())
    assert partial["status"] == "stopped" and 1 <= partial["iterations_done"] < 4
    assert strip(partial) == strip(reference)[: partial["iterations_done"]]
    monkeypatch.setattr(T, "play", real_play)

    resumed = T.run_cem(config)
    assert strip(resumed) == strip(reference)
    assert resumed["final"] == reference["final"]
    longer = T.run_cem(dataclasses.replace(config, iterations=5))
    assert strip(longer)[:4] == strip(reference) and longer["iterations_done"] == 5  # extended
    assert json.loads(Path(config.out).read_text())["status"] == "complete"


def test_checkpoint_carried_to_a_fresh_clone_continues_there(tmp_path, reference):
    """The committed checkpoint is plain JSON with relative default paths: copy the results
    folder to another directory (a fresh clone on another machine), run the same command in a
    new process there, and the run ends as an uninterrupted one does."""
    args = ["--noise", "decreasing", "--popsize", "12", "--elite-frac", "0.25",
            "--eval-games", "3", "--width", "6", "--height", "8", "--seed", "3", "--workers", "1", "--no-progress"]
    here, there = tmp_path / "machine_a", tmp_path / "machine_b"
    here.mkdir()

    def run(cwd, extra):
        return subprocess.run([sys.executable, "-m", "pgnotes.experiments.tetris_cem", *args, *extra], cwd=cwd,
                              capture_output=True, text=True, timeout=300, check=True)

    run(here, ["--iterations", "2"])  # the part done on the first machine
    first = json.loads((here / "results" / "tetris_cem_decreasing.json").read_text())
    assert first["iterations_done"] == 2 and first["command"].startswith("pgnotes tetris-cem")
    assert (here / "results" / "checkpoints" / "tetris_cem_decreasing_seed3.json").is_file()
    shutil.copytree(here / "results", there / "results")
    run(there, ["--iterations", "4"])
    finished = json.loads((there / "results" / "tetris_cem_decreasing.json").read_text())
    assert finished["status"] == "complete"
    assert strip(finished) == strip(reference)


def test_time_budget_stops_resumably_and_workers_do_not_change_results(tmp_path, reference):
    config = tiny(tmp_path, checkpoint=str(tmp_path / "ckpt"), time_budget=1e-9)
    stopped = T.run_cem(config)  # spent before the first iteration starts
    assert stopped["status"] == "stopped" and stopped["iterations_done"] == 0
    finished = T.run_cem(dataclasses.replace(config, time_budget=None, workers=2))
    assert strip(finished) == strip(reference)


def test_checkpoint_with_another_config_is_refused_but_a_run_can_be_extended(tmp_path, reference):
    config = tiny(tmp_path, checkpoint=str(tmp_path / "ckpt"))

    def stop(record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        T.run_cem(config, on_iteration=stop)
    with pytest.raises(ValueError, match="another run.*eval_games"):
        T.run_cem(dataclasses.replace(config, eval_games=4))
    shorter = T.run_cem(dataclasses.replace(config, iterations=2))
    assert strip(shorter) == strip(reference)[:2]


def test_a_complete_run_is_left_as_it_is(tmp_path):
    config = tiny(tmp_path, iterations=2, checkpoint=str(tmp_path / "ckpt"))
    first = T.run_cem(config)
    files = [Path(config.out), T.checkpoint_path(config)]
    stamps = [(p.read_bytes(), p.stat().st_mtime_ns) for p in files]
    again = T.run_cem(dataclasses.replace(config, workers=2))
    assert again == first and [(p.read_bytes(), p.stat().st_mtime_ns) for p in files] == stamps


def test_checkpoint_of_the_loop_before_the_runner_resumes_with_the_same_numbers(tmp_path):
    """A checkpoint written by this experiment's own loop (before it went through ``optimize``)
    at iteration 2 of 4 continues to the numbers that loop gave for the whole run."""
    before = json.loads((FIXTURES / "tetris_cem_results_before_runner.json").read_text())
    config = T.Config(**{**before["config"], "out": str(tmp_path / "r.json"), "checkpoint": str(tmp_path / "ckpt"),
                         "workers": 2, "progress": False})
    T.checkpoint_path(config).parent.mkdir()
    shutil.copy(FIXTURES / "tetris_cem_checkpoint_before_runner.json", T.checkpoint_path(config))
    resumed = T.run_cem(config)
    assert strip(resumed) == before["records"] and resumed["final"] == before["final"]
    # and without a checkpoint, from the start
    assert strip(T.run_cem(dataclasses.replace(config, checkpoint=None, workers=1))) == before["records"]


def test_the_committed_complete_run_is_recognized_and_left_as_it_is(tmp_path, monkeypatch):
    """The committed constant-noise run (complete at 80 iterations, written by the loop before the
    runner) loads with this code, is found complete, and no file is rewritten."""
    results, checkpoint = ROOT / "results" / "tetris_cem_constant.json", ROOT / "results" / "checkpoints" / "tetris_cem_constant_seed0.json"
    if not (results.is_file() and checkpoint.is_file()):
        pytest.skip("the committed results are not in this checkout")
    (tmp_path / "results" / "checkpoints").mkdir(parents=True)
    copies = [Path(shutil.copy(results, tmp_path / "results")), Path(shutil.copy(checkpoint, tmp_path / "results" / "checkpoints"))]
    stamps = [(p.read_bytes(), p.stat().st_mtime_ns) for p in copies]
    monkeypatch.chdir(tmp_path)
    data = T.run_cem(T.Config(noise="constant", workers=2, progress=False))
    assert data["status"] == "complete" and data["iterations_done"] == 80 == len(data["records"])
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in copies] == stamps
    saved = T._read_checkpoint(copies[1], T.Config(noise="constant"))
    assert saved["solver"]["generation"] == 80 and saved["fitness"]["records"][-1]["mean_weights"] == data["final"]["weights"]


def test_evaluations_overlap_the_next_samples(tmp_path, monkeypatch, reference):
    """The evaluation games of iteration t are queued behind the sample games of t+1 and collected
    only once those are queued, so the workers never wait for them at a barrier."""
    from concurrent.futures import Executor, Future

    from pgnotes.tetris.games import EVALUATION, SAMPLE, game_seed

    place = {game_seed(TINY["seed"], t, role, i): (role, t) for t in range(4) for role in (SAMPLE, EVALUATION)
             for i in range(12)}
    events = []

    class Recording(Executor):  # plays a game when its result is asked for, like a busy pool
        def submit(self, fn, *args):
            events.append(("submit", place[args[1][0]]))
            future = Future()
            future.result = lambda timeout=None: events.append(("result", place[args[1][0]])) or fn(*args)
            return future

    monkeypatch.setattr(T, "executor", lambda workers: Recording())
    assert strip(T.run_cem(tiny(tmp_path))) == strip(reference)

    def first(kind, role, t):
        return events.index((kind, (role, t)))

    def last(kind, role, t):
        return len(events) - 1 - events[::-1].index((kind, (role, t)))

    for t in range(3):
        assert last("submit", SAMPLE, t + 1) < first("submit", EVALUATION, t)  # the samples first
        assert first("submit", EVALUATION, t) < last("result", SAMPLE, t + 1)  # then both in flight together
    assert last("submit", SAMPLE, 2) < first("result", EVALUATION, 0)  # t's evaluation collected during t+2's sampling


def test_bad_config():
    with pytest.raises(ValueError, match="noise"):
        T.Config(noise="loud").validate()
    with pytest.raises(ValueError, match="eval_games"):
        T.Config(eval_games=0).validate()
    with pytest.raises(ValueError, match="kind"):
        T.Config(features="pixels").validate()
    with pytest.raises(ValueError, match="workers"):
        T.Config(workers=0).validate()
    with pytest.raises(ValueError, match="time_budget"):
        T.Config(time_budget=0.0).validate()


def test_command_line(tmp_path, capsys):
    out = tmp_path / "r.json"
    command.main("pgnotes.experiments.tetris_cem",
                 ["--noise", "none", "--iterations", "2", "--popsize", "10", "--eval-games", "2", "--width", "6",
                  "--height", "8", "--workers", "1", "--out", str(out), "--checkpoint", str(tmp_path / "c"),
                  "--no-progress"])
    data = json.loads(out.read_text())
    assert data["status"] == "complete" and data["config"]["noise"] == "none" and len(data["final"]["weights"]) == 14
    assert (tmp_path / "c" / "tetris_cem_none_seed0.json").is_file()
    assert "complete: 2/2 iterations" in capsys.readouterr().out
    assert "--time-budget" in command.build_parser(T).format_help()


def test_dellacherie_command(tmp_path):
    from pgnotes.experiments import tetris_dellacherie as D

    out = tmp_path / "d.json"
    command.main("pgnotes.experiments.tetris_dellacherie",
                 ["--games", "2", "--width", "6", "--height", "8", "--max-pieces", "300", "--workers", "1",
                  "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["config"]["games"] == 2 and len(data["games"]) == 2
    assert data["mean_lines"] == sum(g["lines"] for g in data["games"]) / 2
    assert data["capped_games"] == sum(not g["game_over"] for g in data["games"])
    assert data["weights"] == D.DELLACHERIE_WEIGHTS.tolist() and data["status"] == "complete"
    # resumable: a third game is added to the two already played
    command.main("pgnotes.experiments.tetris_dellacherie",
                 ["--games", "3", "--width", "6", "--height", "8", "--max-pieces", "300", "--workers", "1",
                  "--out", str(out)])
    three = json.loads(out.read_text())
    assert three["games"][:2] == data["games"] and three["games_done"] == 3
    fresh = D.evaluate(D.Config(games=3, width=6, height=8, max_pieces=300, workers=2, out=str(tmp_path / "f.json")))
    assert [g["lines"] for g in fresh["games"]] == [g["lines"] for g in three["games"]]


def test_speed_benchmark_skips_tetris_gymnasium_clearly(monkeypatch, tmp_path):
    import importlib.util

    path = ROOT / "benchmarks" / "tetris_speed.py"
    spec = importlib.util.spec_from_file_location("tetris_speed", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "BENCH_PYTHON", tmp_path / "missing" / "python")
    monkeypatch.setitem(sys.modules, "tetris_gymnasium", None)  # not importable here either
    message = bench.tetris_gymnasium_row(0.1)
    assert isinstance(message, str) and message.startswith("skipped") and ".venv-bench" in message
