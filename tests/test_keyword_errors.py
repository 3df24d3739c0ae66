"""An error that names the keyword settling it carries the keyword as data: a caller of the library
reads the keyword ("layout="), a command line's user its flag ("--layout"), and nothing in the
user's own words is taken for a keyword."""

import pickle

import pytest

from reference.adapters.errors import ConventionError, Keyword, KeywordError
from reference.adapters.keywords import LAYER
from reference.adapters.loader import ImplementationError
from reference.cli import main as cli
from reference.gradcheck import check

LAYERS = '''
import numpy as np


class Unbuildable:
    """Whatever it is built with, it refuses, in words that look like a keyword argument."""

    def __init__(self, *args):
        raise ValueError("layout=sideways is not how I am built")

    def forward(self, x):
        return x

    def backward(self, grad):
        return grad


class SquareLinear:
    """A linear layer whose square weight cannot tell (out, in) from (in, out)."""

    def __init__(self, n_in, n_out):
        self.W = np.ones((n_in, n_out))
        self.b = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        self.dW, self.db = self.x.T @ grad, grad.sum(axis=0)
        return grad @ self.W.T
'''


@pytest.fixture
def layers(tmp_path, monkeypatch):
    (tmp_path / "kw_layers.py").write_text(LAYERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path / "kw_layers.py"


def test_the_keyword_is_spelled_for_the_reader():
    error = ConventionError("give ", Keyword("layout"), "'in_out' or ", Keyword("lr"), "; or ", Keyword("seed"))
    assert str(error) == "give layout='in_out' or lr=; or seed="
    assert error.keywords == ("layout", "lr", "seed")
    # A flag takes its value as the next word; a keyword without a flag keeps its spelling.
    assert error.worded({"layout": "--layout", "lr": "--lr"}) == "give --layout 'in_out' or --lr; or seed="


def test_a_quoted_error_keeps_its_keywords_and_a_copy_keeps_them_too():
    inner = ConventionError("give ", Keyword("bias_shape"), " one of them")
    outer = ImplementationError("the layers build returned cannot be read: ", inner)
    assert isinstance(outer, KeywordError) and outer.keywords == ("bias_shape",)
    copied = pickle.loads(pickle.dumps(outer))  # a worker's error crosses a process boundary
    assert type(copied) is ImplementationError
    assert copied.worded(LAYER) == "the layers build returned cannot be read: give --bias-shape one of them"


def test_the_library_names_the_keyword_and_the_command_line_the_flag(layers, capsys):
    import kw_layers

    with pytest.raises(ConventionError) as raised:
        check(kw_layers.SquareLinear, twin="linear", in_features=4, out_features=4)
    assert "give layout='out_in'" in str(raised.value) and raised.value.keywords == ("layout",)
    assert cli.main(["check", "layer", f"{layers}:SquareLinear", "--in", "4", "--out", "4"]) == 2
    err = capsys.readouterr().err
    assert "give --layout 'out_in'" in err and "layout=" not in err, err


def test_the_users_own_words_are_never_made_flags(layers, capsys):
    """The constructor's message says "layout=": it is quoted as it is; only the keyword the checker
    names (factory=) becomes a flag."""
    assert cli.main(["check", "layer", f"{layers}:Unbuildable", "--twin", "linear"]) == 2
    err = capsys.readouterr().err
    assert "ValueError: layout=sideways is not how I am built" in err and "--layout" not in err, err
    assert "Pass an instance, or --factory (called as" in err, err
