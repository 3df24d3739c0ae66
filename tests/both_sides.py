"""The suite's one helper for running the same computation on both sides (tinygrad's helper_test_op
in this project's terms), and the MNIST-like data the tests feed it. Never imported by the packages."""

import numpy as np

from reference.side_by_side import compare_pass, compare_step
from scratch_nn import Sequential


def assert_twins_agree(subject, x, target=None, loss=None, upstream=None, lr=None, model=None):
    """One forward and backward pass of subject (a scratch network, or a list of layers) and of its
    torch twin, every traced tensor compared under the tolerance for x's dtype; with lr, then one
    SGD step on each side, the parameters compared after it. Fails with the comparison's message;
    returns the pass's comparison.

    Without a loss, upstream is the gradient dL/d(output) to backpropagate; "random" draws it
    standard normal (seeded): with a gradient of ones, errors constant across a row cancel.
    """
    network = Sequential(*subject) if isinstance(subject, (list, tuple)) else subject
    if isinstance(upstream, str):
        output = network.forward(x)
        upstream = np.random.default_rng(0).standard_normal(output.shape).astype(x.dtype)
    comparison = compare_pass(network, model, x, target, loss, upstream)
    comparison.assert_ok()
    if lr is not None:
        compare_step(network, model, x, target, loss, lr).assert_ok()
    return comparison


def mnist_like(rng, n, dtype, features=784, classes=10):
    """Inputs in [0, 1) as MNIST pixels are, with integer labels."""
    return rng.random((n, features)).astype(dtype), rng.integers(0, classes, n)
