"""Gradient checking that names the culprit: every layer, the loss and the optimizer step of a
scratch network (or one layer written by hand) checked on its own, against its PyTorch twin and
against central finite differences, with the error's signature in plain words where it has one.

    report = check(network, loss=SoftmaxCrossEntropy())   # or check(MyLinear, twin="linear")
    print(report.table()); report.ok; report.first_failure

    python -m reference.gradcheck --spec 784-32-10 --activation sigmoid --loss cross_entropy
    python -m reference.gradcheck --layer my_layers.py:MyLinear --twin linear --in 784 --out 32

Isolation. Layer i is checked alone, on the input X_i that the torch twin of layers 0..i-1
computes from the network input (the reference, not what the scratch layers computed), so a
mistake in one layer cannot smear into the next: the layers after a culprit still get correct
inputs and still pass, and the first part that disagrees is the one to fix. With a random
upstream gradient G_i (standard normal, the shape of the layer's output), all three judges are
asked for the gradients of the same scalar, L_i = sum(G_i * y), y = layer(X_i):

    dL_i/dX_i      what backward(G_i) must return     Linear: G W       activation f: G * f'(X)
    dL_i/dtheta    what it must leave in layer.grads  Linear: W: G^T X (out, in),  b: sum over rows of G

    scratch             forward(A_i), then forward(X_i), then backward(G_i)
    torch               the twin module holding the layer's weights, at X_i, y.backward(G_i)
    finite differences  dL_i/d(entry), by scipy's central differences of forward alone

A_i is a decoy: the twin's input to layer i for a second network input. It goes through the
scratch forward first, so a layer that keeps an earlier batch's cache is caught red-handed.
In every other row of X_i one entry is set to exactly 0.0: an input computed by a Linear layer
is practically never exactly zero, and ReLU's derivative there is a convention (PyTorch: 0)
that an implementation using x >= 0 breaks nowhere else.

Finite differences are taken in float64 (a float32 layer is checked as a float64 copy) on up to
fd_samples entries of each tensor, chosen at random: every entry of a 784-wide layer would cost
thousands of forward passes and add nothing. Sampled input entries keep KINK_MARGIN away from 0:
a stencil that straddles ReLU's kink measures the mean of the two one-sided slopes, which is no
derivative at all. The tolerance is FINITE_DIFFERENCES, widened where scipy's own error estimate
says the differences cannot resolve that much (saturated units, losses in the hundreds).

The loss is checked on the twin network's output z with targets t (after a decoy forward too):
L and dL/dz against the torch.nn loss and finite differences, and again at z + 1000, where softmax is unchanged but an
unshifted e^z overflows (torch alone judges there: a difference step is lost in the rounding of
1000). The optimizer takes one step from identical weights theta and random gradients g on both
sides: theta - lr g, as torch.optim.SGD computes it.

Signatures. A part that disagrees with torch is matched against SIGNATURES: each predicts, from
the same inputs, what one specific buggy implementation would output (the gradient n times too
big, transposed, the derivative taken at the output, the cache of the decoy batch, ...). A
signature is reported when the scratch value matches its prediction within the comparison's
tolerance and the prediction is itself distinguishable from the correct value. The generic
ones (a sign or a constant factor) are reported only where no specific one explains the tensor.
"""

import argparse
import copy
import importlib
import importlib.util
import json
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

import scratch_nn

from . import tolerances
from .comparison import Comparison, TensorDiff, Tolerance, compare, diff
from .finite_differences import INITIAL_STEP, numerical_gradient_and_error
from .side_by_side import trace_torch
from .twin import configure_determinism, numpy_state_dict, torch_model, twin_class

FD_SAMPLES = 20                   # entries of each tensor checked by finite differences
KINK_MARGIN = 2 * INITIAL_STEP    # scipy's stencil reaches INITIAL_STEP either side of the point
LARGE_LOGIT_SHIFT = 1000.0
PROBE = f" at logits + {LARGE_LOGIT_SHIFT:g}"
DEFAULT_SIZES = (6, 4)            # in and out features of a layer class checked on its own
JUDGE = "finite differences"
ESTIMATE_MARGIN = 100             # scipy's error estimate was off by up to 1.7x in 432 checks


class ScratchError(Exception):
    """The code under check raised: reported as that part's failure, not as an error of the check."""


def run_scratch(what: str, function, *args):
    """Call the code under check; anything it raises becomes a ScratchError saying which call."""
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # overflow shows as Inf/NaN
            return function(*args)
    except Exception as error:
        raise ScratchError(f"{what} raised {type(error).__name__}: {error}") from error


# ---------------------------------------------------------------------------------------------
# What one part was checked on, and the signatures that read it


@dataclass
class Case:
    """What one part was checked on and what each side computed, under the comparison's keys.

    reference_at(x, params) recomputes the torch side at another input or with other
    parameters, which is how a signature predicts what a buggy implementation would give.
    """

    kind: str                             # "layer", "loss" or "optimizer"
    scratch: dict
    reference: dict
    batch: int
    x: np.ndarray | None = None           # the input checked: the layer's input, or the network output for the loss
    decoy: np.ndarray | None = None       # what went through forward first
    upstream: np.ndarray | None = None    # G, the gradient backpropagated into the layer
    params: dict = field(default_factory=dict)        # parameters at the start, by name (by key for the optimizer)
    params_after: dict = field(default_factory=dict)  # as the scratch backward left them
    reference_at: Callable | None = None
    module: nn.Module | None = None       # the torch twin
    grads: dict = field(default_factory=dict)         # optimizer: the gradients both sides were given
    lr: float | None = None               # optimizer: the learning rate

    def ending(self, suffix: str) -> list[str]:
        return [key for key in self.reference if key.endswith(suffix)]

    @property
    def gradient_keys(self) -> list[str]:
        return [key for key in self.reference if "grad" in key]


