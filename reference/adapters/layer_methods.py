"""Which of a layer's methods are its forward and backward passes, and how backward is called.

forward: among FORWARD_METHODS (forward, __call__, fprop, ...) the one that takes the probe batch
(or its first row as a column); backward: among BACKWARD_METHODS (backward, backprop, bprop, grad,
...) and, for an activation, DERIVATIVE_METHODS (derivative, prime: f'(x), which is multiplied by
the upstream gradient here), the one that, called after forward as its arguments say, runs.
Several that agree: the first (methods.choose); several that disagree: an error naming
forward_method= or backward_method=. How backward is called (its `backward` convention) is read
from its arguments' names: a gradient (grad, dout, delta, ...) and the input, or a cache.
"""

import copy
import dataclasses

import numpy as np

from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.layer import BACKWARD_CALLS, call_backward, columns
from reference.adapters.methods import (
    BACKWARD_METHODS,
    DERIVATIVE_METHODS,
    FORWARD_METHODS,
    choose,
    methods_of,
)
from reference.adapters.probing import FAILED, GRADIENT_ARGUMENT, attempt, required_arguments, snapshot, works

# The argument of an activation's derivative method: the input x, or the output it was computed from.
DERIVATIVE_ARGUMENTS = {"x": ("x", "z", "X", "Z", "input", "inputs", "inp", "pre_activation", "net"),
                        "output": ("a", "y", "A", "Y", "s", "out", "output", "outputs", "activation", "activations")}


def accepts(layer, x, forward_method=None) -> bool:
    """Some forward method of layer (the one given, else any of FORWARD_METHODS) takes x or its first row
    as a column."""
    names = [forward_method] if forward_method else methods_of(layer, FORWARD_METHODS)
    return any(works(getattr(copy.deepcopy(layer), name), probe) for name in names for probe in (x, x[:1].T))


def find_forward(user, x) -> str:
    return choose(user, FORWARD_METHODS, lambda name: forward_once(user, name, x), "forward pass", "forward_method")


def forward_once(user, name, x):
    """user.name(x) on a copy, or on x's first row as a column if it refuses the batch."""
    result = attempt(getattr(copy.deepcopy(user), name), x)
    return getattr(copy.deepcopy(user), name)(columns(x)[0]) if result is FAILED else result


def find_backward(probe, c, call_given: bool, x, cache, output) -> str:
    """The backward method of probe (forward has run on it): c.backward is used where call_given."""
    names = BACKWARD_METHODS + (DERIVATIVE_METHODS if c.twin != "linear" else ())
    return choose(probe, names, lambda name: backward_once(probe, c, call_given, name, x, cache, output),
                  "backward pass", "backward_method")


def backward_once(probe, c, call_given, name, x, cache, output):
    """What the backward method name returns and leaves behind, called on a copy as its arguments say."""
    trial = dataclasses.replace(c, backward_method=name)
    if not call_given:
        trial.backward = backward_call(probe, trial)
    probe = copy.deepcopy(probe)
    grad = np.random.default_rng(4).standard_normal(np.shape(output))
    return call_backward(probe, trial, x, cache, grad), snapshot(probe)


def backward_call(probe, c) -> str:
    """How c.backward_method is called (one of BACKWARD_CALLS), from its arguments and their names."""
    arguments = required_arguments(getattr(probe, c.backward_method))
    if c.backward_method in DERIVATIVE_METHODS and len(arguments) == 1:  # f'(x) or f' from the output
        found = [call for call, names in DERIVATIVE_ARGUMENTS.items() if arguments[0] in names]
        if found:
            return found[0]
        raise ConventionError(f"cannot tell whether {c.name}.{c.backward_method}({arguments[0]}) takes the input or "
                              "the output; give ", Keyword("backward"), " 'x' (f'(x)) or 'output' (f' from f(x))")
    if len(arguments) == 1 and not c.returns_cache:
        return "grad"
    if len(arguments) == 2 and c.returns_cache:
        return "grad,cache"
    if len(arguments) == 2:
        gradient = [GRADIENT_ARGUMENT.search(a) is not None for a in arguments]
        if gradient.count(True) == 1:
            return "grad,x" if gradient[0] else "x,grad"
    raise ConventionError(f"cannot tell how {c.name}.{c.backward_method}{tuple(arguments)} is called; give ",
                          Keyword("backward"), f" one of {BACKWARD_CALLS}")
