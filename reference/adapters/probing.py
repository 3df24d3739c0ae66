"""Finding things in a user's object by experiment: its arrays, where they live, which of them
the forward pass reads, and how its methods are called.

A *location* names where an array lives, as the conventions block prints it and as a keyword
argument takes it: "weights" is the attribute ``obj.weights``; "params.W" is the entry "W" of the
dict ``obj.params``. Only the object's own attributes and the dicts among them are searched: that
is where every from-scratch layer we know of keeps its weights and gradients.
"""

import inspect
import re

import numpy as np

from reference.adapters.errors import ConventionError, Keyword

# Names people give to the parts of a layer, most usual first. Used to order candidates and to
# tell a gradient from a parameter of the same shape, never as the only evidence.
WEIGHT_NAMES = ("weight", "weights", "W", "w", "kernel")
BIAS_NAMES = ("bias", "biases", "b", "B")
LR_NAMES = ("learning_rate", "lr", "eta", "alpha", "step_size")
# dW, d_weights, dweights, db, dinputs, grad_W, weight_grad, delta; not "data" or "dense".
GRADIENT_NAME = re.compile(r"^d([A-Z_]|[wbx]$|weights?$|bias(es)?$|inputs?$|out$)|grad|delta|^g_")
# backward's argument for dL/dy: grad, prev_grad, dout, dvalues, dy, delta, upstream, error.
GRADIENT_ARGUMENT = re.compile(r"grad|delta|err|upstream|^d(out|values|[yzah]$|_)|^d[A-Z]|^g$")


def check_choices(conventions, choices: dict) -> None:
    """Refuse a convention given with a value it cannot have (a typo would otherwise read as the default)."""
    for field, allowed in choices.items():
        if getattr(conventions, field) not in allowed:
            raise ConventionError(Keyword(field), f"{getattr(conventions, field)!r} is not one of {allowed}")


def arrays(obj) -> dict[str, np.ndarray]:
    """Every float array in obj's attributes and in the dicts among them, by location."""
    found = {}
    for name, value in vars(obj).items():
        if is_float_array(value):
            found[name] = value
        elif isinstance(value, dict):
            found.update({f"{name}.{key}": v for key, v in value.items() if isinstance(key, str) and is_float_array(v)})
    return found


def is_float_array(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def get(obj, location: str):
    head, _, key = location.partition(".")
    value = getattr(obj, head)
    return value[key] if key else value


def put(obj, location: str, value) -> None:
    head, _, key = location.partition(".")
    if key:
        getattr(obj, head)[key] = value
    else:
        setattr(obj, head, value)


def snapshot(obj) -> dict[str, np.ndarray]:
    return {location: value.copy() for location, value in arrays(obj).items()}


def changed(before: dict, after_obj) -> list[str]:
    """Locations whose array is new since the snapshot, or holds other values."""
    return [location for location, value in arrays(after_obj).items()
            if location not in before or before[location].shape != value.shape
            or not np.array_equal(before[location], value)]


def by_name(locations, names) -> list[str]:
    """The locations whose last part is one of names, in the order of names."""
    last = {location: location.rpartition(".")[2] for location in locations}
    return [location for name in names for location in locations if last[location] == name]


def looks_like_gradient(location: str) -> bool:
    return bool(GRADIENT_NAME.search(location.rpartition(".")[2]))


def learning_rate(obj) -> tuple[str, float] | None:
    """(attribute, value) of the learning rate obj holds, if it holds one under a usual name."""
    for name in LR_NAMES:
        value = getattr(obj, name, None)
        if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and value > 0:
            return name, float(value)
    return None


def required_arguments(function) -> list[str]:
    """The names of the arguments a call must supply (self excluded for a bound method)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


FAILED = object()  # what attempt returns for a call that raised (None is a result: forward may return nothing)


def attempt(function, *args):
    """function(*args), or FAILED where it raises: a probe tries calls that may not fit."""
    try:
        with np.errstate(all="ignore"):
            return function(*args)
    except Exception:  # any failure means "not this convention"; the check later reports real errors
        return FAILED


def works(function, *args) -> bool:
    return attempt(function, *args) is not FAILED
