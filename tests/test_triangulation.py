"""Triangulation: where scratch and torch agree, central finite differences (float64, scipy)
must agree with both, so that a misconception the two sides share cannot pass."""

import numpy as np
import pytest

from reference import tolerances
from reference.comparison import compare
from reference.finite_differences import (
    FINITE_DIFFERENCES_JUDGE,
    KINK_MARGIN,
    numerical_trace,
)
from reference.side_by_side import trace_scratch, trace_torch
from reference.twin import torch_model
from scratch_nn import (
    ProbabilityCrossEntropy,
    QuadraticLoss,
    Sequential,
    SoftmaxCrossEntropy,
    build_network,
)


def triangulate(network, x, target=None, loss=None, upstream=None):
    numerical = numerical_trace(network, x, target, loss, upstream)
    ours = trace_scratch(network, x, target, loss, upstream)
    theirs = trace_torch(torch_model(network), x, target, loss, upstream)
    for side, trace in (("scratch", ours), ("torch", theirs)):
        analytic = {key: trace[key] for key in numerical}
        compare(analytic, numerical, tolerances.FINITE_DIFFERENCES, network.layers,
                context=f"{side} against finite differences", judge=FINITE_DIFFERENCES_JUDGE).assert_ok()
    return numerical


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy, QuadraticLoss])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "relu,tanh"])
@pytest.mark.parametrize("spec", ["6-5-3", "7-6-5-4"])
def test_network_gradients(spec, activation, loss, seed):
    activation = ",".join(activation.split(",")[: spec.count("-") - 1])
    output_activation = "sigmoid" if loss is QuadraticLoss else None
    network = build_network(spec, activation, seed=seed, output_activation=output_activation)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, network.layers[0].in_features))
    y = rng.integers(0, network.layers[-1 if output_activation is None else -2].out_features, 4)
    numerical = triangulate(network, x, y, loss())
    assert {"0.grad_input", "0.weight.grad", "loss.grad"} <= numerical.keys()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_softmax_output_and_the_cross_entropy_of_probabilities(activation, seed):
    """A Softmax output layer and the cross-entropy of its probabilities. The differences step p by
    up to KINK_MARGIN, and the loss refuses p <= 0, so torch's initialisation keeps every p above it."""
    network = build_network("6-5-3", activation, init="torch", seed=seed, output_activation="softmax")
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((4, 6)), rng.integers(0, 3, 4)
    assert network.forward(x).min() > KINK_MARGIN
    numerical = triangulate(network, x, y, ProbabilityCrossEntropy())
    assert {"0.grad_input", "0.weight.grad", "3.grad_input", "loss.grad"} <= numerical.keys()


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "softmax"])
def test_layer_gradients_with_random_upstream(activation):
    """A single hidden layer and activation, backpropagating a random upstream gradient."""
    network = build_network("5-4-3", activation, seed=3)
    network = Sequential(*network.layers[:2])
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5))
    triangulate(network, x, upstream=rng.standard_normal((3, 4)))


def test_finite_differences_catch_a_shared_mistake():
    """If both sides made the same mistake, only the third opinion would see it: scale both
    analytic gradients by (1 + 1e-3) and the finite-difference check must fail."""
    network = build_network("6-5-3", "sigmoid", seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 6)), rng.integers(0, 3, 4)
    numerical = numerical_trace(network, x, y, SoftmaxCrossEntropy())
    ours = trace_scratch(network, x, y, SoftmaxCrossEntropy())
    wrong = {key: ours[key] * (1 + 1e-3) for key in numerical}
    comparison = compare(wrong, numerical, tolerances.FINITE_DIFFERENCES)
    assert not comparison.ok
    assert all(not d.ok for d in comparison.diffs)
