"""A user's loss, in the user's conventions, presented as a scratch_nn loss.

AdaptedLoss subclasses the scratch_nn loss it computes (SoftmaxCrossEntropy or QuadraticLoss),
so that the torch twin is found as for scratch_nn's own and ``reduction`` says what the twin
reduces with. It has scratch_nn's interface: ``forward(output, target) -> scalar`` with integer
labels or one-hot rows, then ``backward() -> dL/d output``. Underneath it calls the user's loss:

- targets as the user's code takes them (labels, or one-hot rows);
- the value from ``forward``/``loss``/``__call__`` (or a plain function), the gradient from
  ``backward()`` (it remembers), ``backward(output, target)`` (stateless), or from the same call
  that returns ``(loss, grad)`` (softmax_loss(x, y) -> (loss, dx));
- per-example values (a vector of n losses) are reduced as the gradient says they are taken:
  summed where the gradient is of their sum, averaged where it is of their mean.
- a loss written for one example at a time (a column (classes, 1)) is called per example and its
  values and gradients summed: the batch's loss is then the sum.
"""

import copy
from dataclasses import dataclass

import numpy as np

import scratch_nn
from scratch_nn.losses import is_labels, one_hot

from .probing import FAILED, ConventionError, attempt, method, required_arguments

VALUE_METHODS = ("forward", "loss", "calculate", "compute", "__call__")
GRADIENT_METHODS = ("backward", "gradient", "grad", "derivative", "prime", "backprop")
GRADIENT_CALLS = ("stateful", "stateless", "returned")
TWIN_LOSSES = {"cross_entropy": scratch_nn.SoftmaxCrossEntropy, "mse": scratch_nn.QuadraticLoss}
DEFINITIONS = {"cross_entropy": "cross-entropies -log softmax(z)_y", "mse": "squared errors 1/2 ||a - t||^2"}


@dataclass
class LossConventions:
    """How a user's loss works; each field can be given to adapt_loss under its name."""

    name: str
    twin: str                      # "cross_entropy" (softmax + cross-entropy on logits) or "mse" (the paper's 1/2n)
    value: str = "forward"         # the method that gives the value; "" for a plain function
    gradient: str = "stateful"     # "stateful": backward(); "stateless": backward(output, target); "returned"
    gradient_method: str = "backward"
    targets: str = "labels"        # "labels" (n,) integers, or "one_hot" (n, classes)
    reduction: str = "mean"        # the value: "mean", "sum", or "none" (one value per example)
    gradient_of: str = "mean"      # for per-example values: the gradient is of their "mean" or their "sum"
    batching: str = "rows"         # "rows" (n, classes), or "columns": one example (classes, 1) at a time

    @property
    def twin_reduction(self) -> str:
        return self.gradient_of if self.reduction == "none" else self.reduction

    def describe(self) -> str:
        call = f"{self.name}.{self.value}" if self.value else self.name
        values = {"mean": "the batch mean", "sum": "the batch sum", "none": "one value per example"}[self.reduction]
        target = "integer labels" if self.targets == "labels" else "one-hot targets"
        parts = [f"{call}(output, {target}) returns {values}"]
        if self.batching == "columns":
            parts = [f"{call}(column, {target} column) takes one example at a time; values and gradients summed"]
        parts.append({"stateful": f"{self.gradient_method}() returns the gradient",
                      "stateless": f"{self.gradient_method}(output, target) returns the gradient",
                      "returned": "the same call returns (loss, gradient)"}[self.gradient])
        if self.reduction == "none":
            parts.append(f"the gradient is of their {self.gradient_of}, so they are compared as their "
                         f"{self.gradient_of}")
        return f"{self.name} ({self.twin}): " + "; ".join(parts)


