"""--network and --engine submissions that try to forge their marks: by patching the grader's modules
in their worker, or by answering the grader's requests with numbers of the right shape that their
code did not compute. The check runs in the grader (reference.grading.remote_kinds), so each gets
exactly the marks its code earns: a real mistake still fails, made-up numbers fail, and the honest
submissions beside them keep full marks. Graded code that imports torch is refused in these kinds too."""

import re

import numpy as np
import pytest
from test_grading import marks
from test_grading_kinds import MICROGRAD, NIELSEN, graded

from reference.adapters.whole_network import NetworkConventions
from reference.grading.remote_kinds import Malformed, given_flags_kept, number, numbers
from reference.grading.worker import as_numbers

MISTAKE = NIELSEN + "\nNetwork = DerivativeAtActivation\n"  # graded alone: "ok FAIL FAIL FAIL 1/4"
OVERWRITES = MICROGRAD.replace(".grad += ", ".grad = ")      # graded alone: the marks of OVERWRITTEN below
OVERWRITTEN = "FAIL FAIL ok ok FAIL FAIL ok ok ok ok ok ok ok n/a n/a FAIL FAIL FAIL 9/16"

PATCH_THE_GRADER = '''
import reference.comparison
reference.comparison.compare = lambda *a, **k: None
for name in ("reference.gradcheck.{check}", "reference.grading.submission", "reference.grading.kinds"):
    try:
        module = __import__(name, fromlist=["x"])
    except ImportError as error:
        print("cannot patch", name, type(error).__name__)
        continue
    for attribute in ("judge", "{function}", "compare"):
        setattr(module, attribute, lambda *a, **k: None)
    print("patched", name)
'''
MADE_UP_GRADIENTS = '''
import numpy as np
from reference.adapters.whole_network_side import LocalWholeNetwork
def _made_up(self, X, targets):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal(w.shape), rng.standard_normal(b.shape)) for w, b in self.parameters()], None
LocalWholeNetwork.gradients = _made_up
'''
WRONG_SHAPES = '''
import numpy as np
from reference.adapters.whole_network_side import LocalWholeNetwork
LocalWholeNetwork.parameters = lambda self: [(np.zeros((1, 1)), np.zeros(1))] * 2
'''
MADE_UP_NUMBERS = '''
from reference.adapters.engine import LocalEngine, LocalMLP
import numpy as np
LocalEngine.run = lambda self, text, values: (np.float64(0.5), [np.float64(1.0)] * len(values))
LocalEngine.forward = lambda self, text, values: 0.5
_run = LocalMLP.run
LocalMLP.run = lambda self, values, xs, ys: {**_run(self, values, xs, ys), "grads": np.ones(len(self.params))}
'''
IMPORTS_TORCH = "import torch\n"

NETWORKS = {  # name: (source, expected marks: forward, layer 1, layer 0, optimizer, score)
    "honest.py": (NIELSEN, "ok ok ok ok 4/4"),
    "patches_the_grader.py": (PATCH_THE_GRADER.format(check="whole_network", function="check_whole_network")
                              + MISTAKE, "ok FAIL FAIL FAIL 1/4"),  # the marks of its mistake, no better
    "made_up_gradients.py": (MADE_UP_GRADIENTS + NIELSEN, "ok FAIL FAIL ok 2/4"),  # its update is its own: right
    "wrong_shapes.py": (WRONG_SHAPES + NIELSEN, "- - - - 0/4"),
    "imports_torch.py": (IMPORTS_TORCH + NIELSEN, "- - - - 0/4"),
}
ENGINES = {  # name: (source, expected marks in OPERATIONS' order, then MLP, score)
    "honest.py": (MICROGRAD, "ok ok ok ok ok ok ok ok ok ok ok ok ok n/a n/a ok ok ok 16/16"),
    "patches_the_grader.py": (PATCH_THE_GRADER.format(check="engine", function="check_engine") + OVERWRITES,
                              OVERWRITTEN),
    "made_up_numbers.py": (MADE_UP_NUMBERS + MICROGRAD,
                           "FAIL FAIL FAIL FAIL FAIL FAIL FAIL FAIL FAIL FAIL FAIL FAIL FAIL n/a n/a FAIL FAIL FAIL "
                           "0/16"),
    "imports_torch.py": (IMPORTS_TORCH + MICROGRAD, " ".join(["-"] * 18) + " 0/18"),
}


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    return graded(tmp_path_factory.mktemp("networks"), NETWORKS, "--network", "Network")


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    return graded(tmp_path_factory.mktemp("engines"), ENGINES, "--engine", "Value")


