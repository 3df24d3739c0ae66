"""A whole network written as a module of functions over a parameters dict, as the best-known
deep-learning course writes it, made into one object that whole_network_discovery probes like any
other whole network:

    initialize_parameters_deep(layer_dims) -> {"W1": (n_1, n_0), "b1": (n_1, 1), ...}
    L_model_forward(X, parameters) -> (AL, caches)          X (features, m): the batch as columns
    compute_cost(AL, Y) -> cost                             Y (1, m)
    L_model_backward(AL, Y, caches) -> {"dW1", "db1", "dA0", ...}
    update_parameters(parameters, grads, learning_rate) -> parameters

FunctionNetwork holds the dict as `.parameters` and offers forward(X), backward(X, Y) -> (cost,
grads) and step(learning_rate): the user's own functions, called as the course's training loop
calls them (forward, cost, backward, update), so that the cost checked (its value, and the finite
differences of it) is the user's compute_cost, and the update the user's update_parameters.

Each function is found by its role among the module's functions: a usual name first (NAMES), else
the one function whose name says its role; each can be given by name (FunctionNames), and one that
cannot be found is refused naming its flag.
"""

import inspect
import re
from dataclasses import dataclass

import numpy as np

from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.probing import required_arguments

# Each role's usual names (the course's first), and the words a name of that role contains.
NAMES = {"forward": ("L_model_forward", "model_forward", "forward_propagation", "forward"),
         "cost": ("compute_cost", "compute_loss", "cost", "loss"),
         "backward": ("L_model_backward", "model_backward", "backward_propagation", "backward"),
         "update": ("update_parameters", "update_params", "update")}
INITIALIZER_NAMES = ("initialize_parameters_deep", "initialize_parameters", "init_params")
WORDS = {"forward": ("forward",), "cost": ("cost", "loss"), "backward": ("backward",), "update": ("update",)}
# Each role's keyword (check_whole_network's, which the command line spells --forward-method, ...).
KEYWORDS = {"forward": "forward", "cost": "cost_function", "backward": "gradient_method", "update": "update"}


@dataclass
class FunctionNames:
    """The module's function for each role (found, or given)."""

    forward: str
    cost: str
    backward: str
    update: str | None

    def describe(self, initializer: str) -> str:
        return (f"a module of functions: {initializer} -> parameters dict, the others found by name "
                f"(--forward-method, --cost-function, --gradient-method, --update name them)")


def is_parameters_dict(value) -> bool:
    """What an initializer of this style returns: a dict of float arrays keyed W1, b1, ..."""
    return isinstance(value, dict) and bool(value) and all(
        isinstance(key, str) and isinstance(v, np.ndarray) and v.dtype.kind == "f" for key, v in value.items()) \
        and {"W1", "b1"} <= set(value)


def function_network(initializer, parameters: dict, given: dict) -> "FunctionNetwork":
    """The network of the module that defines initializer, holding the parameters it returned; given:
    role -> function name, for the roles stated (update "none": no update function)."""
    namespace = initializer.__globals__  # the module's own names, as its functions see them
    names = find_functions(namespace, {role: name for role, name in given.items() if name is not None})
    return FunctionNetwork(namespace, parameters, names, initializer.__name__)


def find_functions(namespace: dict, given: dict) -> FunctionNames:
    """Each role's function in the module's namespace: given (by name), else a usual name, else the one
    whose name says the role. update may be missing or "none" (no step is checked); the others are required."""
    functions = {name: value for name, value in namespace.items()
                 if inspect.isfunction(value) and not name.startswith("_")}
    found = {}
    for role in NAMES:
        name = given.get(role)
        if role == "update" and name == "none":
            name = None
        elif name is not None:
            if name not in functions:
                raise ConventionError(f"{namespace.get('__name__', 'the module')} has no function {name} "
                                      "(given with ", Keyword(KEYWORDS[role]), ")")
        else:
            name = _by_role(functions, role)
        if name is None and role != "update":
            raise ConventionError(f"found no {role} function among {', '.join(sorted(functions)) or 'none'} "
                                  f"(looked for {', '.join(NAMES[role])}); give ", Keyword(KEYWORDS[role]), " its name")
        found[role] = name
    return FunctionNames(**found)