@dataclass(frozen=True)
class Signature:
    """A recognisable mistake and, from a Case, what the implementation making it would output.

    parts: the kinds of part the mistake can be made in ("layer", "loss", "optimizer").
    predict returns {key: predicted value} for the tensors it has an opinion on (none where the
    mistake is impossible for this part). holds, for mistakes with no single predicted value
    (overflow), tests the scratch value directly. Generic signatures (a sign or a constant
    factor) are reported only where no specific one explains the same tensor.
    """

    name: str
    words: str
    parts: tuple[str, ...]
    predict: Callable[[Case], dict] | None = None
    holds: Callable[[Case, str], bool] | None = None
    generic: bool = False

    def matching(self, case: Case, keys, tolerance) -> list[str]:
        """The keys among keys whose scratch value this mistake explains."""
        if case.kind not in self.parts:
            return []
        if self.holds is not None:
            return [key for key in keys if self.holds(case, key)]
        predicted = self.predict(case)
        return [key for key in keys if key in predicted and explains(predicted[key], case, key, tolerance)]


def explains(predicted, case: Case, key: str, tolerance) -> bool:
    """The scratch value matches the prediction, and the prediction differs from the correct value."""
    correct = case.reference[key]
    predicted = np.asarray(predicted).astype(correct.dtype)
    return not diff(key, predicted, correct, tolerance).ok and diff(key, case.scratch[key], predicted, tolerance).ok


def scaled(factor: Callable[[Case], float]):
    """Every gradient of the part, multiplied by factor(case)."""
    return lambda case: {key: case.reference[key] * factor(case) for key in case.gradient_keys}


def stepped(multiple: Callable[[float], float]):
    """The parameters after theta - multiple(lr) * g, for the optimizer's case."""
    return lambda case: {key: before - multiple(case.lr) * case.grads[key] for key, before in case.params.items()}


def decoy_gradients(case: Case) -> dict:
    return {key: value for key, value in case.reference_at(case.decoy).items() if "grad" in key}


def derivative_at_output(case: Case) -> dict:
    if case.params:  # activations only: their output has the input's shape
        return {}
    output = case.reference[case.ending(".output")[0]]
    return {key: value for key, value in case.reference_at(output).items() if key.endswith("grad_input")}


def updated_before_use(case: Case) -> dict:
    if all(np.array_equal(case.params[name], case.params_after[name]) for name in case.params):
        return {}
    return {key: value for key, value in case.reference_at(case.x, case.params_after).items()
            if key.endswith("grad_input")}


def forward_untransposed(case: Case) -> dict:
    weight = case.params.get("weight")
    if weight is None or weight.ndim != 2 or weight.shape[0] != weight.shape[1]:
        return {}  # not square: x W fails on the shapes, and the layer raises instead
    params = {**case.params, "weight": weight.T}
    return {key: value for key, value in case.reference_at(case.x, params).items() if key.endswith(".output")}


def transposed(case: Case) -> dict:
    return {key: case.reference[key].T for key in case.ending(".weight.grad") if case.reference[key].ndim == 2}


def bias_averaged(case: Case) -> dict:
    return {key: case.upstream.mean(axis=0) for key in case.ending(".bias.grad")}


def tanh_without_square(case: Case) -> dict:
    if not isinstance(case.module, nn.Tanh):
        return {}
    return {key: case.upstream * (1 - np.tanh(case.x)) for key in case.ending("grad_input")}


def only_at_zeros(case: Case) -> dict:
    """The reference everywhere except where the input is exactly 0, where the scratch value stands:
    it matches when nothing but the zeros disagree."""
    if case.params:
        return {}
    zero = case.x == 0
    return {key: np.where(zero, case.scratch[key], case.reference[key]) for key in case.ending("grad_input")
            if np.shape(case.scratch[key]) == zero.shape}


def passed_through(case: Case) -> dict:
    return {} if case.params else {key: case.upstream for key in case.ending("grad_input")}


def overflowed(case: Case, key: str) -> bool:
    return key.endswith(PROBE) and not np.isfinite(case.scratch[key]).all() and np.isfinite(case.reference[key]).all()


LAYER, LOSS, OPTIMIZER = ("layer",), ("loss",), ("optimizer",)

