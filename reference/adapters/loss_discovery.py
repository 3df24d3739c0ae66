"""Discovering a loss's conventions by experiment, and adapt_loss.

The probe is a batch of 5 examples over 3 classes (n differs from the number of classes, so that
labels and rows cannot be confused). The user's value is compared with the mean, the sum and the
list of the per-example losses computed here in float64; the gradient is then held to that
reduction, so a gradient off by the batch size is reported by the checker, not explained away.
Per-example values are held to the reduction another value method gives (a textbook's calculate()
means its forward's values); only where none reduces them is what the gradient is of (their mean
or their sum) left open: there the gradient is compared with both, and neither is an error asking
for gradient_of=. How the gradient is had is found in loss_gradient.py; a loss that takes the
model and adds an L2 penalty in loss_penalty.py.
"""

import copy
import dataclasses
import itertools

import numpy as np
from scipy.special import softmax

from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.loss import (
    ARGUMENT_ORDERS,
    DEFINITIONS,
    TWIN_LOSSES,
    LossConventions,
    UnreadableLoss,
    adapted_loss_class,
)
from reference.adapters.loss_gradient import (
    agrees,
    backward_from,
    gradient_at,
    gradient_attribute,
    gradient_call,
    gradient_reduction,
    raw_result,
)
from reference.adapters.loss_penalty import ModelLoss, bind_model, moved, penalty_factor
from reference.adapters.methods import (
    LOSS_GRADIENT_METHODS,
    LOSS_VALUE_METHODS,
    choose,
    methods_of,
    require_method,
)
from reference.adapters.probing import FAILED, attempt
from reference.adapters.user_code import Raised
from reference.comparison import numbers

PROBE_BATCH, PROBE_CLASSES = 5, 3   # n differs from the number of classes: labels and rows cannot be confused
BATCHINGS, TARGETS = ("rows", "columns"), ("labels", "one_hot")
PROBE_SEED = 5


def adapt_loss(subject, twin=None, model=None, **explicit):
    """A scratch_nn loss around a user's loss: an object with forward/backward (or loss/gradient...),
    a function returning (loss, grad), or a pair (value_fn, gradient_fn). Deep-copied, never modified.

    twin: "cross_entropy" (softmax cross-entropy on logits), "mse" (the paper's 1/(2n) sum of
        squares) or "probability_cross_entropy" (-log p_y of a Softmax layer's probabilities);
        default: the subject's torch_twin attribute.
    explicit: any LossConventions field (targets="one_hot", reduction="none", gradient_of="sum",
        gradient="stateless", value="loss", gradient_method="grad", batching="columns").
    model: what a loss(model, scores, y) is called with (the object holding the layers); its L2
        penalty over the model's weights is found (loss_penalty.py).
    """
    known = set(LossConventions.__dataclass_fields__) - {"name", "twin"}
    if set(explicit) - known:
        raise TypeError(f"adapt_loss got unknown conventions {sorted(set(explicit) - known)}; known: {sorted(known)}")
    twin = twin or getattr(subject, "torch_twin", None)
    if twin not in TWIN_LOSSES:
        raise ConventionError("say which loss this is: ", Keyword("twin"),
                              f" one of {', '.join(map(repr, TWIN_LOSSES))} (got {twin!r})")
    if isinstance(subject, tuple):
        subject = LossPair(*subject)
    user = copy.deepcopy(bind_model(subject, model))
    name = getattr(user, "__name__", type(user).__name__)
    c = LossConventions(name=name, twin=twin, **explicit)
    try:
        if isinstance(user, ModelLoss):  # found with the penalty at zero, then the penalty
            c.takes_model = True
            discover_loss(moved(user, np.zeros_like, np.zeros_like), c, explicit)
            if "penalty" not in explicit:
                c.penalty = penalty_factor(user, lambda probe: probe_value(probe, c))
        else:
            discover_loss(user, c, explicit)
    except ConventionError:
        if twin == "cross_entropy" and computes_on_probabilities(user, name, explicit):
            raise ConventionError(f"{name} is not the cross-entropy of logits, but its values are the cross-entropy "
                                  "of probabilities -log p_y: give --loss probability_cross_entropy (",
                                  Keyword("twin"), "'probability_cross_entropy') and a softmax output layer") from None
        raise
    return adapted_loss_class(name, twin)(user, c)


def probe_value(user, c) -> float:
    """The loss's value on discover_loss's probe batch, in the conventions c (on a copy)."""
    output = probe_output(c.twin, np.random.default_rng(PROBE_SEED))
    return float(adapted_loss_class(c.name, c.twin)(copy.deepcopy(user), c).forward(output, probe_labels()))


