"""check_whole_network: a network written as one object (Nielsen's network.py, CS231n's
TwoLayerNet, a class with W1, b1, ... and forward/backward) checked as a whole against its torch
twin and against finite differences of its own loss.

    report = check_whole_network(Network([784, 30, 10]))       # or check(net): the same
    print(report.table()); report.ok; report.first_failure

On a deep copy of the network (the object given is never called or changed), with its conventions
found by reference.adapters.whole_network_discovery (or given as keyword arguments), called only
through its user side (reference.adapters.whole_network_side: when grading, a proxy of one in the
sandboxed worker, so everything below runs in the grader):

1. Its weights are replaced by init's (default torch's: pre-activations O(1), so that no sigmoid
   saturates and every derivative matters) drawn from the seed; init=None keeps its own.
2. forward: its output a for a batch X (standard normal, batch_size rows) against the twin's; the
   loss value against the twin's where the network returns one.
3. layer i: dC/dW_i and dC/db_i from the network's gradient method, against the twin's (torch
   autograd) and against float64 central differences of the network's own loss (its loss value
   where it returns one, else the found cost of its own forward output), on up to fd_samples
   entries of each. Where the network and torch agree, the differences agree with both; where they
   disagree, the differences say which side the loss itself supports. Failing tensors are matched
   against the mistakes of network_signatures.py.
4. update: where the network has an update method, one step from the same weights at lr against
   torch.optim.SGD on the twin.

Positions in the table are in the (out, in) layout, whatever the network stores.
"""

import inspect

import numpy as np
import torch

import scratch_nn
from reference import tolerances
from reference.adapters import whole_network as wn
from reference.adapters.whole_network_discovery import discover
from reference.adapters.whole_network_side import LocalWholeNetwork, NetworkSide
from reference.choices import FD_SAMPLES
from reference.comparison import Comparison, compare
from reference.finite_differences import EntrySampler, sampled_diff
from reference.gradcheck.network_signatures import (
    UPDATE_SIGNATURES,
    network_signatures,
    twin_pass,
)
from reference.gradcheck.network_twin import twin_loss, twin_model
from reference.gradcheck.report import CheckReport, PartCheck
from reference.gradcheck.signatures import Case, match_signatures
from reference.gradcheck.terms import Terms

READING = "Checked whole, layers in backprop's order (a mistake spreads to the layers listed after it)."
ALSO = "Also disagreeing (possibly carried from the first: the layers are not checked alone)"
CONVENTION_KEYWORDS = tuple(inspect.signature(discover).parameters)[1:]


