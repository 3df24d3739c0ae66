"""The optimizer part: several consecutive steps on each side, from identical weights and identical
random gradients, against the torch.optim twin, stopping at the first step that disagrees.

    step k = 1..N:  g_k random (reference.optimizers.random_gradient), the same array on both sides
                    scratch: layer.grads <- g_k, optimizer.step();   torch: p.grad <- g_k, twin.step()
                    compared: every parameter "i.name", its update "i.name.update" and, for a
                    scratch_nn optimizer, every state tensor "i.name.<state>" ("step" as a number)

A first step can be right while the state it leaves is wrong (a momentum buffer holding lr g, Adam's
moments reset every step): only the state, or a later step, shows it, so one step is not enough.
The optimizer to check is
- a scratch_nn optimizer (class, factory or instance, or its name in scratch_nn.OPTIMIZERS with
  optimizer_options): its twin is derived (reference.optimizers.torch_optimizer);
- any object with step() built as optimizer(network, lr) (or given built): its twin is given as
  optimizer_twin, a name in scratch_nn.OPTIMIZERS (with optimizer_options, its hyperparameters
  besides lr) or a function (params, lr) -> torch.optim.Optimizer. Its state is its own business:
  only the parameters and their updates are compared.
Finite differences have nothing to say here: an optimizer computes no gradient.
"""

import copy

import numpy as np
import torch

import scratch_nn
from reference import tolerances
from reference.gradcheck.optimizer_signatures import OPTIMIZER_SIGNATURES
from reference.gradcheck.parts import (
    _run_scratch,
    _ScratchError,
    torch_model_from_twins,
)
from reference.gradcheck.report import PartCheck
from reference.gradcheck.signatures import Case, match_signatures
from reference.optimizers import (
    compared,
    random_gradient,
    scratch_state_dict,
    snapshot,
    torch_optimizer,
)

NO_STATE = {"state": {}}  # what a user's optimizer (not a scratch_nn one) is compared with: no state


def check_optimizer_part(network, twins, optimizer, lr, seed, steps, twin=None, options=None) -> PartCheck:
    """`steps` steps of the optimizer and its torch twin (see the module docstring); the part shows the
    first step that disagrees (or the last), and part.step says which."""
    validate_optimizer(optimizer, twin, options)
    ours, step = _copies(network, optimizer)
    model = torch_model_from_twins(ours, twins)
    try:
        if step is None:
            step = _built(optimizer, ours, lr, options)
    except _ScratchError as error:
        name = optimizer_name(optimizer)
        return PartCheck("optimizer", None, f"{name}(lr={lr})", name, error=str(error))
    theirs = _twin(step, ours, list(model.parameters()), lr, twin, options)
    part = PartCheck("optimizer", None, f"{_settings(step, lr)}, {steps} steps against torch.optim."
                                        f"{type(theirs).__name__}", type(step).__name__)
    stateful = isinstance(step, scratch_nn.Optimizer)

    def step_ours(before, grads, number):
        for key, layer, name in ours.named_parameters():
            layer.grads[name] = grads[key].copy()
        _run_scratch(f"the optimizer's step {number}", step.step)
        state = _run_scratch("the optimizer's state_dict", step.state_dict) if stateful else NO_STATE
        return ours.param_dict(), state

    try:
        case = steps_beside_torch(part, ours.param_dict(), step_ours, theirs, np.random.default_rng([seed, 2]), steps,
                                  tolerances.for_dtype(ours.dtype), ours.layers, stateful)
    except _ScratchError as error:
        part.error = str(error)
        return part
    name_mistake(part, case)
    return part


def steps_beside_torch(part, params, step_ours, theirs, rng, steps, tolerance, layers=(), stateful=False) -> Case:
    """Step both sides until one step disagrees (or all agree), setting part.step and part.torch;
    the Case of the step shown, for the signatures. params: ours before the first step, {key: array}
    in the twin's parameter order; step_ours(before, grads, step) -> (params after, state_dict)
    takes our step; stateful: compare the state too (else the parameters and updates only)."""
    keys = list(params)
    tensors = [p for group in theirs.param_groups for p in group["params"]]
    state_before = {}  # torch's state before the step, from which signatures predict (compared or not)
    for part.step in range(1, steps + 1):
        before = {key: value.copy() for key, value in params.items()}
        grads = {key: random_gradient(rng, value) for key, value in before.items()}
        for key, tensor in zip(keys, tensors):
            tensor.grad = torch.from_numpy(grads[key].copy())
        params, state = step_ours(before, grads, part.step)
        theirs.step()
        ours = snapshot(keys, params.values(), state, before)
        reference = snapshot(keys, tensors, scratch_state_dict(theirs), before)
        torch_state = {key: value for key, value in reference.items() if key not in before and ".update" not in key}
        reference = reference if stateful else {key: value for key, value in reference.items() if key in ours}
        part.torch = compared(ours, reference, tolerance, layers,
                              f"step {part.step} of {steps} against torch.optim.{type(theirs).__name__}")
        if not part.torch.ok:
            break
        state_before = torch_state
    group = dict(theirs.param_groups[0])
    return Case("optimizer", ours, reference, batch_size=0, params=before, grads=grads, lr=group["lr"],
                step=part.step, state=state_before, hyper=group, twin=type(theirs).__name__)