SIGNATURES = [
    Signature("stale cache",
              "Computed from an earlier batch: backward used what an earlier forward call cached (the decoy "
              "batch's input or output), not the last one. Overwrite the cache on every forward call.",
              LAYER + LOSS, predict=decoy_gradients),
    Signature("derivative at the output",
              "The activation's derivative is evaluated at its output instead of its input: f'(f(x)), e.g. "
              "sigmoid'(sigmoid(x)). With the output s cached, sigmoid'(x) is s * (1 - s); tanh'(x) is 1 - t^2.",
              LAYER, predict=derivative_at_output),
    Signature("weights updated before the input gradient",
              "Backward changed the parameters, then computed the input gradient G W with the new weights. "
              "dL/dx needs the weights the forward pass used; leave the update to the optimizer's step.",
              LAYER, predict=updated_before_use),
    Signature("forward with the weight untransposed",
              "The output is x W + b instead of x W^T + b: the weight is stored (out, in), as torch stores it.",
              LAYER, predict=forward_untransposed),
    Signature("transposed weight gradient",
              "The weight gradient is transposed: dL/dW = G^T x has the weight's shape (out, in); x^T G is its "
              "transpose (for a square layer the shapes agree and only the values give it away).",
              LAYER, predict=transposed),
    Signature("bias gradient averaged",
              "The bias gradient is averaged over the batch instead of summed: the loss's 1/n is already in G, so "
              "the mean divides by the batch size a second time.",
              LAYER, predict=bias_averaged),
    Signature("tanh derivative 1 - tanh",
              "Tanh's derivative is taken as 1 - tanh(x); it is 1 - tanh(x)^2.",
              LAYER, predict=tanh_without_square),
    Signature("derivative at exactly 0",
              "Differs only where the input is exactly 0, at the kink: PyTorch takes ReLU'(0) = 0, the mask "
              "x > 0; x >= 0 lets the gradient through there.",
              LAYER, predict=only_at_zeros),
    Signature("gradient passed through unmasked",
              "The gradient passes through unchanged, as if the derivative were 1 everywhere: for ReLU, a mask "
              "that lets negative inputs through (e.g. output >= 0, which every ReLU output is).",
              LAYER, predict=passed_through),
    Signature("softmax overflow",
              "Not finite at large logits: e^z overflows to Inf (beyond e^709 in float64, e^88 in float32) and "
              "the loss or its gradient becomes NaN. Subtract each row's maximum before exponentiating.",
              LOSS, holds=overflowed),
    Signature("gradient ascent",
              "The step adds the gradient (theta += lr g): it climbs the loss instead of descending it.",
              OPTIMIZER, predict=stepped(lambda lr: -lr)),
    Signature("learning rate applied twice",
              "The step is theta -= lr^2 g: the learning rate is applied twice.",
              OPTIMIZER, predict=stepped(lambda lr: lr * lr)),
    Signature("learning rate missing",
              "The step is theta -= g: the learning rate is not applied.",
              OPTIMIZER, predict=stepped(lambda lr: 1.0)),
    Signature("not updated",
              "The step leaves this parameter unchanged: the optimizer skips it.",
              OPTIMIZER, predict=stepped(lambda lr: 0.0)),
    Signature("sign flipped",
              "The sign is flipped: e.g. t - a where a - t belongs.",
              LAYER + LOSS, predict=scaled(lambda case: -1.0), generic=True),
    Signature("batch size too big",
              "N times too big, n the batch size: the 1/n of the mean over the batch is missing (e.g. the "
              "cross-entropy gradient softmax(z) - t not divided by n).",
              LAYER + LOSS, predict=scaled(lambda case: case.batch), generic=True),
    Signature("batch size too small",
              "N times too small, n the batch size: divided by n once more than it should be (the loss already "
              "divides by n; the layers' gradients are sums over the batch).",
              LAYER + LOSS, predict=scaled(lambda case: 1 / case.batch), generic=True),
    Signature("factor 2 too big",
              "2 times too big: for the squared error L = 1/(2n) sum ||a - t||^2 the 1/2 cancels the 2 from the "
              "square, dL/da = (a - t)/n; a 2(a - t) kept the 2 without the 1/2.",
              LAYER + LOSS, predict=scaled(lambda case: 2.0), generic=True),
    Signature("factor 2 too small",
              "Half what it should be: a 1/2 too many (or a 2 missing).",
              LAYER + LOSS, predict=scaled(lambda case: 0.5), generic=True),
]


@dataclass(frozen=True)
class Match:
    """A signature that explains one tensor of a part."""

    tensor: str
    signature: str
    words: str


def match_signatures(case: Case, failing: list[str], tolerance) -> list[Match]:
    """The signatures that explain the failing tensors; generic ones only where no specific one does."""
    found = [(s, key) for s in SIGNATURES for key in s.matching(case, failing, tolerance)] if failing else []
    explained = {key for s, key in found if not s.generic}
    return [Match(key, s.name, s.words) for s, key in found if not (s.generic and key in explained)]


# ---------------------------------------------------------------------------------------------
# The report


@dataclass
class PartCheck:
    """One layer, the loss or the optimizer step, checked against torch and finite differences."""

    kind: str                  # "layer", "loss" or "optimizer"
    index: int | None          # the layer's index in the network; None for the loss and the optimizer
    description: str           # named(the scratch object), e.g. "Linear(in_features=784, out_features=32)"
    name: str                  # its class name
    torch: Comparison | None = None
    finite_differences: Comparison | None = None
    matches: list[Match] = field(default_factory=list)
    error: str = ""            # what the scratch code raised, if it did

    @property
    def label(self) -> str:
        return f"layer {self.index}" if self.kind == "layer" else self.kind

    @property
    def title(self) -> str:
        """The description, with the class name first where the repr does not start with it."""
        return self.description if self.description.startswith(self.name) else f"{self.name} ({self.description})"

    @property
    def judged(self) -> list[tuple[str, Comparison]]:
        return [(judge, c) for judge, c in (("torch", self.torch), (JUDGE, self.finite_differences)) if c is not None]

    @property
    def ok(self) -> bool:
        return not self.error and all(c.ok for _, c in self.judged)

    @property
    def failing(self) -> list[str]:
        """The tensors that disagree with torch or with finite differences, in checking order."""
        return list(dict.fromkeys(d.name for _, c in self.judged for d in c.failures))

    @property
    def signatures(self) -> list[str]:
        return list(dict.fromkeys(m.signature for m in self.matches))

    def summary(self) -> str:
        """What disagrees, with which judge, by how much, and what it looks like."""
        lines = [f"{self.label}, {self.title}"]
        lines += [f"  {self.error}"] if self.error else []
        lines += [f"  against {judge}: {d.describe()}" for judge, c in self.judged for d in c.failures]
        tensors: dict[tuple[str, str], list[str]] = {}  # each signature once, with every tensor it explains
        for m in self.matches:
            tensors.setdefault((m.signature, m.words), []).append(m.tensor)
        lines += [f"  Looks like: {name} ({', '.join(keys)}). {words}" for (name, words), keys in tensors.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "index": self.index, "name": self.name, "description": self.description,
                "ok": self.ok, "error": self.error, "failing": self.failing,
                **{judge.replace(" ", "_"): c.to_dict() for judge, c in self.judged},
                "signatures": [asdict(m) for m in self.matches]}


