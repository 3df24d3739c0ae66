"""How a user's loss gives its gradient, found by experiment (loss_discovery.py finds the rest): the
method and whether it takes arguments, the attribute where a backward that returns nothing leaves
it (a textbook's self.dinputs), what a stateless backward is handed (the output the loss was given,
or the probabilities a fused softmax + cross-entropy left in self.output), and, for per-example
values, whether it is the gradient of their mean or of their sum.
"""

import copy
import dataclasses

import numpy as np
from scipy.special import softmax

from reference import tolerances
from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.loss import LossConventions, adapted_loss_class, user_targets
from reference.adapters.probing import arrays, attempt, changed, get, looks_like_gradient, required_arguments, snapshot
from reference.comparison import diff, numbers


def gradient_call(user, c, name) -> LossConventions:
    """c with the gradient from the method name: backward(output, target) where it takes arguments, else backward()."""
    return dataclasses.replace(c, gradient_method=name,
                               gradient="stateless" if required_arguments(getattr(user, name)) else "stateful")


def gradient_at(user, c, output, labels):
    """The gradient the loss gives at (output, labels) in the conventions c, on a copy."""
    probe = adapted_loss_class(c.name, c.twin)(copy.deepcopy(user), c)
    probe.forward(output, labels)
    return probe.backward()


def gradient_attribute(user, c, output, labels) -> str:
    """Where backward leaves the gradient when it returns nothing (a textbook's self.dinputs): the one
    array of the output's shape that backward set; "" where it returns the gradient (or sets none:
    the check then says what backward gave)."""
    probe = adapted_loss_class(c.name, c.twin)(copy.deepcopy(user), c)
    probe.forward(output, labels)
    before = snapshot(probe.user)
    if attempt(probe.backward) is not None:
        return ""
    candidates = [location for location in changed(before, probe.user)
                  if get(probe.user, location).shape == output.shape]
    if len(candidates) > 1:
        candidates = [location for location in candidates if looks_like_gradient(location)] or candidates
    if len(candidates) > 1:
        raise ConventionError(f"{c.name}.{c.gradient_method} returns nothing and sets {', '.join(candidates)}: "
                              "say which is the gradient with ", Keyword("gradient_attribute"))
    return candidates[0] if candidates else ""


def backward_from(user, c, output, labels, gradient_of_sum) -> str:
    """What a stateless backward is handed: "" (the output the loss was given), or the attribute in which
    forward left the softmax of that output, as a fused softmax + cross-entropy's backward(probabilities,
    y) takes it. Only where forward leaves one is it a question; then the answer is the argument with
    which the gradient is the loss's up to a constant factor (a missing 1/n, a sign: mistakes the check
    names), and where both or neither are, it is asked for."""
    probe = copy.deepcopy(user)
    attempt(raw_result, adapted_loss_class(c.name, c.twin)(probe, c), output, labels)
    probabilities = softmax(output, axis=1)
    stored = [location for location, value in arrays(probe).items()
              if value.shape == output.shape and agrees(value, probabilities)]
    if c.twin != "cross_entropy" or not stored:
        return ""
    fits = [given for given in ["", *stored]
            if proportional(user, dataclasses.replace(c, backward_from=given, gradient_attribute=""), output, labels,
                            gradient_of_sum)]
    if len(fits) == 1:
        return fits[0]
    options = " or ".join(repr(given) for given in ["", *stored])
    raise ConventionError(f"{c.name}'s forward leaves the softmax of its input in .{stored[0]}, and it cannot be "
                          f"told whether {c.gradient_method} takes the network output (the logits) or those "
                          f"probabilities: say which with ", Keyword("backward_from"),
                          f" {options} ('' for the logits)")


def proportional(user, c, output, labels, gradient_of_sum) -> bool:
    """The gradient in the conventions c (returned, or the one array backward set) is a nonzero
    multiple of the loss's gradient, to float64 rounding."""
    try:
        grad = gradient_at(user, dataclasses.replace(c, gradient_attribute=gradient_attribute(user, c, output, labels)),
                           output, labels)
    except Exception:  # noqa: BLE001 - the user's backward: any failure means "not handed this"
        return False
    grad = numbers(grad)
    if grad is None or grad.shape != gradient_of_sum.shape:
        return False
    factor = float(np.sum(grad * gradient_of_sum) / np.sum(gradient_of_sum ** 2))
    return factor != 0 and agrees(grad, factor * gradient_of_sum)


def gradient_reduction(user, c, output, labels, gradient_of_sum) -> str:
    grad = np.asarray(gradient_at(user, c, output, labels), dtype=float)
    for name, expected in (("sum", gradient_of_sum), ("mean", gradient_of_sum / len(output))):
        if agrees(grad, expected):
            return name
    raise ConventionError(f"{c.name} returns one loss per example, and its gradient is neither that of their "
                          f"sum nor of their mean; say which it is meant to be with ",
                          Keyword("gradient_of"), "'sum' or 'mean'")


def raw_result(loss, output, labels):
    """What the user's value call returns, as it returns it (per example, a list, for columns)."""
    c = loss.conventions
    targets = user_targets(labels, output, c.targets)
    if c.batching == "columns":
        return [loss.value_call(z.reshape(-1, 1), t.reshape(-1, 1) if t.ndim else t) for z, t in zip(output, targets)]
    return loss.value_call(output, targets)


def agrees(value, expected) -> bool:
    """Equal to float64 rounding (the project's one-pass tolerance): a right reduction agrees to
    rounding, a wrong one is off by a factor of the batch size."""
    return diff("probe", np.asarray(value, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                tolerances.FLOAT64).ok
