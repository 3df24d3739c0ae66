"""The Softmax layer and the cross-entropy of probabilities (scratch_nn.Softmax,
ProbabilityCrossEntropy): what test_layers.py's one line per layer and loss does not cover: a whole
network trained in step with torch, the split against the one-step SoftmaxCrossEntropy, the edges
and what must be refused.

Compared under reference.tolerances.for_dtype (FLOAT64, FLOAT32), which fit as they are. Worst
measured (test_layers.py's cases: batches 1, 7, 32, 1 to 128 classes, inputs 4 N(0, 1), seeds 0
and 1; a random upstream gradient), as a fraction of the tensor's scale:
    Softmax                    float64: output 4.4e-16, grad_input 6.4e-15;  float32: 2.2e-7, 3.6e-6
    ProbabilityCrossEntropy    float64: loss 2.1e-16, grad 1.8e-16;          float32: 1.1e-7, 1.1e-7
    784-32-10 ReLU + softmax, 50 free-running SGD steps at lr 0.1 (parameters after each step):
                               float64: 4.8e-16 (3.4e-4 of FLOAT64);        float32: 3.4e-7 (6.8e-4 of FLOAT32)
"""

import re

import numpy as np
import pytest
from both_sides import assert_twins_agree, mnist_like
from scipy.special import softmax

from reference import tolerances
from reference.comparison import compare
from reference.side_by_side import compare_trajectory, trace_scratch
from scratch_nn import (
    ACTIVATIONS,
    LOSSES,
    ProbabilityCrossEntropy,
    Softmax,
    SoftmaxCrossEntropy,
    build_network,
)


def test_a_784_32_10_network_trains_in_step_with_torch(dtype):
    """20 SGD steps on both sides, free-running, every parameter compared after every step."""
    rng = np.random.default_rng(0)
    network = build_network("784-32-10", "relu", init="torch", dtype=dtype, output_activation="softmax")
    batches = [mnist_like(rng, 32, dtype) for _ in range(20)]
    trajectory = compare_trajectory(network, None, batches, ProbabilityCrossEntropy(), lr=0.1)
    for comparison in trajectory:
        comparison.assert_ok()
    assert len(trajectory) == 20 and {d.name for d in trajectory[-1].diffs} == {
        "0.weight", "0.bias", "2.weight", "2.bias"}


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_softmax_then_probabilities_is_the_cross_entropy_of_logits(reduction, dtype):
    """Through the Softmax's Jacobian, -t/(n p) becomes (softmax(z) - t)/n: the two-part network's
    gradients are SoftmaxCrossEntropy's on the logits, a third opinion both sides could not share."""
    rng = np.random.default_rng(1)
    x, y = mnist_like(rng, 16, dtype, features=20, classes=5)
    split = build_network("20-8-5", "tanh", init="torch", dtype=dtype, output_activation="softmax")
    whole = build_network("20-8-5", "tanh", init="torch", dtype=dtype)
    ours = trace_scratch(split, x, y, ProbabilityCrossEntropy(reduction))
    theirs = trace_scratch(whole, x, y, SoftmaxCrossEntropy(reduction))
    keys = ["loss", "0.weight.grad", "0.bias.grad", "2.weight.grad", "2.bias.grad", "0.grad_input"]
    compare({k: ours[k] for k in keys}, {k: theirs[k] for k in keys}, tolerances.for_dtype(dtype)).assert_ok()
    compare({"logits.grad": ours["3.grad_input"]}, {"logits.grad": theirs["loss.grad"]},
            tolerances.for_dtype(dtype)).assert_ok()