@dataclass
class CheckReport:
    """Every part's check, in forward order: the layers, then the loss, then the optimizer step."""

    parts: list[PartCheck]
    settings: dict

    @property
    def ok(self) -> bool:
        return all(part.ok for part in self.parts)

    @property
    def failures(self) -> list[PartCheck]:
        return [part for part in self.parts if not part.ok]

    @property
    def first_failure(self) -> PartCheck | None:
        """The first part, in forward order, that disagrees: the place to start fixing."""
        return next(iter(self.failures), None)

    def table(self) -> str:
        s = self.settings
        lines = [f"gradcheck: {s['subject']} ({s['dtype']}, batch {s['batch']}, seed {s['seed']})",
                 "Each part is checked alone, on the inputs the torch twin gives it. err: max|scratch - judge| / "
                 "max|judge|;",
                 f"/tol: the worst element against its tolerance (fails above 1). Finite differences: float64, up "
                 f"to {s['fd_samples']} entries a tensor.",
                 "",
                 f"{'':<30}{'vs torch':>15}{'vs finite diff':>20}",
                 f"{'part / tensor':<30}{'err':>10}{'/tol':>10}{'err':>10}{'/tol':>10}  verdict"]
        for part in self.parts:
            lines.append(f"{part.label:<10}{part.title}" + ("" if part.ok else "   <-- FAIL"))
            lines += [f"  FAIL: {part.error}"] if part.error else []
            fd = {d.name: d for d in part.finite_differences.diffs} if part.finite_differences else {}
            for d in part.torch.diffs if part.torch is not None else []:
                short = d.name.partition(".")[2] if part.kind == "layer" else d.name
                lines.append(f"  {short:<28}{cells(d)}{cells(fd.get(d.name))}  {verdict(d, fd.get(d.name))}")
        lines.append("")
        first = self.first_failure
        if first is None:
            lines.append(f"Every part agrees with torch and with finite differences ({len(self.parts)} checked).")
            return "\n".join(lines)
        lines.append("FIRST DISAGREEMENT: " + first.summary())
        others = [f"{p.label} ({', '.join(p.failing) or 'raised'})" for p in self.failures[1:]]
        if others:
            lines.append("Also disagreeing, each a mistake of its own (every part is checked on correct inputs): "
                         + "; ".join(others))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The whole report as JSON-ready data (non-finite numbers as the strings "inf", "nan")."""
        first = self.first_failure
        return finite_json({"ok": self.ok, "settings": self.settings,
                            "first_failure": None if first is None else {
                                "kind": first.kind, "index": first.index, "name": first.name,
                                "description": first.description, "failing": first.failing,
                                "signatures": first.signatures, "error": first.error},
                            "parts": [part.to_dict() for part in self.parts]})


def cells(d: TensorDiff | None) -> str:
    """A table's err and /tol for one comparison; dashes where there is none, or its values are moot."""
    if d is None or d.problem:
        return f"{'-':>10}{'-':>10}"
    return f"{d.scaled_abs:>10.1e}{d.ratio:>10.2g}"


def verdict(*diffs) -> str:
    """ok, FAIL, or FAIL with the problem (shape, dtype, NaN) that makes the values moot."""
    problems = [d.problem for d in diffs if d is not None and d.problem]
    if problems:
        return "FAIL: " + problems[0]
    return "ok" if all(d.ok for d in diffs if d is not None) else "FAIL"


def finite_json(value):
    """value with tuples as lists and non-finite floats as strings: strict JSON, which has no NaN or Infinity."""
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------------
# Checking each part


def check_layer(index, layer, module, x, decoy, upstream, samples) -> PartCheck:
    """Layer `index` alone at input x with upstream gradient G: scratch, torch twin, finite differences."""
    part = PartCheck("layer", index, named(layer), type(layer).__name__)
    params = {name: value.copy() for name, value in layer.params.items()}

    def reference_at(at, at_params=params):
        return twin_pass(module, index, at, upstream, at_params)

    reference = {**reference_at(x), **{f"{index}.{name} after backward": value for name, value in params.items()}}
    try:
        ours = copy.deepcopy(layer)
        scratch = layer_pass(ours, index, x, decoy, upstream)
        analytic = layer_pass(as_float64(layer), index, *(a.astype(np.float64) for a in (x, decoy, upstream)),
                              note=" (of the float64 copy, for finite differences)")
    except ScratchError as error:
        part.error = str(error)
        return part
    tolerance = tolerances.for_dtype(x.dtype)
    where = f"layer {index}, {part.description}"
    part.torch = compared(scratch, reference, tolerance, lambda key: where, context=f"layer {index} against torch")
    part.finite_differences = layer_finite_differences(index, layer, x, upstream, analytic, where, samples)
    case = Case("layer", scratch, reference, len(x), x=x, decoy=decoy, upstream=upstream, params=params,
                params_after={name: value.copy() for name, value in ours.params.items()},
                reference_at=reference_at, module=module)
    part.matches = match_signatures(case, [d.name for d in part.torch.failures], tolerance)
    return part


