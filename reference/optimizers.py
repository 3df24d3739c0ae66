"""The torch side of the optimizers: torch.optim twins, state dicts both ways, and multi-step checks.

A scratch optimizer's twin is the torch.optim class of the same name as the scratch class it is
(or subclasses: SGD, Adam, AdamW, RMSprop), built with the same hyperparameters and loaded with
the same state, so it can take over mid-training. compare_optimizer_steps feeds both the same random gradients
for several steps and compares, after every step, each parameter, its update and every state
tensor: a first step can be right while the state it leaves is wrong (a momentum buffer that
holds lr * g, a moment reset every step), and only the following steps, or the state itself,
show it. Finite differences have nothing to say here: an optimizer computes no gradient.
"""

import copy

import numpy as np
import torch
from torch import nn

import scratch_nn
from reference import tolerances
from reference.comparison import Comparison, TensorDiff, as_numpy, compare
from reference.twin import model_device, torch_loss, torch_target

# Most derived first: AdamW is an Adam.
TORCH_OPTIMIZERS = [(scratch_nn.AdamW, torch.optim.AdamW), (scratch_nn.Adam, torch.optim.Adam),
                    (scratch_nn.SGD, torch.optim.SGD), (scratch_nn.RMSprop, torch.optim.RMSprop)]


def torch_optimizer(optimizer: scratch_nn.Optimizer, params) -> torch.optim.Optimizer:
    """The torch.optim optimizer with the scratch optimizer's hyperparameters and state.

    params: a torch model, or its parameters, in the order of the scratch network's
    named_parameters() (which is torch's model.parameters() order for a twin).
    """
    torch_class = next((theirs for ours, theirs in TORCH_OPTIMIZERS if isinstance(optimizer, ours)), None)
    if torch_class is None:
        raise TypeError(f"no torch.optim twin is known for {optimizer!r}; subclass one of "
                        f"{[ours.__name__ for ours, _ in TORCH_OPTIMIZERS]}")
    params = list(params.parameters() if isinstance(params, nn.Module) else params)
    twin = torch_class(params, **{name: getattr(optimizer, name) for name in optimizer.hyperparameters})
    twin.load_state_dict(torch_state_dict(optimizer.state_dict(), twin))
    return twin


def optimizer_copy(optimizer: scratch_nn.Optimizer, network) -> scratch_nn.Optimizer:
    """The same optimizer (its class, hyperparameters and a copy of its state) over another network
    with the same parameters, e.g. a deep copy of its own, which it then steps as it would step its own."""
    copied = type(optimizer)(network, **{name: getattr(optimizer, name) for name in optimizer.hyperparameters})
    copied.load_state_dict(optimizer.state_dict())
    return copied


def torch_state_dict(state_dict: dict, twin: torch.optim.Optimizer) -> dict:
    """A scratch optimizer's state_dict() as torch.optim's load_state_dict takes it: tensors on the
    twin's device, "step" as a number (torch makes it its float tensor), and torch's own
    implementation settings (foreach, fused, ...) kept from the twin's group."""
    device = twin.param_groups[0]["params"][0].device
    state = {index: {key: float(value) if key == "step" else torch.from_numpy(value.copy()).to(device)
                     for key, value in entry.items()}
             for index, entry in state_dict["state"].items()}
    groups = [{**{key: value for key, value in theirs.items() if key != "params"}, **ours}
              for theirs, ours in zip(twin.state_dict()["param_groups"], state_dict["param_groups"])]
    return {"state": state, "param_groups": groups}


def scratch_state_dict(twin: torch.optim.Optimizer) -> dict:
    """torch.optim's state_dict() as NumPy copies ("step" an int), for a scratch load_state_dict."""
    theirs = twin.state_dict()
    state = {index: {key: int(value) if key == "step" else as_numpy(value).copy() for key, value in entry.items()}
             for index, entry in theirs["state"].items()}
    return {"state": state, "param_groups": copy.deepcopy(theirs["param_groups"])}


def compare_optimizer_steps(optimizer: scratch_nn.Optimizer, steps: int = 5, *, lrs=None, seed: int = 0,
                            tolerance=None, twin: torch.optim.Optimizer | None = None) -> list[Comparison]:
    """Step the scratch optimizer and its torch twin from identical weights, state and gradients.

    Every step draws one random gradient per parameter (random_gradient) and gives the same array
    to both sides. After every step it compares, per parameter key k:
    "k" the parameter, "k.update" what the step changed it by, and "k.<state>" every state
    tensor ("step" as a number). lrs: optionally one learning rate per step, set on both sides
    before the step (a schedule; some mistakes show only when the learning rate changes).
    twin: a torch optimizer to continue with (its parameters holding the network's values);
    by default torch_optimizer builds one over copies of the network's parameters, with the
    scratch optimizer's state. The optimizer's network is stepped: give the optimizer a copy of a
    network you still need. Returns one Comparison per step.
    """
    network = optimizer.network
    keys = [key for key, _, _ in network.named_parameters()]
    if twin is None:
        twin = torch_optimizer(optimizer, [torch.from_numpy(value.copy()) for value in network.param_dict().values()])
    params = twin.param_groups[0]["params"]
    tolerance = tolerance or tolerances.for_dtype(network.dtype)
    rng = np.random.default_rng(seed)
    trajectory = []
    for step in range(1, steps + 1):
        if lrs is not None:
            optimizer.lr = lrs[step - 1]
            for group in twin.param_groups:
                group["lr"] = lrs[step - 1]
        before = network.param_dict()
        for (key, layer, name), param in zip(network.named_parameters(), params):
            grad = random_gradient(rng, before[key])
            layer.grads[name] = grad.copy()
            param.grad = torch.from_numpy(grad.copy())
        optimizer.step()
        twin.step()
        ours = snapshot(keys, network.param_dict().values(), optimizer.state_dict(), before)
        theirs = snapshot(keys, params, scratch_state_dict(twin), before)
        trajectory.append(compared(ours, theirs, tolerance, network.layers,
                                   f"{type(optimizer).__name__} step {step} against torch.optim"))
    return trajectory


