"""The one guard around calls into the user's code (reference.adapters.user_code): what the code
raised, or a sys.exit, leaves as data and is said in one line where the call was."""

import numpy as np
import pytest

from reference.adapters.loader import ImplementationError, load_module
from reference.adapters.user_code import Raised, UserCodeError, guarded
from reference.gradcheck import check


def test_what_the_code_raised_is_data():
    with pytest.raises(UserCodeError) as raised:
        with guarded("build(sizes=[4, 2])"):
            {}["W1"]
    assert raised.value.raised == Raised("build(sizes=[4, 2])", "KeyError", "'W1'")
    assert str(raised.value) == "build(sizes=[4, 2]) raised KeyError: 'W1'"
    assert isinstance(raised.value.__cause__, KeyError)  # the original, for a caller that tells types apart


def test_a_sys_exit_is_caught_and_said_as_one():
    with pytest.raises(UserCodeError) as raised:
        with guarded("forward"):
            raise SystemExit(3)
    assert raised.value.raised.exited and str(raised.value) == "forward called sys.exit(3)"


def test_ctrl_c_is_never_the_users_code_and_passes_through():
    with pytest.raises(KeyboardInterrupt):
        with guarded("forward"):
            raise KeyboardInterrupt


def test_the_innermost_call_is_the_one_named():
    with pytest.raises(UserCodeError, match=r"^the loss's forward raised ValueError: bad$"):
        with guarded("the step"), guarded("the loss's forward"):
            raise ValueError("bad")


def test_a_module_that_exits_on_import_is_one_line_with_the_fix(tmp_path):
    path = tmp_path / "exits.py"
    path.write_text("import sys\nsys.exit(2)\n")
    with pytest.raises(ImplementationError, match=rf"^importing {path} called sys.exit\(2\); a module to check "
                                                  r"must not exit when imported \(put its script part under"):
        load_module(path)


class ExitingBackward:
    """A layer in scratch_nn's interface whose backward ends the process."""

    torch_twin = "sigmoid"

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, grad):
        raise SystemExit(3)


def test_a_layer_that_exits_fails_its_own_part_and_the_check_goes_on():
    report = check(ExitingBackward())
    assert not report.ok
    assert [part.error for part in report.parts] == ["backward called sys.exit(3)"]
