"""Properties of the losses that losses.py promises and the torch comparisons do not pin down:
the formulas against an independent SciPy evaluation, what backward differentiates, the returned
dtype, and that every refused target or output is named with its fix. Found by mutation testing
(tools/mutation.py). Values are compared under tolerances.FLOAT64 (the one-pass float64 bound).
"""

import re

import numpy as np
import pytest
from scipy.special import log_softmax, softmax, xlogy

from reference import tolerances
from scratch_nn import (
    LOSSES,
    BinaryCrossEntropy,
    ProbabilityCrossEntropy,
    QuadraticLoss,
    Softmax,
    SoftmaxCrossEntropy,
)

F64 = tolerances.FLOAT64


def batch(n=5, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return 3 * rng.standard_normal((n, classes)), rng.integers(0, classes, n), rng.dirichlet(np.ones(classes), n)


def output_for(loss, logits):
    """What the loss is given: logits, or for the cross-entropy of probabilities their softmax, or for the
    binary cross-entropy one sigmoid unit."""
    if loss is BinaryCrossEntropy:
        return 1 / (1 + np.exp(-logits[:, :1]))
    return Softmax().forward(logits) if loss is ProbabilityCrossEntropy else logits


def labels_for(loss, labels):
    """Labels as the loss takes them: class indices, or 0/1 for the binary cross-entropy."""
    return labels % 2 if loss is BinaryCrossEntropy else labels


MULTICLASS = [loss for loss in LOSSES.values() if loss is not BinaryCrossEntropy]  # outputs of several classes


@pytest.mark.parametrize("reduction,divisor", [("mean", 5), ("sum", 1)])
def test_cross_entropy_is_minus_log_softmax_at_the_targets(reduction, divisor):
    """L = -(1/n) sum_i sum_c t_ic log softmax(z_i)_c,  dL/dz = (softmax(z) - t) / n."""
    logits, labels, probabilities = batch()
    for target, t in [(labels, np.eye(4)[labels]), (probabilities, probabilities)]:
        loss = SoftmaxCrossEntropy(reduction)
        np.testing.assert_allclose(loss.forward(logits, target), -(t * log_softmax(logits, axis=1)).sum() / divisor,
                                   rtol=F64.rtol)
        np.testing.assert_allclose(loss.backward(), (softmax(logits, axis=1) - t) / divisor, rtol=F64.rtol,
                                   atol=F64.atol)


def test_each_row_is_shifted_by_its_own_maximum():
    """A row far below another (-1000 next to +1000) still has a finite loss and gradient: the
    log-sum-exp shift is per row, not one shift for the batch (e^-2000 underflows to 0)."""
    logits, labels = np.array([[1000.0, 999.0], [-1000.0, -1001.0]]), np.array([1, 0])
    loss = SoftmaxCrossEntropy()
    np.testing.assert_allclose(loss.forward(logits, labels), -log_softmax(logits, axis=1)[[0, 1], labels].mean(),
                               rtol=F64.rtol)
    np.testing.assert_allclose(loss.backward(), (softmax(logits, axis=1) - np.eye(2)[labels]) / 2, rtol=F64.rtol)


def test_integer_labels_pick_the_log_probability_without_multiplying_the_others():
    """With labels, the loss takes log p at the label; the other classes are never multiplied by
    0, so a log-probability of -inf elsewhere (logits 1e308 apart) cannot turn into 0 * -inf = NaN."""
    loss = SoftmaxCrossEntropy()
    with np.errstate(over="ignore"):  # 1e308 - (-1e308) overflows to the -inf this test is about
        assert loss.forward(np.array([[1e308, -1e308]]), np.array([0])) == 0
    np.testing.assert_array_equal(loss.backward(), [[0.0, 0.0]])


@pytest.mark.parametrize("reduction,divisor", [("mean", 5), ("sum", 1)])
def test_squared_error_is_half_the_sum_of_squares(reduction, divisor):
    """L = 1/(2n) sum_i ||t_i - a_i||^2,  dL/da = (a - t) / n."""
    output, labels, probabilities = batch()
    for target, t in [(labels, np.eye(4)[labels]), (probabilities, probabilities)]:
        loss = QuadraticLoss(reduction)
        np.testing.assert_allclose(loss.forward(output, target), ((t - output) ** 2).sum() / (2 * divisor),
                                   rtol=F64.rtol)
        np.testing.assert_allclose(loss.backward(), (output - t) / divisor, rtol=F64.rtol)


@pytest.mark.parametrize("loss", LOSSES.values())
def test_backward_differentiates_the_last_forward(loss):
    first, labels, _ = batch(seed=1)
    last, _, _ = batch(seed=2)
    used_twice, fresh = loss(), loss()
    first, last, labels = output_for(loss, first), output_for(loss, last), labels_for(loss, labels)
    used_twice.forward(first, labels)
    used_twice.forward(last, labels)
    fresh.forward(last, labels)
    np.testing.assert_array_equal(used_twice.backward(), fresh.backward())
    np.testing.assert_array_equal(used_twice.backward(), fresh.backward())


@pytest.mark.parametrize("loss", LOSSES.values())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_and_gradient_keep_the_output_dtype(loss, dtype):
    output, labels, _ = batch()
    instance = loss()
    value = instance.forward(output_for(loss, output.astype(dtype)), labels_for(loss, labels))
    assert value.dtype == dtype and np.ndim(value) == 0
    assert instance.backward().dtype == dtype


@pytest.mark.parametrize("loss", LOSSES.values())
def test_mean_is_the_default_reduction_and_repr_says_so(loss):
    assert loss().reduction == "mean"
    assert repr(loss("sum")) == f"{loss.__name__}(reduction='sum')"


@pytest.mark.parametrize("loss", LOSSES.values())
def test_backward_before_forward_names_the_loss(loss):
    with pytest.raises(RuntimeError, match="^" + re.escape(f"{loss.__name__}(reduction='mean').backward was called "
                                                           f"before forward: there is no loss to differentiate.")):
        loss().backward()


@pytest.mark.parametrize("labels", [[0, 3], [3, 0], [0, 0]])
def test_every_label_in_range_is_accepted(labels):
    """Labels 0..classes-1, and only those, are classes of a 4-class output."""
    SoftmaxCrossEntropy().forward(np.zeros((2, 4)), np.array(labels))


# Every refusal is one clear message naming the problem and the fix.
@pytest.mark.parametrize("output,target,error,message", [
    ([[0.0, 1.0]], np.array([0]), ValueError,
     "the loss expects a 2-D output (batch, classes); got list"),
    (np.zeros(3), np.array([0]), ValueError, "the loss expects a 2-D output (batch, classes); got (3,)"),
    (np.zeros((2, 3), np.int64), np.array([0, 1]), TypeError,
     "the loss computes in float32 or float64; got a int64 output. Use output.astype(np.float32)."),
    (np.array([[0.0, 1.0], [2.0, -np.inf]]), np.array([0, 1]), FloatingPointError,
     "the network output is not finite (output[1, 1] = -inf): the forward pass overflowed; lower the learning rate "
     "or check the inputs"),
    (np.zeros((0, 3)), np.zeros(0, np.int64), ValueError,
     "the loss got an empty batch (0 examples), whose mean is undefined; give at least one example"),
    (np.zeros((2, 3)), [0, 1], TypeError, "targets must be a NumPy array; got list"),
    (np.zeros((2, 3)), np.array([0.0, 1.0]), TypeError,
     "class labels must be integers; got float64. Use labels.astype(np.int64)."),
    (np.zeros((2, 3)), np.array([0, 1, 2]), ValueError, "got 3 labels for a batch of 2 outputs"),
    (np.zeros((2, 3)), np.array([5, 3]), ValueError,
     "label 5 at position 0 is out of range: the output has 3 classes, so labels must lie in 0..2"),
    (np.zeros((2, 3)), np.array([1, -1]), ValueError,
     "label -1 at position 1 is out of range: the output has 3 classes, so labels must lie in 0..2"),
    (np.zeros((2, 3)), np.ones((2, 4)), ValueError,
     "targets must be labels of shape (2,) or one-hot rows of shape (2, 3); got (2, 4)"),
    (np.zeros((2, 3)), np.ones((2, 3), np.float32), TypeError,
     "one-hot targets are float32 but the output is float64; convert them with target.astype(np.float64)"),
    (np.zeros((2, 3)), np.array([[0.0, 1, 0], [np.nan, 0, 1]]), ValueError, "the targets contain NaN or Inf"),
])
@pytest.mark.parametrize("loss", MULTICLASS)
def test_bad_outputs_and_targets_are_refused_clearly(loss, output, target, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        loss().forward(output, target)


def test_an_unknown_reduction_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=re.escape("reduction must be one of ('mean', 'sum'); got 'avg'")):
        QuadraticLoss("avg")


@pytest.mark.parametrize("reduction,divisor", [("mean", 5), ("sum", 1)])
def test_binary_cross_entropy_is_minus_the_log_likelihood_of_the_labels(reduction, divisor):
    """L = -(1/n) sum_i [t_i log a_i + (1 - t_i) log(1 - a_i)],  dL/da = (a - t) / (n a (1 - a)),
    for 0/1 labels (n,) and for targets (n, 1) of any value in [0, 1]."""
    logits, labels, _ = batch()
    a = output_for(BinaryCrossEntropy, logits)
    soft = np.random.default_rng(3).random((5, 1))
    for target, t in [(labels % 2, (labels % 2)[:, None].astype(float)), (soft, soft)]:
        loss = BinaryCrossEntropy(reduction)
        expected = -(xlogy(t, a) + xlogy(1 - t, 1 - a)).sum() / divisor
        np.testing.assert_allclose(loss.forward(a, target), expected, rtol=F64.rtol)
        np.testing.assert_allclose(loss.backward(), (a - t) / (a * (1 - a)) / divisor, rtol=F64.rtol)


@pytest.mark.parametrize("output,message", [
    (np.full((2, 3), 0.5), "binary cross-entropy takes one output unit, (n, 1); got (2, 3): give the network one "
                           "output with a sigmoid, or use cross_entropy for 3 classes"),
    *[(np.array([[0.5], [bad]]), f"binary cross-entropy got output[1, 0] = {bad}, and log a, log(1 - a) need "
                                 f"0 < a < 1: give it a sigmoid's output, not saturated")
      for bad in (0.0, 1.0, -0.5, 1.5)],
])
def test_binary_cross_entropy_refuses_what_it_cannot_take_the_log_of(output, message):
    error = ValueError if output.shape[1] != 1 else FloatingPointError
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        BinaryCrossEntropy().forward(output, np.array([0, 1]))
