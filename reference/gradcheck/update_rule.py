"""An optimizer written as update rules of one's own, checked over several steps against its torch.optim twin.

    report = check_update_rule(adam, "adam")                 # CS231n's optim.py: adam(w, dw, config)
    report = check_update_rule(Adam, "adam", lr=1e-3)        # a class: Adam(params, lr=...), step(grads)

Two conventions are found by experiment:
- a function rule(w, dw, config) -> (next_w, config), as CS231n's optim.py (sgd, sgd_momentum, rmsprop,
  adam): one config per parameter, each step given the config the last step returned (as CS231n's
  Solver does), so a rule that does not return its state loses it;
- a class built as Cls(params, lr=..., ...) (or Cls(lr=..., ...)) and stepped as step(grads) or
  update(params, grads), params and grads as lists or as dicts by name, params updated in place.
Hyperparameters: those given win; the others are read where the rule keeps its defaults (the config it
fills in, CS231n's learning_rate, momentum, decay_rate, beta1, beta2, epsilon; or the constructor's
defaults), else torch's (which are CS231n's: momentum 0.9 for "momentum", Adam eps 1e-8, RMSprop
alpha 0.99 and eps 1e-8). The torch twin is built with exactly these.
Every step both sides get the same random gradients (1 down to 1e-5, so epsilon's place matters); the
parameters and their updates are compared (the rule's state is its own business), stopping at the
first step that disagrees and naming the mistake where optimizer_signatures.py knows it.
"""

import copy
import inspect

import numpy as np
import torch

from reference import tolerances
from reference.adapters.errors import ConventionError, Keyword
from reference.choices import UPDATE_RULE_TWINS
from reference.gradcheck.optimizer import NO_STATE, name_mistake, steps_beside_torch
from reference.gradcheck.parts import _run_scratch, _ScratchError
from reference.gradcheck.report import CheckReport, PartCheck

