"""A whole network written as one object, with no layer objects: Nielsen's network.py
(net.weights, net.biases, feedforward(a) on one column, backprop(x, y) -> (nabla_b, nabla_w)),
CS231n's TwoLayerNet (params['W1'] (in, out), loss(X, y) -> (loss, grads)), a class with W1, b1, ...
and forward(X) / backward(...). NetworkConventions says how one such object works (found by
whole_network_discovery.py, or given); the functions here read and write its parameters and call
it, always in one canonical form: the parameters of layer i as (W_i (out, in), b_i (out,)), the
inputs X as rows (n, in), the outputs as rows (n, out), so that layer i computes
z_i = h_{i-1} W_i^T + b_i and h_i = f_i(z_i), h_0 = X.

The gradients are those of the network's cost averaged over the batch, C = (1/n) sum_x C_x (or
the sum, where the user's own loss value says it is the sum): a per-example backprop(x, y) is
called on each example and the results averaged, as Nielsen's update_mini_batch does.
"""

import re
from dataclasses import dataclass, fields

import numpy as np

from reference.adapters.errors import ConventionError, Keyword

LAYOUTS = ("out_in", "in_out")
BIAS_SHAPES = ("flat", "row", "column")
BIAS_RESHAPES = {"flat": (-1,), "row": (1, -1), "column": (-1, 1)}
BATCHINGS = ("rows", "columns", "example")
TARGETS = ("labels", "one_hot")
HIDDEN_ACTIVATIONS = ("sigmoid", "relu", "tanh")
OUTPUT_ACTIVATIONS = ("none", "sigmoid", "softmax", "relu", "tanh")
LOSSES = ("quadratic", "cross_entropy", "binary_cross_entropy")
REDUCTIONS = ("mean", "sum")
LOSS_WORDS = {"quadratic": "quadratic cost ||a - y||^2 / 2 per example",
              "cross_entropy": "softmax cross-entropy -log p_y per example",
              "binary_cross_entropy": "cross-entropy -sum(y ln a + (1 - y) ln(1 - a)) per example"}


@dataclass
class NetworkConventions:
    """How one whole-network object works. Every field is a keyword argument of discover() (and a
    flag of compare.py check whole-network) that states it instead of probing."""

    weights: tuple          # locations of each layer's weight: "weights[0]", "params.W1", "W1"
    biases: tuple           # locations of each layer's bias
    layout: str             # "out_in": W @ a (Nielsen, torch); "in_out": X @ W (CS231n)
    bias_shape: str         # "flat" (out,), "row" (1, out), "column" (out, 1)
    batching: str           # "rows": a batch (n, in); "columns": a batch as columns (in, m); "example": one
                            # example (in, 1) at a time
    forward: str            # the method giving the network's output (loss(X) for CS231n: the scores)
    gradients: str          # the method giving the gradients
    gradients_call: str     # "data": gradients(x, y); "targets": forward(X), then gradients(y); "none": gradients()
    targets: str            # "labels" (n,) or "one_hot" (n, classes) (a column (classes, 1) per example)
    activations: tuple      # one per layer, the last the output's ("none" for scores)
    loss: str               # one of LOSSES
    reduction: str          # "mean" or "sum" over the batch
    update: str | None      # the method taking one SGD step (update_mini_batch, train_step), or None
    update_lr: str | None   # its learning-rate argument's name (eta, learning_rate)

    def describe(self, calls: dict | None = None) -> str:
        """calls: the words for the forward, gradients and update calls where the methods stand for other
        code (a module of functions: function_network.py), by the method's name."""
        calls = calls or {}
        n = len(self.weights)
        stored = "(out, in), used as W @ a" if self.layout == "out_in" else "(in, out), used as X @ W"
        how = calls.get(self.gradients) or {
            "data": f"{self.gradients}(x, y)", "targets": f"{self.forward}(X), then {self.gradients}(y)",
            "none": f"{self.forward}(X), then {self.gradients}()"}[self.gradients_call]
        per = {"example": "one example at a time as a column (in, 1) (a batch of columns gave gradients of other "
                          "shapes)", "columns": "a batch as columns (in, m)", "rows": "a batch as rows (n, in)"}[
            self.batching]
        averaged = ", the examples' gradients averaged" if self.batching == "example" else ""
        rows = [f"parameters: {n} layers; weights in {_span(self.weights)}, stored {stored}; biases in "
                f"{_span(self.biases)}, shape {self.bias_shape}",
                f"forward: {calls.get(self.forward) or self.forward + '(...)'} on {per}; activations "
                f"{', '.join(self.activations[:-1]) or '-'} hidden, {self.activations[-1]} at the output",
                f"gradients: {how}{averaged}; targets as {self.targets.replace('_', '-')}",
                f"loss: {LOSS_WORDS[self.loss]}, {self.reduction} over the batch",
                f"update: {calls.get(self.update) or f'{self.update}(..., {self.update_lr})'} checked as one "
                f"torch.optim.SGD step" if self.update else "update: none found (no step checked)"]
        return "Conventions found (each can be given explicitly):\n" + "\n".join(f"  {row}" for row in rows)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data, layers: int) -> "NetworkConventions":
        """The conventions of a network of that many layers from plain data (to_dict's, as JSON sends
        it), each field checked to be one this module knows; ValueError naming the first that is not."""
        names = [f.name for f in fields(cls)]
        if not isinstance(data, dict) or sorted(data) != sorted(names):
            raise ValueError(f"conventions need exactly the fields {', '.join(names)}")
        found = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        choices = {"layout": LAYOUTS, "bias_shape": BIAS_SHAPES, "batching": BATCHINGS, "targets": TARGETS,
                   "loss": LOSSES, "reduction": REDUCTIONS, "gradients_call": ("data", "targets", "none")}
        checks = [(key, found[key] in allowed) for key, allowed in choices.items()]
        checks += [(key, _names(found[key], layers, LOCATION)) for key in ("weights", "biases")]
        checks += [("activations", isinstance(found["activations"], tuple) and len(found["activations"]) == layers
                    and set(found["activations"][:-1]) <= set(HIDDEN_ACTIVATIONS)
                    and found["activations"][-1] in OUTPUT_ACTIVATIONS)]
        checks += [(key, _names((found[key],), 1, IDENTIFIER)) for key in ("forward", "gradients")]
        checks += [("update", (found["update"], found["update_lr"]) == (None, None)
                    or _names((found["update"], found["update_lr"]), 2, IDENTIFIER))]
        wrong = next((key for key, ok in checks if not ok), None)
        if wrong:
            raise ValueError(f"conventions with {wrong} {str(found[wrong])[:80]}, which cannot be")
        return cls(**found)


