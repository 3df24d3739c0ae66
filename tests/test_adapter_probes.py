"""How reference.adapters finds conventions: what is ambiguous stops with an error naming the option
that resolves it, the options override the probes, params writes reach the user's storage, and
the pytest assertions carry the checker's table."""

import json

import numpy as np
import pytest
from implementations import columns, functional, textbook
from implementations.ambiguous import Projection, Squash, StepLinear, UnnamedReLU

from reference.adapters import (
    ConventionError,
    InBackwardUpdate,
    adapt_layer,
    adapt_loss,
    adapt_network,
)
from reference.asserts import assert_layer_matches_torch, assert_network_matches_torch
from reference.gradcheck import check


class DoubledLoss(textbook.CrossEntropy):
    """Twice the cross-entropy (and its gradient): matches no reduction of the loss."""

    def forward(self, logits, one_hot):
        return 2 * super().forward(logits, one_hot)

    def backward(self, logits, one_hot):
        return 2 * super().backward(logits, one_hot)


@pytest.mark.parametrize("make, twin, option", [
    (lambda: textbook.Linear(5, 5, 0.1), "linear", "layout="),
    (lambda: Projection(6, 4), "linear", "weight="),
    (lambda: StepLinear(6, 4), "linear", "lr="),
    (lambda: UnnamedReLU(), "relu", "backward="),
    (lambda: Squash(), None, "twin="),
], ids=["square weight", "two weight candidates", "learning rate not found", "backward arguments", "twin"])
def test_ambiguity_is_an_error_naming_the_option(make, twin, option):
    with pytest.raises(ConventionError, match=option):
        adapt_layer(make(), twin)


@pytest.mark.parametrize("make, twin, options", [
    (lambda: textbook.Linear(5, 5, 0.1), "linear", {"layout": "in_out"}),
    (lambda: Projection(6, 4), "linear", {"weight": "M"}),
    (lambda: StepLinear(6, 4), "linear", {"lr": 0.1}),
    (lambda: UnnamedReLU(), "relu", {"backward": "x,grad"}),
], ids=["square weight", "two weight candidates", "learning rate not found", "backward arguments"])
def test_the_option_resolves_it(make, twin, options):
    assert assert_layer_matches_torch(make(), twin, **options).ok


def test_a_loss_matching_no_reduction_is_an_error_until_stated():
    with pytest.raises(ConventionError, match="reduction="):
        adapt_loss(DoubledLoss(), "cross_entropy")
    loss = adapt_loss(DoubledLoss(), "cross_entropy", targets="one_hot", reduction="none", gradient_of="mean")
    report = check(adapt_network(textbook.network((12, 7, 5))[0], loss, in_features=12))
    assert report.first_failure.kind == "loss" and "factor 2 too big" in report.first_failure.signatures


def half_squared_error(a, t):
    return 0.5 * ((a - t) ** 2).sum() / len(a), (a - t) / len(a)


def mean_of_squares(a, t):
    """torch.nn.MSELoss's mean over every entry, without the 1/2: not the twin's 1/(2n) sum."""
    return ((a - t) ** 2).mean(), 2 * (a - t) / a.size


def sigmoid_network():
    layers, _ = textbook.network((12, 7, 5), activation=textbook.Sigmoid)
    return [*layers, textbook.Sigmoid()]


def test_squared_error_returning_value_and_gradient():
    adapted = adapt_network(sigmoid_network(), half_squared_error, loss_twin="mse", in_features=12,
                            loss_conventions={"targets": "one_hot"})
    assert "returns the batch mean; the same call returns (loss, gradient)" in adapted.describe()
    assert check(adapted).ok


def test_a_different_squared_error_is_refused_then_judged():
    with pytest.raises(ConventionError, match=r"squared errors 1/2 \|\|a - t\|\|\^2.*reduction="):
        adapt_loss(mean_of_squares, "mse")
    loss = adapt_loss(mean_of_squares, "mse", targets="one_hot", reduction="mean")
    report = check(adapt_network(sigmoid_network(), loss, in_features=12))
    assert [part.kind for part in report.failures] == ["loss"]


def test_explicit_conventions_are_what_the_probes_find():
    found = adapt_layer(textbook.Linear, "linear").conventions
    given = adapt_layer(textbook.Linear, "linear", weight="weights", bias="biases", layout="in_out",
                        bias_shape="row", backward="x,grad", gradients="update", lr=0.1).conventions
    assert given.describe() == found.describe()


def test_a_learning_rate_given_must_be_the_one_the_layer_applies():
    with pytest.raises(ConventionError, match="holds lr 0.1 in .learning_rate, but lr=0.2"):
        adapt_layer(textbook.Linear(6, 4, 0.1), "linear", lr=0.2)


def test_unknown_convention_or_value_is_refused():
    with pytest.raises(TypeError, match="unknown conventions"):
        adapt_layer(textbook.Linear, "linear", weights_at="weights")
    with pytest.raises(ValueError, match="layout='inout' is not one of"):
        adapt_layer(textbook.Linear, "linear", layout="inout")
    with pytest.raises(ValueError, match="reduction='average' is not one of"):
        adapt_loss(textbook.CrossEntropy(), "cross_entropy", reduction="average")


def test_params_writes_reach_the_users_storage():
    layer = adapt_layer(textbook.Linear(6, 4, 0.1), "linear")
    rng = np.random.default_rng(0)
    weight, bias, x = rng.standard_normal((4, 6)), rng.standard_normal(4), rng.standard_normal((3, 6))
    layer.params["weight"][...] = weight
    layer.params["bias"] = bias                  # replaced, as gradcheck's float64 copy does
    np.testing.assert_array_equal(layer.forward(x), x @ weight.T + bias)
    np.testing.assert_array_equal(layer.user.weights, weight.T)


