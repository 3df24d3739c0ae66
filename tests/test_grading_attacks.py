"""compare.py grade against submissions that attack it: each tries to forge its marks, run code in the
grader, read or write other students' files and the teacher's, outlive the run, stall or flood the
grader. One folder holds them all beside an honest submission, graded once in the bubblewrap sandbox
with small limits: the honest one keeps 6/6, no broken one gains a mark it has not earned, no secret
reaches the output, and no process of any submission is alive when grade returns."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from implementations.submissions import source
from test_grading import marks

from reference.grading.sandbox import PID_RANGE, UID_BASE, missing_tool

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # seconds per submission: the honest ones take 5 to 15 s on 2 busy cores
SECRET = "the-answer-key-is-42-and-nobody-may-read-it"
BROKEN = "Linear = LinearBiasAveraged\n"  # a real mistake: linear and training must fail whatever the attack

PROTOCOL_WRITE = '''
import os
def _send(data):
    for fd in range(3, 12):
        try:
            os.write(fd, data)
        except OSError:
            pass
'''
ATTACKS = {  # name: (code put before build, whether the implementation is broken)
    "forged_marks.py": ('''
try:
    import reference.grading.submission as g
    g.PartResult.__init__ = lambda self, ok=True, reason="", detail="": (setattr(self, "ok", True),
        setattr(self, "reason", ""), setattr(self, "detail", ""))[0]
    g.judge = lambda parts: g.PartResult(True)
    import reference.comparison as c
    c.compare = lambda *a, **k: None
except Exception as error:
    print("could not patch the grader:", error)
''', True),
    "patched_numpy_torch.py": ('''
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
try:
    import torch
    torch.nn.functional.linear = lambda *a, **k: None
    print("torch was importable")
except ImportError:
    print("torch is hidden")
''', True),
    "pickle_payload.py": (PROTOCOL_WRITE + '''
import pickle
class _Payload:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('pwned')", {}))
_blob = pickle.dumps(("linear", _Payload()))
_send(len(_blob).to_bytes(4, "big") + _blob)
''', True),
    "stack_walk.py": (PROTOCOL_WRITE + '''
import json, gc, sys
_header = json.dumps({"ok": True, "parts": [["linear", True, "", ""]] * 6, "arrays": [], "none": []}).encode()
_send(len(_header).to_bytes(4, "big") + _header)
for frame in sys._current_frames().values():
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if hasattr(value, "send"):
                try:
                    value.send(("linear", True))
                except Exception:
                    pass
        frame = frame.f_back
''', True),
    "reads_and_writes_others.py": ('''
import os, glob
for path in [{others!r}, {key!r}] + glob.glob("/work/**/answer_key.txt", recursive=True)[:3]:
    try:
        print("read:", open(path).read())
    except OSError as error:
        print("cannot read", path, type(error).__name__)
    try:
        open(path, "w").write("rewritten")
    except OSError as error:
        print("cannot write", path, type(error).__name__)
try:
    os.remove({key!r})
except OSError as error:
    print("cannot remove", type(error).__name__)
''', True),
    "escapes.py": ('''
import os, time
for _ in range(40):
    if os.fork() == 0:
        time.sleep(300)
        os._exit(0)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(8)
        try:
            open({record!r}, "w").write("forged")
        except OSError:
            pass
        os._exit(0)
    os._exit(0)
''', True),
    "fork_bomb.py": ('''
import os, time
children = 0
try:
    for _ in range(10000):
        if os.fork() == 0:
            time.sleep(300)
            os._exit(0)
        children += 1
except OSError as error:
    print("fork stopped after", children, type(error).__name__)
''', True),
    "stops_the_grader.py": ('''
import os, signal
for pid in (os.getppid(), 1, -1):
    try:
        os.kill(pid, signal.SIGSTOP)
    except OSError:
        pass
''', True),
    "partial_message.py": (PROTOCOL_WRITE + '''
_send((1000).to_bytes(4, "big") + b'{"arr')
os._exit(0)
''', True),
    "malformed.py": (PROTOCOL_WRITE + '''
_send((5).to_bytes(4, "big") + b"(1,2)")
''', True),
    "memory_bomb.py": ('''
class Linear(Linear):
    def forward(self, x):
        hog = np.ones((64, 2**30), dtype=np.uint8)
        return super().forward(x)
''', True),
    "output_flood.py": ('''
import sys
line = "x" * 1023 + "\\n"
for _ in range(100_000):
    sys.stdout.write(line)
''', True),
    "exits_early.py": ('''
import os
class Sigmoid(Sigmoid):
    def backward(self, x, grad):
        os._exit(0)
''', False),
}
ODD_NAME = "odd\nname.py        ok        ok        ok        ok        ok        ok.py"  # forges a row, unescaped


def running_uids() -> list[int]:
    """The pids of every process running under a worker's uid (the sandbox's; another grading run at the same
    time would show here too)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.MULTILINE).group(1))
        if UID_BASE <= uid < UID_BASE + PID_RANGE:
            found.append(int(entry))
    return found


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    if missing_tool("bwrap") or os.geteuid() != 0:
        pytest.skip("needs bubblewrap, run as root (the grader drops each worker to a uid of its own)")
    tmp = tmp_path_factory.mktemp("attacks")
    folder, teacher = tmp / "submissions", tmp / "teacher"
    folder.mkdir()
    teacher.mkdir()
    key, record = teacher / "answer_key.txt", teacher / "grades.json"
    key.write_text(SECRET)
    key.chmod(0o600)
    (folder / "textbook.py").write_text(source("textbook"))
    (folder / ODD_NAME).write_text(source("textbook"))
    (folder / "feedback").mkdir()
    (folder / "feedback" / "notes.py").write_text("raise SystemExit('not a submission')\n")
    paths = {"others": str(folder / "textbook.py"), "key": str(key), "record": str(record)}
    for name, (code, broken) in ATTACKS.items():
        for field, path in paths.items():  # str.format would read the attacks' own braces
            code = code.replace(f"{{{field}!r}}", repr(path))
        (folder / name).write_text(source("textbook", (BROKEN if broken else "") + code))
    done = subprocess.run([sys.executable, str(ROOT / "compare.py"), "grade", str(folder), "--json", str(record),
                           "--timeout", str(TIMEOUT), "--workers", "2", "--memory", "1024"], cwd=tmp,
                          capture_output=True, text=True, timeout=1200, env={**os.environ, "PYTHONPATH": str(ROOT)})
    alive = running_uids()
    time.sleep(10)  # past the escaped grandchild's wake-up
    rows = {row["name"]: row for row in json.loads(record.read_text())["submissions"]}
    return {"done": done, "rows": rows, "alive": alive, "key": key, "tmp": tmp, "folder": folder, "record": record}


