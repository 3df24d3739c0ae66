"""compare.py grade on a folder mixing correct, buggy, crashing, hanging, printing and exiting
submissions (written from tests/implementations by implementations/submissions.py): the expected
partial-credit table, the reasons, the student-safe output without a number torch computed, and
dead training runs named as such."""

import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from implementations.submissions import source, write
from threadpoolctl import threadpool_limits

from reference.cli import main as cli
from reference.grading import folder as grader
from reference.grading import submission as grading
from reference.grading.remote import open_submission
from reference.grading.sandbox import Isolation, missing_tool

ROOT = Path(__file__).resolve().parent.parent
# The sandbox where bubblewrap works (CI installs it); else the weaker isolation, which grades alike.
ISOLATION_KIND = "process" if missing_tool("bwrap") else "bwrap"
ISOLATION = ["--isolation", ISOLATION_KIND]
TIMEOUT = 60  # seconds per submission: a correct one takes 5 to 15 s sandboxed on 2 busy cores; hangs.py costs it

SUBMISSIONS = {  # name: (style, changes)
    "textbook.py": ("textbook", ""),
    "bias_averaged.py": ("textbook", "Linear = LinearBiasAveraged"),
    "relu_open.py": ("textbook", "ReLU = ReLUOpenAtZero"),
    "columns.py": ("columns", ""),  # written for sigmoid only: build raises KeyError for relu
    "functional.py": ("functional", ""),
    "prints.py": ("textbook", "class Sigmoid(Sigmoid):\n    def forward(self, x):\n"
                              "        print('debug: forward of', x.shape)\n        return super().forward(x)"),
    "exits.py": ("textbook", "import sys\nclass Sigmoid(Sigmoid):\n    def backward(self, x, g):\n        sys.exit(3)"),
    "hangs.py": ("textbook", "class ReLU(ReLU):\n    def __init__(self):\n        while True:\n            pass"),
    "dead.py": ("textbook", "class CrossEntropy(CrossEntropy):\n    def forward(self, logits, one_hot):\n"
                            "        return super().forward(logits, one_hot).mean()\n"
                            "    def backward(self, logits, one_hot):\n        return np.zeros_like(logits)  # TODO"),
    "no_log.py": ("textbook", "class CrossEntropy(CrossEntropy):\n    def forward(self, logits, one_hot):\n"
                              "        return np.exp(logits).sum(axis=1) - (logits * one_hot).sum(axis=1)"),
}
CRASHES = "import cupy_is_not_installed\n"
LAYERS_ONLY = ("\n_build = build\n\ndef build(sizes, activations, lr, seed):\n"
               "    return _build(sizes, activations, lr, seed)[0]\n")