def _by_role(functions, role) -> str | None:
    usual = next((name for name in NAMES[role] if name in functions), None)
    if usual is not None:
        return usual
    named = [name for name in functions if any(word in name.lower() for word in WORDS[role])
             and not any(word in name.lower() for other in WORDS if other != role for word in WORDS[other])]
    if len(named) > 1:
        raise ConventionError(f"the {role} function could be any of {', '.join(named)}; give ",
                              Keyword(KEYWORDS[role]), " one")
    return named[0] if named else None


# What each value is called in the signatures of this style: the course's 2-layer network writes
# backward_propagation(parameters, cache, X, Y) and compute_cost(A2, Y); the deep one (AL, Y, caches).
ALIASES = {"AL": re.compile(r"^(AL|A\d+|A_?last|A_?out|A|Yhat|Y_hat|y_hat|output|probs|a)$"),
           "Y": re.compile(r"^(Y|y|labels|targets?)$"), "caches": re.compile(r"^caches?$"),
           "X": re.compile(r"^(X|x|inputs?)$"), "parameters": re.compile(r"^(parameters|params)$"),
           "grads": re.compile(r"^(grads|gradients)$"),
           "learning_rate": re.compile(r"^(learning_rate|lr|alpha|eta)$")}


def call(function, values: dict, order: tuple):
    """function called with values chosen by its arguments' names (ALIASES), where every required one
    names a value (one with a default, e.g. learning_rate=1.2, gets the value its name names too); else
    positionally in the order given (the deep course's)."""
    required = required_arguments(function)
    chosen = {name: next((key for key in values if ALIASES[key].match(name)), None) for name in arguments_of(function)}
    if required and all(chosen[name] for name in required) and len(set(chosen.values()) - {None}) == len(
            [name for name in chosen if chosen[name]]):
        return function(**{name: values[key] for name, key in chosen.items() if key})
    return function(*(values[key] for key in order))


def arguments_of(function) -> list[str]:
    """Every argument that can be given by name, required or not."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def signature(function, name: str) -> str:
    """name(its arguments), as the conventions block shows a call."""
    return f"{name}({', '.join(arguments_of(function))})"


class FunctionNetwork:
    """A module's functions over one parameters dict, as one network object (see the module's doc)."""

    def __init__(self, namespace: dict, parameters: dict, names: FunctionNames, initializer: str):
        self.names, self.initializer = names, initializer
        self.initializer_call = signature(namespace[initializer], initializer)
        self.functions = {role: namespace[name] for role, name in vars(names).items() if name}
        self.parameters = {key: np.array(value, dtype=np.float64) for key, value in parameters.items()}
        self.grads = None

    def forward(self, X):
        return self._forward(X)[0]

    def backward(self, X, Y):
        """(the user's cost, the user's grads dict) for the batch X (features, m), Y (1, m)."""
        AL, caches = self._forward(X)
        values = {"AL": AL, "Y": Y, "caches": caches, "X": X, "parameters": self.parameters}
        cost = call(self.functions["cost"], values, ("AL", "Y"))
        self.grads = call(self.functions["backward"], values, ("AL", "Y", "caches"))
        return np.asarray(cost, dtype=np.float64).reshape(()), self.grads

    def step(self, learning_rate):
        """The user's update, on the grads of the last backward; it may return a new dict or update in place."""
        if "update" not in self.functions:
            raise ConventionError("no update function was found; give ", Keyword("update"), " its name")
        values = {"parameters": self.parameters, "grads": self.grads, "learning_rate": learning_rate}
        updated = call(self.functions["update"], values, ("parameters", "grads", "learning_rate"))
        self.parameters = updated if isinstance(updated, dict) else self.parameters

    def _forward(self, X):
        result = call(self.functions["forward"], {"X": X, "parameters": self.parameters}, ("X", "parameters"))
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ConventionError(f"{self.names.forward}(X, parameters) returned {type(result).__name__}, not "
                                  f"(AL, caches)")
        return result

    def calls(self) -> dict:
        """The user's calls each method makes, by the method's name, for the conventions block."""
        shown = {role: signature(function, getattr(self.names, role)) for role, function in self.functions.items()}
        update = {"step": shown["update"]} if "update" in shown else {}
        return {"forward": shown["forward"],
                "backward": f"{shown['forward']}, then {shown['cost']} and {shown['backward']} -> grads dict", **update}

    def describe(self) -> str:
        """The line the conventions block adds for a network of functions."""
        return self.names.describe(self.initializer_call)