def test_the_honest_submissions_keep_their_grade(attacked):
    rows = attacked["rows"]
    assert marks(rows["textbook.py"]) == "ok ok ok ok ok ok 6/6", rows["textbook.py"]
    assert marks(rows[ODD_NAME]) == "ok ok ok ok ok ok 6/6"
    assert attacked["done"].returncode == 1, attacked["done"].stderr


@pytest.mark.parametrize("name", [name for name, (_, broken) in ATTACKS.items() if broken])
def test_no_attack_gains_a_mark_its_code_has_not_earned(name, attacked):
    """Each attacker's layers average the bias gradient: linear and training fail, whatever it sent or patched."""
    row = attacked["rows"][name]
    assert row["parts"]["linear"]["ok"] is not True and row["parts"]["training"]["ok"] is not True, row
    assert row["score"] <= 4


def test_nothing_ran_in_the_grader_and_no_file_outside_the_sandbox_changed(attacked):
    assert not list(attacked["tmp"].rglob("PWNED")) and not (Path.cwd() / "PWNED").exists()
    assert attacked["key"].read_text() == SECRET
    assert (attacked["folder"] / "textbook.py").read_text() == source("textbook")
    assert json.loads(attacked["record"].read_text())["status"] == "complete"  # not rewritten by the escapee


def test_no_secret_reaches_the_output(attacked):
    everything = attacked["done"].stdout + attacked["record"].read_text()
    assert SECRET not in everything
    printed = attacked["rows"]["reads_and_writes_others.py"]["output"]
    assert "cannot read" in printed and "read: import" not in printed, printed


def test_torch_is_hidden_from_graded_code(attacked):
    assert "torch is hidden" in attacked["rows"]["patched_numpy_torch.py"]["output"]


def test_no_process_of_a_submission_outlives_grade(attacked):
    assert attacked["alive"] == [] and running_uids() == []


def test_forks_are_bounded_and_output_is_capped(attacked):
    assert "fork stopped after" in attacked["rows"]["fork_bomb.py"]["output"]
    assert len(attacked["rows"]["output_flood.py"]["output"]) <= 2000


def test_malformed_and_partial_answers_fail_that_submission_only(attacked):
    rows = attacked["rows"]
    assert "cannot be read" in rows["malformed.py"]["problem"] + rows["pickle_payload.py"]["problem"]
    assert rows["partial_message.py"]["problem"], rows["partial_message.py"]


def test_os_exit_is_named_as_the_reason(attacked):
    problem = attacked["rows"]["exits_early.py"]["problem"]
    assert "exit status 0" in problem and "os._exit" in problem, problem
    assert "not reached: the process ended" in attacked["rows"]["exits_early.py"]["parts"]["training"]["reason"]


def test_odd_names_are_escaped_and_a_folder_without_submission_is_not_one(attacked):
    out = attacked["done"].stdout
    assert "odd\\nname.py" in out and not re.search(r"^name\.py ", out, re.MULTILINE)
    assert "feedback/" not in attacked["rows"]


@pytest.mark.parametrize("make, same, phrase", [
    (lambda tmp: (tmp / "grades.json").mkdir(), False, "is a folder"),
    (lambda tmp: None, True, "is also the --json output's file"),
])
def test_output_paths_are_checked_before_grading(make, same, phrase, tmp_path):
    (tmp_path / "a.py").write_text("")
    make(tmp_path)
    argv = ["--json", str(tmp_path / "grades.json")] + (["--csv", str(tmp_path / "grades.json")] if same else [])
    done = subprocess.run([sys.executable, "compare.py", "grade", str(tmp_path), *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and phrase in done.stderr, done.stderr