def rows(record) -> dict:
    return {s["name"]: s for s in record["submissions"]}


@pytest.mark.parametrize("name", NETWORKS)
def test_a_network_gets_the_marks_its_code_earns_whatever_it_patches(name, networks):
    assert marks(rows(networks[2])[name]) == NETWORKS[name][1], rows(networks[2])[name]


@pytest.mark.parametrize("name", ENGINES)
def test_an_engine_gets_the_marks_its_code_earns_whatever_it_patches(name, engines):
    assert marks(rows(engines[2])[name]) == ENGINES[name][1], rows(engines[2])[name]


def test_the_checker_and_the_grader_are_not_in_the_worker(networks, engines):
    """What the patching submissions printed: neither the checks nor the grading modules can be imported
    there, so nothing they patch is what judges them."""
    for record in (networks[2], engines[2]):
        printed = rows(record)["patches_the_grader.py"]["output"]
        assert "cannot patch reference.gradcheck." in printed and "patched" not in printed.replace("cannot patch", "")
        assert "cannot patch reference.grading.submission" in printed, printed


def test_what_the_worker_cannot_answer_is_a_reason_and_torch_is_refused(networks, engines):
    network, engine = rows(networks[2]), rows(engines[2])
    assert "its worker sent 0.weight of shape (1, 1)" in network["wrong_shapes.py"]["problem"], network
    for row in (network["imports_torch.py"], engine["imports_torch.py"]):
        assert "No module named 'torch'" in row["problem"], row
    assert "disagree" in engine["made_up_numbers.py"]["parts"]["__add__"]["reason"]


def test_answers_are_read_only_as_numbers_of_the_shape_asked_for():
    values = {"a": np.ones((2, 3)), "one": np.array([2.0]), "flag": np.array(True)}
    assert numbers(values, "a", (2, 3)).dtype == np.float64 and number(values, "one") == 2.0
    for call in (lambda: numbers(values, "a", (3, 2)), lambda: numbers(values, "missing"),
                 lambda: number(values, "a"), lambda: numbers({"a": "text"}, "a")):
        with pytest.raises(Malformed):
            call()


@pytest.mark.parametrize("value,said", [("3", "a str"), ([[1.0], [2.0, 3.0]], "a list"),
                                        (np.array([None, 1.0]), "an array of object of shape (2,)")])
def test_the_worker_sends_only_arrays_of_numbers(value, said):
    """What the submission's code returned, refused in the worker where the judges could not measure it."""
    with pytest.raises(TypeError, match="^" + re.escape(f"forward returned {said}, not an array of numbers") + "$"):
        as_numbers(value, "forward returned")
    assert as_numbers(None, "the loss value") is None
    np.testing.assert_array_equal(as_numbers(np.array([True, False]), "a mask"), [True, False])


def nielsen_conventions(**changes) -> dict:
    found = {"weights": ["weights[0]", "weights[1]"], "biases": ["biases[0]", "biases[1]"], "layout": "out_in",
             "bias_shape": "column", "batching": "example", "forward": "feedforward", "gradients": "backprop",
             "gradients_call": "data", "targets": "one_hot", "activations": ["sigmoid", "sigmoid"],
             "loss": "quadratic", "reduction": "mean", "update": "update_mini_batch", "update_lr": "eta"}
    return {**found, **changes}


@pytest.mark.parametrize("changes", [{"loss": "hinge"}, {"activations": ["sigmoid"]}, {"forward": "__import__('os')"},
                                     {"weights": ["weights[0]"]}, {"update": "step", "update_lr": None},
                                     {"layout": ["out_in"]}, {"extra": 1}])
def test_conventions_from_the_worker_are_only_ones_that_can_be(changes):
    assert NetworkConventions.from_dict(nielsen_conventions(), 2).loss == "quadratic"  # the control
    with pytest.raises(ValueError, match="conventions"):
        NetworkConventions.from_dict(nielsen_conventions(**changes), 2)


def test_conventions_from_the_worker_must_be_the_flags_the_teacher_gave():
    found = NetworkConventions.from_dict(nielsen_conventions(), 2)
    given_flags_kept(found, {"cost": "quadratic", "activation": "sigmoid", "layout": None})
    for given in ({"cost": "cross_entropy"}, {"activation": "relu"}, {"output_activation": "softmax"},
                  {"batching": "rows"}):
        with pytest.raises(Malformed, match="was given"):
            given_flags_kept(found, given)