class AdaptedLoss:
    """scratch_nn's loss interface over a user's loss (see the module docstring)."""

    def __init__(self, user, conventions: LossConventions):
        super().__init__(reduction=conventions.twin_reduction)  # the scratch loss this class also derives from
        self.user, self.conventions = user, conventions
        self.torch_twin = conventions.twin

    def forward(self, output, target):
        c = self.conventions
        targets = user_targets(target, output, c.targets)
        if c.batching == "columns":
            pairs = [self._value(z.reshape(-1, 1), t.reshape(-1, 1) if t.ndim else t) for z, t in zip(output, targets)]
            values = np.array([float(np.sum(value)) for value, _ in pairs])
            self._cache = ([grad for _, grad in pairs], output, targets)
        else:
            values, grad = self._value(output, targets)
            self._cache = (grad, output, targets)
        values = np.asarray(values, dtype=output.dtype)
        if c.reduction == "none" or c.batching == "columns":
            values = values.sum() if self.reduction == "sum" else values.mean()
        return values.reshape(()).astype(output.dtype)[()]

    def _value(self, output, targets):
        result = self._value_function()(output, targets)
        return result if self.conventions.gradient == "returned" else (result, None)

    def _value_function(self):
        c = self.conventions
        return getattr(self.user, c.value) if c.value else self.user

    def backward(self):
        if self._cache is None:
            raise RuntimeError(f"{self!r}.backward was called before forward: there is no loss to differentiate")
        grad, output, targets = self._cache
        c = self.conventions
        if c.batching == "columns":
            if c.gradient != "returned":
                grad = [self._gradient_at(z.reshape(-1, 1), t.reshape(-1, 1) if t.ndim else t)
                        for z, t in zip(output, targets)]
            return np.concatenate([np.asarray(g).reshape(1, -1) for g in grad]).astype(output.dtype)
        return np.asarray(grad if c.gradient == "returned" else self._gradient_at(output, targets))

    def _gradient_at(self, output, targets):
        c = self.conventions
        function = getattr(self.user, c.gradient_method)
        if c.gradient == "stateful":
            if c.batching == "columns":  # a stateful backward answers for the last call: make it this example's
                self._value_function()(output, targets)
            return function()
        return function(output, targets)

    def __repr__(self):
        return f"{self.conventions.name}({self.conventions.twin}, {self.reduction})"


def user_targets(target, output, form):
    """Targets as the user's loss takes them: integer labels (n,) or one-hot rows in the output's dtype."""
    target = np.asarray(target)
    if form == "one_hot":
        return one_hot(target, output)
    if is_labels(target):
        return target
    hot = (target == 0) | (target == 1)
    if not (hot.all() and (target.sum(axis=1) == 1).all()):
        raise ValueError(f"this loss takes integer labels, so targets must be labels or one-hot rows; "
                         f"got per-class targets that are not one-hot")
    return target.argmax(axis=1)


_CLASSES: dict[tuple, type] = {}


def adapted_loss_class(name: str, twin: str) -> type:
    """A subclass of AdaptedLoss and of the scratch loss it computes, named after the user's loss."""
    if (name, twin) not in _CLASSES:
        _CLASSES[name, twin] = type(name, (AdaptedLoss, TWIN_LOSSES[twin]), {"__module__": __name__})
    return _CLASSES[name, twin]


# ---------------------------------------------------------------------------------------------
# Discovery

PROBE_BATCH, PROBE_CLASSES = 5, 3   # n differs from the number of classes: labels and rows cannot be confused
PROBE_RTOL = 1e-9                   # float64 probes: a right reduction agrees to rounding, a wrong one by a factor


def adapt_loss(subject, twin=None, **explicit):
    """A scratch_nn loss around a user's loss: an object with forward/backward (or loss/gradient...),
    a function returning (loss, grad), or a pair (value_fn, gradient_fn). Deep-copied, never modified.

    twin: "cross_entropy" (softmax cross-entropy on logits) or "mse" (the paper's 1/(2n) sum of
        squares); default: the subject's torch_twin attribute.
    explicit: any LossConventions field (targets="one_hot", reduction="none", gradient_of="sum",
        gradient="stateless", value="loss", gradient_method="grad", batching="columns").
    """
    known = set(LossConventions.__dataclass_fields__) - {"name", "twin"}
    if set(explicit) - known:
        raise TypeError(f"adapt_loss got unknown conventions {sorted(set(explicit) - known)}; known: {sorted(known)}")
    twin = twin or getattr(subject, "torch_twin", None)
    if twin not in TWIN_LOSSES:
        raise ConventionError(f"say which loss this is: twin='cross_entropy' or 'mse' (got {twin!r})")
    if isinstance(subject, tuple):
        subject = LossPair(*subject)
    user = copy.deepcopy(subject)
    name = getattr(user, "__name__", type(user).__name__)
    c = LossConventions(name=name, twin=twin, **explicit)
    discover_loss(user, c, explicit)
    return adapted_loss_class(name, twin)(user, c)


class LossPair:
    """(value_fn, gradient_fn), both called as f(output, target), as an object."""

    def __init__(self, value_fn, gradient_fn):
        self.forward, self.backward = value_fn, gradient_fn
        self.__name__ = value_fn.__name__