def probe_labels() -> np.ndarray:
    return np.arange(PROBE_BATCH) % PROBE_CLASSES


def read_loss(subject, twin=None, **explicit):
    """adapt_loss(subject, twin, **explicit), or, where the loss cannot be read, an UnreadableLoss with
    the reason: the probe's question (ConventionError), or what the user's code raised, type and message."""
    name = getattr(subject, "__name__", type(subject).__name__)
    try:
        return adapt_loss(subject, twin, **explicit)
    except ConventionError as error:
        return UnreadableLoss(name, str(error), asks=True)
    except Exception as error:  # noqa: BLE001 - the user's loss, probed: whatever it raises is the reason
        return UnreadableLoss(name, str(Raised.of(error, "probing it")))


def computes_on_probabilities(user, name, explicit) -> bool:
    """Whether the loss's value, probed as the cross-entropy of probabilities, is found: the one
    mistaken twin that probing can tell (a softmax then a loss on its output is the usual pair)."""
    try:
        discover_loss(copy.deepcopy(user), LossConventions(name=name, twin="probability_cross_entropy", **explicit),
                      explicit)
    except ConventionError:
        return False
    return True


class LossPair:
    """(value_fn, gradient_fn), both called as f(output, target), as an object."""

    def __init__(self, value_fn, gradient_fn):
        self.forward, self.backward = value_fn, gradient_fn
        self.__name__ = value_fn.__name__


def discover_loss(user, c, explicit):
    for keyword in ("value", "gradient_method"):
        if explicit.get(keyword):
            require_method(user, explicit[keyword], keyword)
    # A function, or an object whose one method is __call__ (returning (loss, grad)): called itself.
    function = callable(user) and not methods_of(user, [name for name in LOSS_VALUE_METHODS + LOSS_GRADIENT_METHODS
                                                        if name != "__call__"])
    output = probe_output(c.twin, np.random.default_rng(PROBE_SEED))
    labels = probe_labels()
    per_example, gradient_of_sum = reference(c.twin, output, labels)
    if "value" not in explicit:
        c.value = "" if function else choose(
            user, LOSS_VALUE_METHODS, lambda name: find_call(user, dataclasses.replace(c, value=name), explicit,
                                                             function, output, labels, per_example), "loss value",
            "value", agree=same_loss)
    find_call(user, c, explicit, function, output, labels, per_example)
    if c.reduction == "none" and not function and "value" not in explicit:
        # Per-example values, and another method (calculate) reduces them: that method says what the
        # loss is, so its gradient must be of that reduction, not of whichever the gradient happens to be.
        c.value = reducing_method(user, c, explicit, output, labels, per_example) or c.value
        find_call(user, c, explicit, function, output, labels, per_example)
    if c.gradient != "returned" and "gradient" not in explicit:
        if "gradient_method" not in explicit:
            c.gradient_method = choose(user, LOSS_GRADIENT_METHODS,
                                       lambda name: gradient_at(user, gradient_call(user, c, name), output, labels),
                                       "loss gradient", "gradient_method")
        c.gradient = gradient_call(user, c, c.gradient_method).gradient
    if c.gradient != "returned" and c.batching == "rows":
        if "backward_from" not in explicit and c.gradient == "stateless":
            c.backward_from = backward_from(user, c, output, labels, gradient_of_sum)
        if "gradient_attribute" not in explicit:
            c.gradient_attribute = gradient_attribute(user, c, output, labels)
    if c.reduction == "none" and "gradient_of" not in explicit:
        c.gradient_of = ("sum" if c.batching == "columns"
                         else gradient_reduction(user, c, output, labels, gradient_of_sum))


def reducing_method(user, c, explicit, output, labels, per_example) -> str:
    """Another value method of the loss whose value is the mean or the sum of the per-example losses, or ""."""
    for name in methods_of(user, LOSS_VALUE_METHODS):
        trial = dataclasses.replace(c, value=name)
        if name != c.value and attempt(find_call, user, trial, explicit, False, output, labels,
                                       per_example) is not FAILED and trial.reduction != "none":
            return name
    return ""


def same_loss(a, b) -> bool:
    """Two value methods that find_call accepts both give the loss (its value is the mean, the sum
    or the list of the per-example losses): the same, where they are called alike. A textbook's
    forward returns the per-example values and its calculate their mean."""
    return a[:2] + a[4:] == b[:2] + b[4:]  # find_call's (batching, targets, reduction, gradient, arguments)


