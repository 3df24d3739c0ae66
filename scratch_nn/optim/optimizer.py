"""What every optimizer shares: its parameters, its per-parameter state, hyperparameter checks,
and state_dict()/load_state_dict() in torch.optim's layout.

The parameters are read from the network on every step, in the order of
network.named_parameters() (torch's model.parameters() order): parameter i is the i-th entry of
layer.params over network.layers, and its gradient is layer.grads under the same name, as the
last backward pass left it. Index i is also the key of its state, as in torch:

    {"state": {0: {"momentum_buffer": array}, 1: {...}, ...},            # SGD with momentum
     "param_groups": [{"lr": 0.1, "momentum": 0.9, ..., "params": [0, 1, 2, 3]}]}

A parameter that has not been stepped yet has no state entry. Arrays are NumPy; "step" is an int.
"""

import math
import numbers

import numpy as np

LABELS = {"lr": "the learning rate"}  # names for messages, where the short name says less

# Keys torch.optim puts in a param group that choose how it computes, not what: ignored on loading.
IMPLEMENTATION_KEYS = {"foreach", "fused", "capturable", "differentiable", "param_names"}


class Optimizer:
    """Base class: step() calls update(param, grad, state) for every parameter, in order.

    Subclasses name their hyperparameters (attributes, in torch's param-group order) in
    ``hyperparameters``, the settings torch keeps in a param group but scratch_nn does not vary in
    ``fixed``, check the values in ``validate()`` and list the state ``update`` keeps in
    ``state_keys()``.
    """

    hyperparameters: tuple[str, ...] = ("lr",)
    fixed: dict = {"maximize": False}

    def __init__(self, network, **hyperparameters):
        self.network = network
        self.state: dict[int, dict] = {}
        for name, value in hyperparameters.items():
            setattr(self, name, value)
        self.validate()

    def validate(self) -> None:
        """Raise a one-line error for a hyperparameter out of range (called on construction and loading)."""
        check_number(self, "lr", low=0, low_open=True)

    def state_keys(self) -> tuple[str, ...]:
        """The state update() keeps for each parameter, under torch's names."""
        return ()

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def step(self) -> None:
        for index, (layer, name) in enumerate(self.slots()):
            if name not in layer.grads:
                raise RuntimeError(f"{layer!r} has no gradient for {name!r}: call backward before step()")
            self.update(layer.params[name], layer.grads[name], self.state.setdefault(index, {}))

    def slots(self) -> list:
        """(layer, name) for every parameter, in named_parameters order."""
        return [(layer, name) for layer in self.network.layers for name in layer.params]

    def param_group(self) -> dict:
        return {**{name: getattr(self, name) for name in self.hyperparameters}, **self.fixed}

    def state_dict(self) -> dict:
        """Copies of the state and the hyperparameters, in torch.optim's layout (module docstring)."""
        state = {index: {key: value.copy() if isinstance(value, np.ndarray) else value for key, value in entry.items()}
                 for index, entry in self.state.items() if entry}
        return {"state": state, "param_groups": [{**self.param_group(), "params": list(range(len(self.slots())))}]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load hyperparameters and state, after checking all of it; nothing changes unless everything fits.

        Takes this class's own state_dict() or torch.optim's (tensors are read with np.asarray,
        torch's implementation settings such as foreach are ignored). Arrays must have the
        parameter's shape and dtype: nothing is converted.
        """
        slots = self.slots()
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != 1:
            raise ValueError("load_state_dict: expected 'param_groups' holding one group (scratch_nn optimizers "
                             "have one group over all parameters)")
        group = groups[0]
        problems = []
        if list(group.get("params", [])) != list(range(len(slots))):
            problems.append(f"the group's params are {group.get('params')}; this network has {len(slots)} "
                            f"parameters, so expected {list(range(len(slots)))}")
        problems += [f"{key}={group[key]!r}, but {type(self).__name__} has {key}={value!r}"
                     for key, value in self.fixed.items() if key in group and group[key] != value]
        known = {*self.hyperparameters, *self.fixed, *IMPLEMENTATION_KEYS, "params"}
        problems += [f"unknown setting {key!r} for {type(self).__name__}" for key in group if key not in known]
        before = {name: getattr(self, name) for name in self.hyperparameters}
        try:
            for name in self.hyperparameters:
                setattr(self, name, group.get(name, before[name]))
            self.validate()
            expected = set(self.state_keys())
        except (TypeError, ValueError) as error:
            problems.append(str(error))
            expected = None  # the settings decide which state to expect: with a bad one, check shapes only
        state = {}
        for index, entry in state_dict.get("state", {}).items():
            if not isinstance(index, int) or not 0 <= index < len(slots):
                problems.append(f"state for parameter {index!r}, but the parameters are 0..{len(slots) - 1}")
                continue
            if entry:
                state[index] = self.checked_entry(index, entry, slots[index], expected, problems)
        if problems:
            for name, value in before.items():
                setattr(self, name, value)
            self.validate()  # restores what validate() derives (Adam's beta1, beta2)
            raise ValueError("load_state_dict: the state does not fit this optimizer:\n  " + "\n  ".join(problems))
        self.state = state

    def checked_entry(self, index, entry, slot, expected, problems) -> dict:
        """One parameter's state as NumPy copies, with anything that does not fit added to problems."""
        layer, name = slot
        param = layer.params[name]
        if expected is not None and set(entry) != expected:
            problems.append(f"parameter {index} ({name} of {layer!r}): state keys {sorted(entry)}, "
                            f"expected {sorted(expected)} for these settings")
            return {}
        checked = {}
        for key, value in entry.items():
            value = np.asarray(value).copy()  # from an array or a (CPU) torch tensor
            if key == "step":
                if value.shape != () or value < 0 or value != int(value):
                    problems.append(f"parameter {index}: step must be a whole number >= 0; got {value}")
                else:
                    checked[key] = int(value)
            elif value.shape != param.shape or value.dtype != param.dtype:
                problems.append(f"parameter {index}: {key} is {value.dtype}{value.shape}, expected "
                                f"{param.dtype}{param.shape} like the parameter")
            else:
                checked[key] = value
        return checked

    def __repr__(self):
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.hyperparameters)
        return f"{type(self).__name__}({settings})"


def check_number(optimizer, name, low=0.0, high=math.inf, *, low_open=False, high_open=False) -> None:
    """Raise unless getattr(optimizer, name) is a finite real number in the interval (a bool is not)."""
    value = getattr(optimizer, name)
    if (low, high, low_open) == (0, math.inf, True):
        what = "a positive number"
    elif high == math.inf:
        what = f"a number >= {low:g}"
    else:
        what = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    problem = f"{type(optimizer).__name__}: {LABELS.get(name, name)} must be {what}; got {name}={value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{problem} (a {type(value).__name__})")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or too_low or too_high:
        raise ValueError(problem)


def check_flag(optimizer, name) -> None:
    value = getattr(optimizer, name)
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{type(optimizer).__name__}: {name} must be True or False; got {value!r}")