def layer_pass(layer, index, x, decoy, upstream, note="") -> dict:
    """The scratch side of the protocol: forward(decoy), forward(x), backward(G); what it returned and left."""
    run_scratch(f"forward on the decoy batch{note}", layer.forward, decoy)
    output = run_scratch(f"forward{note}", layer.forward, x)
    grad_input = run_scratch(f"backward{note}", layer.backward, upstream)
    missing = [name for name in layer.params if name not in getattr(layer, "grads", {})]
    if missing:
        raise ScratchError(f"backward{note} left no gradient for {missing} in layer.grads")
    return {f"{index}.output": output, f"{index}.grad_input": grad_input,
            **{f"{index}.{name}.grad": layer.grads[name] for name in layer.params},
            **{f"{index}.{name} after backward": value.copy() for name, value in layer.params.items()}}


def twin_pass(module, index, x, upstream, params) -> dict:
    """What the torch twin computes at input x with these parameters, backpropagating upstream:
    "i.output", "i.grad_input" and "i.<param>.grad", as side_by_side traces them."""
    model = nn.Sequential(copy.deepcopy(module))
    model[0].load_state_dict({name: torch.from_numpy(np.ascontiguousarray(v)) for name, v in params.items()})
    trace = trace_torch(model, x, upstream=upstream)
    return {f"{index}.{key.partition('.')[2]}": value for key, value in trace.items()}


def layer_finite_differences(index, layer, x, upstream, analytic, where, samples) -> Comparison:
    """The float64 analytic gradients against finite differences of L = sum(G * forward(x)),
    on sampled entries of the input and of every parameter.

    The objective is evaluated as sum(G * (forward(x) - y0)), y0 the unperturbed output: the
    same derivative, but the outputs an entry does not touch contribute exact zeros instead of
    their rounding error, which would otherwise swamp the small derivatives of saturated units.
    """
    probe = as_float64(layer)
    x64, upstream64 = x.astype(np.float64), upstream.astype(np.float64)
    unperturbed = run_scratch("forward (finite differences)", probe.forward, x64)

    def objective():
        output = run_scratch("forward (finite differences)", probe.forward, x64)
        return float(np.sum(upstream64 * (output - unperturbed)))

    targets = {f"{index}.grad_input": (x64, np.abs(x64).ravel() >= KINK_MARGIN),
               **{f"{index}.{name}.grad": (value, None) for name, value in probe.params.items()}}
    diffs = [sampled_diff(key, analytic[key], array, allowed, objective, samples, where)
             for key, (array, allowed) in targets.items()]
    return Comparison(diffs, context=f"layer {index} against finite differences")


def sampled_diff(key, analytic, array, allowed, objective, samples, where="") -> TensorDiff:
    """analytic against finite differences of objective() with respect to array, on sampled entries
    (allowed: a mask of the entries that may be sampled; None: all).

    The objective reads array, which is perturbed in place entry by entry and restored. Positions
    in the result are the tensor's own, not the sample's.
    """
    analytic = np.asarray(analytic)
    if analytic.shape != array.shape:  # nothing to sample: the shape is the finding, and diff words it
        return diff(key, analytic, np.zeros(array.shape), tolerances.FINITE_DIFFERENCES, where, JUDGE)
    positions = samples.choose(array.size, allowed)
    where = ", ".join(filter(None, [where, f"{len(positions)} of {array.size} entries sampled"]))
    original = array.copy()

    def at(values):
        array.flat[positions] = values
        try:
            return objective()
        finally:
            array[...] = original

    def in_tensor(at_sample):
        return tuple(int(i) for i in np.unravel_index(positions[at_sample[0]], array.shape))

    numerical, error = numerical_gradient_and_error(at, original.flat[positions].copy())
    d = diff(key, analytic.flat[positions], numerical, finite_difference_tolerance(numerical, error), where, JUDGE)
    if d.problem or not len(positions):
        return d
    return replace(d, max_abs_at=in_tensor(d.max_abs_at), max_rel_at=in_tensor(d.max_rel_at))


def finite_difference_tolerance(numerical, error) -> Tolerance:
    """FINITE_DIFFERENCES, widened to ESTIMATE_MARGIN times scipy's own largest error estimate
    where that is larger. Finite differences cannot resolve a derivative below the rounding error
    of the objective divided by the step: the units of a saturated sigmoid (derivatives of 1e-13),
    or a loss in the hundreds at logits in the thousands. There torch is the judge."""
    base = tolerances.FINITE_DIFFERENCES
    scale, floor = np.abs(numerical).max(initial=0), ESTIMATE_MARGIN * np.max(error, initial=0)
    if scale == 0 or floor <= base.atol * scale:
        return base
    return Tolerance(base.rtol, floor / scale, why=f"{base.why} Widened to {ESTIMATE_MARGIN}x scipy's error estimate.")


@dataclass
class Samples:
    """Which entries finite differences check: up to `count`, drawn from their own generator so that
    the sampling does not change the inputs."""

    count: int
    rng: np.random.Generator

    def choose(self, size, allowed=None) -> np.ndarray:
        candidates = np.arange(size) if allowed is None else np.flatnonzero(allowed)
        return np.sort(self.rng.choice(candidates, min(self.count, len(candidates)), replace=False))