def _names(values, count: int, pattern) -> bool:
    """values: a tuple of count strings, each as pattern (a location, an identifier) matches it."""
    return isinstance(values, tuple) and len(values) == count and all(
        isinstance(value, str) and len(value) <= 100 and pattern.fullmatch(value) for value in values)


def _span(locations) -> str:
    return f"`{locations[0]}`" if len(locations) == 1 else f"`{locations[0]}` .. `{locations[-1]}`"


# Locations: "W1" (an attribute), "params.W1" (a dict entry), "weights[0]" (a list entry) ---------------

LOCATION = re.compile(r"([A-Za-z_]\w*)(?:\.(\w+)|\[(\d+)\])?")
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def get(obj, location: str):
    name, key, index = _parse(location)
    value = getattr(obj, name)
    return value[key] if key is not None else value[int(index)] if index is not None else value


def put(obj, location: str, value) -> None:
    name, key, index = _parse(location)
    if key is None and index is None:
        setattr(obj, name, value)
    else:
        getattr(obj, name)[key if key is not None else int(index)] = value


def _parse(location: str):
    match = LOCATION.fullmatch(location)
    if match is None:
        raise ValueError(f"{location!r} is not a location: give an attribute (W1), a dict entry (params.W1) or a "
                         f"list entry (weights[0])")
    return match.groups()


def last_name(location: str) -> str:
    """The name a gradient is keyed by: "W1" for "params.W1" and "W1"; "" for a list entry."""
    name, key, index = _parse(location)
    return key if key is not None else "" if index is not None else name


# Parameters and gradients in canonical form ------------------------------------------------------------

def parameters(net, conventions: NetworkConventions) -> list[tuple[np.ndarray, np.ndarray]]:
    """Copies of every layer's (W (out, in), b (out,)), in float64."""
    return [(canonical_weight(get(net, w), conventions), np.asarray(get(net, b), dtype=np.float64).ravel())
            for w, b in zip(conventions.weights, conventions.biases)]


def load_parameters(net, conventions: NetworkConventions, params) -> None:
    """Write canonical (W, b) into the user's storage, in its layout, bias shape and float64: into the
    existing arrays where they have that shape, so that references to them see the values."""
    for (w_at, b_at), (w, b) in zip(zip(conventions.weights, conventions.biases), params):
        for at, value in ((w_at, w if conventions.layout == "out_in" else w.T),
                          (b_at, b.reshape(BIAS_RESHAPES[conventions.bias_shape]))):
            current = get(net, at)
            if isinstance(current, np.ndarray) and current.shape == value.shape and current.dtype == np.float64:
                current[...] = value
            else:
                put(net, at, np.array(value, dtype=np.float64))


def canonical_weight(value, conventions: NetworkConventions) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    return value.T.copy() if conventions.layout == "in_out" and value.ndim == 2 else value.copy()


def canonical_bias(value, bias) -> np.ndarray:
    """A bias gradient as (out,) where it has the bias's own shape; any other shape is kept, so
    that the comparison names it (e.g. (n, out): not summed over the batch)."""
    value = np.asarray(value, dtype=np.float64)
    return value.ravel().copy() if value.shape == np.shape(bias) else value.copy()


# Calling the network ----------------------------------------------------------------------------------

