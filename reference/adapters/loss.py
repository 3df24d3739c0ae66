"""A user's loss, in the user's conventions, presented as a scratch_nn loss.

AdaptedLoss subclasses the scratch_nn loss it computes (SoftmaxCrossEntropy, QuadraticLoss or
ProbabilityCrossEntropy), so that the torch twin is found as for scratch_nn's own and
``reduction`` says what the twin reduces with. It has scratch_nn's interface:
``forward(output, target) -> scalar`` with integer labels or one-hot rows, then
``backward() -> dL/d output``. Underneath it calls the user's loss:

- targets as the user's code takes them (labels, or one-hot rows);
- the value from ``forward``/``loss``/``__call__`` (or a plain function), the gradient from
  ``backward()`` (it remembers), ``backward(output, target)`` (stateless), or from the same call
  that returns ``(loss, grad)`` (softmax_loss(x, y) -> (loss, dx));
- per-example values (a vector of n losses) are reduced as the gradient says they are taken:
  summed where the gradient is of their sum, averaged where it is of their mean.
- a loss written for one example at a time (a column (classes, 1)) is called per example and its
  values and gradients summed: the batch's loss is then the sum.
"""

from dataclasses import dataclass

import numpy as np

from reference.adapters.loss_penalty import weight_locations
from reference.adapters.probing import check_choices, get
from reference.loss_names import loss_class
from scratch_nn.losses import is_labels, one_hot

GRADIENT_CALLS = ("stateful", "stateless", "returned")
ARGUMENT_ORDERS = ("output, target", "target, output")
TWIN_LOSSES = ("cross_entropy", "mse", "probability_cross_entropy")  # the scratch losses a loss may be adapted as
DEFINITIONS = {"cross_entropy": "cross-entropies -log softmax(z)_y", "mse": "squared errors 1/2 ||a - t||^2",
               "probability_cross_entropy": "cross-entropies -log p_y of probabilities p"}


