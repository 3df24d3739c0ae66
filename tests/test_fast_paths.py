"""The scratch side's fast paths compute exactly what the plain formulas compute:
bit for bit, in float32 and float64, so that no tolerance had to move. The comparisons with
torch (test_layers, test_network, test_edges) hold them to the measured tolerances as well."""

import numpy as np
import pytest

from scratch_nn import (
    Linear,
    QuadraticLoss,
    ReLU,
    Sequential,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    build_network,
)

DTYPES = [np.float64, np.float32]
SPECS = [("784-16-10", "sigmoid"), ("20-8-6-4", "relu,tanh"), ("5-3", "sigmoid")]


def rows(dtype, shape, scale=1.0, seed=0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def trained_pass(network, x, labels, **backward):
    loss = SoftmaxCrossEntropy()
    loss.forward(network.forward(x), labels)
    return network.backward(loss.backward(), **backward), network.grad_dict()


@pytest.mark.parametrize("spec,activation", SPECS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_skipping_the_first_input_gradient_leaves_every_parameter_gradient_identical(spec, activation, dtype):
    network = build_network(spec, activation, dtype=dtype)
    x, labels = rows(dtype, (7, network.layers[0].in_features)), np.arange(7) % network.layers[-1].out_features
    grad_input, grads = trained_pass(network, x, labels)
    skipped, skipped_grads = trained_pass(network, x, labels, input_grad=False)
    assert skipped is None and grad_input.shape == x.shape  # the default still returns dL/dx
    for key, value in grads.items():
        np.testing.assert_array_equal(skipped_grads[key], value, err_msg=key)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_the_two_branch_formula_bit_for_bit(dtype):
    x = rows(dtype, (64, 33), scale=30)
    x[0, :6] = [0.0, -0.0, 400.0, -400.0, np.inf, -np.inf]
    with np.errstate(under="ignore"):  # e^-400 underflows to 0 in float32, as it may
        e = np.exp(-np.abs(x))
        expected = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        np.testing.assert_array_equal(Sigmoid().forward(x), expected)


@pytest.mark.parametrize("make,plain", [
    (Sigmoid, lambda g, y: g * (1 - y) * y),
    (Tanh, lambda g, y: g * (1 - y * y)),
    (ReLU, lambda g, y: np.where(y > 0, g, 0).astype(g.dtype)),
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_backward_is_the_plain_formula_and_repeats(make, plain, dtype):
    """In-place arithmetic must leave the cache and the upstream gradient as they were: a second
    backward gives the same numbers."""
    layer, upstream = make(), rows(dtype, (9, 5), seed=1)
    output = layer.forward(rows(dtype, (9, 5), scale=3))
    first = layer.backward(upstream)
    np.testing.assert_array_equal(first, plain(upstream, output))
    np.testing.assert_array_equal(layer.backward(upstream), first)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_is_the_plain_formula(dtype):
    weight, bias, x, upstream = rows(dtype, (4, 6)), rows(dtype, (4,)), rows(dtype, (3, 6)), rows(dtype, (3, 4))
    layer = Linear(weight, bias)
    np.testing.assert_array_equal(layer.forward(x), x @ weight.T + bias)
    np.testing.assert_array_equal(layer.backward(upstream), upstream @ weight)
    np.testing.assert_array_equal(layer.grads["weight"], upstream.T @ x)


@pytest.mark.parametrize("labels", ["integer", "probabilities"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_is_the_plain_formula(labels, dtype):
    logits = rows(dtype, (8, 5), scale=10)
    target = np.arange(8) % 5 if labels == "integer" else np.full((8, 5), 0.2, dtype)
    targets = np.eye(5, dtype=dtype)[target] if labels == "integer" else target
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, target)
    picked = log_probs[np.arange(8), target] if labels == "integer" else (targets * log_probs).sum(axis=1)
    assert value == -picked.sum() / dtype(8)
    np.testing.assert_array_equal(loss.backward(), (np.exp(log_probs) - targets) / dtype(8))
    np.testing.assert_array_equal(loss.backward(), (np.exp(log_probs) - targets) / dtype(8))  # repeats


@pytest.mark.parametrize("dtype", DTYPES)
def test_squared_error_backward_repeats(dtype):
    loss, output = QuadraticLoss(), rows(dtype, (4, 3))
    loss.forward(output, np.array([0, 1, 2, 0]))
    np.testing.assert_array_equal(loss.backward(), loss.backward())


def test_a_first_layer_without_input_grad_is_called_the_plain_way():
    class OneArgumentLinear(Linear):  # a user's subclass that overrides backward(grad_output) only
        def backward(self, grad_output):
            return super().backward(grad_output)

    rng = np.random.default_rng(0)
    network = Sequential(OneArgumentLinear(rng.standard_normal((3, 5)), rng.standard_normal(3)), Sigmoid())
    network.forward(rng.standard_normal((4, 5)))
    assert network.backward(rng.standard_normal((4, 3)), input_grad=False).shape == (4, 5)