# Expected marks, in the grader's columns: linear, sigmoid, relu, loss, update, training, score.
EXPECTED = {
    "textbook.py": "ok ok ok ok ok ok 6/6",
    "bias_averaged.py": "FAIL ok ok ok ok FAIL 4/6",
    "relu_open.py": "ok ok FAIL ok ok ok 5/6",      # x is never exactly 0 in training: the run agrees
    "columns.py": "ok ok FAIL ok n/a ok 4/5",       # its layers leave the update to an optimizer: n/a
    "functional.py": "ok ok ok ok n/a ok 5/5",
    "prints.py": "ok ok ok ok ok ok 6/6",           # printing is no fault; the output is kept aside
    "exits.py": "ok FAIL ok ok ok FAIL 4/6",        # sys.exit in sigmoid's backward; training uses sigmoid
    "hangs.py": "- ok - - - - 1/6",                 # killed building the relu network: the sigmoid part counts
    "dead.py": "ok ok ok FAIL ok FAIL 4/6",
    "no_log.py": "ok ok ok FAIL ok n/a 4/5",        # a loss whose value is not the loss: the layers still count,
                                                    # training is skipped (there is no loss to train with)
    "crashes.py": "- - - - - - 0/6",
    "layers_only.py": "ok ok ok n/a ok ok 5/5",     # no loss of its own: trained with scratch_nn's
}
REASONS = [  # (submission, part or "problem", a phrase of the reason)
    ("bias_averaged.py", "linear", "looks like: bias gradient averaged"),
    ("bias_averaged.py", "training", "differ from torch's"),
    ("relu_open.py", "relu", "looks like: derivative at exactly 0"),
    ("columns.py", "relu", "raised KeyError: 'relu'"),
    ("exits.py", "sigmoid", "called sys.exit(3)"),
    ("hangs.py", "problem", f"timed out after {TIMEOUT} s"),
    ("dead.py", "training", "dead: every gradient was zero"),
    ("no_log.py", "loss", "the loss build returned cannot be read: could not find how CrossEntropy is called"),
    ("crashes.py", "problem", "raised ModuleNotFoundError: No module named 'cupy_is_not_installed'"),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    for name, (style, changes) in SUBMISSIONS.items():
        write(folder, name, style, changes)
    (folder / "crashes.py").write_text(CRASHES + source("textbook"))
    (folder / "layers_only.py").write_text(source("textbook") + LAYERS_ONLY)
    return folder


@pytest.fixture(scope="module")
def graded(folder):
    """compare.py grade --student-safe on the folder, in a process of its own as a teacher would run it, two
    submissions at a time (the hanging one beside the others): (exit status, stdout, the JSON)."""
    record = folder.parent / "grades.json"
    done = subprocess.run([sys.executable, "compare.py", "grade", str(folder), "--student-safe", "--json",
                           str(record), "--timeout", str(TIMEOUT), "--workers", "2", *ISOLATION],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout, json.loads(record.read_text())


def marks(submission: dict) -> str:
    """The table's marks from the JSON: ok, FAIL, n/a (ok null), - (not reached)."""
    cells = ["n/a" if p["ok"] is None else "ok" if p["ok"] else "-" if p["reason"].startswith("not reached")
             else "FAIL" for p in submission["parts"].values()]
    return " ".join(cells) + f" {submission['score']}/{submission['out_of']}"


@pytest.mark.parametrize("name", EXPECTED)
def test_partial_credit_table(name, graded):
    code, out, record = graded
    assert code == 1 and record["parts"] == ["linear", "sigmoid", "relu", "loss", "update", "training"]
    submission = next(s for s in record["submissions"] if s["name"] == name)
    assert marks(submission) == EXPECTED[name], submission
    assert re.search(rf"^{re.escape(name)}\s+" + r"\s+".join(map(re.escape, EXPECTED[name].split())) + "$", out, re.M)


@pytest.mark.parametrize("name, part, phrase", REASONS)
def test_each_failure_says_why(name, part, phrase, graded):
    submission = next(s for s in graded[2]["submissions"] if s["name"] == name)
    reason = submission["problem"] if part == "problem" else submission["parts"][part]["reason"]
    assert phrase in reason and phrase in graded[1], reason


def test_what_a_submission_prints_is_kept_out_of_the_table(graded):
    _, out, record = graded
    printed = next(s for s in record["submissions"] if s["name"] == "prints.py")["output"]
    assert "debug: forward of" in printed and "debug" not in out


def test_student_safe_output_holds_no_number_torch_computed(folder, graded):
    """The teacher's view of the buggy submissions carries torch's values (the control); the student-safe
    output, table and JSON, carries none of them, and no number in scientific notation at all."""
    settings, name = grading.GradeSettings(), "bias_averaged.py"
    row = grader.judge(name, folder / name, settings, Isolation(ISOLATION_KIND), TIMEOUT)
    teacher = grader.table([row], settings, safe=False)
    torch_values = re.findall(r"torch (-?\d+\.\d{6,})", teacher)
    assert len(torch_values) >= 3, teacher
    safe_out = graded[1] + json.dumps(graded[2])
    failed = [f"  {part}: {result.reason}" for part, result in row.parts.items() if result.ok is False]
    assert failed and all(line in graded[1] for line in failed)  # the control's reasons: those printed safe
    assert not [value for value in torch_values if value in safe_out]
    assert not re.search(r"\d\.?\d*e[-+]\d", safe_out) and '"detail"' not in safe_out


def test_dead_training_runs_fail_as_such(tmp_path):
    """Every gradient zero (a loss whose backward is a TODO), and a loss stuck near ln(10) (updates
    10,000 times too small), each named; the correct implementation is not called dead."""
    stuck = ("class Linear(Linear):\n    def backward(self, x, prev_grad):\n        grad = prev_grad @ self.weights.T\n"
             "        self.weights = self.weights - self.learning_rate * 1e-4 * (x.T @ prev_grad)\n"
             "        self.biases = self.biases - self.learning_rate * 1e-4 * prev_grad.sum(axis=0, keepdims=True)\n"
             "        return grad")
    cases = {"dead.py": SUBMISSIONS["dead.py"][1], "stuck.py": stuck, "textbook.py": ""}
    results = {}
    with one_thread():
        for name, changes in cases.items():
            isolation = Isolation(ISOLATION_KIND)
            with open_submission(write(tmp_path, name, "textbook", changes), isolation, TIMEOUT) as (client, _):
                client.load(client.started.inside)
                results[name] = grading.train(client, grading.GradeSettings())
    assert "dead: every gradient was zero" in results["dead.py"].reason
    assert "dead: the loss stayed near ln(10)" in results["stuck.py"].reason
    assert results["textbook.py"].ok, results["textbook.py"]


@contextlib.contextmanager
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("argv, phrase", [
    (["{tmp}/missing"], "is not a folder"), (["{tmp}"], "holds no submission"),
    (["{tmp}", "--activations", "softplus"], "--activations 'softplus'"),
    (["{tmp}", "--timeout", "0"], "argument --timeout: must be a positive finite number; got '0'"),
    (["{tmp}", "--lr", "nan"], "argument --lr: must be a positive finite number; got 'nan'"),
    (["{tmp}", "--workers", "0"], "argument --workers: must be a positive integer; got 0"),
    (["{tmp}", "--json", "{tmp}/missing/grades.json"], "missing: it does not exist"),
])
def test_bad_options_are_one_line_and_exit_2(argv, phrase, tmp_path, capsys):
    if "holds no" not in phrase:
        (tmp_path / "a.py").write_text("")
    assert cli.main(["grade", *[a.format(tmp=tmp_path) for a in argv]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and phrase in err, err