def compare_training(network, model, batches, loss, optimizer: scratch_nn.Optimizer,
                     tolerance=None) -> list[Comparison]:
    """Train the scratch network and its torch twin side by side, each with its own optimizer
    (the twin's from torch_optimizer), on the same batches; compare the parameters and the
    optimizer state after every step. Free-running: each side follows its own trajectory.

    The updates are not compared here: with gradients that differ by rounding, Adam's and
    RMSprop's update of an element whose gradient is near zero, ~ g / |g|, is ill-conditioned
    (a rounding error of 1e-16 of the gradient's scale on an element of 1e-12 moves its update by
    1e-4). The parameters (moved by lr times that) and the moments (linear in g and g^2) are not.
    """
    twin = torch_optimizer(optimizer, model)
    keys = [key for key, _, _ in network.named_parameters()]
    tolerance = tolerance or tolerances.for_dtype(network.dtype)
    trajectory = []
    for step, (x, target) in enumerate(batches, start=1):
        loss.forward(network.forward(x), target)
        network.backward(loss.backward())
        optimizer.step()
        twin.zero_grad(set_to_none=True)
        output = model(torch.from_numpy(x).to(model_device(model)))
        torch_loss(loss)(output, torch_target(loss, target, output)).backward()
        twin.step()
        ours = snapshot(keys, network.param_dict().values(), optimizer.state_dict())
        theirs = snapshot(keys, model.parameters(), scratch_state_dict(twin))
        trajectory.append(compared(ours, theirs, tolerance, network.layers, f"after training step {step}"))
    return trajectory


def random_gradient(rng, param: np.ndarray) -> np.ndarray:
    """Normal entries scaled by 10^0 down to 10^-5, evenly in the exponent and shuffled: each
    tensor holds gradients of size ~1 and some small enough (v ~ eps) for epsilon's place to matter."""
    magnitude = 10.0 ** rng.permutation(np.linspace(0, -5, param.size)).reshape(param.shape)
    return (rng.standard_normal(param.shape) * magnitude).astype(param.dtype)


def snapshot(keys, params, state_dict, before=None) -> dict:
    """Parameters, state tensors and (given the parameters before the step) updates under shared
    keys ("0.weight", "0.weight.exp_avg", "0.weight.update", ...), as NumPy arrays ("step" as a
    float64 scalar)."""
    values = {}
    for index, (key, param) in enumerate(zip(keys, params)):
        values[key] = after = as_numpy(param).copy()
        if before is not None:
            values[f"{key}.update"] = after.astype(np.float64) - before[key]  # exact in float64
        for name, value in state_dict["state"].get(index, {}).items():
            values[f"{key}.{name}"] = np.float64(value) if name == "step" else np.asarray(value)
    return values


def compared(ours, theirs, tolerance, layers, context) -> Comparison:
    """compare() over the tensors both sides have; a state tensor on one side only is a failure."""
    common = [key for key in ours if key in theirs]

    def tolerance_for(key):
        if not key.endswith(".update"):
            return tolerance
        param, update = np.abs(theirs[key.removesuffix(".update")]).max(), np.abs(theirs[key]).max()
        return tolerances.optimizer_update(tolerance, ours[key.removesuffix(".update")].dtype, param, update)

    comparison = compare({key: ours[key] for key in common}, {key: theirs[key] for key in common},
                         tolerance_for, layers, context)
    for key in sorted(ours.keys() ^ theirs.keys()):
        side = "scratch" if key in ours else "torch"
        comparison.diffs.append(TensorDiff(key, "", np.shape(ours.get(key, theirs.get(key))), tolerance,
                                           problem=f"only the {side} optimizer keeps this state",
                                           max_abs=np.inf, max_rel=np.inf, rel_norm=np.inf, ratio=np.inf))
    return comparison


def compare_repeated_backward(network, x, target, loss, zero_grad=None, tolerance=None) -> Comparison:
    """Backward twice on the same batch: the second pass's parameter gradients must equal the first's.

    scratch_nn's layers overwrite their gradients on every backward (torch accumulates them until
    zero_grad): a layer that accumulates would make the optimizer step with twice the gradient.
    For an implementation that documents accumulation, pass zero_grad (called before each pass)
    to check that zeroing works instead.
    """
    passes = []
    for _ in range(2):
        if zero_grad is not None:
            zero_grad()
        loss.forward(network.forward(x), target)
        network.backward(loss.backward())
        passes.append(network.grad_dict())
    first, second = passes
    return compare({f"{key}.grad": value for key, value in second.items()},
                   {f"{key}.grad": value for key, value in first.items()},
                   tolerance or tolerances.for_dtype(x.dtype), network.layers,
                   context="a second backward pass on the same batch", judge="the first backward pass")