SHAPES = {"W1": (7, 5), "b1": (5,), "W2": (5, 3), "b2": (3,)}  # a few shapes, none square
# twin -> (torch.optim class, the hyperparameters it takes besides lr, with torch's defaults)
TWINS = {"sgd": (torch.optim.SGD, {}), "momentum": (torch.optim.SGD, {"momentum": 0.9}),
         "adam": (torch.optim.Adam, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
         "rmsprop": (torch.optim.RMSprop, {"alpha": 0.99, "eps": 1e-8})}
assert tuple(TWINS) == UPDATE_RULE_TWINS, "reference.choices names the twins the commands offer"
TWIN_BY_NAME = {"sgd": "sgd", "sgd_momentum": "momentum", "momentum": "momentum", "adam": "adam",
                "rmsprop": "rmsprop"}  # the twin a rule's (or class's) name says, lowercased
# Each hyperparameter's names: in a CS231n config first, then in a class's constructor.
NAMES = {"lr": ("learning_rate", "lr"), "momentum": ("momentum", "mu"), "alpha": ("decay_rate", "alpha", "rho"),
         "eps": ("epsilon", "eps"), "beta1": ("beta1",), "beta2": ("beta2",)}
KEYWORDS = {"lr": "lr", "momentum": "momentum", "alpha": "alpha", "eps": "eps", "beta1": "betas",
            "beta2": "betas"}  # each hyperparameter's keyword argument (check_update_rule's)
CONVENTIONS = ("rule(w, dw, config) -> (next_w, config), as CS231n's optim.py; or a class Cls(params, lr=...) "
               "with step(grads) or update(params, grads)")


def twin_for(rule, twin=None) -> str:
    """The twin given, or the one the rule's name says (sgd_momentum: momentum); ValueError otherwise."""
    name = getattr(rule, "__name__", type(rule).__name__)
    twin = twin or TWIN_BY_NAME.get(name.lower())
    if twin not in TWINS:
        raise ConventionError(f"the update rule {name}: its name says no torch.optim twin; give ", Keyword("twin"),
                              f" one of {list(TWINS)}" + (f" (got {twin!r})" if twin else ""))
    return twin


def check_update_rule(rule, twin=None, *, lr=None, steps=5, seed=0, **given) -> CheckReport:
    """steps steps of rule (a function or a class, see the module docstring) beside its torch.optim twin
    ("sgd", "momentum", "adam", "rmsprop"; default: from the rule's name) on random float64 parameters.
    given: the hyperparameters set, as torch names them (momentum, alpha, eps) and betas=(beta1, beta2)."""
    twin = twin_for(rule, twin)
    torch_class, defaults = TWINS[twin]
    given = {"lr": lr, **dict(zip(("beta1", "beta2"), given.pop("betas", None) or ())), **given}
    given = {name: value for name, value in given.items() if value is not None}
    extra = sorted(given.keys() - {"lr", *defaults})
    if extra:
        takes = [part for keyword in dict.fromkeys(KEYWORDS[n] for n in ("lr", *defaults))
                 for part in (", ", Keyword(keyword))][1:]
        raise ConventionError(Keyword(KEYWORDS[extra[0]]), " does not apply to ", Keyword("twin"), f"{twin}; it takes ",
                              *takes)
    stepper = (_Class if inspect.isclass(rule) else _Function)(rule, given)
    merged = {**defaults, **stepper.found, **given}
    hyper = {name: merged[name] for name in ("lr", *defaults) if name in merged}
    if "lr" not in hyper:
        raise ConventionError("give ", Keyword("lr"),
                              f": {stepper.name} keeps no default learning rate where the checker can read it")
    rng = np.random.default_rng([seed, 3])
    params = {key: rng.standard_normal(shape) for key, shape in SHAPES.items()}
    theirs = torch_class([torch.from_numpy(value.copy()) for value in params.values()], **_torch_options(hyper))
    settings = ", ".join(f"{name}={value!r}" for name, value in hyper.items())
    part = PartCheck("optimizer", None, f"{stepper.name}({settings}), {steps} steps against torch.optim."
                                        f"{torch_class.__name__}", stepper.name)
    try:
        stepper.start(params)
        case = steps_beside_torch(part, params, lambda before, grads, step: (stepper.step(before, grads, step),
                                                                             NO_STATE),
                                  theirs, rng, steps, tolerances.FLOAT64)
    except _ScratchError as error:
        part.error = str(error)
        return _report(part, stepper, seed, theirs)
    name_mistake(part, case)
    return _report(part, stepper, seed, theirs)


def _torch_options(hyper) -> dict:
    options = {name: value for name, value in hyper.items() if name not in ("beta1", "beta2")}
    return {**options, "betas": (hyper["beta1"], hyper["beta2"])} if "beta1" in hyper else options


def _report(part, stepper, seed, theirs) -> CheckReport:
    settings = {"subject": f"{stepper.name}, an update rule of your own", "dtype": "float64", "seed": seed,
                "all_agree": f"Every step agrees with torch.optim.{type(theirs).__name__} ({part.step} checked).",
                "reading": f"Parameters {', '.join(f'{k} {s}' for k, s in SHAPES.items())}, the same random "
                           f"gradients on both sides at every step.",
                "finite_differences": "No finite differences: an optimizer computes no gradient."}
    return CheckReport([part], settings, {"summary": f"Found: {stepper.found_words}", "update": stepper.how})


class _Function:
    """CS231n's convention: next_w, config = rule(w, dw, config), one config per parameter."""

    how = "rule(w, dw, config) -> (next_w, config)"

    def __init__(self, rule, given):
        self.rule, self.name = rule, rule.__name__
        self.config = {NAMES[name][0]: value for name, value in given.items()}
        probe = _probe()
        result = self._call(probe, np.full_like(probe, 0.5), dict(self.config), "probing it", probing=True)
        self.found = {name: float(result[1][names[0]]) for name, names in NAMES.items() if names[0] in result[1]}
        self.found_words = (f"{self.name}{inspect.signature(rule)}: a function {self.how} (CS231n's "
                            f"optim.py); its config, after a first call, held "
                            + (", ".join(f"{NAMES[n][0]}={v!r}" for n, v in self.found.items()) or "no hyperparameter"))

    def start(self, params):
        self.configs = {key: copy.deepcopy(self.config) for key in params}

    def step(self, params, grads, step):
        after = {}
        for key, value in params.items():
            after[key], self.configs[key] = self._call(value.copy(), grads[key].copy(), self.configs[key],
                                                       f"step {step} ({key})")
        return after

    def _call(self, w, dw, config, when, probing=False):
        try:
            result = _run_scratch(f"{self.name}(w, dw, config), {when},", self.rule, w, dw, config)
        except _ScratchError as error:
            if probing:
                raise ConventionError(f"the update rule {self.name}: {error}; expected {CONVENTIONS}") from None
            raise
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)
                and np.shape(result[0]) == np.shape(w)):
            raise ConventionError(f"the update rule {self.name} returned {type(result).__name__}, not (next_w, config) "
                                  f"with next_w shaped as w; expected {CONVENTIONS}")
        return np.asarray(result[0], dtype=np.float64), result[1]


