"""check()'s keywords sorted once by whom they are for (reference.gradcheck.options): the checker's
options, the adapters' conventions, a functional pair's settings; anything else refused in one line."""

import inspect

import numpy as np
import pytest

from reference.gradcheck import check, check_network
from reference.gradcheck.options import CHECKER_OPTIONS, CheckOptions, sort_keywords


class Dense:
    """A layer in its own conventions: weights stored (in, out), gradients as attributes."""

    def __init__(self, n_in, n_out):
        rng = np.random.default_rng(0)
        self.weights, self.biases = rng.standard_normal((n_in, n_out)), np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.weights + self.biases

    def backward(self, grad):
        self.dweights, self.dbiases = self.x.T @ grad, grad.sum(axis=0)
        return grad @ self.weights.T


def test_the_checkers_options_are_check_networks_keywords():
    takes = set(inspect.signature(check_network).parameters) - {"network", "x", "target", "twins"}
    assert set(CHECKER_OPTIONS) == takes


def test_keywords_are_sorted_by_whom_they_are_for():
    given = sort_keywords({"lr": 0.05, "layout": "in_out", "kernel": 3, "stride": None})
    assert (given.options.lr, given.options.given) == (0.05, {"lr"})
    assert (given.conventions, given.settings) == ({"layout": "in_out"}, {"kernel": 3})


def test_an_unknown_keyword_is_one_line_naming_the_known_ones():
    with pytest.raises(TypeError, match=r"^check\(\) got the unknown keyword 'layuot'; it takes the checker's "
                                        r"loss, optimizer, lr, .* the conventions .*layout.* settings in_shape"):
        check(Dense, twin="linear", layuot="in_out")


def test_what_is_not_given_is_the_adapted_subjects_own():
    options = CheckOptions.of(loss=None, seed=3)
    defaulted = options.defaulted(loss="its loss", optimizer="its update", lr=0.2)
    assert (defaulted.loss, defaulted.optimizer, defaulted.lr, defaulted.seed) == (None, "its update", 0.2, 3)


def test_an_adapted_layer_is_checked_with_the_options_given():
    report = check(Dense, twin="linear", in_features=5, out_features=3, seed=4, batch_size=6, optimizer=None)
    assert report.ok, report.table()
    assert (report.settings["seed"], report.settings["batch_size"]) == (4, 6)
    assert [part.kind for part in report.parts] == ["layer"]  # optimizer=None: no step checked