def check_loss(loss, output, decoy, target, samples) -> PartCheck:
    """The loss at the network output z and at z + 1000, against the torch loss; dL/dz against
    finite differences at z."""
    part = PartCheck("loss", None, repr(loss), type(loss).__name__)
    large = output + output.dtype.type(LARGE_LOGIT_SHIFT)

    def reference_at(at, params=None):
        trace = trace_torch(nn.Sequential(), at, target, loss)
        return {"loss": trace["loss"], "loss.grad": trace["loss.grad"]}

    reference = {**reference_at(output), **{key + PROBE: value for key, value in reference_at(large).items()}}
    try:
        ours = copy.deepcopy(loss)
        scratch = {**loss_pass(ours, output, decoy, target),
                   **{key + PROBE: value for key, value in loss_pass(ours, large, decoy, target).items()}}
        probe, output64 = as_float64(loss), output.astype(np.float64)
        target64 = target.astype(np.float64) if target.dtype.kind == "f" else target
        analytic = loss_pass(probe, output64, decoy.astype(np.float64), target64,
                             note=" (of the float64 copy, for finite differences)")
    except ScratchError as error:
        part.error = str(error)
        return part
    tolerance = tolerances.for_dtype(output.dtype)
    part.torch = compare(scratch, reference, tolerance, context="loss against torch")

    def objective():
        return float(run_scratch("the loss's forward (finite differences)", probe.forward, output64, target64))

    part.finite_differences = Comparison(
        [sampled_diff("loss.grad", analytic["loss.grad"], output64, None, objective, samples)],
        context="loss against finite differences")
    case = Case("loss", scratch, reference, len(output), x=output, decoy=decoy, reference_at=reference_at)
    part.matches = match_signatures(case, [d.name for d in part.torch.failures], tolerance)
    return part


def loss_pass(loss, output, decoy, target, note="") -> dict:
    """The scratch side for a loss: forward(decoy), forward(z), backward()."""
    run_scratch(f"the loss's forward on the decoy batch{note}", loss.forward, decoy, target)
    value = run_scratch(f"the loss's forward{note}", loss.forward, output, target)
    return {"loss": np.asarray(value), "loss.grad": run_scratch(f"the loss's backward{note}", loss.backward)}


def check_step(network, twins, optimizer, lr, rng) -> PartCheck:
    """One optimizer step on each side from identical weights and identical random gradients."""
    ours = copy.deepcopy(network)
    model = twin_model(ours, twins)
    before = ours.state_dict()
    grads = {key: rng.standard_normal(value.shape).astype(value.dtype) for key, value in before.items()}
    for key, layer, name in ours.named_parameters():
        layer.grads[name] = grads[key].copy()
    for key, param in model.named_parameters():
        param.grad = torch.from_numpy(grads[key].copy())
    name = getattr(optimizer, "__name__", type(optimizer).__name__)
    try:
        step = run_scratch("the optimizer's constructor", optimizer, ours, lr)
        name = type(step).__name__
        run_scratch("the optimizer's step", step.step)
    except ScratchError as error:
        return PartCheck("optimizer", None, f"{name}(lr={lr})", name, error=str(error))
    torch.optim.SGD(model.parameters(), lr=lr).step()
    tolerance = tolerances.for_dtype(network.dtype)
    scratch, reference = ours.state_dict(), numpy_state_dict(model)
    comparison = compared(scratch, reference, tolerance, lambda key: layer_named(network, key),
                          context="one step against torch.optim.SGD")
    case = Case("optimizer", scratch, reference, 0, params=before, grads=grads, lr=lr)
    return PartCheck("optimizer", None, f"{name}(lr={lr})", name, torch=comparison,
                     matches=match_signatures(case, [d.name for d in comparison.failures], tolerance))


def compared(scratch, reference, tolerance, where, context) -> Comparison:
    """compare(), with every tensor attributed by where(key): the parts' names as named() gives
    them, since a layer class of one's own may have no repr."""
    comparison = compare(scratch, reference, tolerance, context=context)
    comparison.diffs = [replace(d, where=where(d.name)) for d in comparison.diffs]
    return comparison


def as_float64(thing):
    """A deep copy with every parameter in float64 (a layer's or a loss's), for finite differences."""
    twin = copy.deepcopy(thing)
    for name, value in getattr(twin, "params", {}).items():
        twin.params[name] = value.astype(np.float64)
    return twin


# ---------------------------------------------------------------------------------------------
# The entry point


def check(subject, x=None, target=None, *, loss=None, optimizer=scratch_nn.SGD, lr=0.1, twin=None,
          in_features=None, out_features=None, dtype=np.float64, batch=8, seed=0,
          fd_samples=FD_SAMPLES) -> CheckReport:
    """Check a network, or one layer, part by part against its torch twin and finite differences.

    subject: a scratch_nn.Sequential; or one layer, an instance or a class, with the interface of
        scratch_nn.layers (forward(x) -> y, backward(G) -> dL/dx, dicts params and grads, a weight
        stored (out, in)). A class is built as cls(weight, bias) for a linear twin (weight (out, in),
        torch's default initialisation) and as cls() otherwise.
    twin: the torch twin of a layer that does not subclass a scratch layer: "linear", "sigmoid",
        "relu", "tanh", or a torch.nn.Module; for a network, a list with one per layer (None: by class).
    x: the network's input (batch, features); by default standard normal, `batch` rows.
    target: class labels (or per-class targets) for the loss; by default random labels.
    loss: a scratch loss (or its name in scratch_nn.LOSSES) to check on the network's output; None: no loss.
    optimizer: called as optimizer(network, lr), must have step(); checked against torch.optim.SGD.
        None: no step is checked.
    in_features, out_features: a layer class's sizes (default 6 and 4), or an activation's width.
    dtype: float64 or float32, for what the check builds; an instance keeps its own dtype.
    fd_samples: how many entries of each tensor finite differences check.
    """
    if isinstance(loss, str):
        if loss not in scratch_nn.LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose from {sorted(scratch_nn.LOSSES)} or pass a loss object")
        loss = scratch_nn.LOSSES[loss]()
    network, twins = as_network(subject, twin, in_features, out_features, dtype, seed)
    model = twin_model(network, twins)
    dtype = network_dtype(network, x, dtype)
    rng = np.random.default_rng(seed)
    x = network_input(network, x, dtype, batch, in_features, rng)
    decoy = rng.standard_normal(x.shape).astype(dtype)
    inputs, decoys = twin_inputs(model, x), twin_inputs(model, decoy)
    samples = Samples(fd_samples, np.random.default_rng([seed, 1]))
    parts = []
    for i, (layer, module) in enumerate(zip(network.layers, model)):
        upstream = rng.standard_normal(inputs[i + 1].shape).astype(dtype)
        parts.append(check_layer(i, layer, module, with_zeros(inputs[i], rng), decoys[i], upstream, samples))
    if loss is not None:
        output = inputs[-1]
        if target is None:
            target = rng.integers(0, output.shape[1], len(output))
        parts.append(check_loss(loss, output, decoys[-1], np.asarray(target), samples))
    if not network.state_dict():
        optimizer = None  # nothing to step
    if optimizer is not None:
        parts.append(check_step(network, twins, optimizer, lr, rng))
    settings = {"subject": describe(network, loss, optimizer), "dtype": str(dtype), "batch": len(x),
                "seed": seed, "lr": lr, "fd_samples": fd_samples}
    return CheckReport(parts, settings)


