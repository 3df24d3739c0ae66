"""Notebooks as input: a .ipynb's code cells load as a module wherever a user's file is taken (check,
--implementation, grade), IPython-only lines left out with a note; and a notebook executed in a
real kernel that checks a layer defined in the cell before, its output read back."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from implementations.learner import DENSE_BUGGY
from implementations.submissions import source
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from reference.adapters import loader, notebook
from reference.cli import main as cli
from reference.cli import train as train_cli
from reference.grading.folder import find_submissions, what_was_taken

ROOT = Path(__file__).resolve().parent.parent


def write_notebook(path: Path, *cells: str) -> Path:
    """A v4 notebook of these code cells (a Markdown cell first, as a course's notebook has)."""
    nbformat.write(new_notebook(cells=[new_markdown_cell("# My layers"), *map(new_code_cell, cells)]), path)
    return path


def test_code_cells_load_as_a_module_and_ipython_lines_are_named(tmp_path, capsys):
    path = write_notebook(tmp_path / "work.ipynb",
                          "%matplotlib inline\nimport numpy as np",
                          "!pip install numpy\nfiles = !ls",
                          "%%time\nraise RuntimeError('a cell magic cell is not Python')",
                          "def double(x):\n    return 2 * x\n\n\nremainder = (7\n% 4)",  # % continues a line: Python
                          "np.dot?",
                          "text = '''\n%d items\n'''")  # a line of a string that starts with %: Python
    module = loader.load_module(path)
    assert module.double(3) == 6 and module.remainder == 3 and module.text == "\n%d items\n"
    note = capsys.readouterr().err
    assert note.startswith("note: work.ipynb: skipped 6 IPython-only line(s)")
    for skipped in ("cell 1 line 1: %matplotlib inline", "cell 2 line 1: !pip install numpy",
                    "cell 2 line 2: files = !ls", "cell 3 line 1: %%time", "cell 3 line 2: raise RuntimeError",
                    "cell 5 line 1: np.dot?"):
        assert skipped in note, note


def test_a_broken_notebook_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")
    with pytest.raises(loader.ImplementationError, match=r"broken.ipynb is not a readable notebook"):
        loader.load_module(path)


def test_check_layer_takes_a_class_from_a_notebook(tmp_path, capsys):
    path = write_notebook(tmp_path / "layers.ipynb", DENSE_BUGGY)
    code = cli.main(["check", "layer", f"{path}:DenseBuggy", "--twin", "linear", "--in", "32", "--out", "10"])
    out = capsys.readouterr().out
    assert code == 1 and "looks like: batch size too small" in out.lower(), out


def test_implementation_build_from_a_notebook(tmp_path, capsys):
    path = write_notebook(tmp_path / "net.ipynb", source("textbook"))
    code = cli.main(["check", "implementation", f"{path}:build", "--spec", "12-7-5", "--activation", "relu"])
    out = capsys.readouterr().out
    assert code == 0 and "Every part agrees" in out, out


def test_grade_takes_notebooks_beside_python_files_and_says_what_it_took(tmp_path):
    """A student's .py and .ipynb of the same code are two rows with the same marks; a notebook in a
    sub-folder is found as submission.ipynb; a file that is no submission is named, not skipped silently."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "alice.py").write_text(source("textbook"))
    write_notebook(folder / "alice.ipynb", "%load_ext autoreload", source("textbook"))
    (folder / "bob").mkdir()
    write_notebook(folder / "bob" / "submission.ipynb", source("textbook", "Linear = LinearBiasAveraged"))
    (folder / "README.md").write_text("hand-in instructions")
    assert find_submissions(folder) == [("alice.ipynb", folder / "alice.ipynb"), ("alice.py", folder / "alice.py"),
                                        ("bob/", folder / "bob" / "submission.ipynb")]
    record = tmp_path / "grades.json"
    done = subprocess.run([sys.executable, "compare.py", "grade", str(folder), "--json", str(record),
                           "--timeout", "60"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert ("grade: took alice.ipynb, alice.py, bob/; passed over README.md (neither a .py or .ipynb file nor a "
            "folder holding __init__.py, submission.py or submission.ipynb)") in done.stdout
    scores = {s["name"]: (s["score"], s["out_of"]) for s in json.loads(record.read_text())["submissions"]}
    assert scores == {"alice.ipynb": (6, 6), "alice.py": (6, 6), "bob/": (4, 6)}, done.stdout


def test_what_was_taken_is_silent_for_a_folder_of_one_kind(tmp_path):
    (tmp_path / "a.py").write_text("")
    (tmp_path / "_helpers.py").write_text("")  # private: documented as not a submission
    assert what_was_taken(tmp_path, find_submissions(tmp_path)) == ""


def test_notebook_source_keeps_line_numbers(tmp_path):
    """A skipped line becomes an empty one, so a traceback's line is the line in the joined cells."""
    path = write_notebook(tmp_path / "n.ipynb", "%time\nx = 1", "y = 2")
    text, skipped = notebook.notebook_source(path)
    assert text.splitlines()[:4] == ["", "x = 1", "", "y = 2"] and [s.line for s in skipped] == [1]


def test_a_layer_checked_in_a_real_kernel(tmp_path):
    """What a learner does: a cell defines the layer, the next checks it. Executed by nbclient in an
    ipykernel; the cell's result is the report: its text/plain the verdict first and the part
    table, its HTML the verdict coloured and the failing row highlighted."""
    nbclient = pytest.importorskip("nbclient")
    path = write_notebook(tmp_path / "learner.ipynb", DENSE_BUGGY,
                          "from reference import check\n"
                          "check(DenseBuggy, twin='linear', in_features=32, out_features=10)")
    executed = nbclient.NotebookClient(nbformat.read(path, as_version=4), timeout=120, kernel_name="python3",
                                       resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = executed.cells[-1].outputs
    result = next(o for o in outputs if o.output_type == "execute_result")
    text = result.data["text/plain"]
    assert text.startswith("CheckReport FAIL: layer 0 (DenseBuggy 32->10) weight.grad: 320/320 elements outside "
                           "rtol=1.0e-12"), text
    assert "looks like: batch size too small" in text.splitlines()[0] and len(text.splitlines()) < 10, text
    page = result.data["text/html"]
    assert page.index("batch size too small") < page.index("<table>") and "#fde2e1" in page


def test_train_implementation_from_a_notebook(tmp_path, monkeypatch, synthetic, capsys):
    """compare.py train --implementation NB.ipynb:build: the sides in two processes (the default), so
    the notebook's classes cross into the scratch process and back as a .py file's do."""
    monkeypatch.setattr(train_cli, "load_dataset", lambda name, root, dtype, download: synthetic(dtype=dtype))
    path = write_notebook(tmp_path / "net.ipynb", "%load_ext autoreload", source("textbook"))
    code = cli.main(["--spec", "784-8-10", "--activation", "relu", "--epochs", "1", "--dtype", "float64",
                     "--no-progress", "--implementation", f"{path}:build"])
    out = capsys.readouterr().out
    assert code == train_cli.EXIT_AGREE and "AGREE" in out and "stored (in, out)" in out, out
