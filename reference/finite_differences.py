"""Gradients by central finite differences (scipy.differentiate), in float64.

The third opinion: finite differences need only the forward pass, so a misconception in the
backward pass that the scratch code and the way we drive torch happened to share still shows up
here. numerical_trace returns the gradients under the keys side_by_side's traces use:
"i.grad_input", "loss.grad" and "i.weight.grad" / "i.bias.grad".

sampled_diff checks a sample of a tensor's entries instead of all of them (a 784-wide input
would cost thousands of forward passes and add nothing), keeps KINK_MARGIN away from 0 where
asked (a stencil that straddles ReLU's kink measures the mean of the two one-sided slopes,
which is no derivative at all), and widens FINITE_DIFFERENCES where scipy's own error estimate
says the differences cannot resolve that much (saturated units, losses in the hundreds).
"""

from dataclasses import dataclass, replace

import numpy as np
from scipy.differentiate import jacobian

from reference import tolerances
from reference.comparison import TensorDiff, Tolerance, diff

# Central differences of order 8, starting at step 1e-2 and halving: small enough that a ReLU
# kink is rarely inside the stencil, large enough that rounding does not dominate.
INITIAL_STEP = 1e-2


def numerical_gradient(f, x: np.ndarray) -> np.ndarray:
    """df/dx of a scalar function of an array, by scipy's adaptive central differences."""
    return numerical_gradient_and_error(f, x)[0]


def numerical_gradient_and_error(f, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """df/dx as numerical_gradient gives it, and scipy's estimate of each entry's error (how much
    the entry moved between the last two step sizes): where rounding in f swamps the difference
    quotient, the estimate grows with it."""
    if x.dtype != np.float64:
        raise TypeError(f"finite differences are taken in float64 (float32 rounding swamps them); got {x.dtype}")

    def f_vectorized(points):  # scipy evaluates many points at once: shape (x.size, ...)
        columns = points.reshape(points.shape[0], -1)
        values = [f(columns[:, j].reshape(x.shape)) for j in range(columns.shape[1])]
        return np.asarray(values).reshape(points.shape[1:])

    result = jacobian(f_vectorized, x.ravel(), initial_step=INITIAL_STEP)
    return result.df.reshape(x.shape), result.error.reshape(x.shape)


def numerical_trace(network, x, target=None, loss=None, upstream=None) -> dict:
    """The gradients of the loss (or of sum(upstream * output)) by finite differences:
    with respect to every layer's input, the network output (with a loss), and every parameter."""
    layers = network.layers

    def objective(h, start=0):
        for layer in layers[start:]:
            h = layer.forward(h)
        return float(loss.forward(h, target)) if loss is not None else float((upstream * h).sum())

    inputs = [x]
    for layer in layers:
        inputs.append(layer.forward(inputs[-1]))
    trace = {}
    if loss is not None:
        trace["loss.grad"] = numerical_gradient(lambda out: objective(out, start=len(layers)), inputs[-1])
    for i in reversed(range(len(layers))):
        trace[f"{i}.grad_input"] = numerical_gradient(lambda h, i=i: objective(h, start=i), inputs[i])
    for key, layer, name in network.named_parameters():
        trace[f"{key}.grad"] = numerical_gradient(lambda p, param=layer.params[name]: with_values(param, p, objective,
                                                                                                  x),
                                                  layer.params[name])
    network.forward(x)  # leave the layers' caches as the unperturbed forward pass left them
    return trace


def with_values(param, values, f, *args):
    """f(*args) with param temporarily holding values."""
    original = param.copy()
    param[...] = values
    try:
        return f(*args)
    finally:
        param[...] = original


# ---------------------------------------------------------------------------------------------
# Sampled entries, for tensors too large to difference in full (reference.gradcheck)

FINITE_DIFFERENCES_JUDGE = "finite differences"  # how messages name this judge (TensorDiff.judge)
KINK_MARGIN = 2 * INITIAL_STEP    # scipy's stencil reaches INITIAL_STEP either side of the point
ESTIMATE_MARGIN = 100             # scipy's error estimate was off by up to 1.7x in 432 checks


@dataclass
class EntrySampler:
    """Which entries of a tensor finite differences check: up to `count`, drawn from their own
    generator so that the sampling does not change the inputs of the check."""

    count: int
    rng: np.random.Generator

    def choose(self, size, allowed=None) -> np.ndarray:
        """Sorted flat positions; allowed: a mask of the entries that may be chosen (None: all)."""
        candidates = np.arange(size) if allowed is None else np.flatnonzero(allowed)
        return np.sort(self.rng.choice(candidates, min(self.count, len(candidates)), replace=False))


def sampled_diff(key, analytic, array, allowed, objective, sampler: EntrySampler, where="") -> TensorDiff:
    """analytic against finite differences of objective() with respect to array, on sampled entries
    (allowed: a mask of the entries that may be sampled; None: all).

    The objective reads array, which is perturbed in place entry by entry and restored. Positions
    in the result are the tensor's own, not the sample's.
    """
    analytic = np.asarray(analytic)
    if analytic.shape != array.shape:  # nothing to sample: the shape is the finding, and diff words it
        return diff(key, analytic, np.zeros(array.shape), tolerances.FINITE_DIFFERENCES, where,
                    FINITE_DIFFERENCES_JUDGE)
    positions = sampler.choose(array.size, allowed)
    where = ", ".join(filter(None, [where, f"{len(positions)} of {array.size} entries sampled"]))
    if not len(positions):  # every entry within the kink margin: nothing to difference (torch still judges)
        return diff(key, np.zeros(0), np.zeros(0), tolerances.FINITE_DIFFERENCES, where, FINITE_DIFFERENCES_JUDGE)
    original = array.copy()

    def at(values):
        array.flat[positions] = values
        try:
            return objective()
        finally:
            array[...] = original

    def in_tensor(at_sample):
        return tuple(int(i) for i in np.unravel_index(positions[at_sample[0]], array.shape))

    numerical, error = numerical_gradient_and_error(at, original.flat[positions].copy())
    d = diff(key, analytic.flat[positions], numerical, widened_tolerance(numerical, error), where,
             FINITE_DIFFERENCES_JUDGE)
    if d.problem or not len(positions):
        return d
    return replace(d, max_abs_at=in_tensor(d.max_abs_at), max_rel_at=in_tensor(d.max_rel_at))


def widened_tolerance(numerical, error) -> Tolerance:
    """FINITE_DIFFERENCES, widened to ESTIMATE_MARGIN times scipy's own largest error estimate
    where that is larger. Finite differences cannot resolve a derivative below the rounding error
    of the objective divided by the step: the units of a saturated sigmoid (derivatives of 1e-13),
    or a loss in the hundreds at logits in the thousands. There torch is the judge."""
    base = tolerances.FINITE_DIFFERENCES
    scale, floor = np.abs(numerical).max(initial=0), ESTIMATE_MARGIN * np.max(error, initial=0)
    if scale == 0 or floor <= base.atol * scale:
        return base
    return Tolerance(base.rtol, floor / scale, why=f"{base.why} Widened to {ESTIMATE_MARGIN}x scipy's error estimate.")
