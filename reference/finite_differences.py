"""Gradients by central finite differences (scipy.differentiate), in float64.

The third opinion: finite differences need only the forward pass, so a misconception in the
backward pass that the scratch code and the way we drive torch happened to share still shows up
here. numerical_trace returns the gradients under the keys side_by_side's traces use:
"i.grad_input", "loss.grad" and "i.weight.grad" / "i.bias.grad".
"""

import numpy as np
from scipy.differentiate import jacobian

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
        trace[f"{key}.grad"] = numerical_gradient(lambda p, param=layer.params[name]: with_values(param, p, objective, x),
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