def targets_for(labels: np.ndarray, classes: int, conventions: NetworkConventions):
    """The targets the user's code takes for these labels: labels (n,), or one-hot rows (n, classes);
    for a batch of columns a row of labels (1, m) or one-hot columns (classes, m). One output unit
    (binary cross-entropy) takes its labels in {0, 1} as they are: (n, 1), or (1, m) in columns."""
    if classes == 1:
        targets = np.asarray(labels, dtype=np.float64).reshape(-1, 1)
    elif conventions.targets == "labels":
        targets = np.asarray(labels).reshape(-1, 1) if conventions.batching == "columns" else labels
    else:
        targets = np.eye(classes)[labels]
    return targets.T if conventions.batching == "columns" else targets


def forward(net, conventions: NetworkConventions, X: np.ndarray) -> np.ndarray:
    """The network's output (n, out) for the rows X."""
    method = getattr(net, conventions.forward)
    if conventions.batching == "example":
        return np.stack([np.asarray(method(x.reshape(-1, 1)), dtype=np.float64).ravel() for x in X])
    if conventions.batching == "columns":
        return np.asarray(method(X.T), dtype=np.float64).T
    return np.asarray(method(X), dtype=np.float64)


def gradients(net, conventions: NetworkConventions, X, targets) -> tuple[list, float | None]:
    """The user's gradients [(dW (out, in), db (out,)), ...] of the cost over the batch, and the loss
    value the method returned with them (None where it returns none). targets: as targets_for gives them."""
    method = getattr(net, conventions.gradients)
    if conventions.batching == "columns":
        return _read_gradients(net, conventions, _call(net, conventions, method, X.T, targets))
    if conventions.batching == "example":
        results = [_read_gradients(net, conventions, _call(net, conventions, method, x.reshape(-1, 1),
                                                           _column(t)))[0] for x, t in zip(X, targets)]
        summed = [tuple(sum(r[i][k] for r in results) for k in range(2)) for i in range(len(results[0]))]
        scale = 1 if conventions.reduction == "sum" else len(X)
        return [(w / scale, b / scale) for w, b in summed], None
    return _read_gradients(net, conventions, _call(net, conventions, method, X, targets))


def _column(target):
    return target.reshape(-1, 1) if np.ndim(target) else target


def _call(net, conventions, method, x, target):
    if conventions.gradients_call == "data":
        return method(x, target)
    getattr(net, conventions.forward)(x)
    return method(target) if conventions.gradients_call == "targets" else method()


def _read_gradients(net, conventions: NetworkConventions, result) -> tuple[list, float | None]:
    """(loss, grads), grads, (nabla_b, nabla_w), a tuple of arrays, or nothing (then attributes
    d<name> or a dict grads on the network): as canonical pairs, and the loss value if returned."""
    value = None
    if isinstance(result, tuple) and len(result) == 2 and _is_number(result[0]):
        value, result = float(result[0]), result[1]
    names = [last_name(at) for pair in zip(conventions.weights, conventions.biases) for at in pair]
    if result is None:
        result = getattr(net, "grads", None)
        if not isinstance(result, dict):
            result = {name: getattr(net, f"d{name}") for name in names if hasattr(net, f"d{name}")}
    biases = [get(net, at) for at in conventions.biases]
    raw = _by_parameter(result, conventions, names, biases)
    return [(canonical_weight(raw[2 * i], conventions), canonical_bias(raw[2 * i + 1], biases[i]))
            for i in range(len(biases))], value


def _is_number(value) -> bool:
    """A Python or NumPy number, or a 0-d array (np.squeeze of a cost leaves one)."""
    return isinstance(value, (float, int, np.number)) or (isinstance(value, np.ndarray) and value.ndim == 0
                                                          and value.dtype.kind in "fiu")


def _by_parameter(result, conventions: NetworkConventions, names, biases) -> list:
    """The gradients in the order W1, b1, W2, b2, ... from what the method gave: a dict keyed like
    the parameters (W1, dW1, grad_W1), a pair of lists (nabla_b, nabla_w) in either order (the one
    whose shapes are the biases' is nabla_b), or a flat tuple (dW1, db1, dW2, db2, ...)."""
    if isinstance(result, dict):
        keys = [next((key for key in (name, f"d{name}", f"grad_{name}", f"d_{name}") if key in result), None)
                for name in names]
        if None in keys:
            raise ConventionError(f"the gradients {sorted(result)} do not name every parameter {names}; give ",
                                  Keyword("gradient_method"), " the method that returns them")
        return [result[key] for key in keys]
    if isinstance(result, (tuple, list)) and len(result) == 2 and all(isinstance(r, (list, tuple)) for r in result):
        weights_first = all(np.shape(g) == np.shape(b) for g, b in zip(result[1], biases)) and \
            not all(np.shape(g) == np.shape(b) for g, b in zip(result[0], biases))
        nabla_w, nabla_b = result if weights_first else result[::-1]
        return [g for pair in zip(nabla_w, nabla_b) for g in pair]
    if isinstance(result, (tuple, list)) and len(result) == 2 * len(biases):
        return list(result)
    raise ConventionError(f"{conventions.gradients} returned {type(result).__name__}, not gradients this check can "
                          f"read: (loss, grads dict), a grads dict, (nabla_b, nabla_w), or (dW1, db1, ...)")
