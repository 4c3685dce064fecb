"""The batch grader against hostile submissions: none may earn a point it did not earn.

Fixture notebooks live in tests/fixtures/grading/submissions (made by make_fixtures.py) and
answer the self-test exercises in tests/fixtures/grading/cases/selftest.json, 9 points:
add 2, pair 1, safe_log 2, sample_mean 1, scale 3. Limits are small so the file stays fast:
2 s per cell, 1 s per case, 5 CPU seconds and 1 GiB per child process.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from pgnotes import cli
from pgnotes.grading.batch import add_arguments, grade
from pgnotes.grading.sandbox import landlock_abi

FIXTURES = Path(__file__).parent / "fixtures" / "grading"
SUBMISSIONS = FIXTURES / "submissions"
CASES = FIXTURES / "cases"
LANDLOCK = landlock_abi()
SIGNALS_SCOPED = LANDLOCK >= 6

# submission -> points per exercise it really earned (everything else 0)
EARNED = {
    "honest": {"selftest.add": 2, "selftest.pair": 1, "selftest.safe_log": 2, "selftest.sample_mean": 1, "selftest.scale": 3},
    "infinite_loop": {"selftest.add": 2, "selftest.scale": 3},         # loops time out; the rest still counts
    "import_error": {"selftest.add": 2},
    "system_exit": {"selftest.add": 2, "selftest.sample_mean": 1},
    "os_exit_function": {"selftest.add": 2, "selftest.pair": 1},
    "os_exit_top": {},                                                  # the code never finishes
    "memory_bomb": {"selftest.add": 2},
    "monkeypatch": {"selftest.add": 2},                                 # add is right, the patches do nothing
    "rigged": {},
    "fake_score": {},
    "outside_files": {},
    "lookup_cases": {},                                                 # no cases found without target.txt
    "not_a_notebook": {},
    "corrupt": {},
}
if SIGNALS_SCOPED:  # without Landlock signal scoping this fixture could kill the test run itself
    EARNED["kill_parent"] = {"selftest.add": 2}
EXERCISES = ["selftest.add", "selftest.pair", "selftest.safe_log", "selftest.sample_mean", "selftest.scale"]


def options(paths, out_dir: Path, **overrides) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(p) for p in paths] + [
        "--out", str(out_dir / "gradebook.csv"), "--cases", str(CASES), "--exercises", "selftest",
        "--cell-timeout", "2", "--case-timeout", "1", "--cpu", "5", "--memory", "1", "--no-execute", "--quiet"])
    args.startup_timeout = 30
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def by_name(report: dict) -> dict:
    return {Path(r["submission"]).stem: r for r in report["submissions"]}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    out = tmp_path_factory.mktemp("batch")
    report = grade(options([SUBMISSIONS / f"{name}.ipynb" for name in EARNED], out))
    return out, report


def test_one_bad_submission_never_stops_the_batch(batch):
    out, report = batch
    assert sorted(by_name(report)) == sorted(EARNED)
    with open(out / "gradebook.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [Path(r["submission"]).stem for r in rows] == sorted(EARNED)
    assert list(rows[0]) == ["submission", "score", "max_score", "percent", *EXERCISES, "status", "notes"]
    assert all(r["max_score"] == "9" for r in rows)


@pytest.mark.parametrize("name", sorted(EARNED))
def test_hostile_submission_earns_only_what_it_earned(batch, name):
    record = by_name(batch[1])[name]
    earned = {i: e["earned"] for i, e in record["exercises"].items()}
    assert earned == {i: pytest.approx(EARNED[name].get(i, 0)) for i in EXERCISES}, record["notes"]
    assert record["score"] == pytest.approx(sum(EARNED[name].values()))


def notes(batch, name) -> str:
    return " | ".join(by_name(batch[1])[name]["notes"])


def test_what_each_hostile_case_is_told(batch):
    # cells are named as a learner finds them: code cells counted from 1, and the first line
    assert "code cell 3 [while True:]: timed out after 2 s" in notes(batch, "infinite_loop")
    assert "selftest.sample_mean case 1: timed out after 1 s" in notes(batch, "infinite_loop")
    assert "selftest.pair case 1: no result: timed out" in notes(batch, "infinite_loop")   # swallowed the alarm: killed
    assert "ModuleNotFoundError" in notes(batch, "import_error")
    assert "SystemExit: leaving early" in notes(batch, "system_exit")
    assert "no result: the process ended (exit 0)" in notes(batch, "os_exit_function")
    assert "the notebook's code did not finish: the process ended (exit 0)" in notes(batch, "os_exit_top")
    assert "MemoryError" in notes(batch, "memory_bomb")
    memory = by_name(batch[1])["memory_bomb"]["exercises"]
    assert "MemoryError" in memory["selftest.scale"]["cases"][0]["got"]
    assert "unsupported return type Anything" in json.dumps(by_name(batch[1])["rigged"]["exercises"])
    for name in ("not_a_notebook", "corrupt"):
        record = by_name(batch[1])[name]
        assert record["status"] == "error" and "not a readable notebook" in notes(batch, name)
    assert by_name(batch[1])["honest"]["notes"] == []


def test_the_child_is_isolated(batch):
    isolation = by_name(batch[1])["honest"]["isolation"]
    assert "RLIMIT_CPU=5" in isolation and f"RLIMIT_AS={1024**3}" in isolation
    if LANDLOCK:
        assert any(i.startswith("landlock ABI") for i in isolation)


def test_execute_stage_records_the_timeout(tmp_path):
    report = grade(options([SUBMISSIONS / "honest.ipynb", SUBMISSIONS / "infinite_loop.ipynb"], tmp_path,
                           execute=True))
    records = by_name(report)
    assert records["honest"]["execution"]["status"] == "ok" and records["honest"]["score"] == 9
    assert records["infinite_loop"]["execution"]["status"] == "timed out after 2 s in code cell 3 [while True:]"
    assert records["infinite_loop"]["score"] == 5


def _submission_with(tmp_path: Path, name: str, target: dict) -> Path:
    folder = tmp_path / "submitted"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / f"{name}.ipynb", folder)
    (folder / "target.txt").write_text(json.dumps(target))
    return folder / f"{name}.ipynb"


def test_writing_and_deleting_outside_the_working_directory(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    victim_dir = tmp_path / "victim_dir"
    victim_dir.mkdir()
    (victim_dir / "a.txt").write_text("keep me too")
    cases = tmp_path / "cases"
    shutil.copytree(CASES, cases)
    before = (cases / "selftest.json").read_text()
    work = tmp_path / "gradebook.csv.work"
    path = _submission_with(tmp_path, "outside_files", {
        "delete": [["file", str(victim)], ["tree", str(victim_dir)]],
        "write": [str(tmp_path / "created.txt")],
        "cases": [str(cases / "selftest.json")], "read": [str(work / "hmac.key")]})
    report = grade(options([path], tmp_path, cases=[str(cases)]))
    assert report["submissions"][0]["score"] == 0
    if not LANDLOCK:
        pytest.skip("no Landlock on this kernel: files outside the working directory are not protected "
                    "(run the grader in a container; see book/grading.md)")
    assert victim.read_text() == "keep me" and (victim_dir / "a.txt").exists()
    assert not (tmp_path / "created.txt").exists()
    assert (cases / "selftest.json").read_text() == before
    # a second batch with the same cases still grades honestly
    again = grade(options([SUBMISSIONS / "honest.ipynb"], tmp_path / "second", cases=[str(cases)]))
    assert again["submissions"][0]["score"] == 9


def test_hidden_cases_count_and_cannot_be_read(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "selftest_hidden.json").write_text(json.dumps({"exercises": [
        {"id": "selftest.add", "function": "add", "cases": [
            {"name": "large", "args": [20, 22], "expected": 42, "compare": "equal", "hint": "secret"}]}]}))
    public = tmp_path / "public"
    shutil.copytree(CASES, public)
    lookup = _submission_with(tmp_path, "lookup_cases", {"case_dirs": [str(public), str(hidden)]})
    (tmp_path / "out").mkdir()
    report = grade(options([SUBMISSIONS / "honest.ipynb", lookup], tmp_path / "out", cases=[str(public)],
                           hidden=[str(hidden)]))
    records = by_name(report)
    assert records["honest"]["score"] == 9
    add_cases = records["honest"]["exercises"]["selftest.add"]["cases"]
    assert [c["hidden"] for c in add_cases] == [False, False, False, True]
    assert report["exercises"]["selftest.add"]["hidden_cases"] == 1
    looked_up = records["lookup_cases"]["exercises"]["selftest.add"]
    # answering public cases from the public files is possible for anyone; hidden cases are what stops it
    assert [c["passed"] for c in looked_up["cases"][:2]] == [True, True]
    if not LANDLOCK:
        pytest.skip("no Landlock on this kernel: the child can read the hidden cases (use a container)")
    assert looked_up["cases"][3]["passed"] is False
    assert looked_up["earned"] == pytest.approx(1.0)   # 2 of 4 cases (its keyword lookup misses case 3)


def test_rerun_after_interruption_gives_the_same_gradebook(tmp_path):
    paths = [SUBMISSIONS / f"{name}.ipynb" for name in ("honest", "system_exit", "corrupt")]
    grade(options(paths, tmp_path))
    first = (tmp_path / "gradebook.csv").read_bytes()
    work = tmp_path / "gradebook.csv.work"
    entries = sorted(work.glob("*.json"))
    assert len(entries) == 3
    # "interrupted": the gradebook was never written and one submission was never graded
    (tmp_path / "gradebook.csv").unlink()
    entries[0].unlink()
    # a forged cache entry (wrong HMAC) is ignored and regraded
    forged = json.loads(entries[1].read_text())
    forged["record"]["score"] = 9
    entries[1].write_text(json.dumps(forged))
    report = grade(options(paths, tmp_path))
    assert (tmp_path / "gradebook.csv").read_bytes() == first
    assert [r["score"] for r in report["submissions"]] == [0, 9, 3]


def test_cli_and_bad_input_are_lines_not_crashes(tmp_path, capsys):
    notebook = new_notebook(cells=[new_code_cell('from pgnotes.grading import check\ncheck("selftest.nope", print)')])
    odd = tmp_path / "subs" / "unknown_ids.ipynb"
    odd.parent.mkdir()
    nbformat.write(notebook, odd)
    (tmp_path / "subs" / "notes.txt").write_text("not a notebook")
    code = cli.main(["grade", str(odd), str(tmp_path / "subs" / "notes.txt"), str(SUBMISSIONS / "corrupt.ipynb"),
                     "--out", str(tmp_path / "gb.csv"), "--cases", str(CASES), "--no-execute",
                     "--cell-timeout", "5", "--case-timeout", "2", "--cpu", "10", "--memory", "1"])
    assert code == 0
    report = json.loads((tmp_path / "gb.json").read_text())
    records = by_name(report)
    assert records["unknown_ids"]["unknown_ids"] == ["selftest.nope"]
    assert "missing: no function named add" in " ".join(records["unknown_ids"]["notes"])
    assert records["notes"]["status"] == "error" and records["corrupt"]["status"] == "error"
    assert "[3/3]" in capsys.readouterr().out
    bad = tmp_path / "bad_cases"
    bad.mkdir()
    (bad / "x.json").write_text("{")
    assert cli.main(["grade", str(odd), "--out", str(tmp_path / "gb2.csv"), "--hidden", str(bad)]) == 2


def test_gradebook_neutralizes_spreadsheet_formulas():
    from pgnotes.grading.batch import gradebook_csv

    record = {"submission": "=cmd|' /C calc'!A0", "score": 0.0, "max_score": 9.0, "status": "graded",
              "exercises": {"selftest.add": {"earned": 0.0}}, "notes": ["=HYPERLINK(\"http://x\")"]}
    row = next(csv.DictReader(gradebook_csv([record], ["selftest.add"]).splitlines()))
    assert row["submission"].startswith("'=") and row["notes"].startswith("'=")


def test_a_looping_submission_costs_one_case_limit_and_short_retries(tmp_path):
    """A loop in every function: the first call gets the case limit, every later call 1 s, and a
    function that timed out twice is not called again, so the cost does not grow with the cases."""
    looping = "def {name}(*args, **kwargs):\n    while True:\n        pass\n"
    cells = [new_code_cell("from pgnotes.grading import check")]
    cells += [new_code_cell(looping.format(name=name)) for name in ("add", "pair", "safe_log", "sample_mean", "scale")]
    cells += [new_code_cell('check("selftest.add", add)')]
    path = tmp_path / "subs" / "loops_everywhere.ipynb"
    path.parent.mkdir()
    nbformat.write(new_notebook(cells=cells), path)
    report = grade(options([path], tmp_path, case_timeout=3.0))
    record = report["submissions"][0]
    assert record["score"] == 0
    text = notes(({}, report), "loops_everywhere")
    assert "selftest.add case 1: timed out after 3 s" in text
    assert "selftest.add case 2: timed out after 1 s" in text
    assert "selftest.add case 3: not run: the function timed out on two earlier cases" in text
    # 8 cases: one 3 s limit and at most six 1 s ones (the old limits: a full limit for each case)
    assert record["seconds"]["cases"] < 3 + 6 + 8, record["seconds"]
