"""Edge cases where implementations commonly part ways with PyTorch, and inputs that must be refused."""

import re

import numpy as np
import pytest
from both_sides import assert_twins_agree
from scipy.special import logsumexp, softmax

from reference import tolerances
from scratch_nn import (
    SGD,
    Linear,
    QuadraticLoss,
    ReLU,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    build_network,
)


def test_logits_of_1000_give_finite_loss_and_gradient(dtype):
    """Softmax without the max shift computes e^1000 = Inf; both sides must stay finite and match
    a float64 log-sum-exp computed independently (scipy)."""
    logits = np.array([[1000, -1000, 0], [-1000, 1000, 999], [1000, 1000, -1000]], dtype=dtype)
    labels = np.array([0, 2, 1])
    assert_twins_agree([], logits, labels, SoftmaxCrossEntropy())  # includes "not finite" checks on both sides
    loss = SoftmaxCrossEntropy()
    logits64 = logits.astype(np.float64)
    expected = np.mean(logsumexp(logits64, axis=1) - logits64[np.arange(3), labels])
    expected_grad = (softmax(logits64, axis=1) - np.eye(3)[labels]) / 3
    np.testing.assert_allclose(loss.forward(logits, labels), expected, rtol=tolerances.for_dtype(dtype).rtol)
    np.testing.assert_allclose(loss.backward(), expected_grad, rtol=0, atol=tolerances.for_dtype(dtype).atol)


def test_relu_at_exactly_zero_follows_pytorch():
    """PyTorch takes the derivative of ReLU at 0 to be 0; an implementation using x >= 0 gives 1."""
    x = np.array([[0.0, -0.0, 1e-300, -1e-300, 2.0]])
    upstream = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    assert_twins_agree([ReLU()], x, upstream=upstream)
    relu = ReLU()
    relu.forward(x)
    np.testing.assert_array_equal(relu.backward(upstream), [[0.0, 0.0, 3.0, 0.0, 5.0]])


def test_sigmoid_and_tanh_at_400(dtype):
    """e^400 overflows float32 (and e^800 float64): the sigmoid must not compute it."""
    x = np.array([[-400.0, 400.0, -40.0, 40.0, 0.0]], dtype=dtype)
    upstream = np.ones_like(x) * 0.5
    for layer in (Sigmoid, Tanh):
        with np.errstate(over="raise", invalid="raise"):  # an overflow, even a hidden one, fails
            assert_twins_agree([layer()], x, upstream=upstream)
    tiny = 0.0 if dtype == np.float32 else np.exp(-400.0)  # e^-400 is 1.9e-174 in float64, 0 in float32
    np.testing.assert_allclose(Sigmoid().forward(x)[0, :2], [tiny, 1.0], rtol=1e-15)


@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy, QuadraticLoss])
def test_one_hot_and_integer_labels_agree_exactly(loss, dtype):
    rng = np.random.default_rng(0)
    output = rng.standard_normal((6, 4)).astype(dtype)
    labels = rng.integers(0, 4, 6)
    by_label, by_one_hot = loss(), loss()
    assert by_label.forward(output, labels) == by_one_hot.forward(output, np.eye(4, dtype=dtype)[labels])
    np.testing.assert_array_equal(by_label.backward(), by_one_hot.backward())


@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy, QuadraticLoss])
def test_sum_reduction_is_batch_size_times_mean(loss):
    rng = np.random.default_rng(0)
    output, labels = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    mean, total = loss("mean"), loss("sum")
    np.testing.assert_allclose(total.forward(output, labels), 5 * mean.forward(output, labels), rtol=1e-15)
    np.testing.assert_allclose(total.backward(), 5 * mean.backward(), rtol=1e-15)


def test_paper_squared_error_value():
    """L = 1/(2n) sum ||t - a||^2, by hand."""
    a = np.array([[0.5, 0.25], [1.0, 0.0]])
    assert QuadraticLoss().forward(a, np.array([0, 0])) == ((0.5**2 + 0.25**2) + (0 + 0)) / (2 * 2)


def test_nothing_is_upcast(dtype):
    network = build_network("6-5-3", "sigmoid", dtype=dtype)
    x = np.random.default_rng(0).random((4, 6)).astype(dtype)
    loss = SoftmaxCrossEntropy()
    output = network.forward(x)
    value = loss.forward(output, np.array([0, 1, 2, 0]))
    network.backward(loss.backward())
    SGD(network, 0.1).step()
    assert output.dtype == dtype and value.dtype == dtype
    assert {g.dtype for g in network.grad_dict().values()} == {np.dtype(dtype)}
    assert {p.dtype for p in network.state_dict().values()} == {np.dtype(dtype)}


# Bad input: a clear error naming the problem and the fix.
@pytest.mark.parametrize("call,error,words", [
    (lambda n: n.forward(np.ones((2, 6), np.float32)), TypeError, "float64 parameters but got a float32 input"),
    (lambda n: n.forward(np.ones((2, 7))), ValueError, "expects 6 features"),
    (lambda n: n.forward(np.ones(6)), ValueError, "2-D array"),
    (lambda n: n.forward(np.ones((2, 6), int)), TypeError, "float32 or float64"),
    (lambda n: n.forward(np.full((2, 6), np.nan)), ValueError, "NaN or Inf (first at index [0, 0])"),
    (lambda n: n.backward(np.ones((2, 3))), RuntimeError, "backward was called before forward"),
])
def test_bad_network_input_is_refused_clearly(call, error, words):
    with pytest.raises(error, match=re.escape(words)):
        call(build_network("6-5-3", "sigmoid"))


@pytest.mark.parametrize("target,error,words", [
    (np.array([0, 3]), ValueError, "label 3 at position 1 is out of range: .* 0..2"),
    (np.array([0, -1]), ValueError, "label -1"),
    (np.array([0.0, 1.0]), TypeError, "class labels must be integers"),
    (np.array([0, 1, 2]), ValueError, "got 3 labels for a batch of 2"),
    (np.eye(3, dtype=np.float32)[:2], TypeError, "one-hot targets are float32 but the output is float64"),
    (np.ones((2, 4)), ValueError, "one-hot rows of shape \\(2, 3\\)"),
])
def test_bad_targets_are_refused_clearly(target, error, words):
    with pytest.raises(error, match=words):
        SoftmaxCrossEntropy().forward(np.zeros((2, 3)), target)


def test_overflowed_output_is_refused_by_the_loss():
    with pytest.raises(FloatingPointError, match="not finite .* lower the learning rate"):
        SoftmaxCrossEntropy().forward(np.array([[np.inf, 0.0]]), np.array([0]))


def test_wrong_upstream_gradient_shape_is_refused():
    layer = Linear(np.ones((3, 2)), np.ones(3))
    layer.forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"expects a gradient of shape \(4, 3\)"):
        layer.backward(np.ones((3, 4)))


def test_bad_specs_and_settings_are_refused():
    with pytest.raises(ValueError, match="784-128-10"):
        build_network("784x128x10")
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        build_network("4-3-2", "softplus")
    with pytest.raises(ValueError, match="2 hidden layers need one activation each"):
        build_network("4-3-3-2", "relu,tanh,sigmoid")
    with pytest.raises(ValueError, match="learning rate must be a positive number"):
        SGD(build_network("4-3-2"), lr=float("nan"))
    with pytest.raises(ValueError, match="reduction must be one of"):
        SoftmaxCrossEntropy("avg")
