"""The layer and loss part checks: each layer alone and the loss, each against its torch twin and
against finite differences, with the signatures matched.

Layer i is checked on X_i, the input the torch twin of layers 0..i-1 computes, with a random
upstream gradient G_i (the shape of its output); all three judges are asked for the gradients
of the same scalar L_i = sum(G_i * y), y = layer(X_i):

    dL_i/dX_i      what backward(G_i) must return     Linear: G W       activation f: G * f'(X)
    dL_i/dtheta    what it must leave in layer.grads  Linear: W: G^T X (out, in),  b: sum over rows of G

    scratch             forward(A_i), then forward(X_i), then backward(G_i)
    torch               the twin module holding the layer's weights, at X_i, y.backward(G_i)
    finite differences  dL_i/d(entry), by scipy's central differences of forward alone, in float64
                        (a float32 layer as a float64 copy), on sampled entries (EntrySampler)

A_i is a decoy: the twin's input to layer i for a second network input. It goes through the
scratch forward first, so a layer that keeps an earlier batch's cache is caught red-handed.
A softmax layer is checked again at X_i + 1000, where an unshifted e^x overflows (torch judges).
Then forward(X_i) and backward(G_i) run again: the gradients this second backward leaves must be
torch's again, overwritten and not added to the first's (a layer documented to accumulate is
given zero_grad, called before each backward, and its zeroing is what this checks).

The loss is checked on the twin network's output z with targets t (after a decoy forward too):
L and dL/dz against the torch.nn loss and finite differences, and again at z + 1000, where
softmax is unchanged but an unshifted e^z overflows (torch alone judges there: a difference
step is lost in the rounding of 1000). The optimizer's steps are checked in optimizer.py.

The code under check runs on copies: the caller's network is never changed.
"""

import copy
from dataclasses import replace

import numpy as np
import torch
from torch import nn

import scratch_nn
from reference import tolerances
from reference.adapters.user_code import UserCodeError, guarded
from reference.comparison import (
    Comparison,
    compare,
    describe_value,
    layer_repr,
    numbers,
)
from reference.finite_differences import KINK_MARGIN, sampled_diff
from reference.gradcheck.report import PartCheck
from reference.gradcheck.signatures import (
    LARGE_LOGIT_SHIFT,
    LARGE_LOGITS_SUFFIX,
    SECOND_BACKWARD,
    Case,
    match_signatures,
)
from reference.gradcheck.terms import Terms
from reference.side_by_side import trace_torch
from reference.twin import scratch_loss_class_for, torch_model


class _ScratchError(Exception):
    """The code under check raised: reported as that part's failure, not as an error of the check."""


def _run_scratch(what: str, function, *args):
    """Call the code under check; anything it raises (a sys.exit too) becomes a _ScratchError saying
    which call: that part's failure."""
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), guarded(what):  # overflow: Inf/NaN
            return function(*args)
    except UserCodeError as error:
        raise _ScratchError(str(error.raised)) from error.__cause__


def _numbers(what: str, value):
    """What the code under check gave, as an array of numbers; anything else is that part's failure,
    said in words (the judges measure only numbers)."""
    array = numbers(value)
    if array is None:
        raise _ScratchError(f"{what} gave {describe_value(value)}, not an array of numbers")
    return array


def torch_model_from_twins(network, twins) -> nn.Sequential:
    """torch_model(network, twins), with a torch module given as a twin copied (not changed), and a
    twin whose parameters do not fit the layer's refused in words."""
    twins = [copy.deepcopy(t) if isinstance(t, nn.Module) else t for t in twins]
    try:
        return torch_model(network, twins=twins)
    except (RuntimeError, AssertionError) as error:  # load_state_dict refused, or the weights changed on the way
        raise ValueError(f"the layers' params do not fit their torch twins' parameters, which must have the same "
                         f"names, shapes and dtype (weight (out, in), bias (out,); a twin module in float64 for a "
                         f"float64 layer): {error}") from None