def value_attribute(user, per_example) -> str:
    """The attribute in which a value call that returned nothing left the loss (its mean, its sum, or the
    per-example values), or ""."""
    for name, value in vars(user).items():
        array = numbers(value)
        if array is not None and array.ndim <= 1 and reduction_of(array.astype(float), per_example) is not None:
            return name
    return ""


def find_call(user, c, explicit, function, output, labels, per_example):
    """How the value is called (batching, target form), whether the call returns the gradient too,
    and the value's reduction: the first combination whose value is the loss (set in c, and returned)."""
    tried = []
    for order, batching, targets in itertools.product(
            [explicit["arguments"]] if "arguments" in explicit else ARGUMENT_ORDERS,  # (output, target) first
            [explicit["batching"]] if "batching" in explicit else BATCHINGS,
            [explicit["targets"]] if "targets" in explicit else TARGETS):
        c.arguments, c.batching, c.targets = order, batching, targets
        c.value_attribute = explicit.get("value_attribute", "")
        if "gradient" not in explicit:
            c.gradient = "returned" if function else "stateful"
        probe = adapted_loss_class(c.name, c.twin)(copy.deepcopy(user), c)
        try:
            with np.errstate(all="ignore"):
                result = raw_result(probe, output, labels)
        except Exception as error:  # noqa: BLE001 - the user's code: this call does not fit; say what it raised
            tried.append(f"({order}) {batching}, {targets}: raised {type(error).__name__}: {error}")
            continue
        if result is None and batching == "rows" and not function and "value_attribute" not in explicit:
            c.value_attribute = value_attribute(probe.user, per_example)  # a forward that returns nothing
            result = getattr(probe.user, c.value_attribute) if c.value_attribute else None
        results = result if batching == "columns" else [result]
        if "gradient" not in explicit and all(isinstance(r, tuple) and len(r) == 2 for r in results):
            c.gradient = "returned"
        values = [r[0] if c.gradient == "returned" else r for r in results]
        value = np.array([float(np.sum(v)) for v in values]) if batching == "columns" else values[0]
        found = reduction_of(np.asarray(value, dtype=float), per_example)
        if found is None and {"reduction", "targets"} <= explicit.keys():  # stated: the checker will judge it
            found = explicit["reduction"]
        if found is not None:
            if "reduction" not in explicit:
                c.reduction = "none" if batching == "columns" else found
            return c.batching, c.targets, c.reduction, c.gradient, c.arguments
        tried.append(f"({order}) {batching}, {targets}: value {np.ravel(value)[:3]} is not the loss")
    outcomes = {entry.partition(": ")[2] for entry in tried}
    if len(outcomes) == 1 and len(tried) > 1:  # the same everywhere (a forward that always raises): said once
        tried = [f"every way of calling it: {outcomes.pop()}"]
    raise ConventionError(f"could not find how {c.name} is called: its value is not the mean, the sum or the "
                          f"list of the per-example {DEFINITIONS[c.twin]} (tried with a batch of {PROBE_BATCH} "
                          f"and {PROBE_CLASSES} classes: {'; '.join(tried)}); give ",
                          Keyword("targets"), ", ", Keyword("reduction"), ", ", Keyword("batching"), ", ",
                          Keyword("arguments"))


def probe_output(twin, rng) -> np.ndarray:
    """What the loss is probed on: logits, a sigmoid's output for the squared error, a softmax's
    probabilities for their cross-entropy."""
    if twin == "mse":
        return rng.random((PROBE_BATCH, PROBE_CLASSES))
    logits = rng.standard_normal((PROBE_BATCH, PROBE_CLASSES))
    return softmax(logits, axis=1) if twin == "probability_cross_entropy" else logits


def reference(twin, output, labels):
    """Per-example losses and the gradient of their sum, computed here in float64."""
    one_hot = np.eye(output.shape[1])[labels]
    if twin == "probability_cross_entropy":
        return -np.log(output[np.arange(len(output)), labels]), -one_hot / output
    if twin == "cross_entropy":
        shifted = output - output.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -(one_hot * log_probs).sum(axis=1), np.exp(log_probs) - one_hot
    return 0.5 * ((output - one_hot) ** 2).sum(axis=1), output - one_hot


def reduction_of(value, per_example):
    if value.size == per_example.size and agrees(value.ravel(), per_example):
        return "none"
    for name, expected in (("mean", per_example.mean()), ("sum", per_example.sum())):
        if value.size == 1 and agrees(value.reshape(()), expected):
            return name
    return None


