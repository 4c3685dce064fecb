"""One command line: every experiment is a ``pgnotes`` subcommand built from its documented ``Config``.

Checks the protocol of :mod:`pgnotes.command` on every module of :mod:`pgnotes.experiments`
(``Config`` + ``run``, one vocabulary, ``--help`` with defaults, usage errors exit 2,
``reproduce_command`` parses back to the same settings) and the resumable multi-run loop
:func:`pgnotes.command.run_jobs` on a fake experiment.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import shlex
import subprocess
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pgnotes
from pgnotes import cli, command

EXPERIMENTS = sorted(cli.experiment_modules())  # command names, e.g. "es-cartpole"


def module_of(name: str):
    return importlib.import_module(cli.experiment_modules()[name])


def init_fields(config_cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(config_cls) if f.init and not f.name.startswith("_")]


def help_text(name: str, capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: defaults are not wrapped
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_every_experiment_module_is_listed():
    import pkgutil

    import pgnotes.experiments as package

    names = {info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_")}
    assert len(names) >= 16
    assert {n.replace("-", "_") for n in EXPERIMENTS} == names


def test_pgnotes_help_lists_every_experiment(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in EXPERIMENTS:
        assert f"    {name} " in out or f"    {name}\n" in out, f"pgnotes --help does not list {name}"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_module_follows_the_protocol(name):
    module = module_of(name)
    assert dataclasses.is_dataclass(getattr(module, "Config", None)), f"{name}: no Config dataclass"
    assert callable(getattr(module, "run", None)), f"{name}: no run(config)"
    assert list(inspect.signature(module.run).parameters) == ["config"], f"{name}: run takes one argument, config"
    source = inspect.getsource(module)
    assert "argparse" not in source, f"{name}: experiment modules build no parser of their own"
    assert not hasattr(module, "main") and not hasattr(module, "add_arguments"), f"{name}: main()/add_arguments left"
    assert source.rstrip().endswith('if __name__ == "__main__":\n    sys.exit(command.main(__name__))'), name


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_field_is_documented_and_uses_the_vocabulary(name):
    config_cls = module_of(name).Config
    docs = command.field_docs(config_cls)
    hints = typing.get_type_hints(config_cls)
    defaults = config_cls()
    for f in init_fields(config_cls):
        assert docs.get(f.name), f"{name}: Config.{f.name} has no #: comment"
        assert f.name not in command.RENAMED, f"{name}: Config.{f.name} should be {command.RENAMED[f.name]!r}"
        if f.name == "seeds":
            assert typing.get_origin(hints[f.name]) is list and isinstance(defaults.seeds, list), \
                f"{name}: seeds is a list of seeds"
        if f.name in ("out", "checkpoint") and isinstance(getattr(defaults, f.name), str):
            path = Path(getattr(defaults, f.name))
            package = Path(pgnotes.__file__).resolve().parent
            assert not path.is_absolute() and package not in (Path.cwd() / path).resolve().parents, \
                f"{name}: --{f.name} is relative to the current directory"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_help_shows_every_option_with_its_default(name, capsys, monkeypatch):
    module = module_of(name)
    out = help_text(name, capsys, monkeypatch)
    defaults = module.Config()
    hints = typing.get_type_hints(module.Config)
    for f in init_fields(module.Config):
        flag = "--" + f.name.replace("_", "-")
        assert flag in out, f"pgnotes {name} --help does not show {flag}"
        if hints[f.name] is bool:
            assert "--no-" + f.name.replace("_", "-") in out, f"{name}: bool field {f.name} gives --no-x"
        else:
            assert f"(default: {command._show(getattr(defaults, f.name))})" in out, f"{name}: default of {flag} not shown"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_unknown_flag_is_a_usage_error(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([name, "--no-such-flag"])
    assert exit_info.value.code == 2
    assert "--no-such-flag" in capsys.readouterr().err


def _changed(value, annotation):
    """A value of ``annotation`` other than ``value`` (None if none is obvious)."""
    inner, allows_none = command._optional(annotation)
    if value is None:
        value = {int: 3, float: 1.5, str: "x"}.get(inner)
        return value
    if inner is bool:
        return not value
    if typing.get_origin(inner) is typing.Literal:
        return next((c for c in typing.get_args(inner) if c != value), None)
    if typing.get_origin(inner) is list:
        item = typing.get_args(inner)[0]
        if typing.get_origin(item) is typing.Literal:
            return list(typing.get_args(item)[:1])
        return {int: [7, 3], float: [0.5, 2.0], str: ["a b", "c"]}.get(item)
    if inner is int:
        return value * 2 + 10
    if inner is float:
        return value * 2 + 0.25
    if inner is str:
        return value + ".other"
    return None


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_reproduce_command_parses_back_to_the_same_config(name):
    module = module_of(name)
    hints = typing.get_type_hints(module.Config)
    configs = [module.Config()]
    for f in init_fields(module.Config):  # every field changed alone (where the change is a valid setting)
        new = _changed(getattr(configs[0], f.name), hints[f.name])
        if new is None:
            continue
        try:
            configs.append(dataclasses.replace(configs[0], **{f.name: new}))
        except (TypeError, ValueError):
            continue
    assert len(configs) > 1
    parser = command.build_parser(module)
    for config in configs:
        words = shlex.split(command.reproduce_command(config, module.__name__))
        assert words[:2] == ["pgnotes", name]
        assert command.config_from_args(module.Config, parser.parse_args(words[2:])) == config


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run([sys.executable, "-m", "pgnotes.experiments.reinforce_offpolicy", "--help"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "1000"})
    assert done.returncode == 0
    assert "--repeats REPEATS" in done.stdout and "(default: 200)" in done.stdout


# -- run_jobs: a fake experiment -------------------------------------------------------------

@dataclass
class FakeConfig:
    """A fake multi-run experiment."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  #: seeds
    scale: float = 1.0  #: a setting that changes the numbers
    out: str = "fake.json"  #: results file
    time_budget: float | None = None  #: seconds for this invocation


