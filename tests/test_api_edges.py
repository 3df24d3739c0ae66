"""API edges: what a user can do to the scratch network between forward and
backward, and values the constructors and the loss must refuse with a clear message."""

import re

import numpy as np
import pytest
import torch

from scratch_nn import (
    LeakyReLU,
    Linear,
    QuadraticLoss,
    ReLU,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
    build_network,
)
from scratch_nn.losses import check_output, one_hot

DTYPES = [np.float64, np.float32]
LAYERS = [lambda dtype: Linear(np.ones((3, 4), dtype), np.ones(3, dtype)), lambda dtype: Sigmoid(),
          lambda dtype: Tanh(), lambda dtype: ReLU(), lambda dtype: LeakyReLU(0.1)]


def batch(dtype, shape=(5, 4)):
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


def input_gradient(layer, x, change_input):
    """dL/dx for a gradient of ones, after an optional in-place change to x between the passes."""
    output = layer.forward(x)
    if change_input:
        x += 1
    return layer.backward(np.ones_like(output))


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_changing_the_input_in_place_after_forward_leaves_backward_alone(make, dtype):
    layer = make(dtype)
    untouched = input_gradient(layer, batch(dtype), change_input=False)
    np.testing.assert_array_equal(input_gradient(layer, batch(dtype), change_input=True), untouched)
    if isinstance(layer, Linear):  # the weight gradient reads the input too
        np.testing.assert_array_equal(layer.grads["weight"], np.ones((3, 5), dtype) @ batch(dtype))


@pytest.mark.parametrize("make", [Sigmoid, Tanh, Softmax])
@pytest.mark.parametrize("dtype", DTYPES)
def test_changing_a_kept_output_in_place_is_refused(make, dtype):
    output = make().forward(batch(dtype))
    with pytest.raises(ValueError, match="read-only"):
        output *= 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_changing_a_network_input_or_output_in_place_leaves_backward_alone(activation, dtype):
    network, x = build_network("4-3-2", activation, dtype=dtype), batch(dtype)
    network.backward(np.ones_like(network.forward(x)))
    expected = network.grad_dict()
    output = network.forward(x)
    x[:] = 0
    output[:] = 0  # the last Linear's output: nothing reads it in backward, so it stays writeable
    network.backward(np.ones_like(output))
    for key, value in network.grad_dict().items():
        np.testing.assert_array_equal(value, expected[key], err_msg=key)


def test_whole_number_sizes_and_no_activation_are_accepted():
    assert build_network([np.int64(4), 3, 2]).layers[0].in_features == 4
    assert len(build_network("784-10", None).layers) == 1


@pytest.mark.parametrize("call,error,words", [
    (lambda: build_network([784, 12.7, 10]), TypeError, "layer sizes are whole numbers; got 12.7 (float)"),
    (lambda: build_network([784, True, 10]), TypeError, "got True (bool)"),
    (lambda: build_network("784-12.7-10"), ValueError, "unknown layer '12.7' in the spec: write a size (120)"),
    (lambda: build_network("784-12-10", None), ValueError, "1 hidden layers need one activation each"),
    (lambda: build_network("4-3-2", dtype=np.int32), TypeError, "float32 or float64; got int32"),
    (lambda: SoftmaxCrossEntropy().forward(np.zeros((0, 3)), np.zeros(0, int)), ValueError, "empty batch"),
    (lambda: QuadraticLoss().forward(np.zeros((0, 3)), np.zeros((0, 3))), ValueError, "empty batch"),
    (lambda: SoftmaxCrossEntropy().forward(np.zeros((2, 3), int), np.zeros(2, int)), TypeError,
     "float32 or float64; got a int64 output"),
    (lambda: SoftmaxCrossEntropy().forward(np.zeros(3), np.zeros(3, int)), ValueError, "2-D output"),
    (lambda: check_output(np.array([[0.0, np.nan]])), FloatingPointError, "output[0, 1] = nan"),
])
def test_bad_values_are_refused_clearly(call, error, words):
    with pytest.raises(error, match=re.escape(words)):
        call()


def test_one_hot_converts_targets_and_leaves_the_output_to_check_output():
    output = np.array([[np.inf, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(one_hot(np.array([1, 0]), output), [[0.0, 1.0], [1.0, 0.0]])


def torch_state(change):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 2)).double()
    return {key: change(value) for key, value in model.named_parameters()}


@pytest.mark.parametrize("change,words", [
    (lambda p: p, "is a tensor that requires grad: pass value.detach()"),
    (lambda p: p.detach().bfloat16(), "is a torch.bfloat16 tensor: convert it"),
    (lambda p: p.detach().float(), "'0.weight' is float32, expected float64"),
])
def test_torch_tensors_that_numpy_cannot_take_as_they_are_are_refused_clearly(change, words):
    network = build_network("4-3-2")
    with pytest.raises(ValueError, match=re.escape(words)):
        network.load_state_dict(torch_state(change))


def test_detached_torch_parameters_load():
    network = build_network("4-3-2")
    state = torch_state(lambda p: p.detach())
    network.load_state_dict(state)
    np.testing.assert_array_equal(network.state_dict()["0.weight"], state["0.weight"].numpy())