def test_the_update_must_use_the_layers_learning_rate():
    network = adapt_network(textbook.network((12, 7, 5), lr=0.05)[0], in_features=12).network
    with pytest.raises(ValueError, match="use lr=0.05"):
        InBackwardUpdate(network, 0.1)


def test_textbook_conventions_block():
    layers, loss = textbook.network()
    block = adapt_network(layers, loss, loss_twin="cross_entropy", in_features=784).describe()
    assert "weights in `.weights`, stored (in, out), used as x @ W" in block
    assert "updates `.weights`/`.biases` with lr 0.1 (`.learning_rate`); gradients recovered from the update" in block
    assert "one value per example" in block and "the gradient is of their mean" in block
    found = json.loads(json.dumps(adapt_network(layers, loss, loss_twin="cross_entropy", in_features=784).to_dict()))
    assert found["layers"][0]["layout"] == "in_out" and found["update"] == {"inside_backward": True, "lr": 0.1}


def test_functional_pair_without_arrays_gets_fresh_ones():
    report = assert_layer_matches_torch((functional.affine_forward, functional.affine_backward), "linear",
                                        in_features=6, out_features=4)
    assert report.ok


def test_network_object_holding_its_layers():
    class Net:
        def __init__(self):
            self.layers, self.loss = textbook.network((12, 7, 5))

    net = Net()
    assert assert_network_matches_torch(net, net.loss, loss_twin="cross_entropy", in_features=12).ok


def test_the_checkers_options_reach_the_checker():
    layers, loss = textbook.network((12, 7, 5))
    report = assert_network_matches_torch(layers, loss, loss_twin="cross_entropy", in_features=12, batch_size=3,
                                          optimizer_steps=2, fd_samples=4)
    assert (report.settings["batch_size"], report.settings["fd_samples"]) == (3, 4)


def test_assertion_carries_the_verdict_first_and_the_conventions_last():
    layers, loss = textbook.network((12, 7, 5), activation=textbook.ReLUOpenAtZero)
    with pytest.raises(AssertionError) as error:
        assert_network_matches_torch(layers, loss, loss_twin="cross_entropy", in_features=12)
    message = str(error.value)
    assert message.startswith("layer 1 (ReLUOpenAtZero) grad_input: ") and "looks like: derivative at exactly 0" in \
        message.splitlines()[0], message
    assert "FIRST DISAGREEMENT: layer 1, ReLUOpenAtZero" in message
    assert message.index("FIRST DISAGREEMENT") < message.index("Conventions found") and \
        message.splitlines()[-1].startswith("  update: inside backward"), message
    with pytest.raises(AssertionError, match="derivative at exactly 0"):
        assert_layer_matches_torch(textbook.ReLUOpenAtZero, "relu")


class UpdatesFirst(textbook.Linear):
    """Updates the weights, then computes dL/dx with the new ones."""

    def backward(self, x, prev_grad):
        self.weights = self.weights - self.learning_rate * (x.T @ prev_grad)
        self.biases = self.biases - self.learning_rate * prev_grad.sum(axis=0, keepdims=True)
        return prev_grad @ self.weights.T


def test_update_before_the_input_gradient_is_caught_at_the_input_gradient_and_named():
    """The twin is found from the base class's name; the gradient recovered from the update is right,
    dL/dx is not, and the checker, reading what the update left (layer.updated), names it."""
    layers, loss = textbook.network((12, 7, 5), linear=UpdatesFirst)
    report = check(adapt_network(layers, loss, loss_twin="cross_entropy", in_features=12))
    assert [(part.index, part.failing) for part in report.failures] == [(0, ["0.grad_input"]), (2, ["2.grad_input"])]
    assert all(part.signatures == ["weights updated before the input gradient"] for part in report.failures)


class ShapedLinear(textbook.Linear):
    """Built from a shape tuple, which none of the constructors tried fits."""

    def __init__(self, shape):
        super().__init__(*shape, learning_rate=0.1)


def test_a_constructor_no_probe_fits_needs_a_factory():
    with pytest.raises(ConventionError, match="factory="):
        adapt_layer(ShapedLinear, "linear")
    factory = lambda n_in, n_out: ShapedLinear((n_in, n_out))  # noqa: E731  (a one-line factory, as a user writes it)
    assert assert_layer_matches_torch(ShapedLinear, "linear", factory=factory).ok


def test_a_square_layer_takes_the_layout_of_its_class_elsewhere_in_the_network():
    layers, loss = textbook.network((12, 7, 7, 5))
    adapted = adapt_network(layers, loss, loss_twin="cross_entropy", in_features=12)
    assert [layer.conventions.layout for layer in adapted.network.layers[::2]] == ["in_out"] * 3
    assert check(adapted).ok


class AccumulatingColumns(columns.FullyConnected):
    """Per example, adds its gradient to dW and db (zeroed by the user's loop once per batch)."""

    def __init__(self, n_in, n_out, rng=None):
        super().__init__(n_in, n_out, rng)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)

    def backward(self, delta):
        self.dW += delta @ self.x.T
        self.db += delta
        return self.W.T @ delta


def test_per_example_gradients_accumulated_with_plus_equals():
    layers, loss = columns.network((12, 7, 5), layer=AccumulatingColumns)
    adapted = adapt_network(layers, loss, loss_twin="cross_entropy", in_features=12)
    assert "one example at a time" in adapted.describe() and "gradients in `.dW`, `.db`" in adapted.describe()
    assert check(adapted).ok