def test_logits_of_1000_stay_finite(dtype):
    """Without the max shift e^1000 is Inf and the output NaN; both sides must match scipy's float64 softmax."""
    logits = np.array([[1000, -1000, 0], [-1000, 1000, 999], [1000, 1000, -1000]], dtype=dtype)
    upstream = np.array([[1, -2, 3], [0.5, 1, -1], [2, -1, 1]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise"):  # an overflow, even a hidden one, fails
        assert_twins_agree([Softmax()], logits, upstream=upstream)
    np.testing.assert_allclose(Softmax().forward(logits), softmax(logits.astype(np.float64), axis=1),
                               rtol=tolerances.for_dtype(dtype).rtol, atol=0)


def test_backward_is_the_jacobian_product_not_its_diagonal():
    """dL/dx = s * (G - sum_k G_k s_k), checked against the full Jacobian diag(s) - s s^T, row by row;
    the diagonal alone, s * (1 - s) * G, is off."""
    rng = np.random.default_rng(2)
    x, upstream = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    layer = Softmax()
    s = layer.forward(x)
    expected = np.stack([(np.diag(row) - np.outer(row, row)) @ g for row, g in zip(s, upstream)])
    np.testing.assert_allclose(layer.backward(upstream), expected, rtol=1e-12, atol=1e-15)
    assert not np.allclose(s * (1 - s) * upstream, expected)
    assert layer.backward(upstream, input_grad=False) is None


def test_the_output_is_kept_read_only():
    layer = Softmax()
    output = layer.forward(np.zeros((2, 4)))
    np.testing.assert_array_equal(output, np.full((2, 4), 0.25))
    with pytest.raises(ValueError, match="read-only"):
        output[0, 0] = 1.0


def test_the_loss_refuses_a_probability_of_zero_naming_the_fix():
    probs = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    with pytest.raises(ValueError, match=r"output\[0, 2\] = 0.0, and log p needs p > 0: .*use cross_entropy on the "
                                         r"logits"):
        ProbabilityCrossEntropy().forward(probs, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"output\[1, 0\] = -0.2"):
        ProbabilityCrossEntropy().forward(np.array([[0.5, 0.5], [-0.2, 1.2]]), np.array([0, 1]))
    with pytest.raises(FloatingPointError, match="not finite"):
        ProbabilityCrossEntropy().forward(np.array([[np.nan, 0.5]]), np.array([0]))


def test_the_loss_and_its_gradient_by_hand():
    """L = -(1/n) sum log p_y and dL/dp = -t/(n p): zero off the label, -1/(n p_y) on it."""
    probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    loss = ProbabilityCrossEntropy()
    assert loss.forward(probs, np.array([1, 2])) == pytest.approx(-(np.log(0.25) + np.log(0.8)) / 2, rel=1e-15)
    np.testing.assert_array_equal(loss.backward(), [[0, -1 / (2 * 0.25), 0], [0, 0, -1 / (2 * 0.8)]])
    summed = ProbabilityCrossEntropy("sum")
    targets = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    assert summed.forward(probs, targets) == pytest.approx(-(0.5 * np.log(0.5) + 0.5 * np.log(0.25) + np.log(0.8)))
    np.testing.assert_allclose(summed.backward(), [[-1, -2, 0], [0, 0, -1.25]], rtol=1e-15)


def test_empty_inputs_are_refused():
    with pytest.raises(ValueError, match="empty batch"):
        ProbabilityCrossEntropy().forward(np.zeros((0, 3)), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="^" + re.escape(
            "Softmax() takes a probability over at least one class per row; got input of shape (2, 0). Give it "
            "the output layer's scores, shape (batch, classes).") + "$"):
        Softmax().forward(np.zeros((2, 0)))
    assert Softmax().forward(np.zeros((0, 3))).shape == (0, 3)  # no rows is no problem, as for torch


def test_the_registries_name_them():
    """What --output-activation softmax and --loss probability_cross_entropy build."""
    assert ACTIVATIONS["softmax"] is Softmax and LOSSES["probability_cross_entropy"] is ProbabilityCrossEntropy
    network = build_network("6-5-3", "relu", output_activation="softmax")
    assert isinstance(network.layers[-1], Softmax) and len(network.layers) == 4
