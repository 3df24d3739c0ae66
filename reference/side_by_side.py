"""Run the same computation on the scratch network and on its torch twin, and compare.

One forward and backward pass is traced on each side into a dict of arrays under shared keys:

    "i.output"       what layer i returned
    "loss"           the loss (when a loss is given)
    "loss.grad"      dL/d(network output), what the loss's backward returned
    "i.grad_input"   dL/d(input of layer i), what layer i's backward returned
    "i.weight.grad"  dL/d(parameter), for every parameter, under its state_dict key

compare_pass compares the two traces; compare_step also takes one SGD step on each side and
compares the parameters. A single layer is checked the same way, as a one-layer network.
"""

import numpy as np
import torch

import scratch_nn
from reference import tolerances
from reference.comparison import Comparison, compare
from reference.optimizers import torch_optimizer
from reference.regularization import cancelled_gradients
from reference.twin import (
    copy_to_torch,
    model_device,
    numpy_state_dict,
    torch_loss,
    torch_model,
    torch_target,
)


def trace_scratch(network, x, target=None, loss=None, upstream=None) -> dict:
    """Forward, then backward from the loss (or from the upstream gradient dL/d output)."""
    trace, h = {}, x
    for i, layer in enumerate(network.layers):
        h = trace[f"{i}.output"] = layer.forward(h)
    if loss is not None:
        trace["loss"] = np.asarray(loss.forward(h, target))
        upstream = trace["loss.grad"] = loss.backward()
    grad = upstream
    for i in reversed(range(len(network.layers))):
        grad = trace[f"{i}.grad_input"] = network.layers[i].backward(grad)
    trace.update({f"{key}.grad": layer.grads[name] for key, layer, name in network.named_parameters()})
    return trace


def trace_torch(model, x, target=None, loss=None, upstream=None) -> dict:
    """The same trace from the torch twin, on its device; the scratch loss object picks the twin loss."""
    device = model_device(model)
    h = torch.from_numpy(x).to(device).requires_grad_(True)
    inputs = [h]
    for module in model:
        h = module(h)
        h.retain_grad()
        inputs.append(h)
    trace = {f"{i}.output": out for i, out in enumerate(inputs[1:])}
    model.zero_grad(set_to_none=True)
    if loss is not None:
        trace["loss"] = value = torch_loss(loss)(h, torch_target(loss, target, h))
        value.backward()
        trace["loss.grad"] = h.grad
    else:
        h.backward(torch.from_numpy(upstream).to(device))
    trace.update({f"{i}.grad_input": inputs[i].grad for i in range(len(model))})
    trace.update({f"{key}.grad": p.grad for key, p in model.named_parameters()})
    return {key: value.detach().cpu().numpy() for key, value in trace.items()}


def compare_pass(network, model=None, x=None, target=None, loss=None, upstream=None, tolerance=None,
                 context="") -> Comparison:
    """Trace one forward and backward pass on both sides and compare every tensor.

    model: the torch twin (None: torch_model(network)). Give either a loss (a scratch loss
    object) with its target, or upstream, the gradient dL/d(output) to backpropagate.
    tolerance defaults to the one for x's dtype.

        compare_pass(network, x=x, target=labels, loss=SoftmaxCrossEntropy()).assert_ok()
    """
    model, x = _twin_and_input(network, model, x)
    ours = trace_scratch(network, x, target, loss, upstream)
    theirs = trace_torch(model, x, target, loss, upstream)
    cancelled = cancelled_gradients(network, ours, theirs, x.dtype)  # judged alone: see the function
    comparison = compare(ours, theirs, tolerance or tolerances.for_dtype(x.dtype), network.layers, context)
    comparison.diffs += cancelled
    return comparison


def compare_step(network, model=None, x=None, target=None, loss=None, lr=None, tolerance=None,
                 context="", optimizer=None) -> Comparison:
    """One SGD step on each side from the same batch (x, target, loss, lr all required); compare
    the parameters after it. model: the torch twin (None: torch_model(network)).
    optimizer: a scratch optimizer over the network to step with instead of SGD(lr); the torch
    side steps with its twin (reference.optimizers.torch_optimizer: same settings and state)."""
    model, x = _twin_and_input(network, model, x)
    if loss is None or lr is None:
        raise TypeError("compare_step needs a loss and a learning rate lr: the step descends the loss's gradient")
    twin_optimizer = None if optimizer is None else torch_optimizer(optimizer, model)
    ours = scratch_step(network, x, target, loss, lr, optimizer)
    theirs = torch_step(model, x, target, loss, lr, twin_optimizer)
    return compare(ours, theirs, tolerance or tolerances.for_dtype(x.dtype), network.layers, context)


def _twin_and_input(network, model, x):
    """The torch twin (built when not given) and the input, which every comparison needs."""
    if x is None:
        raise TypeError("give the input x, e.g. compare_pass(network, x=x, target=labels, loss=loss)")
    return (torch_model(network) if model is None else model), x


def scratch_step(network, x, target, loss, lr, optimizer=None) -> dict:
    """One step of training on the scratch side, with the optimizer (default: SGD(lr)); returns the
    parameters after it."""
    loss.forward(network.forward(x), target)
    network.backward(loss.backward())
    (optimizer or scratch_nn.SGD(network, lr)).step()
    return network.state_dict()


def torch_step(model, x, target, loss, lr, optimizer=None) -> dict:
    """One step of training on the torch side with the torch.optim optimizer (default: SGD(lr));
    returns the parameters after it."""
    optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=lr)
    optimizer.zero_grad(set_to_none=True)
    output = model(torch.from_numpy(x).to(model_device(model)))
    torch_loss(loss)(output, torch_target(loss, target, output)).backward()
    optimizer.step()
    return numpy_state_dict(model)


def compare_trajectory(network, model, batches, loss, lr, tolerance=None, lockstep=False) -> list[Comparison]:
    """SGD on both sides over the same batches, the parameters compared after every step.
    model: the torch twin (None: torch_model(network), built once for the whole trajectory).

    Free-running (the default), each side follows its own trajectory and differences compound:
    this is what training both would give. With lockstep=True the torch model is reset to the
    scratch weights after every comparison, so every step starts from identical weights and is
    judged on its own: the check to use where the dynamics are chaotic (differences of 1e-16
    that double every few steps) and free-running drift says nothing about the arithmetic.
    """
    model = torch_model(network) if model is None else model
    trajectory = []
    for step, (x, target) in enumerate(batches, start=1):
        trajectory.append(compare_step(network, model, x, target, loss, lr, tolerance, context=f"after step {step}"))
        if lockstep:
            copy_to_torch(network, model)
    return trajectory


def drift_table(trajectory: list[Comparison]) -> str:
    """How the parameter difference grows with the number of steps: after selected steps, the
    largest max|scratch - torch| / max|torch| over all tensors, and how close that is to the tolerance."""
    rows = [f"{'step':>6} {'max|diff|/scale':>16} {'in':<10} {'of tolerance':>12}"]
    last = len(trajectory)
    for step in sorted({s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if s < last} | {last}):
        diffs = trajectory[step - 1].diffs
        worst = max(diffs, key=lambda d: d.scaled_abs)
        closest = max(d.ratio for d in diffs)
        rows.append(f"{step:>6} {worst.scaled_abs:>16.2e} {worst.name:<10} {closest:>12.2g}")
    return "\n".join(rows)
