"""Reports as a notebook and a terminal show them: a gradient check, a training run and a grade table
each have a short repr (the verdict, then a row per part), str (the full table) and HTML (the verdict
first, the failing row highlighted, the hint); the run's figure is a matplotlib Figure drawn without
pyplot or a backend of its own, written as PNG, SVG or PDF."""

import sys

import pytest
from implementations.learner import DenseBuggy
from matplotlib.figure import Figure

import scratch_nn
from reference import check
from reference.display import FAIL_BACKGROUND
from reference.grading.folder import Row as GradedRow
from reference.grading.grades import Grades
from reference.grading.submission import GradeSettings, PartResult
from reference.training import figure as run_figure
from reference.training import summary
from reference.training.run import Run, TwinTraining
from reference.training.run_config import RunConfig

MAX_REPR_LINES = 12  # "a few lines": the verdict, a header, a row per part, the hint, how to see more


def test_a_failing_check_shows_its_verdict_first():
    report = check(DenseBuggy, twin="linear", in_features=32, out_features=10)
    text = repr(report)
    assert text.splitlines()[0] == ("CheckReport FAIL: layer 0 (DenseBuggy 32->10) weight.grad: 320/320 elements "
                                    "outside rtol=1.0e-12, atol=1.0e-12*max|torch|; looks like: batch size too small")
    assert "> layer 0    DenseBuggy 32->10  FAIL     weight.grad" in text
    assert len(text.splitlines()) <= MAX_REPR_LINES and "hint: N times too small" in text
    assert str(report) == report.table()
    page = report._repr_html_()
    assert page.index("batch size too small") < page.index("<table>") < page.index(FAIL_BACKGROUND)
    assert "N times too small" in page and "FIRST DISAGREEMENT" in page  # the hint; the full table folded


def test_a_passing_check_says_so_in_one_line():
    report = check(scratch_nn.Linear, twin="linear")
    assert repr(report).splitlines()[0] == ("CheckReport ok: every part agrees with torch and with finite "
                                            "differences (2 checked)")
    assert FAIL_BACKGROUND not in report._repr_html_() and "hint" not in repr(report)


@pytest.fixture
def run(synthetic):
    """A 2-epoch run of a small network on synthetic data, as a notebook would make one."""
    config = RunConfig(spec="784-8-10", epochs=2, dtype="float64", lr=0.5)
    return Run(config, list(TwinTraining(config, concurrency="sequential").epochs(synthetic(n_train=128))),
               "sequential")


def test_a_run_shows_its_verdict_and_a_row_per_epoch(run):
    text = repr(run)
    lines = text.splitlines()
    assert lines[0].startswith("Run: AGREE: the twins stayed within tolerance (1e-10 of each tensor's scale, float64)")
    assert [line.split()[0] for line in lines[2:4]] == ["1", "2"] and len(lines) <= MAX_REPR_LINES
    assert str(run).startswith(summary.HEADER) and "Step check: after every epoch" in str(run)
    assert run._repr_html_().index("AGREE") < run._repr_html_().index("<table>")


def test_the_figure_is_a_figure_drawn_without_pyplot(run, monkeypatch, tmp_path):
    """No pyplot (which would pick a backend) and no matplotlib.use: the caller's backend stays theirs."""
    import matplotlib

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # importing pyplot now raises ImportError
    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: pytest.fail("the figure chose a matplotlib backend"))
    figure = run_figure.plot(run)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 3
    loss = figure.axes[1]
    for axis in figure.axes:
        assert axis.get_xlabel() and axis.get_ylabel()
    steps = len(run.epochs[0].scratch.step_losses) * 2  # 128 examples in batches of 32, two epochs
    assert steps == 8 and [len(line.get_xdata()) for line in loss.get_lines()[:2]] == [steps, steps]  # each side
    assert "AGREE" in figure._suptitle.get_text() and "Step check: agreed" in figure._suptitle.get_text()
    for suffix, magic in ((".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")):
        run_figure.plot(run, tmp_path / f"run{suffix}")
        assert (tmp_path / f"run{suffix}").read_bytes().startswith(magic)
    with pytest.raises(ValueError, match=r"run.jpg: give a file name ending in .png, .svg, .pdf"):
        run_figure.plot(run, tmp_path / "run.jpg")


def test_the_grade_table_shows_its_verdict_and_the_first_reason():
    settings = GradeSettings()
    good = GradedRow("alice.py", None, {part: PartResult(True) for part in settings.parts})
    bad = GradedRow("bob.ipynb", None, {**good.parts, "linear": PartResult(False, "bias gradient averaged")})
    grades = Grades([good, bad], settings)
    lines = repr(grades).splitlines()
    assert lines[0] == "Grades: 1 of 2 submission(s) passed every part graded (activations sigmoid, relu; lr 0.2)"
    assert lines[3].startswith("> bob.ipynb   FAIL") and lines[-2] == "hint: bob.ipynb: linear: bias gradient averaged"
    assert str(grades).startswith("submission") and FAIL_BACKGROUND in grades._repr_html_()
