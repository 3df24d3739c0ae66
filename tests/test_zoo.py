"""Every mistake in the bug zoo (tests/zoo.py) is caught: by the equivalence checks this suite
runs, and by reference.gradcheck, which must also name the part it is in (index and class), the
mistake's signature, and nothing else."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import zoo
from both_sides import mnist_like

import scratch_nn
from reference.finite_differences import FINITE_DIFFERENCES_JUDGE
from reference.gradcheck import check_network
from reference.side_by_side import compare_pass, compare_step, compare_trajectory
from scratch_nn import (
    SGD,
    ProbabilityCrossEntropy,
    QuadraticLoss,
    Sequential,
    Softmax,
    SoftmaxCrossEntropy,
    build_network,
)


def batches(network, dtype, count=1, n=8):
    """MNIST-like batches (inputs in [0, 1), integer labels) that fit the network."""
    rng = np.random.default_rng(0)
    weights = [value for key, value in network.state_dict().items() if key.endswith("weight")]
    features, classes = weights[0].shape[1], weights[-1].shape[0]
    return [mnist_like(rng, n, dtype, features, classes) for _ in range(count)]


# The suite's equivalence checks, as its tests run them -------------------------------------------

def one_pass(network, loss, dtype):
    """test_network, test_layers: one forward and backward pass, every tensor against the twin."""
    (x, y), = batches(network, dtype)
    return compare_pass(network, x=x, target=y, loss=loss)


def one_step(network, loss, dtype):
    """test_network: one step of scratch_nn.SGD against torch.optim.SGD."""
    (x, y), = batches(network, dtype)
    return compare_step(network, x=x, target=y, loss=loss, lr=0.1)


def three_steps(network, loss, dtype):
    """test_network's trajectories (100 steps; 3 are enough): the first comparison that fails."""
    trajectory = compare_trajectory(network, None, batches(network, dtype, 3), loss, lr=0.1)
    return next((c for c in trajectory if not c.ok), trajectory[-1])


def relu_at_zero(network, loss, dtype):
    """test_edges: the network's first ReLU on inputs that include exact zeros, where its derivative is a
    convention."""
    relu = Sequential(next(layer for layer in network.layers if isinstance(layer, scratch_nn.ReLU)))
    x = np.array([[0.0, -0.0, 1e-300, -1e-300, 2.0]], dtype)
    return compare_pass(relu, x=x, upstream=np.arange(1, 6, dtype=dtype)[None])


