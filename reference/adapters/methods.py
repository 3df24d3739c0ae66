"""Which of a user's methods is the forward pass, the backward pass, the loss's value or its gradient.

People name them otherwise than forward and backward: __call__, fprop, feedforward, fwd; backprop,
bprop, bwd, grad; a loss's loss, compute, derivative, prime. Each role has its list of usual names
(most usual first), and the method is chosen by experiment among those the object has: the one
that accepts the probe. Where several accept it and agree, the first in the list is taken (a
__call__ that calls forward is forward); where they disagree, or none is there, a ConventionError
names the keyword argument (and so the flag) that settles it. A name given explicitly that is no
method of the object is refused, listing the methods it has.
"""

import inspect

import numpy as np

from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.probing import FAILED, attempt

FORWARD_METHODS = ("forward", "__call__", "fprop", "forward_pass", "feedforward", "fwd", "activate")
BACKWARD_METHODS = ("backward", "backprop", "bprop", "backward_pass", "bwd", "grad", "gradient")
# An activation's derivative f'(x) (or f' from the output): the gradient is the upstream one times it.
DERIVATIVE_METHODS = ("derivative", "deriv", "prime")
LOSS_VALUE_METHODS = ("forward", "loss", "calculate", "compute", "__call__")
LOSS_GRADIENT_METHODS = ("backward", "gradient", "grad", "derivative", "prime", "deriv", "backprop")


def methods_of(obj, names) -> list[str]:
    """The names among names that are methods of obj (a class or an instance; a callable instance
    attribute counts), in the order of names. A plain function has no methods: it is a function."""
    if inspect.isroutine(obj):
        return []
    cls = obj if isinstance(obj, type) else type(obj)
    own = {} if isinstance(obj, type) else getattr(obj, "__dict__", {})
    return [name for name in names
            if callable(own.get(name)) or (any(name in vars(k) for k in cls.__mro__ if k is not object)
                                           and callable(getattr(cls, name, None)))]


def has_forward(obj) -> bool:
    """obj (not a function, not a class) has a method that could be a layer's forward pass."""
    return not isinstance(obj, type) and bool(methods_of(obj, FORWARD_METHODS))


def require_method(obj, name: str, keyword: str) -> str:
    """name, if it is a method of obj; else an error listing the methods obj has."""
    if methods_of(obj, (name,)):
        return name
    cls = obj if isinstance(obj, type) else type(obj)
    available = [n for n in dir(cls) if (not n.startswith("_") or n == "__call__") and methods_of(obj, (n,))]
    raise ConventionError(f"{cls.__name__} has no method {name!r}; give ", Keyword(keyword),
                          f" one of its methods: {', '.join(available) or 'none'}")


def choose(obj, names, run, what: str, keyword: str, agree=None) -> str:
    """The method of obj among names that run(name) accepts (run raises where it does not); where
    several do, the first, provided every other gives the same result (agree(a, b), default same);
    else a ConventionError."""
    agree = agree or same
    present = methods_of(obj, names)
    if not present:
        raise ConventionError(f"{type(obj).__name__} has no {what} method (looked for {', '.join(names)}); give ",
                              Keyword(keyword), " the name of its method")
    if len(present) == 1:
        return present[0]  # the call itself says what is wrong with it, if anything
    results = {name: attempt(run, name) for name in present}
    working = [name for name in present if results[name] is not FAILED]
    if not working:
        return present[0]
    first = working[0]
    for other in working[1:]:
        if not agree(results[first], results[other]):
            raise ConventionError(f"the {what} could be {type(obj).__name__}.{first} or .{other}: both accept the "
                                  f"probe and give different results; give ", Keyword(keyword), " the one to check")
    return first


def same(a, b) -> bool:
    """Equal results of two calls (arrays to float64 rounding, tuples and dicts entry by entry)."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(
            same(a[k], b[k]) for k in a)
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b if isinstance(a, str) else a is b
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return a is b
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)
