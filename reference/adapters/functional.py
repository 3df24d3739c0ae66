"""Functional pairs made into objects, so that they are adapted like any other layer or loss.

    affine_forward(x, w, b) -> (out, cache)      affine_backward(dout, cache) -> (dx, dw, db)
    relu_forward(x) -> (out, cache)              relu_backward(dout, cache) -> dx
    softmax_loss(x, y) -> (loss, dx)

FunctionalLayer holds the parameters (as .w and .b) and calls the pair; discovery then finds, as
for any object, that forward returns a cache, that backward takes (grad, cache) and returns
(dx, dw, db), and how w is laid out. A loss function needs no object: adapt_loss calls it.
"""

import itertools

import numpy as np

from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.probing import works


class FunctionalLayer:
    """forward(x) = forward_fn(x[, w, b]); backward(grad, cache) = backward_fn(grad, cache).

    weight, bias: the parameters the functions take. Without them, for a pair whose forward takes
    (x, w, b), in_features and out_features make fresh ones, laid out as forward accepts them: a
    batch as rows with w (in, out) (x @ w, the usual layout of this style) or (out, in), then a batch
    as columns (in, m) with w (out, in) and b (out, 1) (W @ A + b, the deep-learning course's);
    layout, bias_shape and batching, where given, are the only ones tried.
    """

    def __init__(self, forward_fn, backward_fn, weight=None, bias=None, *, in_features=None, out_features=None,
                 dtype=np.float64, layout=None, bias_shape=None, batching=None):
        self.forward_fn, self.backward_fn = forward_fn, backward_fn
        self.name = forward_fn.__name__.removesuffix("_forward")
        if weight is None and in_features and out_features and takes_parameters(forward_fn):
            weight, bias = fresh_parameters(forward_fn, in_features, out_features, dtype, layout, bias_shape, batching)
        if weight is not None:
            self.w, self.b = weight, bias

    def forward(self, x):
        return self.forward_fn(x, self.w, self.b) if hasattr(self, "w") else self.forward_fn(x)

    def backward(self, grad, cache):
        return self.backward_fn(grad, cache)


def takes_parameters(function) -> bool:
    return function.__code__.co_argcount >= 3


PROBE_BATCH = 3  # the smallest batch tried: a batch size is never the in or out features
BIAS_RESHAPES = {"flat": lambda n: (n,), "row": lambda n: (1, n), "column": lambda n: (n, 1)}
WEIGHT_SHAPES = {"in_out": lambda i, o: (i, o), "out_in": lambda i, o: (o, i)}
TRIED = [("rows", "in_out", "flat"), ("rows", "out_in", "flat"), ("rows", "in_out", "row"), ("rows", "out_in", "row"),
         ("columns", "out_in", "column"), ("columns", "in_out", "column"), ("columns", "out_in", "flat")]


def fresh_parameters(forward_fn, in_features, out_features, dtype, layout=None, bias_shape=None, batching=None):
    """Zero parameters of the first form in TRIED (restricted to the conventions given) that forward takes
    for a batch of that form. A pair for one example at a time takes the rows' forms' column, (in, 1)."""
    tried = [form for form in TRIED if (batching in (None, "example") or form[0] == batching)
             and layout in (None, form[1]) and bias_shape in (None, form[2])]
    batch = next(m for m in itertools.count(PROBE_BATCH) if m not in (in_features, out_features))
    for rows_or_columns, weight_layout, bias_form in tried:
        shape = (batch, in_features) if rows_or_columns == "rows" else (in_features, batch)
        if batching == "example":
            shape = (in_features, 1)
        weight = np.zeros(WEIGHT_SHAPES[weight_layout](in_features, out_features), dtype)
        bias = np.zeros(BIAS_RESHAPES[bias_form](out_features), dtype)
        if works(forward_fn, np.zeros(shape, dtype), weight, bias):
            return weight, bias
    given = [part for key, value in (("batching", batching), ("layout", layout), ("bias_shape", bias_shape))
             if value for part in (", ", Keyword(key), repr(value))][1:]
    raise ConventionError(f"{forward_fn.__name__} took none of the weights, biases and batches tried for "
                          f"{in_features} inputs and {out_features} outputs (batching/layout/bias shape "
                          f"{', '.join('/'.join(form) for form in tried)}", *(["; given ", *given] if given else []),
                          "): give ", Keyword("batching"), " (rows or columns), ", Keyword("layout"), " and ",
                          Keyword("bias_shape"), " as your code has them")
