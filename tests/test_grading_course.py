"""compare.py grade for a course: a rubric's points in the table, the JSON and the gradebook CSV; a
Gradescope bundle run on a folder laid out as Gradescope's; SIGINT keeping the rows graded; the weaker
--isolation process, and the refusal without bubblewrap."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from implementations.submissions import source, write
from test_grading import marks
from test_grading_attacks import running_uids

from reference.cli import main as cli
from reference.grading.gradescope import build_bundle
from reference.grading.sandbox import missing_tool

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60
RUBRIC = "[points]\nlinear = 2\ntraining = 3\n"
needs_bwrap = pytest.mark.skipif(missing_tool("bwrap") is not None, reason="needs a working bubblewrap")


def grade(*argv, **options):
    return subprocess.run([sys.executable, str(ROOT / "compare.py"), "grade", *map(str, argv), "--timeout",
                           str(TIMEOUT)], cwd=ROOT, capture_output=True, text=True, timeout=900, **options)


@needs_bwrap
def test_rubric_points_in_the_table_json_and_gradebook(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    write(folder, "ada.py", "textbook")
    write(folder, "bob.py", "textbook", "Linear = LinearBiasAveraged")
    (tmp_path / "rubric.toml").write_text(RUBRIC)
    done = grade(folder, "--rubric", tmp_path / "rubric.toml", "--json", tmp_path / "grades.json", "--csv",
                 tmp_path / "grades.csv", "--workers", "2")
    assert done.returncode == 1, done.stderr
    with open(tmp_path / "grades.csv", newline="") as file:
        book = list(csv.reader(file))
    assert book == [["student", "linear", "sigmoid", "relu", "loss", "update", "training", "total", "max"],
                    ["ada.py", "2", "1", "1", "1", "1", "3", "9", "9"],
                    ["bob.py", "0", "1", "1", "1", "1", "0", "4", "9"]]
    record = json.loads((tmp_path / "grades.json").read_text())
    assert [(s["points"], s["max_points"]) for s in record["submissions"]] == [(9, 9), (4, 9)]
    assert record["status"] == "complete" and record["settings"]["isolation"] == "bwrap"
    assert "9/9" in done.stdout and "4/9" in done.stdout


@pytest.mark.parametrize("text, phrase", [("[points]\nlinaer = 2\n", "no part 'linaer'"),
                                          ("[points]\nlinear = 'two'\n", "must be a number of points"),
                                          ("points = [", "cannot be read as TOML")])
def test_a_bad_rubric_is_one_line_and_exit_2(text, phrase, tmp_path, capsys):
    (tmp_path / "a.py").write_text("")
    (tmp_path / "rubric.toml").write_text(text)
    assert cli.main(["grade", str(tmp_path), "--rubric", str(tmp_path / "rubric.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and phrase in err, err


def test_gradescope_bundle_on_a_simulated_autograder(tmp_path):
    """The bundle unpacked as Gradescope does, run_autograder run on one student's submission.py:
    results.json in Gradescope's format, the rubric's points, the reasons student-safe."""
    (tmp_path / "rubric.toml").write_text(RUBRIC)
    names = build_bundle(tmp_path / "autograder.zip", tmp_path / "rubric.toml")
    assert {"setup.sh", "run_autograder", "rubric.toml", "compare.py", "reference/grading/worker.py"} <= set(names)
    autograder = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "autograder.zip") as bundle:
        bundle.extractall(autograder / "source")
    (autograder / "submission").mkdir()
    (autograder / "submission" / "submission.py").write_text(source("textbook", "Linear = LinearBiasAveraged"))
    done = subprocess.run(["bash", str(autograder / "source" / "run_autograder")], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "AUTOGRADER_ROOT": str(autograder), "PYTHON": sys.executable})
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert (results["score"], results["max_score"]) == (4, 9), (results, done.stdout, done.stderr)
    tests = {test["name"]: test for test in results["tests"]}
    assert list(tests) == ["linear", "sigmoid", "relu", "loss", "update", "training"]
    assert tests["linear"]["score"] == 0 and tests["linear"]["max_score"] == 2
    assert "looks like: bias gradient averaged" in tests["linear"]["output"]
    assert all(test["visibility"] == "visible" for test in results["tests"])
    text = json.dumps(results)  # student-safe: the reasons name torch, never a number it computed
    assert not re.search(r"\d\.\d{6,}", text) and not re.search(r"\d\.?\d*e[-+]\d", text) and '"detail"' not in text


def test_a_submission_less_upload_gets_a_zero_with_the_reason(tmp_path):
    build_bundle(tmp_path / "autograder.zip")
    autograder = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "autograder.zip") as bundle:
        bundle.extractall(autograder / "source")
    (autograder / "submission").mkdir()
    (autograder / "submission" / "notes.txt").write_text("I forgot the code")
    subprocess.run(["bash", str(autograder / "source" / "run_autograder")], capture_output=True, timeout=300,
                   env={**os.environ, "AUTOGRADER_ROOT": str(autograder), "PYTHON": sys.executable})
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert results["score"] == 0 and "No submission.py" in results["output"]


@needs_bwrap
def test_sigint_keeps_the_rows_graded_and_exits_130(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    write(folder, "a_first.py", "textbook")
    write(folder, "b_hangs.py", "textbook", "class ReLU(ReLU):\n    def __init__(self):\n        while True:\n"
                                           "            pass")
    write(folder, "c_never.py", "textbook")
    record = tmp_path / "grades.json"
    process = subprocess.Popen([sys.executable, str(ROOT / "compare.py"), "grade", str(folder), "--json", str(record),
                                "--timeout", "300"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (record.exists() and json.loads(record.read_text())["submissions"]):
        time.sleep(0.5)
    time.sleep(3)  # the hanging one is in its loop by now
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    saved = json.loads(record.read_text())
    assert saved["status"] == "interrupted"
    assert [s["name"] for s in saved["submissions"]] == ["a_first.py"]
    assert marks(saved["submissions"][0]) == "ok ok ok ok ok ok 6/6"
    assert "interrupted" in out and "a_first.py" in out
    assert running_uids() == []


def test_process_isolation_grades_and_says_so(tmp_path):
    write(tmp_path, "ada.py", "textbook")
    done = grade(tmp_path, "--isolation", "process", "--json", tmp_path.parent / f"{tmp_path.name}.json")
    record = json.loads((tmp_path.parent / f"{tmp_path.name}.json").read_text())
    assert done.returncode == 0 and marks(record["submissions"][0]) == "ok ok ok ok ok ok 6/6", done.stdout
    assert record["settings"]["isolation"] == "process" and "isolation process" in done.stdout


def test_without_bubblewrap_grade_refuses_with_the_install_hint(tmp_path):
    (tmp_path / "a.py").write_text("")
    done = grade(tmp_path, env={**os.environ, "PATH": str(tmp_path)})  # no bwrap on this PATH
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "apt-get install bubblewrap" in done.stderr and "--isolation process" in done.stderr
