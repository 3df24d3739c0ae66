"""Functional pairs made into objects, so that they are adapted like any other layer or loss.

    affine_forward(x, w, b) -> (out, cache)      affine_backward(dout, cache) -> (dx, dw, db)
    relu_forward(x) -> (out, cache)              relu_backward(dout, cache) -> dx
    softmax_loss(x, y) -> (loss, dx)

FunctionalLayer holds the parameters (as .w and .b) and calls the pair; discovery then finds, as
for any object, that forward returns a cache, that backward takes (grad, cache) and returns
(dx, dw, db), and how w is laid out. A loss function needs no object: adapt_loss calls it.
"""

import numpy as np

from reference.adapters.probing import works


class FunctionalLayer:
    """forward(x) = forward_fn(x[, w, b]); backward(grad, cache) = backward_fn(grad, cache).

    weight, bias: the parameters the functions take. Without them, for a pair whose forward takes
    (x, w, b), in_features and out_features make fresh ones, laid out as forward accepts them:
    (in, out) is tried first (x @ w, the usual layout of this style), then (out, in).
    """

    def __init__(self, forward_fn, backward_fn, weight=None, bias=None, *, in_features=None, out_features=None,
                 dtype=np.float64):
        self.forward_fn, self.backward_fn = forward_fn, backward_fn
        self.name = forward_fn.__name__.removesuffix("_forward")
        if weight is None and in_features and out_features and takes_parameters(forward_fn):
            weight, bias = fresh_parameters(forward_fn, in_features, out_features, dtype)
        if weight is not None:
            self.w, self.b = weight, bias

    def forward(self, x):
        return self.forward_fn(x, self.w, self.b) if hasattr(self, "w") else self.forward_fn(x)

    def backward(self, grad, cache):
        return self.backward_fn(grad, cache)


def takes_parameters(function) -> bool:
    return function.__code__.co_argcount >= 3


def fresh_parameters(forward_fn, in_features, out_features, dtype):
    x = np.zeros((2, in_features), dtype)
    for shape in ((in_features, out_features), (out_features, in_features)):
        weight, bias = np.zeros(shape, dtype), np.zeros(out_features, dtype)
        if works(forward_fn, x, weight, bias):
            return weight, bias
    raise ValueError(f"{forward_fn.__name__} accepts a weight of neither shape ({in_features}, {out_features}) "
                     f"nor ({out_features}, {in_features}) for a ({2}, {in_features}) input; pass the arrays")