def check_layer_part(index, layer, module, x, decoy, upstream, sampler, zero_grad=None, mode="") -> PartCheck:
    """Layer `index` alone at input x with upstream gradient G: scratch, torch twin, finite differences;
    then forward and backward again on the same batch, whose gradients must be the same (overwritten,
    not accumulated; with zero_grad, a documented zeroing called before each backward, that it zeroes).
    mode: words added to the layer's description, e.g. " in evaluation mode"."""
    part = PartCheck("layer", index, layer_repr(layer) + mode, type(layer).__name__)
    params = {name: value.copy() for name, value in layer.params.items()}

    def reference_at(at, at_params=params):
        return _twin_pass(module, index, at, decoy, upstream, at_params)

    reference = {**reference_at(x), **{f"{index}.{name} after backward": value for name, value in params.items()}}
    reference.update({f"{index}.{name}.grad{SECOND_BACKWARD}": reference[f"{index}.{name}.grad"] for name in params})
    # A softmax is unchanged by a shift of its input, and an unshifted e^x overflows at x + 1000:
    # checked there too, torch alone judging (a difference step is lost in the rounding of 1000).
    large = x + x.dtype.type(LARGE_LOGIT_SHIFT) if isinstance(module, nn.Softmax) else None
    if large is not None:
        reference.update(_at_large_logits(reference_at(large), index))
    try:
        ours = copy.deepcopy(layer)
        scratch = _layer_pass(ours, index, x, decoy, upstream, zero_grad)
        # What backward left: an adapted layer that updates inside backward puts the weights back, and
        # keeps what its update left in .updated.
        params_after = getattr(ours, "updated", None) or {name: value.copy() for name, value in ours.params.items()}
        scratch.update(_second_backward(ours, index, x, upstream, zero_grad))
        if large is not None:
            scratch.update(_at_large_logits(_layer_pass(copy.deepcopy(layer), index, large, decoy, upstream), index))
        analytic = _layer_pass(_as_float64(layer), index, *(a.astype(np.float64) for a in (x, decoy, upstream)),
                               zero_grad, note=" (of the float64 copy, for finite differences)")
    except _ScratchError as error:
        part.error = str(error)
        return part
    tolerance = tolerances.for_dtype(x.dtype)
    where = f"layer {index}, {part.description}"
    part.torch = _reported_once(_compared(scratch, reference, tolerance, where, context=f"layer {index} against torch"))
    part.finite_differences = _layer_finite_differences(index, layer, x, decoy, upstream, analytic, where, sampler)
    case = Case("layer", scratch, reference, len(x), x=x, decoy=decoy, upstream=upstream, params=params,
                params_after=params_after, reference_at=reference_at, module=module, zero_grad=zero_grad is not None,
                terms=terms_of(layer))
    part.matches = match_signatures(case, [d.name for d in part.torch.failures], tolerance)
    return part


def terms_of(layer) -> Terms:
    """The hints' terms for a layer: its conventions' (an adapted layer's), else scratch_nn's (out, in) rows."""
    c = getattr(layer, "conventions", None)
    if c is None or not hasattr(c, "layout"):
        return Terms()
    return Terms(c.layout, c.batching, averaged=c.param_grads == "mean")


def _at_large_logits(values: dict, index) -> dict:
    """A layer's output and input gradient at its input + LARGE_LOGIT_SHIFT, under their keys with the suffix."""
    return {key + LARGE_LOGITS_SUFFIX: values[key] for key in (f"{index}.output", f"{index}.grad_input")}


def _layer_pass(layer, index, x, decoy, upstream, zero_grad=None, note="") -> dict:
    """The scratch side of the protocol: forward(decoy), forward(x), backward(G); what it returned and left."""
    _run_scratch_on_copy(f"forward on the decoy batch{note}", layer.forward, decoy, MODIFIED_INPUT)
    given = np.array(x, copy=True)
    output = _run_scratch_on_copy(f"forward{note}", layer.forward, given, MODIFIED_INPUT)
    if zero_grad is not None:
        _run_scratch(f"zero_grad{note}", zero_grad, layer)
    grad_input = _run_scratch_on_copy(f"backward{note}", layer.backward, upstream, MODIFIED_GRADIENT)
    _unchanged(given, x, f"backward{note}", MODIFIED_CACHED_INPUT)
    return {f"{index}.output": _numbers(f"forward{note}", output),
            f"{index}.grad_input": _numbers(f"backward{note}", grad_input),
            **{f"{index}.{name}.grad": value for name, value in _gradients(layer, f"backward{note}").items()},
            **{f"{index}.{name} after backward": value.copy() for name, value in layer.params.items()},
            **{f"{index}.{name} after the batches": np.array(value, copy=True)
               for name, value in getattr(layer, "buffers", {}).items()}}


# An array a layer is given belongs to its caller: the previous layer keeps its output (this layer's
# input) for its own backward, and the next layer's gradient may be read again. So the layer gets a
# copy, and a copy that changed is named for what it is, before any number it led to is judged.
MODIFIED_INPUT = "forward modified its input"
MODIFIED_GRADIENT = "backward modified the gradient it was given"
MODIFIED_CACHED_INPUT = "backward modified the input forward was given (kept from forward, not copied)"
IN_PLACE_FIX = "it belongs to the caller: compute into a new array (y = x * 2, not x *= 2; no out=x)"