def name_mistake(part, case) -> None:
    """part.matches: the known optimizer mistakes whose prediction fits the failing tensors of case."""
    own_tolerance = {d.name: d.tolerance for d in part.torch.diffs}.get
    part.matches = match_signatures(case, [d.name for d in part.torch.failures], own_tolerance, OPTIMIZER_SIGNATURES)


def validate_optimizer(optimizer, twin, options) -> None:
    """Refuse, before any checking, an unknown name, options with nothing named to take them, and
    hyperparameters the named optimizer (or twin) refuses: each a one-line error."""
    if options and not (isinstance(optimizer, str) or isinstance(twin, str)):
        raise ValueError("optimizer_options are the hyperparameters of an optimizer named by optimizer= or "
                         "optimizer_twin= (a name in scratch_nn.OPTIMIZERS); a class or an instance has its own")
    for value, argument in ((optimizer, "optimizer"), (twin, "optimizer_twin")):
        if isinstance(value, str):
            _by_name(value, argument)(scratch_nn.Sequential(), lr=1.0, **(options or {}))  # raises on bad options


def _copies(network, optimizer):
    """A copy of the network and, for an optimizer given built, a copy of it stepping that copy."""
    if not hasattr(optimizer, "step") or isinstance(optimizer, type):
        return copy.deepcopy(network), None
    ours, step = copy.deepcopy((network, optimizer))  # one copy: references between them are kept
    if isinstance(step, scratch_nn.Optimizer) and step.network is not ours:
        raise ValueError(f"the optimizer {optimizer!r} steps another network than the one checked; build it on this "
                         f"network, or pass its class")
    return ours, step


def _built(optimizer, network, lr, options):
    """The optimizer, built on the network: by its name in scratch_nn.OPTIMIZERS with the options
    (its errors are the options' and raise), or as optimizer(network, lr) (its errors are the
    code's under check: a _ScratchError)."""
    if isinstance(optimizer, str):
        return _by_name(optimizer, "optimizer")(network, lr=lr, **(options or {}))
    if not callable(optimizer):
        raise TypeError(f"optimizer must be a name in scratch_nn.OPTIMIZERS, a class or factory called as "
                        f"optimizer(network, lr), or an object with step(); got {optimizer!r}")
    return _run_scratch("the optimizer's constructor", optimizer, network, lr)


def _by_name(name, argument):
    if name not in scratch_nn.OPTIMIZERS:
        raise ValueError(f"unknown {argument} {name!r}; choose from {list(scratch_nn.OPTIMIZERS)}, or pass "
                         + ("an optimizer class, factory or instance" if argument == "optimizer" else
                            "a function (params, lr) -> torch.optim.Optimizer"))
    return scratch_nn.OPTIMIZERS[name]


def _twin(step, network, params, lr, twin, options) -> torch.optim.Optimizer:
    """The torch.optim twin over params: given (a name or a function), or derived from a scratch_nn optimizer."""
    if twin is None:
        if not isinstance(step, scratch_nn.Optimizer):
            raise TypeError(f"no torch.optim twin is known for {type(step).__name__}, which is no scratch_nn "
                            f"optimizer; pass optimizer_twin= a name in {list(scratch_nn.OPTIMIZERS)} (with "
                            f"optimizer_options= its hyperparameters) or a function (params, lr) -> "
                            f"torch.optim.Optimizer")
        return torch_optimizer(step, params)
    if isinstance(twin, str):
        return torch_optimizer(_by_name(twin, "optimizer_twin")(copy.deepcopy(network), lr=lr, **(options or {})),
                               params)
    built = twin(params, lr)
    if not isinstance(built, torch.optim.Optimizer):
        raise TypeError(f"optimizer_twin(params, lr) must return a torch.optim.Optimizer; got {built!r}")
    return built


def optimizer_name(optimizer) -> str:
    if isinstance(optimizer, str):
        return optimizer
    return getattr(optimizer, "__name__", type(optimizer).__name__)


def _settings(step, lr) -> str:
    """"Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08)": a scratch_nn optimizer's hyperparameters that are
    set (not 0 or False); lr alone for any other."""
    names = step.hyperparameters if isinstance(step, scratch_nn.Optimizer) else ("lr",)
    values = {name: getattr(step, name, lr) for name in names}
    return f"{type(step).__name__}({', '.join(f'{k}={v!r}' for k, v in values.items() if v is not False and v != 0)})"