@dataclass
class LossConventions:
    """How a user's loss works; each field can be given to adapt_loss under its name."""

    name: str
    twin: str                      # "cross_entropy" (softmax + cross-entropy on logits), "mse" (the paper's 1/2n)
                                   # or "probability_cross_entropy" (on a Softmax layer's probabilities)
    value: str = "forward"         # the method that gives the value; "" for a plain function
    gradient: str = "stateful"     # "stateful": backward(); "stateless": backward(output, target); "returned"
    gradient_method: str = "backward"
    targets: str = "labels"        # "labels" (n,) integers, or "one_hot" (n, classes)
    reduction: str = "mean"        # the value: "mean", "sum", or "none" (one value per example)
    gradient_of: str = "mean"      # for per-example values: the gradient is of their "mean" or their "sum"
    batching: str = "rows"         # "rows" (n, classes), or "columns": one example (classes, 1) at a time
    takes_model: bool = False      # called loss(model, output, target): the model bound (loss_penalty.py)
    penalty: float = 0.0           # lambda of the L2 penalty lambda * sum W^2 it adds over the model's weights
    arguments: str = "output, target"  # or "target, output": Keras's loss(y_true, y_pred), values and gradient
    value_attribute: str = ""      # where the value call leaves the value when it returns nothing ("output")
    gradient_attribute: str = ""   # where backward leaves the gradient when it returns nothing ("dinputs");
                                   # "": backward returns it
    backward_from: str = ""        # what a stateless backward is handed: "" the output the loss was given, or
                                   # the attribute where forward left its softmax ("output": a fused softmax +
                                   # cross-entropy whose backward takes the probabilities, not the logits)

    def __post_init__(self):
        check_choices(self, {"twin": TWIN_LOSSES, "gradient": GRADIENT_CALLS, "targets": ("labels", "one_hot"),
                             "reduction": ("mean", "sum", "none"), "gradient_of": ("mean", "sum"),
                             "batching": ("rows", "columns"), "arguments": ARGUMENT_ORDERS})

    @property
    def twin_reduction(self) -> str:
        return self.gradient_of if self.reduction == "none" else self.reduction

    def describe(self) -> str:
        call = f"{self.name}.{self.value}" if self.value else self.name
        values_in = f" (in `.{self.value_attribute}`)" if self.value_attribute else ""
        values = {"mean": "the batch mean", "sum": "the batch sum", "none": "one value per example"}[self.reduction]
        target = "integer labels" if self.targets == "labels" else "one-hot targets"
        given = ("model, " if self.takes_model else "") + (
            f"output, {target}" if self.arguments == ARGUMENT_ORDERS[0] else f"{target}, output")
        parts = [f"{call}({given}) {'leaves' if self.value_attribute else 'returns'} {values}{values_in}"]
        if self.batching == "columns":
            parts = [f"{call}(column, {target} column) takes one example at a time; values and gradients summed"]
        handed = f"its `.{self.backward_from}` (the softmax forward computed)" if self.backward_from else "output"
        handed = f"{handed}, target" if self.arguments == ARGUMENT_ORDERS[0] else f"target, {handed}"
        gives = f"leaves the gradient in `.{self.gradient_attribute}`" if self.gradient_attribute \
            else "returns the gradient"
        parts.append({"stateful": f"{self.gradient_method}() {gives}",
                      "stateless": f"{self.gradient_method}({handed}) {gives}",
                      "returned": "the same call returns (loss, gradient)"}[self.gradient])
        if self.takes_model:
            parts.append(f"takes the model first and adds {self.penalty:.6g} * sum W^2 over its weights, checked "
                         f"against torch's loss plus the same penalty")
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
        result = self.value_call(output, targets)
        return result if self.conventions.gradient == "returned" else (result, None)

    def value_call(self, output, targets):
        """What the user's value call gives: what it returns, or what it leaves in value_attribute."""
        result = self.call(self._value_function(), output, targets)
        return get(self.user, self.conventions.value_attribute) if self.conventions.value_attribute else result

    @property
    def penalty(self) -> tuple[float, list] | None:
        """(lambda, the weight matrices) of the L2 penalty the value includes, or None: what the checker
        adds to torch's loss."""
        if not self.conventions.takes_model:
            return None
        model = self.user.model
        return self.conventions.penalty, [get(model, location) for location in weight_locations(model)]

    def call(self, function, output, targets):
        """function(output, targets), in the order the user's loss takes them."""
        return function(output, targets) if self.conventions.arguments == ARGUMENT_ORDERS[0] else function(targets,
                                                                                                           output)

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
        grad = grad if c.gradient == "returned" else self._gradient_at(output, targets)
        return grad if grad is None else np.asarray(grad)  # None: the checker says what backward gave

    def _gradient_at(self, output, targets):
        c = self.conventions
        function = getattr(self.user, c.gradient_method)
        if c.gradient == "stateful":
            if c.batching == "columns":  # a stateful backward answers for the last call: make it this example's
                self.call(self._value_function(), output, targets)
            result = function()
        else:
            result = self.call(function, get(self.user, c.backward_from) if c.backward_from else output, targets)
        return get(self.user, c.gradient_attribute) if c.gradient_attribute else result

    def __reduce__(self):
        """Pickled by name and twin, as AdaptedLayer is (adapted_loss_class makes the class)."""
        return unpickle_loss, (self.conventions.name, self.conventions.twin, self.__dict__)

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
        raise ValueError("this loss takes integer labels, so targets must be labels or one-hot rows; "
                         "got per-class targets that are not one-hot")
    return target.argmax(axis=1)


@dataclass
class UnreadableLoss:
    """A user's loss that could not be read (adapt_loss refused it, or probing it raised): checked, it is
    the loss part, failed with the reason, beside layers checked as usual; a training run refuses it."""

    name: str
    reason: str
    asks: bool = False  # the reason is the probe's question, which a keyword (a flag) answers

    def describe(self) -> str:
        return f"{self.name} cannot be read: {self.reason}"


_CLASSES: dict[tuple, type] = {}


def adapted_loss_class(name: str, twin: str) -> type:
    """A subclass of AdaptedLoss and of the scratch loss it computes, named after the user's loss."""
    if (name, twin) not in _CLASSES:
        _CLASSES[name, twin] = type(name, (AdaptedLoss, loss_class(twin, TWIN_LOSSES)), {"__module__": __name__})
    return _CLASSES[name, twin]


def unpickle_loss(name: str, twin: str, state: dict) -> AdaptedLoss:
    cls = adapted_loss_class(name, twin)
    loss = cls.__new__(cls)
    loss.__dict__.update(state)
    return loss
