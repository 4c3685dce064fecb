"""The noisy-CEM Tetris experiment: resumable, worker-independent, bit for bit (chapter 5)."""

from __future__ import annotations

import json

import pytest

from pgnotes.experiments import tetris_cem as T

TINY = T.Config(noise="decreasing", iterations=4, popsize=12, elite_frac=0.25, eval_games=3, width=6, height=8, seed=3)


def strip(results: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "worker_seconds")} for r in results["records"]]


def test_killed_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    reference = T.run_cem(TINY, progress=False)
    assert reference["status"] == "complete" and reference["iterations_done"] == 4

    # kill the run in the middle of its third iteration's games (samples of one iteration and
    # evaluation games of the one before it are in flight together)
    ckpt, out = tmp_path / "run.json", tmp_path / "results.json"
    real_play, calls = T._play, {"n": 0}

    def dying_play(args):
        calls["n"] += 1
        if calls["n"] == 60:
            raise KeyboardInterrupt
        return real_play(args)

    monkeypatch.setattr(T, "_play", dying_play)
    with pytest.raises(KeyboardInterrupt):
        T.run_cem(TINY, checkpoint=ckpt, output=out, progress=False)
    partial = json.loads(out.read_text())
    assert partial["status"] == "stopped" and partial["iterations_done"] == 2
    assert strip(partial) == strip(reference)[:2]
    monkeypatch.setattr(T, "_play", real_play)

    resumed = T.run_cem(TINY, checkpoint=ckpt, output=out, progress=False)
    assert strip(resumed) == strip(reference)
    assert resumed["final"] == reference["final"]
    longer = T.run_cem(T.Config(**{**TINY.__dict__, "iterations": 5}), checkpoint=ckpt, progress=False)
    assert strip(longer)[:4] == strip(reference) and longer["iterations_done"] == 5  # extended
    assert json.loads(out.read_text())["status"] == "complete"


def test_checkpoint_carried_to_a_fresh_clone_continues_there(tmp_path):
    """The committed checkpoint is plain JSON with relative default paths: copy the results
    folder to another directory (a fresh clone on another machine), run the same command in a
    new process there, and the run ends as an uninterrupted one does."""
    import shutil
    import subprocess
    import sys

    args = ["--noise", "decreasing", "--popsize", "12", "--elite-frac", "0.25",
            "--eval-games", "3", "--width", "6", "--height", "8", "--seed", "3", "--workers", "1", "--no-progress"]
    here, there = tmp_path / "machine_a", tmp_path / "machine_b"
    here.mkdir()

    def run(cwd, extra):
        return subprocess.run([sys.executable, "-m", "pgnotes.experiments.tetris_cem", *args, *extra], cwd=cwd,
                              capture_output=True, text=True, timeout=300, check=True)

    run(here, ["--iterations", "2"])  # the part done on the first machine
    first = json.loads((here / "results" / "tetris_cem_decreasing.json").read_text())
    assert first["iterations_done"] == 2
    assert (here / "results" / "checkpoints" / "tetris_cem_decreasing_seed3.json").is_file()
    shutil.copytree(here / "results", there / "results")
    run(there, ["--iterations", "4"])
    finished = json.loads((there / "results" / "tetris_cem_decreasing.json").read_text())
    assert finished["status"] == "complete"
    assert strip(finished) == strip(T.run_cem(TINY, progress=False))


def test_time_budget_stops_resumably_and_workers_do_not_change_results(tmp_path):
    ckpt = tmp_path / "run.json"
    stopped = T.run_cem(TINY, checkpoint=ckpt, time_budget=0.0, progress=False)
    assert stopped["status"] == "stopped" and stopped["iterations_done"] == 0
    finished = T.run_cem(TINY, checkpoint=ckpt, workers=2, progress=False)
    assert strip(finished) == strip(T.run_cem(TINY, progress=False))


def test_checkpoint_with_another_config_is_refused_but_a_run_can_be_extended(tmp_path):
    ckpt = tmp_path / "run.json"

    def stop(record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        T.run_cem(TINY, checkpoint=ckpt, progress=False, on_iteration=stop)
    with pytest.raises(ValueError, match="another config"):
        T.run_cem(T.Config(**{**TINY.__dict__, "seed": 4}), checkpoint=ckpt, progress=False)
    shorter = T.run_cem(T.Config(**{**TINY.__dict__, "iterations": 2}), checkpoint=ckpt, progress=False)
    assert strip(shorter) == strip(T.run_cem(TINY, progress=False))[:2]


def test_bad_config():
    with pytest.raises(ValueError, match="noise"):
        T.Config(noise="loud").validate()
    with pytest.raises(ValueError, match="eval_games"):
        T.Config(eval_games=0).validate()
    with pytest.raises(ValueError, match="kind"):
        T.Config(features="pixels").validate()


def test_command_line(tmp_path, capsys):
    out = tmp_path / "r.json"
    T.main(["--noise", "none", "--iterations", "2", "--popsize", "10", "--eval-games", "2", "--width", "6",
            "--height", "8", "--workers", "1", "--output", str(out), "--checkpoint", str(tmp_path / "c.json"), "--no-progress"])
    data = json.loads(out.read_text())
    assert data["status"] == "complete" and data["config"]["noise"] == "none" and len(data["final"]["weights"]) == 14
    assert "complete: 2/2 iterations" in capsys.readouterr().out


def test_dellacherie_command(tmp_path):
    from pgnotes.experiments import tetris_dellacherie as D

    out = tmp_path / "d.json"
    D.main(["--games", "2", "--width", "6", "--height", "8", "--max-pieces", "300", "--workers", "1", "--output", str(out)])
    data = json.loads(out.read_text())
    assert data["config"]["games"] == 2 and len(data["games"]) == 2
    assert data["mean_lines"] == sum(g["lines"] for g in data["games"]) / 2
    assert data["capped_games"] == sum(not g["game_over"] for g in data["games"])


def test_speed_benchmark_skips_tetris_gymnasium_clearly(monkeypatch, tmp_path):
    import importlib.util
    import sys

    path = T.ROOT / "benchmarks" / "tetris_speed.py"
    spec = importlib.util.spec_from_file_location("tetris_speed", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "BENCH_PYTHON", tmp_path / "missing" / "python")
    monkeypatch.setitem(sys.modules, "tetris_gymnasium", None)  # not importable here either
    message = bench.tetris_gymnasium_row(0.1)
    assert isinstance(message, str) and message.startswith("skipped") and ".venv-bench" in message
