"""Whole networks against their PyTorch twins: one pass, one SGD step, and 100-step trajectories
with the parameters compared after every step."""

import numpy as np
import pytest
import torch
from both_sides import assert_twins_agree, mnist_like

from reference import tolerances
from reference.side_by_side import compare_trajectory, drift_table
from scratch_nn import QuadraticLoss, SoftmaxCrossEntropy, build_network

# 1 to 3 hidden layers; small enough for the default tier, with every size different so that
# a transposed weight cannot line up.
SPECS = ["784-32-10", "784-48-24-10", "784-40-20-12-10"]
ACTIVATIONS = ["sigmoid", "relu", "tanh", "relu,sigmoid,tanh"]


def network(spec, activation, dtype, init="paper", output_activation=None):
    return build_network(spec, activation, init=init, dtype=dtype, output_activation=output_activation)


def hidden_activations(spec, activation):
    """A mixed activation list is cut to the spec's depth."""
    return ",".join(activation.split(",")[: spec.count("-") - 1])


def test_torch_runs_deterministically():
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32


@pytest.mark.parametrize("init", ["paper", "torch"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("spec", SPECS)
def test_forward_backward_and_one_step(spec, activation, init, dtype):
    """Every layer's output, the loss, every input gradient and parameter gradient; then one SGD step."""
    x, y = mnist_like(np.random.default_rng(0), 32, dtype)
    assert_twins_agree(network(spec, hidden_activations(spec, activation), dtype, init), x, y, SoftmaxCrossEntropy(),
                       lr=0.1)


@pytest.mark.parametrize("spec", ["784-30-10", "784-32-16-10"])
def test_squared_error_network(spec, dtype):
    """The paper's quadratic cost on a sigmoid output layer, with one-hot targets."""
    x, y = mnist_like(np.random.default_rng(1), 32, dtype)
    assert_twins_agree(network(spec, "sigmoid", dtype, output_activation="sigmoid"), x, np.eye(10, dtype=dtype)[y],
                       QuadraticLoss(), lr=3.0)


def batches_of(x, y, size):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


@pytest.mark.parametrize("activation,init,lr", [
    ("sigmoid", "paper", 0.5), ("sigmoid", "torch", 0.5),
    ("relu", "paper", 0.5), ("relu", "torch", 0.5),
    ("tanh", "torch", 0.1),
])
@pytest.mark.parametrize("spec", SPECS)
def test_100_steps(spec, activation, init, lr, dtype):
    """100 SGD steps on identical batches, each side on its own trajectory, the parameters
    compared after every step under the one-step tolerance: in these regimes the difference stays
    at rounding level (float64: at most 1.8e-14 of the scale measured, float32: 1.9e-5)."""
    rng = np.random.default_rng(2)
    x, y = mnist_like(rng, 100 * 16, dtype)
    for comparison in compare_trajectory(network(spec, activation, dtype, init), None, batches_of(x, y, 16),
                                         SoftmaxCrossEntropy(), lr):
        comparison.assert_ok()


def test_chaotic_run_agrees_step_by_step(dtype):
    """A tanh network with the paper's initialisation fitting random labels at lr 0.5 is chaotic:
    free-running, a rounding difference grows from 1e-16 to 1e-1 of the scale within 100 steps on
    either side of any implementation. In lockstep (torch reset to the scratch weights after each
    step) every one of those steps agrees to the one-step tolerance, so the drift is amplification
    of rounding, not a wrong step."""
    rng = np.random.default_rng(2)
    x, y = mnist_like(rng, 100 * 16, dtype)
    batches = batches_of(x, y, 16)
    free = compare_trajectory(network("784-48-24-10", "tanh", dtype), None, batches, SoftmaxCrossEntropy(), lr=0.5)
    assert free[-1].worst().scaled_abs > 1e-3, "the run is no longer chaotic: it no longer tests lockstep"
    for comparison in compare_trajectory(network("784-48-24-10", "tanh", dtype), None, batches, SoftmaxCrossEntropy(),
                                         lr=0.5, lockstep=True):
        comparison.assert_ok()


def test_last_batch_smaller():
    """50 examples in batches of 16: the last batch has 2, and its gradient is a mean over 2."""
    rng = np.random.default_rng(3)
    x, y = mnist_like(rng, 50, np.float64)
    batches = batches_of(x, y, 16)
    assert [len(b) for b, _ in batches] == [16, 16, 16, 2]
    for comparison in compare_trajectory(network("784-32-10", "sigmoid", np.float64), None, batches * 3,
                                         SoftmaxCrossEntropy(), lr=0.5):
        comparison.assert_ok()


@pytest.mark.parametrize("lr,bound", [(0.1, tolerances.FLOAT64), (1.0, tolerances.TRAJECTORY_FLOAT64_HIGH_LR)])
def test_drift_grows_within_bound(lr, bound, capsys):
    """How the float64 difference grows over 100 steps. At lr 1.0 a sigmoid network on random
    labels amplifies rounding differences ~10x every 10 steps: the run that would expose a small
    systematic error first. The table is printed (pytest -s, or -rP) so the growth can be read."""
    rng = np.random.default_rng(1)
    x, y = mnist_like(rng, 3200, np.float64)
    trajectory = compare_trajectory(network("784-128-10", "sigmoid", np.float64), None, batches_of(x, y, 32),
                                    SoftmaxCrossEntropy(), lr, tolerance=bound)
    print(f"\nfloat64 784-128-10 sigmoid, paper init, lr {lr}:\n{drift_table(trajectory)}")
    for comparison in trajectory:
        comparison.assert_ok()
    if lr == 1.0:  # the high learning rate must actually amplify, or this run tests nothing more
        assert trajectory[-1].worst().scaled_abs > 1e3 * trajectory[0].worst().scaled_abs


@pytest.mark.slow
@pytest.mark.parametrize("spec,activation,lr", [
    ("784-512-10", "sigmoid", 0.05),
    ("784-512-256-10", "sigmoid", 0.05),
    ("784-512-256-128-10", "sigmoid", 0.05),
    ("784-512-256-128-10", "sigmoid", 0.2),
    ("784-128-10", "sigmoid", 1.0),
])
def test_paper_networks_100_steps(spec, activation, lr, dtype):
    """The paper's own networks, initialisation, batch size and learning rates, for 100 steps.

    At lr 1.0 float32 is chaotic on these random labels (the difference reaches 1e-1 of the scale
    by step 100, on any two implementations), so that run is checked in lockstep; in float64 the
    same run is followed free-running under the high-learning-rate bound."""
    rng = np.random.default_rng(4)
    x, y = mnist_like(rng, 100 * 32, dtype)
    high_lr = lr == 1.0
    tolerance = tolerances.TRAJECTORY_FLOAT64_HIGH_LR if high_lr and dtype == np.float64 else None
    trajectory = compare_trajectory(network(spec, activation, dtype, init="paper"), None, batches_of(x, y, 32),
                                    SoftmaxCrossEntropy(), lr, tolerance, lockstep=high_lr and dtype == np.float32)
    print(f"\n{dtype.__name__} {spec} {activation} lr {lr}:\n{drift_table(trajectory)}")
    for comparison in trajectory:
        comparison.assert_ok()
