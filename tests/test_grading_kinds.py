"""compare.py grade --network NAME and --engine NAME (reference/grading/kinds.py): folders of whole
networks (tests/implementations/nielsen.py, cs231n.py, student_network.py) and of micrograd engines
(micrograd.py and its mutants), each row's parts and score as the checks' verdicts give them, a
submission whose conventions cannot be found one failed row, the conventions flags applied to every
submission, and the student-safe output without a number torch computed."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_grading import ISOLATION, ISOLATION_KIND, TIMEOUT, marks, one_thread

from reference.cli import main as cli
from reference.grading import folder as grader
from reference.grading.kinds import EngineGradeSettings, NetworkGradeSettings
from reference.grading.sandbox import isolation_for

ROOT = Path(__file__).resolve().parent.parent
IMPLEMENTATIONS = ROOT / "tests" / "implementations"
NIELSEN = (IMPLEMENTATIONS / "nielsen.py").read_text()
MICROGRAD = (IMPLEMENTATIONS / "micrograd.py").read_text()
RADD = "    def __radd__(self, other): # other + self\n        return self + other\n"

NETWORKS = {  # name: (source, expected marks: forward, layer 1, layer 0, optimizer, score)
    "nielsen.py": (NIELSEN, "ok ok ok ok 4/4"),
    "derivative.py": (NIELSEN + "\nNetwork = DerivativeAtActivation\n", "ok FAIL FAIL FAIL 1/4"),
    "crashes.py": ("import cupy_is_not_installed\n" + NIELSEN, "- - - - 0/4"),
    "cs231n.py": ((IMPLEMENTATIONS / "cs231n.py").read_text() + "\nNetwork = TwoLayerNet\n", "ok ok ok ok 4/4"),
}
ENGINES = {  # name: (source, expected marks in OPERATIONS' order, then MLP, score)
    "micrograd.py": (MICROGRAD, "ok ok ok ok ok ok ok ok ok ok ok ok ok n/a n/a ok ok ok 16/16"),
    "overwrites.py": (MICROGRAD.replace(".grad += ", ".grad = "),
                      "FAIL FAIL ok ok FAIL FAIL ok ok ok ok ok ok ok n/a n/a FAIL FAIL FAIL 9/16"),
    "no_radd.py": (MICROGRAD.replace(RADD, ""),  # 2 + x raises TypeError, and so does 2 - x: other + (-self)
                   "ok ok ok ok ok ok n/a ok n/a ok ok ok ok n/a n/a ok ok ok 14/14"),
    "typo.py": (MICROGRAD.replace("def tanh(self):\n        x = self.data", "def tanh(self):\n        x = self.dat"),
                "ok ok ok ok ok ok ok ok ok ok FAIL ok ok n/a n/a FAIL ok ok 14/16"),  # raised: a failure, not n/a
}


def graded(tmp_path, submissions: dict, *argv):
    """compare.py grade --student-safe on a folder of the submissions, as a teacher runs it: (exit status,
    stdout, the JSON)."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    for name, (text, _) in submissions.items():
        (folder / name).write_text(text)
    record = tmp_path / "grades.json"
    done = subprocess.run([sys.executable, "compare.py", "grade", str(folder), *argv, "--student-safe", "--json",
                           str(record), "--timeout", str(TIMEOUT), *ISOLATION], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    return done.returncode, done.stdout, json.loads(record.read_text())


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    return graded(tmp_path_factory.mktemp("networks"), NETWORKS, "--network", "Network")


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    return graded(tmp_path_factory.mktemp("engines"), ENGINES, "--engine", "Value")


@pytest.mark.parametrize("name", NETWORKS)
def test_whole_networks_are_graded_by_the_check_s_parts(name, networks):
    code, out, record = networks
    assert code == 1 and record["parts"] == ["forward", "layer 1", "layer 0", "optimizer"]
    assert_graded(out, record, name, NETWORKS[name][1])


def assert_graded(out, record, name, expected) -> None:
    """The submission's marks are `expected` ("ok FAIL n/a ... 3/4") in the JSON and in its table row."""
    submission = next(s for s in record["submissions"] if s["name"] == name)
    assert marks(submission) == expected, submission
    assert re.search(rf"^{re.escape(name)}\s+" + r"\s+".join(map(re.escape, expected.split())) + "$", out, re.M)


def test_each_network_failure_says_why(networks):
    _, out, record = networks
    rows = {s["name"]: s for s in record["submissions"]}
    assert "looks like: derivative at the output" in rows["derivative.py"]["parts"]["layer 1"]["reason"]
    assert "update_mini_batch" in rows["derivative.py"]["parts"]["optimizer"]["reason"]
    assert "No module named 'cupy_is_not_installed'" in rows["crashes.py"]["problem"]
    assert "train_step" in rows["cs231n.py"]["conventions"] and "quadratic" in rows["nielsen.py"]["conventions"]
    assert "looks like: derivative at the output" in out


def test_student_safe_network_grades_hold_no_number_torch_computed(networks, tmp_path):
    """The teacher's view of the mutant carries torch's values (the control); the student-safe output does not."""
    path = tmp_path / "derivative.py"
    path.write_text(NETWORKS["derivative.py"][0])
    settings = NetworkGradeSettings("Network")
    with one_thread():
        row = grader.judge(path.name, path, settings, isolation_for(ISOLATION_KIND), TIMEOUT)
    teacher = grader.table([row], settings, safe=False)
    torch_values = re.findall(r"torch (-?\d+\.\d{6,})", teacher)
    assert len(torch_values) >= 3, teacher
    safe_out = networks[1] + json.dumps(networks[2])
    assert not [value for value in torch_values if value in safe_out]
    assert not re.search(r"\d\.?\d*e[-+]\d", safe_out) and '"detail"' not in safe_out


def test_unfound_conventions_fail_one_row_and_the_flags_apply_to_every_submission(tmp_path):
    """A network naming no cost stops its check ("give --cost"): that row fails with the reason and the others
    are graded; with --cost quadratic given to grade, every submission is checked on it and passes."""
    (tmp_path / "student.py").write_text((IMPLEMENTATIONS / "student_network.py").read_text() + "\nNetwork = MLP\n")
    (tmp_path / "nielsen.py").write_text(NIELSEN)
    for conventions, student in (({}, "- - - - 0/4"), ({"cost": "quadratic"}, "ok ok ok ok 4/4")):
        settings = NetworkGradeSettings("Network", sizes=(12, 7, 5), conventions=conventions)
        graded = grader.grade_folder(tmp_path, settings, 60, isolation=isolation_for(ISOLATION_KIND))
        rows = {row.name: row.to_dict(settings, safe=True) for row in graded}
        assert marks(rows["student.py"]) == student and marks(rows["nielsen.py"]) == "ok ok ok ok 4/4", rows
    settings = NetworkGradeSettings("Network", (12, 7, 5))
    assert "give --cost" in grader.grade_folder(tmp_path, settings, 60,
                                                isolation=isolation_for(ISOLATION_KIND))[1].problem


@pytest.mark.parametrize("name", ENGINES)
def test_engines_are_graded_by_the_check_s_rows_and_lacking_operations_are_n_a(name, engines):
    code, out, record = engines
    assert code == 1 and record["parts"] == EngineGradeSettings().parts and record["parts"][-1] == "MLP"
    assert_graded(out, record, name, ENGINES[name][1])


def test_each_engine_failure_says_why_and_student_safe_holds_no_torch_number(engines):
    _, out, record = engines
    rows = {s["name"]: s for s in record["submissions"]}
    assert "gradient overwritten, not accumulated" in rows["overwrites.py"]["parts"]["__add__"]["reason"]
    assert "has no __radd__" in rows["no_radd.py"]["parts"]["__radd__"]["reason"]
    assert "needs __radd__" in rows["no_radd.py"]["parts"]["__rsub__"]["reason"]
    assert "AttributeError" in rows["typo.py"]["parts"]["tanh()"]["reason"]
    assert "n/a: no class" not in json.dumps(rows) and rows["micrograd.py"]["parts"]["MLP"]["ok"] is True
    safe_out = out + json.dumps(record)
    assert "gradient overwritten" in out and '"detail"' not in safe_out
    assert not re.search(r"\d\.?\d*e[-+]\d", safe_out) and not re.search(r"\d\.\d{6,}", safe_out)


@pytest.mark.parametrize("argv, phrase", [
    (["--network", "Network", "--engine", "Value"], "give one of them"),
    (["--network", "Network", "--activations", "relu"], "--activations applies to build's layers"),
    (["--cost", "quadratic"], "--cost applies to --network"),
    (["--spec", "3-4-1"], "--spec applies to --network"),
    (["--layout", "in_out"], "--layout applies to --network"),
    (["--engine", "Value", "--cost", "quadratic"], "apply to --network, not to --engine"),
    (["--engine", "Value", "--lr", "0.5"], "--lr does not apply to --engine, which takes --spec, --seed"),
    (["--engine", "Value", "--workers", "1", "--lr", "0.01"], "--lr does not apply to --engine"),
    (["--network", "Network", "--spec", "784-x"], "--spec takes the sizes"),
])
def test_options_that_do_not_fit_are_one_line_and_exit_2(argv, phrase, tmp_path, capsys):
    (tmp_path / "a.py").write_text("")
    assert cli.main(["grade", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and phrase in err, err
