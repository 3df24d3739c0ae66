"""Each layer and each loss against its PyTorch counterpart: forward output, input gradient and
parameter gradients, in float64 and float32, over non-square shapes, batch sizes and seeds.

Layers backpropagate a random upstream gradient: with a gradient of ones (from .sum()) errors
that are constant across a row cancel, and through a softmax the test would compare two
vectors of zeros.
"""

import numpy as np
import pytest
from both_sides import assert_twins_agree

from scratch_nn import (
    Linear,
    ProbabilityCrossEntropy,
    QuadraticLoss,
    ReLU,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
)

BATCHES = [1, 7, 32]
SEEDS = [0, 1]


def linear(rng, n_in, n_out, dtype):
    return Linear(rng.uniform(-1, 1, (n_out, n_in)).astype(dtype), rng.uniform(-1, 1, n_out).astype(dtype))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("n_in,n_out", [(3, 5), (5, 3), (784, 128), (128, 10), (1, 4)])
def test_linear(n_in, n_out, batch, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, n_in)).astype(dtype)
    comparison = assert_twins_agree([linear(rng, n_in, n_out, dtype)], x, upstream="random")
    assert [d.name for d in comparison.diffs] == ["0.output", "0.grad_input", "0.weight.grad", "0.bias.grad"]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("features", [1, 10, 128])
@pytest.mark.parametrize("activation", [Sigmoid, ReLU, Tanh, Softmax])
def test_activation(activation, features, batch, seed, dtype):
    x = (4 * np.random.default_rng(seed).standard_normal((batch, features))).astype(dtype)  # both tails, the middle
    assert_twins_agree([activation()], x, upstream="random")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("classes", [2, 10])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("labels", ["integer", "one-hot", "probabilities"])
@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy, QuadraticLoss, ProbabilityCrossEntropy])
def test_loss(loss, labels, reduction, classes, batch, seed, dtype):
    rng = np.random.default_rng(seed)
    output = (3 * rng.standard_normal((batch, classes))).astype(dtype)
    if loss is QuadraticLoss:
        output = rng.random((batch, classes)).astype(dtype)  # what a sigmoid output layer gives
    elif loss is ProbabilityCrossEntropy:
        output = Softmax().forward(output).copy()  # what a softmax output layer gives (writeable, for torch)
    target = rng.integers(0, classes, batch)
    if labels == "one-hot":
        target = np.eye(classes, dtype=dtype)[target]
    elif labels == "probabilities":
        target = rng.dirichlet(np.ones(classes), batch).astype(dtype)
    comparison = assert_twins_agree([], output, target, loss(reduction))
    assert [d.name for d in comparison.diffs] == ["loss", "loss.grad"]