def as_network(subject, twin, in_features, out_features, dtype, seed):
    """The subject as a network, and one twin per layer (None: found from the layer's class)."""
    if isinstance(subject, scratch_nn.Sequential):
        if not subject.layers:
            raise ValueError("the network has no layers: there is nothing to check")
        if twin is not None and not isinstance(twin, (list, tuple)):
            raise TypeError("for a network, give twin as a list with one entry per layer (None: found from the class)")
        return subject, list(twin) if twin is not None else [None] * len(subject.layers)
    layer = build_layer(subject, twin, in_features, out_features, dtype, seed) if isinstance(subject, type) else subject
    missing = [name for name in ("forward", "backward", "params") if not hasattr(layer, name)]
    if missing:
        raise TypeError(f"{layer!r} is neither a scratch_nn.Sequential nor a layer: it has no {', '.join(missing)}. "
                        f"A layer has forward(x), backward(grad_output) and a params dict, as scratch_nn.layers do")
    return scratch_nn.Sequential(layer), [twin]


def build_layer(cls, twin, in_features, out_features, dtype, seed):
    """A layer class built the way scratch_nn builds its own: cls(weight, bias) for a linear twin,
    with torch's default initialisation from the seed, and cls() for an activation."""
    linear = twin_class(cls, twin) is scratch_nn.Linear or isinstance(twin, nn.Linear)
    if isinstance(twin, nn.Linear):
        in_features, out_features = twin.in_features, twin.out_features
    in_features = in_features or DEFAULT_SIZES[0]
    if not linear:
        if out_features is not None:
            raise ValueError(f"out_features applies to a linear layer only; an activation's output is as wide as "
                             f"its input (in_features={in_features})")
        arguments = ()
    else:
        out_features = out_features or DEFAULT_SIZES[1]
        weight, bias = scratch_nn.torch_default(np.random.default_rng(seed), in_features, out_features)
        arguments = (weight.astype(dtype), bias.astype(dtype))
    try:
        return cls(*arguments)
    except TypeError as error:
        how = f"{cls.__name__}(weight, bias) with weight (out, in)" if linear else f"{cls.__name__}()"
        raise TypeError(f"could not build {cls.__name__} as {how}: {error}. Build it yourself and pass the "
                        f"instance instead of the class") from error


def twin_model(network, twins) -> nn.Sequential:
    """The torch twin holding the network's weights (a torch module given as a twin is copied, not changed)."""
    twins = [copy.deepcopy(t) if isinstance(t, nn.Module) else t for t in twins]
    try:
        return torch_model(network, twins=twins)
    except (RuntimeError, AssertionError) as error:  # load_state_dict refused, or the weights changed on the way
        raise ValueError(f"the layers' params do not fit their torch twins' parameters, which must have the same "
                         f"names, shapes and dtype (weight (out, in), bias (out,); a twin module in float64 for a "
                         f"float64 layer): {error}") from None


def network_dtype(network, x, dtype) -> np.dtype:
    """The parameters' dtype; for a network without parameters, x's, or else the one asked for."""
    params = list(network.state_dict().values())
    found = np.dtype(params[0].dtype if params else x.dtype if x is not None else dtype)
    tolerances.for_dtype(found)  # float32 or float64, or a clear error
    return found


def network_input(network, x, dtype, batch, in_features, rng) -> np.ndarray:
    """x as given (after checking it fits), or a standard normal batch: both signs for the activations."""
    weight = network.layers[0].params.get("weight")
    features = weight.shape[1] if getattr(weight, "ndim", 0) == 2 else in_features or DEFAULT_SIZES[0]
    if x is None:
        return rng.standard_normal((batch, features)).astype(dtype)
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[1] != features:
        raise ValueError(f"x must be a 2-D array (batch, {features}); got {getattr(x, 'shape', type(x).__name__)}")
    if x.dtype != dtype:
        raise TypeError(f"x is {x.dtype} but the network computes in {dtype}; pass x.astype(np.{dtype})")
    return x


def twin_inputs(model, x) -> list[np.ndarray]:
    """What each torch layer receives from x, and last, what the whole twin outputs."""
    values, h = [x], torch.from_numpy(x)
    with torch.no_grad():
        for module in model:
            h = module(h)
            values.append(h.numpy())
    return values