def _probe() -> np.ndarray:
    """The parameter a rule is first called on, to learn its convention and defaults (then thrown away)."""
    return np.linspace(-1.0, 1.0, 6).reshape(2, 3)


class _Class:
    """A class: Cls(params, lr=..., ...) or Cls(lr=..., ...), stepped with step(grads) or update(params, grads),
    params and grads as lists or dicts; which, found on a probe."""

    def __init__(self, rule, given):
        self.rule, self.name = rule, rule.__name__
        parameters = inspect.signature(rule).parameters
        self.keywords = {}  # torch's name -> the constructor's
        for name, names in NAMES.items():
            found = next((n for n in names if n in parameters), None)  # the first of its names it takes
            if found is not None:
                self.keywords[name] = found
        defaults = {name: parameters[n].default for name, n in self.keywords.items()}
        if "betas" in parameters:
            defaults.update(zip(("beta1", "beta2"), parameters["betas"].default or ()))
        self.found = {name: float(value) for name, value in defaults.items()
                      if isinstance(value, (int, float)) and value is not inspect.Parameter.empty}
        self.given, self.betas = given, "betas" in parameters
        first = next(iter(parameters), None)  # params, unless the constructor's first argument is a hyperparameter
        takes_params = first is not None and first not in {"betas", *(n for names in NAMES.values() for n in names)}
        self.built = "Cls(params, ...)" if takes_params else "Cls(...)"
        missing = [name for name in given if name not in self.keywords and not (self.betas and name[:4] == "beta")]
        if missing:
            raise ConventionError(f"the update rule {self.name}'s constructor takes no {missing[0]} (under any of "
                                  f"{list(NAMES[missing[0]])}); leave out ", Keyword(KEYWORDS[missing[0]]))
        probe = {"W": _probe(), "b": _probe()[0]}
        before = copy.deepcopy(probe)
        try:
            self.start(probe)
            self.step(before, {key: np.full_like(value, 0.5) for key, value in probe.items()}, 0)
        except _ScratchError as error:
            raise ConventionError(f"the update rule {self.name}, probed: {error}; expected {CONVENTIONS}") from None
        if all(np.array_equal(probe[key], before[key]) for key in probe):
            raise ConventionError(f"the update rule {self.name}: {self.how} changed no parameter in place; expected "
                                  f"{CONVENTIONS}")
        self.found_words = f"a class {self.name}{inspect.signature(rule)}, built as {self.built}, stepped as {self.how}"

    def start(self, params):
        """Build the optimizer over these arrays (kept, and updated in place, across steps)."""
        options = {self.keywords[n]: v for n, v in self.given.items() if n in self.keywords}
        if self.betas and "beta1" in self.given:
            options["betas"] = (self.given["beta1"], self.given["beta2"])
        self.params = params
        arguments = (list(params.values()),) if self.built == "Cls(params, ...)" else ()
        self.optimizer = _run_scratch(f"{self.name}'s constructor", lambda: self.rule(*arguments, **options))
        if not hasattr(self, "how"):
            self.how = self._convention(params)

    def _convention(self, params) -> str:
        if hasattr(self.optimizer, "step") and self.built == "Cls(params, ...)":
            return "step(grads)"
        if hasattr(self.optimizer, "update"):
            return "update(params, grads)"
        raise ConventionError(f"the update rule {self.name} has neither step(grads) nor update(params, grads); "
                              f"expected {CONVENTIONS}")

    def step(self, before, grads, step):
        for key, value in before.items():
            self.params[key][...] = value
        lists = (list(self.params.values()), list(grads.values()))
        if self.how == "step(grads)":
            _run_scratch(f"{self.name}.step(grads), step {step},", self.optimizer.step, lists[1])
        else:
            self._update(lists, (self.params, grads), step)
        return {key: value.copy() for key, value in self.params.items()}

    def _update(self, lists, dicts, step):
        """update(params, grads) with lists, or, where lists fail on the probe, with dicts by name."""
        if self.how != "update(params, grads) with dicts":
            try:
                return _run_scratch(f"{self.name}.update(params, grads), step {step},", self.optimizer.update, *lists)
            except _ScratchError:
                if step:
                    raise
                self.how = "update(params, grads) with dicts"
        _run_scratch(f"{self.name}.update(params, grads), step {step},", self.optimizer.update, *dicts)