def large_logits(network, loss, dtype):
    """test_edges: the cross-entropy at logits of +-1000."""
    logits = np.array([[1000, -1000, 0], [-1000, 1000, 999], [1000, 1000, -1000]], dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the overflow is the point
        return compare_pass(Sequential(), x=logits, target=np.array([0, 2, 1]), loss=loss)


def softmax_at_large_logits(network, loss, dtype):
    """test_softmax: the network's Softmax layer at logits of +-1000, with a random upstream gradient."""
    softmax = Sequential(next(layer for layer in network.layers if isinstance(layer, Softmax)))
    logits = np.array([[1000, -1000, 0], [-1000, 1000, 999], [1000, 1000, -1000]], dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is the point
        return compare_pass(softmax, x=logits, upstream=np.random.default_rng(0).standard_normal((3, 3)).astype(dtype))


# The zoo -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Specimen:
    variant: type
    part: int | str            # the index of the layer it replaces, or "loss" or "optimizer"
    signature: str             # what gradcheck must call it
    suite: Callable            # the suite's check that catches it
    finite_differences: bool   # whether finite differences see it too (torch always does)
    spec: str = "10-7-7-4"     # layer 2 is square (7 -> 7); layers 0 and 4 are not
    activation: str = "sigmoid"

    def build(self, dtype):
        """A network with the variant in place, its loss and its optimizer."""
        probabilities = issubclass(self.variant, (Softmax, ProbabilityCrossEntropy))
        output = "sigmoid" if issubclass(self.variant, QuadraticLoss) else "softmax" if probabilities else None
        network = build_network(self.spec, self.activation, init="torch", dtype=dtype, output_activation=output)
        loss, optimizer = ProbabilityCrossEntropy() if probabilities else SoftmaxCrossEntropy(), SGD
        if self.part == "loss":
            loss = self.variant()
        elif self.part == "optimizer":
            optimizer = self.variant
        else:
            old = network.layers[self.part]
            network.layers[self.part] = self.variant(old.params["weight"], old.params["bias"]) if old.params \
                else self.variant()
        return network, loss, optimizer

    @property
    def expected(self):
        index = self.part if isinstance(self.part, int) else None
        return ("layer" if index is not None else self.part), index, self.variant.__name__

    def __str__(self):
        return f"{self.variant.__name__}-{self.part}-{self.spec}"


ZOO = [
    Specimen(zoo.LinearTransposedWeightGrad, 4, "transposed weight gradient", one_pass, True),   # 7 -> 4: shape
    Specimen(zoo.LinearTransposedWeightGrad, 2, "transposed weight gradient", one_pass, True),   # 7 -> 7: values
    Specimen(zoo.LinearWeightGradDividedByBatch, 2, "batch size too small", one_pass, True),
    Specimen(zoo.LinearBiasGradAveraged, 0, "bias gradient averaged", one_pass, True),
    Specimen(zoo.LinearUpdatesBeforeGradInput, 2, "weights updated before the input gradient", one_pass, True),
    Specimen(zoo.LinearStaleCache, 2, "stale cache", three_steps, True),
    Specimen(zoo.LinearForwardUntransposed, 2, "forward with the weight untransposed", one_pass, True),
    Specimen(zoo.SigmoidDerivativeAtOutput, 3, "derivative at the output", one_pass, True),
    Specimen(zoo.TanhDerivativeWithoutSquare, 1, "tanh derivative 1 - tanh", one_pass, True, activation="tanh"),
    Specimen(zoo.ReLUDerivativeOneAtZero, 1, "derivative at exactly 0", relu_at_zero, False, activation="relu"),
    Specimen(zoo.ReLUMaskFromOutput, 1, "gradient passed through unmasked", one_pass, True, activation="relu"),
    Specimen(zoo.SoftmaxWithoutMaxShift, "loss", "softmax overflow", large_logits, False, spec="10-7-4"),
    Specimen(zoo.CrossEntropyGradNotDividedByBatch, "loss", "batch size too big", one_pass, True, spec="10-7-4"),
    Specimen(zoo.QuadraticLossFactorTwo, "loss", "factor 2 too big", one_pass, True, spec="10-7-4"),
    Specimen(zoo.QuadraticLossSignFlipped, "loss", "sign flipped", one_pass, True, spec="10-7-4"),
    Specimen(zoo.SoftmaxJacobianDiagonal, 3, "softmax backward uses only the Jacobian's diagonal", one_pass, True,
             spec="10-7-4"),
    Specimen(zoo.SoftmaxLayerWithoutMaxShift, 3, "softmax overflow", softmax_at_large_logits, False, spec="10-7-4"),
    Specimen(zoo.ProbabilityCrossEntropyGradNotDividedByBatch, "loss", "batch size too big", one_pass, True,
             spec="10-7-4"),
    Specimen(zoo.ProbabilityCrossEntropyGradDividedTwice, "loss", "batch size too small", one_pass, True,
             spec="10-7-4"),
    Specimen(zoo.SGDAscends, "optimizer", "gradient ascent", one_step, False, spec="10-7-4"),
    Specimen(zoo.SGDLearningRateTwice, "optimizer", "learning rate applied twice", one_step, False, spec="10-7-4"),
    Specimen(zoo.SGDSkipsBiases, "optimizer", "not updated", one_step, False, spec="10-7-4"),
]


@pytest.mark.parametrize("specimen", ZOO, ids=str)
def test_the_suite_catches_it(specimen, dtype, monkeypatch):
    network, loss, optimizer = specimen.build(dtype)
    monkeypatch.setattr(scratch_nn, "SGD", optimizer)  # what compare_step steps with: the variant, if it is one
    assert not specimen.suite(network, loss, dtype).ok


@pytest.mark.parametrize("specimen", ZOO, ids=str)
def test_gradcheck_names_the_culprit_and_its_signature(specimen, dtype):
    network, loss, optimizer = specimen.build(dtype)
    report = check_network(network, loss=loss, optimizer=optimizer)
    first = report.first_failure
    assert first is not None, report.table()
    assert (first.kind, first.index, first.name) == specimen.expected, report.table()
    assert specimen.signature in first.signatures, report.table()
    assert report.failures == [first], "every other part is checked on correct inputs and must pass"
    seen_by_finite_differences = any(judge == FINITE_DIFFERENCES_JUDGE and not c.ok for judge, c in first.judged)
    assert seen_by_finite_differences == specimen.finite_differences
    assert f"FIRST DISAGREEMENT: {first.label}, {first.title}" in report.table()


@pytest.mark.parametrize("specimen", [s for s in ZOO if s.suite is not one_pass], ids=str)
def test_a_single_pass_would_miss_these(specimen, monkeypatch):
    """Why the suite has trajectories, edge cases and a step check beside the single pass: a stale
    cache is right on the first batch, ReLU's x >= 0 only differs at exact zeros, the overflow
    needs large logits, and a pass never calls the optimizer."""
    network, loss, _ = specimen.build(np.float64)
    assert one_pass(network, loss, np.float64).ok


def test_the_zoo_is_complete():
    """Every class in tests/zoo.py is a specimen, so a variant added there is tested here: 21 mistakes,
    the transposed weight gradient twice (on a square layer and on one that is not), 22 specimens."""
    variants = {value for value in vars(zoo).values() if isinstance(value, type) and value.__module__ == zoo.__name__}
    assert {s.variant for s in ZOO} == variants == {
        zoo.LinearTransposedWeightGrad, zoo.LinearWeightGradDividedByBatch, zoo.LinearBiasGradAveraged,
        zoo.LinearUpdatesBeforeGradInput, zoo.LinearStaleCache, zoo.LinearForwardUntransposed,
        zoo.SigmoidDerivativeAtOutput, zoo.TanhDerivativeWithoutSquare, zoo.ReLUDerivativeOneAtZero,
        zoo.ReLUMaskFromOutput, zoo.SoftmaxWithoutMaxShift, zoo.CrossEntropyGradNotDividedByBatch,
        zoo.QuadraticLossFactorTwo, zoo.QuadraticLossSignFlipped, zoo.SoftmaxJacobianDiagonal,
        zoo.SoftmaxLayerWithoutMaxShift, zoo.ProbabilityCrossEntropyGradNotDividedByBatch,
        zoo.ProbabilityCrossEntropyGradDividedTwice, zoo.SGDAscends, zoo.SGDLearningRateTwice, zoo.SGDSkipsBiases}
    assert (len(variants), len(ZOO)) == (21, 22)