def _run_scratch_on_copy(what: str, function, given: np.ndarray, modified: str):
    """function(copy of given), through _run_scratch; a _ScratchError saying `modified` if the call
    changed the copy it was given."""
    copied = np.array(given, copy=True)
    result = _run_scratch(what, function, copied)
    _unchanged(copied, given, what, modified)
    return result


def _unchanged(passed: np.ndarray, original: np.ndarray, what: str, modified: str) -> None:
    if passed.shape != original.shape or not np.array_equal(passed, original, equal_nan=True):
        raise _ScratchError(f"{modified} in place ({what}); {IN_PLACE_FIX}")


def _second_backward(layer, index, x, upstream, zero_grad) -> dict:
    """Forward and backward again on the same batch (after zero_grad, if given): the gradients it leaves."""
    if not layer.params:
        return {}
    _run_scratch_on_copy("forward again on the same batch", layer.forward, x, MODIFIED_INPUT)
    if zero_grad is not None:
        _run_scratch("zero_grad before the second backward", zero_grad, layer)
    _run_scratch_on_copy("a second backward on the same batch", layer.backward, upstream, MODIFIED_GRADIENT)
    grads = _gradients(layer, "a second backward on the same batch")
    return {f"{index}.{name}.grad{SECOND_BACKWARD}": value for name, value in grads.items()}


def _reported_once(comparison) -> Comparison:
    """The comparison without the second backward's gradients where the first's already disagree: a
    wrong gradient is wrong again, and one row says it (accumulation shows once the first is right)."""
    failed = {d.name for d in comparison.failures}
    comparison.diffs = [d for d in comparison.diffs
                        if not (d.name.endswith(SECOND_BACKWARD) and d.name.removesuffix(SECOND_BACKWARD) in failed)]
    return comparison


def _gradients(layer, call) -> dict:
    """Copies of layer.grads for every parameter (copies: a later backward may add to them in place)."""
    missing = [name for name in layer.params if name not in getattr(layer, "grads", {})]
    if missing:
        raise _ScratchError(f"{call} left no gradient for {missing} in layer.grads")
    return {name: np.array(layer.grads[name], copy=True) for name in layer.params}


def _twin_pass(module, index, x, decoy, upstream, params) -> dict:
    """What the torch twin computes at input x with these parameters, backpropagating upstream:
    "i.output", "i.grad_input" and "i.<param>.grad", as side_by_side traces them. The twin sees
    the decoy first, as the scratch layer does: a dropout draws its masks in the same order, and a
    batch norm's running statistics move alike (its buffers keep the module's own values)."""
    model = nn.Sequential(copy.deepcopy(module))
    state = model[0].state_dict()
    state.update({name: torch.from_numpy(np.ascontiguousarray(v)) for name, v in params.items()})
    model[0].load_state_dict(state)
    with torch.no_grad():
        model(torch.from_numpy(decoy))
    trace = trace_torch(model, x, upstream=upstream)
    trace.update({f"0.{name} after the batches": value.detach().numpy().copy()  # running statistics
                  for name, value in model[0].named_buffers()})
    return {f"{index}.{key.partition('.')[2]}": value for key, value in trace.items()}


def _layer_finite_differences(index, layer, x, decoy, upstream, analytic, where, sampler) -> Comparison:
    """The float64 analytic gradients against finite differences of L = sum(G * forward(x)),
    on sampled entries of the input and of every parameter.

    The objective is evaluated as sum(G * (forward(x) - y0)), y0 the unperturbed output: the
    same derivative, but the outputs an entry does not touch contribute exact zeros instead of
    their rounding error, which would otherwise swamp the small derivatives of saturated units.
    """
    probe = _as_float64(layer)
    x64, upstream64 = x.astype(np.float64), upstream.astype(np.float64)
    _run_scratch("forward on the decoy batch (finite differences)", probe.forward, decoy.astype(np.float64))

    def forward():
        """forward(x64) on a copy of the probe as the decoy left it, sharing its parameters (which the
        differences perturb): every evaluation sees the same state, e.g. a dropout's next mask."""
        fresh = copy.deepcopy(probe, memo={id(value): value for value in probe.params.values()})
        return _run_scratch("forward (finite differences)", fresh.forward, x64)

    unperturbed = forward().copy()  # a copy: an output may be a view of x64 (a reshape), which is perturbed

    def objective():
        return float(np.sum(upstream64 * (forward() - unperturbed)))

    targets = {f"{index}.grad_input": (x64, np.abs(x64).ravel() >= KINK_MARGIN),
               **{f"{index}.{name}.grad": (value, None) for name, value in probe.params.items()}}
    diffs = [sampled_diff(key, analytic[key], array, allowed, objective, sampler, where)
             for key, (array, allowed) in targets.items()]
    return Comparison(diffs, context=f"layer {index} against finite differences")