def with_zeros(x, rng) -> np.ndarray:
    """x with one entry in every other row set to exactly 0.0, where ReLU's derivative is a convention."""
    x = x.copy()
    rows = np.arange(0, len(x), 2)
    x[rows, rng.integers(0, x.shape[1], len(rows))] = 0
    return x


def short(layer) -> str:
    """The class name, with the sizes of a weight: "Linear(784->32)", "Sigmoid"."""
    weight = layer.params.get("weight")
    return type(layer).__name__ + (f"({weight.shape[1]}->{weight.shape[0]})" if getattr(weight, "ndim", 0) == 2 else "")


def named(layer) -> str:
    """repr(layer) where its class writes one; else short(layer), not <... object at 0x...>."""
    return repr(layer) if type(layer).__repr__ is not object.__repr__ else short(layer)


def layer_named(network, key) -> str:
    """The layer a key such as "2.weight" belongs to: "layer 2, Linear(in_features=7, out_features=4)"."""
    index = int(key.split(".")[0])
    return f"layer {index}, {named(network.layers[index])}"


def describe(network, loss, optimizer) -> str:
    parts = [", ".join(short(layer) for layer in network.layers)]
    parts += [type(loss).__name__] if loss is not None else []
    parts += [getattr(optimizer, "__name__", type(optimizer).__name__)] if optimizer is not None else []
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# The command line


def main(argv=None, prog="python -m reference.gradcheck") -> int:
    """The command line: print the report's table; 0 when everything agrees, 1 when something
    disagrees, 2 on bad usage (unknown options, a layer that cannot be loaded or built)."""
    configure_determinism()
    parser = argument_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # argparse has printed the usage and the problem (or the help)
        return int(exit.code or 0)
    try:
        report = check(*subject_from(args), loss=None if args.layer or args.loss == "none" else args.loss,
                       lr=args.lr, twin=args.twin if args.layer else None, in_features=args.in_features,
                       out_features=args.out_features, dtype=np.dtype(args.dtype), batch=args.batch,
                       seed=args.seed, fd_samples=args.fd_samples)
    except (ValueError, TypeError, ImportError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    print(report.table())
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        print(f"\nThe report is in {args.json}.")
    return 0 if report.ok else 1


def argument_parser(prog) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Check every layer, the loss and the SGD step of a network (or one layer of your "
                               "own) against PyTorch and finite differences, and name the first that disagrees.",
        epilog="Exit status: 0 when everything agrees, 1 when something disagrees, 2 on bad usage.")
    network = parser.add_argument_group("a network built from a spec (the default)")
    network.add_argument("--spec", default="784-32-10", help="layer sizes (default %(default)s)")
    network.add_argument("--activation", default="sigmoid",
                         help="hidden activation(s), one or one per hidden layer: sigmoid, relu, tanh")
    network.add_argument("--output-activation", choices=sorted(scratch_nn.ACTIVATIONS),
                         help="activation on the output (default: sigmoid with --loss mse, none otherwise)")
    network.add_argument("--init", choices=sorted(scratch_nn.INITIALIZERS), default="torch",
                         help="initial weights (default %(default)s: keeps pre-activations O(1), so derivatives "
                              "are not all ~0)")
    network.add_argument("--loss", choices=[*scratch_nn.LOSSES, "none"], default="cross_entropy",
                         help="loss to check on the network's output (default %(default)s)")
    layer = parser.add_argument_group("one layer class of your own")
    layer.add_argument("--layer", metavar="MODULE:CLASS",
                       help="e.g. my_layers:MyLinear (importable) or path/to/my_layers.py:MyLinear; built as "
                            "CLASS(weight, bias) for a linear twin, CLASS() otherwise")
    layer.add_argument("--twin", choices=["linear", "sigmoid", "relu", "tanh"],
                       help="what the layer computes, when it does not subclass a scratch_nn layer")
    layer.add_argument("--in", dest="in_features", type=positive, help="input features (default 6)")
    layer.add_argument("--out", dest="out_features", type=positive,
                       help="output features of a linear layer (default 4)")
    common = parser.add_argument_group("the check")
    common.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    common.add_argument("--batch", type=positive, default=8, help="batch size (default %(default)s)")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--lr", type=float, default=0.1, help="learning rate of the checked step (default %(default)s)")
    common.add_argument("--fd-samples", type=positive, default=FD_SAMPLES,
                        help="entries of each tensor checked by finite differences (default %(default)s)")
    common.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH")
    return parser


def positive(text) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def subject_from(args) -> tuple:
    """What the command line asks to check: (a layer class,) or (a network,)."""
    if args.layer:
        return (load_class(args.layer),)
    if args.in_features or args.out_features or args.twin:
        raise ValueError("--in, --out and --twin describe a layer given with --layer; "
                         "a network's sizes come from --spec")
    output_activation = args.output_activation or ("sigmoid" if args.loss == "mse" else None)
    return (scratch_nn.build_network(args.spec, args.activation, init=args.init, seed=args.seed,
                                     dtype=np.dtype(args.dtype), output_activation=output_activation),)


def load_class(reference: str) -> type:
    """MODULE:CLASS, MODULE importable (e.g. my_layers, or a.b.c) or a path to a .py file."""
    module_name, _, class_name = reference.rpartition(":")
    if not module_name or not class_name:
        raise ValueError(f"--layer takes MODULE:CLASS, e.g. my_layers:MyLinear or path/to/my_layers.py:MyLinear; "
                         f"got {reference!r}")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise ValueError(f"no file {path} (from --layer {reference})")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ValueError(f"{module_name} has no class {class_name}")
    return cls


if __name__ == "__main__":
    sys.exit(main())