def check_whole_network(net, x=None, target=None, *, lr=0.1, batch_size=8, seed=0, fd_samples=FD_SAMPLES,
                        init="torch", **conventions) -> CheckReport:
    """Check every layer's gradients of a whole network, and its update step; see the module's doc.

    x: the batch as rows (n, in); target: its labels (n,) (default: random). init: "torch",
    "paper" or None (the network's own weights). conventions: discover()'s keywords (weights,
    biases, layout, bias_shape, batching, forward, activation, output_activation,
    gradient_method, gradient_call, targets, cost, reduction, update). net may instead be a
    NetworkSide (reference.adapters.whole_network_side): its conventions found, every call through it."""
    unknown = set(conventions) - set(CONVENTION_KEYWORDS)
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)}; the conventions are {list(CONVENTION_KEYWORDS)}")
    if init is not None and init not in scratch_nn.INITIALIZERS:
        raise ValueError(f"init must be one of {list(scratch_nn.INITIALIZERS)} or None (the network's own); "
                         f"got {init!r}")
    for name, value in (("batch_size", batch_size), ("fd_samples", fd_samples)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    side = net if isinstance(net, NetworkSide) else LocalWholeNetwork(net, conventions)
    found = side.found
    rng = np.random.default_rng(seed)
    params = side.parameters()
    if init is not None:
        params = [tuple(v.astype(np.float64) for v in scratch_nn.INITIALIZERS[init](rng, w.shape[1], w.shape[0]))
                  for w, _ in params]
    side.load(params)
    classes = params[-1][0].shape[0]
    X = np.asarray(x, dtype=np.float64) if x is not None else rng.standard_normal((batch_size, params[0][0].shape[1]))
    labels = np.asarray(target) if target is not None else rng.integers(max(2, classes), size=len(X))
    targets = wn.targets_for(labels, classes, found)
    reference = twin_pass(params, found.activations, X, labels, found.loss, found.reduction)
    sampler = EntrySampler(fd_samples, np.random.default_rng([seed, 1]))
    tolerance = tolerances.FLOAT64
    parts, grads, value = _forward_part(side, X, targets, reference, tolerance)
    signatures = network_signatures(params, found.activations, X, labels, found.loss, found.reduction)
    terms = Terms(found.layout, found.batching, averaged=None if found.batching == "columns" else False)
    for i, (w, b) in reversed(list(enumerate(params))):  # backprop's order: a mistake spreads to the layers before
        part = PartCheck("layer", i, f"Linear({w.shape[1]}->{w.shape[0]})" + (
            "" if found.activations[i] == "none" else f" + {found.activations[i]}"), "Linear")
        parts.append(part)
        if isinstance(grads, str):
            part.error = grads
            continue
        keys = (f"{i}.weight.grad", f"{i}.bias.grad")
        ours = dict(zip(keys, grads[i]))
        part.torch = compare(ours, {k: reference[k] for k in keys}, tolerance, context=f"layer {i} against torch")

        def objective():
            side.load(params)
            return _loss_value(side, X, labels, targets)

        part.finite_differences = Comparison(
            [sampled_diff(key, ours[key], array, None, objective, sampler, where=f"layer {i}")
             for key, array in zip(keys, params[i])], context=f"layer {i} against finite differences")
        case = Case("layer", ours, {k: reference[k] for k in keys}, len(X), x=reference[f"{i}.input"],
                    upstream=reference[f"{i}.upstream"], params={"weight": w, "bias": b}, terms=terms)
        part.matches = match_signatures(case, part.failing, tolerance, signatures)
    side.load(params)
    if found.update:
        parts.append(_update_part(side, params, X, labels, targets, lr, tolerance,
                                  after_failure=any(not part.ok for part in parts)))
    settings = {"subject": f"{side.name} ({'-'.join(str(w.shape[1]) for w, _ in params)}-{classes})",
                "dtype": "float64", "batch_size": len(X), "seed": seed, "fd_samples": fd_samples, "lr": lr,
                "init": init, "reading": READING, "also": ALSO}
    summary = found.describe(side.calls) + (f"\n  {side.functions}" if side.functions else "")
    return CheckReport(parts, settings, {"summary": summary, **found.to_dict()})


def _forward_part(side, X, targets, reference, tolerance):
    """The forward output (and the loss value, where the gradient method returns one) against the
    twin's; with the network's gradients, or the error its methods raised."""
    found = side.found
    part = PartCheck("forward", None, f"{found.forward}(...) output; {found.loss.replace('_', ' ')} loss "
                                      f"({found.reduction})", found.forward)
    try:
        ours = {"output": side.forward(X)}
        grads, value = side.gradients(X, targets)
    except Exception as error:  # noqa: BLE001 - the user's code may raise anything: reported, not raised
        part.error = f"{type(error).__name__}: {error}"
        return [part], part.error, None
    if value is not None:
        ours["loss"] = np.asarray(value)
    part.torch = compare(ours, {key: reference[key] for key in ours}, tolerance, context="forward against torch")
    return [part], grads, value


def _loss_value(side, X, labels, targets) -> float:
    """The network's own loss: the value its gradient method returns, else the found cost of its forward output."""
    found = side.found
    if found.gradients_call == "data" and found.batching in ("rows", "columns"):
        value = side.gradients(X, targets)[1]
        if value is not None:
            return value
    output = torch.from_numpy(side.forward(X))
    return float(twin_loss(output, labels, found.loss, found.reduction, found.activations[-1]))


def _update_part(side, params, X, labels, targets, lr, tolerance, after_failure) -> PartCheck:
    """One step of the network's update method against torch.optim.SGD from the same weights
    (after_failure: the network's gradients, which the update uses, already disagree)."""
    found = side.found
    part = PartCheck("optimizer", None, f"{found.update}(..., {found.update_lr}={lr:g}), 1 step against "
                                        f"torch.optim.SGD" + (" (on the network's own gradients, which disagree "
                                                              "above)" if after_failure else ""), found.update)
    model = twin_model(params, found.activations)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    twin_loss(model(torch.from_numpy(X)), labels, found.loss, found.reduction, found.activations[-1]).backward()
    optimizer.step()
    reference = {f"{i}.{name}": model[2 * i].state_dict()[name].numpy().copy()
                 for i in range(len(params)) for name in ("weight", "bias")}
    try:
        stepped = side.stepped(X, targets, lr)
    except Exception as error:  # noqa: BLE001 - the user's update may raise anything
        part.error = f"{type(error).__name__}: {error}"
        return part
    ours = {f"{i}.{name}": value for i, pair in enumerate(stepped)
            for name, value in zip(("weight", "bias"), pair)}
    part.torch = compare(ours, reference, tolerance, context="update against torch.optim.SGD")
    before = {f"{i}.{name}": value for i, pair in enumerate(params) for name, value in zip(("weight", "bias"), pair)}
    case = Case("optimizer", ours, reference, len(X), params=before, lr=lr)
    part.matches = match_signatures(case, part.failing, tolerance, UPDATE_SIGNATURES)
    return part