def check_loss_part(loss, output, decoy, target, sampler) -> PartCheck:
    """The loss at the network output z and at z + 1000, against the torch loss; dL/dz against
    finite differences at z. A loss of probabilities is not checked at z + 1000, which are none;
    its differences keep to entries the stencil keeps above 0 (it refuses p <= 0)."""
    part = PartCheck("loss", None, repr(loss), type(loss).__name__)
    on_probabilities = scratch_loss_class_for(loss) in (scratch_nn.ProbabilityCrossEntropy,
                                                        scratch_nn.BinaryCrossEntropy)
    below_one = scratch_loss_class_for(loss) is scratch_nn.BinaryCrossEntropy  # it takes log(1 - a) too
    large = None if on_probabilities else output + output.dtype.type(LARGE_LOGIT_SHIFT)

    def reference_at(at, params=None):
        trace = trace_torch(nn.Sequential(), at, target, loss)
        return {"loss": trace["loss"] + _penalty(loss), "loss.grad": trace["loss.grad"]}

    def at_large_logits(values):
        return {key + LARGE_LOGITS_SUFFIX: value for key, value in values.items()}

    reference = {**reference_at(output), **(at_large_logits(reference_at(large)) if large is not None else {})}
    try:
        ours = copy.deepcopy(loss)
        scratch = _loss_pass(ours, output, decoy, target)
        if large is not None:
            scratch.update(at_large_logits(_loss_pass(ours, large, decoy, target)))
        probe, output64 = _as_float64(loss), output.astype(np.float64)
        target64 = target.astype(np.float64) if target.dtype.kind == "f" else target
        analytic = _loss_pass(probe, output64, decoy.astype(np.float64), target64,
                              note=" (of the float64 copy, for finite differences)")
    except _ScratchError as error:
        part.error = str(error)
        return part
    tolerance = tolerances.for_dtype(output.dtype)
    part.torch = compare(scratch, reference, tolerance, context="loss against torch")

    def objective():
        return float(_run_scratch("the loss's forward (finite differences)", probe.forward, output64, target64))

    allowed = output64.ravel() >= KINK_MARGIN if on_probabilities else None
    if below_one:
        allowed &= output64.ravel() <= 1 - KINK_MARGIN
    part.finite_differences = Comparison(
        [sampled_diff("loss.grad", analytic["loss.grad"], output64, allowed, objective, sampler)],
        context="loss against finite differences")
    case = Case("loss", scratch, reference, len(output), x=output, decoy=decoy, reference_at=reference_at)
    part.matches = match_signatures(case, [d.name for d in part.torch.failures], tolerance)
    return part


def _penalty(loss):
    """The L2 penalty lambda * sum W^2 a loss(model, scores, y) adds (see reference.adapters.loss_penalty),
    computed by torch from the same weights; 0 for any other loss."""
    found = getattr(loss, "penalty", None)
    if found is None:
        return 0.0
    factor, weights = found
    with torch.no_grad():
        return factor * float(sum(torch.sum(torch.from_numpy(np.asarray(w, dtype=np.float64)) ** 2) for w in weights))


def _loss_pass(loss, output, decoy, target, note="") -> dict:
    """The scratch side for a loss: forward(decoy), forward(z), backward()."""
    _run_scratch(f"the loss's forward on the decoy batch{note}", loss.forward, decoy, target)
    value = _run_scratch(f"the loss's forward{note}", loss.forward, output, target)
    grad = _run_scratch(f"the loss's backward{note}", loss.backward)
    return {"loss": _numbers(f"the loss's forward{note}", value),
            "loss.grad": _numbers(f"the loss's backward{note}", grad)}


def _compared(scratch, reference, tolerance, where: str, context) -> Comparison:
    """compare(), with every tensor attributed to `where` (the layer checked alone: its index is
    not its place in a list of layers)."""
    comparison = compare(scratch, reference, tolerance, context=context)
    comparison.diffs = [replace(d, where=where) for d in comparison.diffs]
    return comparison


def _as_float64(thing):
    """A deep copy with every parameter and float buffer in float64 (a layer's or a loss's), for
    finite differences."""
    copied = copy.deepcopy(thing)
    for store in (getattr(copied, "params", {}), getattr(copied, "buffers", {})):
        for name, value in store.items():
            if np.asarray(value).dtype.kind == "f":
                store[name] = value.astype(np.float64)
    return copied
