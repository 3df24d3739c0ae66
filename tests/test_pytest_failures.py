"""reference.asserts as a user's pytest suite meets it: pytest's -ra summary line carries the verdict,
the traceback points at the user's line (not the library's), and rtol/atol/msg work as
torch.testing.assert_close's. The user's test files are run by pytest itself (pytester)."""

import pytest
from implementations.learner import DENSE_BUGGY, DenseBuggy

from reference.asserts import assert_layer_matches_torch

USERS_TEST = DENSE_BUGGY + '''

from reference.asserts import assert_layer_matches_torch


def test_dense():
    layer = DenseBuggy(32, 10)
    assert_layer_matches_torch(layer, "linear")  # the line pytest must point at
'''


@pytest.fixture
def users_run(pytester, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # the -ra line is cut at the terminal's width
    pytester.makepyfile(test_users=USERS_TEST)
    return pytester.runpytest("-ra", "-p", "no:cacheprovider")


def test_the_summary_line_is_the_verdict(users_run):
    users_run.assert_outcomes(failed=1)
    summary = next(line for line in users_run.outlines if line.startswith("FAILED test_users.py::test_dense"))
    assert summary.endswith("AssertionError: layer 0 (DenseBuggy 32->10) weight.grad: 320/320 elements outside "
                            "rtol=1.0e-12, atol=1.0e-12*max|torch|; looks like: batch size too small"), summary


def test_the_traceback_points_at_the_users_line(users_run):
    line = USERS_TEST.splitlines().index('    assert_layer_matches_torch(layer, "linear")  # the line pytest must '
                                         'point at') + 1
    users_run.stdout.fnmatch_lines(['>       assert_layer_matches_torch(layer, "linear")*',
                                    "E       AssertionError: layer 0*",
                                    f"test_users.py:{line}: AssertionError"])
    output = users_run.stdout.str()
    assert "reference/asserts.py" not in output and "def assert_ok" not in output, output


def test_details_follow_and_the_conventions_come_last(users_run):
    message = [line[8:] for line in users_run.outlines if line.startswith("E       ")]
    assert message[0].startswith("AssertionError: layer 0 (DenseBuggy 32->10)")
    assert any(line.startswith("FIRST DISAGREEMENT: layer 0, DenseBuggy") for line in message)
    assert message[-2:] == ["Conventions found (each can be given explicitly):",
                            message[-1]] and message[-1].startswith("  layer 0: DenseBuggy (linear)"), message


def test_rtol_atol_replace_the_tolerance_and_msg_goes_first():
    with pytest.raises(AssertionError) as error:
        assert_layer_matches_torch(DenseBuggy(6, 4), "linear", rtol=0.5, atol=0.0, msg="my Dense")
    first = str(error.value).splitlines()[0]
    # the weight gradient is 1/8 of torch's (batch 8): every element 0.875 off, outside rtol 0.5
    assert first.startswith("my Dense: layer 0 (DenseBuggy 6->4) weight.grad: 24/24 elements outside rtol=5.0e-01, "
                            "atol=0.0e+00*max|torch|"), first
    # rtol 0.9 takes the wrong gradient (0.875 off) against torch; finite differences, which keep their
    # own tolerance, still refuse it: no false pass
    with pytest.raises(AssertionError) as error:
        assert_layer_matches_torch(DenseBuggy(6, 4), "linear", rtol=0.9, atol=0.0, msg=str.upper)
    assert str(error.value).startswith("LAYER 0 (DENSEBUGGY 6->4) WEIGHT.GRAD AGAINST FINITE DIFFERENCES: 20/20 "
                                       "ELEMENTS OUTSIDE RTOL=1.0E-08"), str(error.value)  # msg as a function: its text


def test_rtol_without_atol_is_refused():
    with pytest.raises(ValueError, match="give rtol and atol together"):
        assert_layer_matches_torch(object, "linear", rtol=1e-3)