def discover_loss(user, c, explicit):
    function = callable(user) and not hasattr(user, "forward") and not hasattr(user, "loss")
    if "value" not in explicit:
        c.value = "" if function else method(user, VALUE_METHODS, "loss value", "value=")[0]
    rng = np.random.default_rng(5)
    output = rng.standard_normal((PROBE_BATCH, PROBE_CLASSES)) if c.twin == "cross_entropy" \
        else rng.random((PROBE_BATCH, PROBE_CLASSES))
    labels = np.arange(PROBE_BATCH) % PROBE_CLASSES
    per_example, gradient_of_sum = reference(c.twin, output, labels)
    tried = []
    for batching in [explicit["batching"]] if "batching" in explicit else ["rows", "columns"]:
        for targets in [explicit["targets"]] if "targets" in explicit else ["labels", "one_hot"]:
            c.batching, c.targets = batching, targets
            if "gradient" not in explicit:
                c.gradient = "returned" if function else "stateful"
            probe = adapted_loss_class(c.name, c.twin)(copy.deepcopy(user), c)
            result = attempt(raw_result, probe, output, labels)
            if result is FAILED:
                tried.append(f"{batching}, {targets}: raised")
                continue
            pairs = result if batching == "columns" else [result]
            if "gradient" not in explicit and all(isinstance(r, tuple) and len(r) == 2 for r in pairs):
                c.gradient = "returned"
            values = [r[0] if c.gradient == "returned" else r for r in pairs]
            value = np.array([float(np.sum(v)) for v in values]) if batching == "columns" else values[0]
            found = reduction_of(np.asarray(value, dtype=float), per_example)
            if found is None and {"reduction", "targets"} <= explicit.keys():  # stated: the checker will judge it
                found = explicit["reduction"]
            if found is None:
                tried.append(f"{batching}, {targets}: value {np.ravel(value)[:3]} is not the loss")
                continue
            if "reduction" not in explicit:
                c.reduction = "none" if batching == "columns" else found
            break
        else:
            continue
        break
    else:
        raise ConventionError(f"could not find how {c.name} is called: its value is not the mean, the sum or the "
                              f"list of the per-example {DEFINITIONS[c.twin]} (tried with a batch of {PROBE_BATCH} "
                              f"and {PROBE_CLASSES} classes: {'; '.join(tried)}); give targets=, reduction=, batching=")
    if c.gradient != "returned" and not function and "gradient" not in explicit:
        c.gradient_method = method(user, GRADIENT_METHODS, "gradient", "gradient_method=")[0] \
            if "gradient_method" not in explicit else c.gradient_method
        arguments = required_arguments(getattr(user, c.gradient_method))
        c.gradient = "stateful" if not arguments else "stateless"
    if c.reduction == "none" and "gradient_of" not in explicit:
        c.gradient_of = ("sum" if c.batching == "columns"
                         else gradient_reduction(user, c, output, labels, gradient_of_sum))


def raw_result(loss, output, labels):
    """What the user's value call returns, as it returns it (per example, a list, for columns)."""
    c = loss.conventions
    targets = user_targets(labels, output, c.targets)
    if c.batching == "columns":
        return [loss._value_function()(z.reshape(-1, 1), t.reshape(-1, 1) if t.ndim else t)
                for z, t in zip(output, targets)]
    return loss._value_function()(output, targets)


def reference(twin, output, labels):
    """Per-example losses and the gradient of their sum, computed here in float64."""
    one_hot = np.eye(output.shape[1])[labels]
    if twin == "cross_entropy":
        shifted = output - output.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -(one_hot * log_probs).sum(axis=1), np.exp(log_probs) - one_hot
    return 0.5 * ((output - one_hot) ** 2).sum(axis=1), output - one_hot


def reduction_of(value, per_example):
    if value.size == per_example.size and np.allclose(value.ravel(), per_example, rtol=PROBE_RTOL, atol=0):
        return "none"
    for name, expected in (("mean", per_example.mean()), ("sum", per_example.sum())):
        if value.size == 1 and np.isclose(float(value.ravel()[0]), expected, rtol=PROBE_RTOL, atol=0):
            return name
    return None


def gradient_reduction(user, c, output, labels, gradient_of_sum) -> str:
    probe = adapted_loss_class(c.name, c.twin)(copy.deepcopy(user), c)
    probe.forward(output, labels)
    grad = np.asarray(probe.backward(), dtype=float)
    for name, expected in (("sum", gradient_of_sum), ("mean", gradient_of_sum / len(output))):
        if grad.shape == expected.shape and np.allclose(grad, expected, rtol=PROBE_RTOL, atol=0):
            return name
    raise ConventionError(f"{c.name} returns one loss per example, and its gradient is neither that of their "
                          f"sum nor of their mean; say which it is meant to be with gradient_of='sum' or 'mean'")