class Stop(Exception):
    """The fake experiment is interrupted."""


def fake_runner(calls: list, stop_after: int | None = None):
    def run_job(seed: int) -> dict:
        if stop_after is not None and len(calls) >= stop_after:
            raise Stop
        calls.append(seed)
        return {"value": seed * 10.0}

    return run_job


def test_run_jobs_resumes_without_rerunning_a_finished_job(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = FakeConfig()
    jobs = [{"seed": s} for s in config.seeds]
    summarize = lambda records: {"total": sum(r["value"] for r in records)}  # noqa: E731
    first: list[int] = []
    with pytest.raises(Stop):
        command.run_jobs(config, "fake", jobs, fake_runner(first, stop_after=1), summarize=summarize,
                         extra={"note": "kept"})
    saved = json.loads(Path("fake.json").read_text())
    assert first == [0] and saved["status"] == "partial" and [r["seed"] for r in saved["runs"]] == [0]
    for key in ("experiment", "command", "config", "commit", "environment"):
        assert key in saved
    assert saved["note"] == "kept" and saved["config"]["scale"] == 1.0

    second: list[int] = []
    payload = command.run_jobs(config, "fake", jobs, fake_runner(second), summarize=summarize, extra={"note": "kept"})
    assert second == [1, 2], "finished jobs are never run again"
    assert payload["status"] == "complete" and payload["runs_done"] == payload["runs_total"] == 3
    assert [r["value"] for r in payload["runs"]] == [0.0, 10.0, 20.0] and payload["summary"] == {"total": 30.0}
    assert json.loads(Path("fake.json").read_text()) == json.loads(json.dumps(payload))

    third: list[int] = []   # run again: nothing left to do; more seeds: only the new one runs
    command.run_jobs(config, "fake", jobs, fake_runner(third))
    command.run_jobs(dataclasses.replace(config, seeds=[0, 1, 2, 3]), "fake", jobs + [{"seed": 3}], fake_runner(third))
    assert third == [3]


def test_run_jobs_time_budget_stops_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = FakeConfig(time_budget=0.0)
    calls: list[int] = []
    payload = command.run_jobs(config, "fake", [{"seed": s} for s in config.seeds], fake_runner(calls))
    assert payload["status"] == "partial" and calls == []
    payload = command.run_jobs(FakeConfig(), "fake", [{"seed": s} for s in config.seeds], fake_runner(calls))
    assert payload["status"] == "complete" and calls == [0, 1, 2]


def test_run_jobs_refuses_another_configuration_or_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls: list[int] = []
    command.run_jobs(FakeConfig(seeds=[0]), "fake", [{"seed": 0}], fake_runner(calls))
    before = Path("fake.json").read_text()
    with pytest.raises(SystemExit, match="another configuration"):
        command.run_jobs(FakeConfig(seeds=[0], scale=2.0), "fake", [{"seed": 0}], fake_runner(calls))
    with pytest.raises(SystemExit, match="was not written by"):
        command.run_jobs(FakeConfig(seeds=[0]), "other_experiment", [{"seed": 0}], fake_runner(calls))
    Path("old.json").write_text(json.dumps({"runs": [{"seed": 0, "value": 1.0}]}))  # a file of an older version
    with pytest.raises(SystemExit, match="was not written by"):
        command.run_jobs(FakeConfig(seeds=[0], out="old.json"), "fake", [{"seed": 0}], fake_runner(calls))
    assert calls == [0] and Path("fake.json").read_text() == before


def test_out_names_other_fields():
    @dataclass
    class Config:
        algo: str = "PPO"  #: algorithm
        out: str = "results/{algo}_cartpole.json"  #: results file

    assert command.out_path(Config()) == Path("results/ppo_cartpole.json")
    assert command.reproduce_command(Config(), "ppo_cartpole") == "pgnotes ppo-cartpole"
