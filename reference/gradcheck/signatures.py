"""Signatures: recognisable mistakes, each with what the implementation making it would output.

A part that disagrees with torch is matched against SIGNATURES: each predicts, from the same
inputs (a Case), what one specific buggy implementation would output (the gradient n times too
big, transposed, the derivative taken at the output, the cache of the decoy batch, ...). A
signature is reported when the scratch value matches its prediction within the comparison's
tolerance and the prediction is itself distinguishable from the correct value. The generic
ones (a sign or a constant factor) are reported only where no specific one explains the tensor.
The layers' and the loss's are here; the optimizer's are in optimizer_signatures.py.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from reference.comparison import diff, numbers

LARGE_LOGIT_SHIFT = 1000.0  # softmax is unchanged by a shift; an unshifted e^z overflows at z + 1000
LARGE_LOGITS_SUFFIX = f" at logits + {LARGE_LOGIT_SHIFT:g}"  # the loss's (a softmax's) tensors there


@dataclass
class Case:
    """What one part was checked on and what each side computed, under the comparison's keys.

    reference_at(x, params) recomputes the torch side at another input or with other
    parameters, which is how a signature predicts what a buggy implementation would give.
    """

    kind: str                             # "layer", "loss" or "optimizer"
    scratch: dict
    reference: dict
    batch_size: int
    x: np.ndarray | None = None           # the input checked: the layer's input, or the network output for the loss
    decoy: np.ndarray | None = None       # what went through forward first
    upstream: np.ndarray | None = None    # G, the gradient backpropagated into the layer
    params: dict = field(default_factory=dict)        # parameters at the start, by name (by key for the optimizer)
    params_after: dict = field(default_factory=dict)  # as the scratch backward left them
    reference_at: Callable | None = None
    module: nn.Module | None = None       # the torch twin
    grads: dict = field(default_factory=dict)         # optimizer: the gradients both sides were given
    lr: float | None = None               # optimizer: the learning rate
    step: int = 1                         # optimizer: the step checked (1, 2, ...)
    state: dict = field(default_factory=dict)         # optimizer: torch's state before that step, as compared
    hyper: dict = field(default_factory=dict)         # optimizer: the torch twin's param group
    twin: str = ""                        # optimizer: the torch.optim class, e.g. "Adam"
    zero_grad: bool = False               # layer: a documented zero_grad ran before the second backward
    terms: object = None                  # a Terms (terms.py): the fix lines in the user's layout and names

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
        return [key for key in keys if key in predicted and _explains(predicted[key], case, key, tolerance)]


def _explains(predicted, case: Case, key: str, tolerance) -> bool:
    """The scratch value matches the prediction, and the prediction differs from the correct value.
    tolerance: a Tolerance, or a function from the key to one (the comparison's own)."""
    if key not in case.scratch or key not in case.reference:
        return False
    tolerance = tolerance(key) if callable(tolerance) else tolerance
    correct, predicted = numbers(case.reference[key]), numbers(predicted)
    if correct is None or predicted is None or numbers(case.scratch[key]) is None:
        return False  # not numbers (a user's None, say): no mistake predicts it; the comparison says what it is
    predicted = predicted.astype(correct.dtype)
    return not diff(key, predicted, correct, tolerance).ok and diff(key, case.scratch[key], predicted, tolerance).ok


def _scaled(factor: Callable[[Case], float]):
    """Every gradient of the part, multiplied by factor(case)."""
    return lambda case: {key: case.reference[key] * factor(case) for key in case.gradient_keys}


def _decoy_gradients(case: Case) -> dict:
    return {key: value for key, value in case.reference_at(case.decoy).items() if "grad" in key}


def _derivative_at_output(case: Case) -> dict:
    output = case.reference[case.ending(".output")[0]]
    if case.params or output.shape != case.x.shape:  # activations only: their output has the input's shape
        return {}
    return {key: value for key, value in case.reference_at(output).items() if key.endswith("grad_input")}


def _updated_before_use(case: Case) -> dict:
    if all(np.array_equal(case.params[name], case.params_after[name]) for name in case.params):
        return {}
    return {key: value for key, value in case.reference_at(case.x, case.params_after).items()
            if key.endswith("grad_input")}


def _forward_untransposed(case: Case) -> dict:
    weight = case.params.get("weight")
    if weight is None or weight.ndim != 2 or weight.shape[0] != weight.shape[1]:
        return {}  # not square: x W fails on the shapes, and the layer raises instead
    params = {**case.params, "weight": weight.T}
    return {key: value for key, value in case.reference_at(case.x, params).items() if key.endswith(".output")}


def _transposed(case: Case) -> dict:
    return {key: case.reference[key].T for key in case.ending(".weight.grad") if case.reference[key].ndim == 2}


def _bias_averaged(case: Case) -> dict:
    return {key: case.upstream.mean(axis=0) for key in case.ending(".bias.grad")}


def _tanh_without_square(case: Case) -> dict:
    if not isinstance(case.module, nn.Tanh):
        return {}
    return {key: case.upstream * (1 - np.tanh(case.x)) for key in case.ending("grad_input")}


def _only_at_zeros(case: Case) -> dict:
    """The reference everywhere except where the input is exactly 0, where the scratch value stands:
    it matches when nothing but the zeros disagree."""
    if case.params:
        return {}
    zero = case.x == 0
    return {key: np.where(zero, case.scratch[key], case.reference[key]) for key in case.ending("grad_input")
            if np.shape(case.scratch[key]) == zero.shape}


def _softmax_jacobian_diagonal(case: Case) -> dict:
    """s * (1 - s) * G: the softmax Jacobian's diagonal, without the -s_c s_k terms off it."""
    if not isinstance(case.module, nn.Softmax):
        return {}
    s = case.reference[case.ending(".output")[0]]
    return {key: s * (1 - s) * case.upstream for key in case.ending("grad_input")}


def _passed_through(case: Case) -> dict:
    return {} if case.params else {key: case.upstream for key in case.ending("grad_input")}


SECOND_BACKWARD = " (2nd backward)"  # a layer's gradients after forward and backward again on the batch


def _accumulated(zeroed: bool):
    """The gradients of a second backward on the same batch, as twice the first: added, not set
    (only when a documented zero_grad ran before it, or only when none did)."""
    return lambda case: ({} if case.zero_grad != zeroed else
                         {key: 2 * case.reference[key] for key in case.ending(".grad" + SECOND_BACKWARD)})


def _overflowed(case: Case, key: str) -> bool:
    ours, theirs = numbers(case.scratch.get(key)), numbers(case.reference.get(key))
    return (key.endswith(LARGE_LOGITS_SUFFIX) and ours is not None and theirs is not None
            and not np.isfinite(ours).all() and np.isfinite(theirs).all())


_LAYER, _LOSS = ("layer",), ("loss",)

SIGNATURES = [
    Signature("stale cache",
              "Computed from an earlier batch: backward used what an earlier forward call cached (the decoy "
              "batch's input or output), not the last one. Overwrite the cache on every forward call.",
              _LAYER + _LOSS, predict=_decoy_gradients),
    Signature("derivative at the output",
              "The activation's derivative is evaluated at its output instead of its input: f'(f(x)), e.g. "
              "sigmoid'(sigmoid(x)). With the output s cached, sigmoid'(x) is s * (1 - s); tanh'(x) is 1 - t^2.",
              _LAYER, predict=_derivative_at_output),
    Signature("weights updated before the input gradient",
              "Backward changed the parameters, then computed the input gradient G W with the new weights. "
              "dL/dx needs the weights the forward pass used; leave the update to the optimizer's step.",
              _LAYER, predict=_updated_before_use),
    Signature("forward with the weight untransposed",
              "The output is x W + b instead of x W^T + b: the weight is stored (out, in), as torch stores it.",
              _LAYER, predict=_forward_untransposed),
    Signature("transposed weight gradient",
              "The weight gradient is transposed: dL/dW has the weight's own shape, however the weight is stored "
              "(for a square layer the shapes agree and only the values give it away).",
              _LAYER, predict=_transposed),
    Signature("bias gradient averaged",
              "The bias gradient is averaged over the batch instead of summed: the loss's 1/n is already in G, so "
              "the mean divides by the batch size a second time.",
              _LAYER, predict=_bias_averaged),
    Signature("tanh derivative 1 - tanh",
              "Tanh's derivative is taken as 1 - tanh(x); it is 1 - tanh(x)^2.",
              _LAYER, predict=_tanh_without_square),
    Signature("derivative at exactly 0",
              "Differs only where the input is exactly 0, at the kink: PyTorch takes ReLU'(0) = 0, the mask "
              "x > 0; x >= 0 lets the gradient through there.",
              _LAYER, predict=_only_at_zeros),
    Signature("softmax backward uses only the Jacobian's diagonal",
              "Softmax backward as s * (1 - s) * G, the Jacobian's diagonal alone: every output depends on every "
              "input of its row (ds_c/dx_k = s_c([c = k] - s_k)), so dL/dx = s * (G - sum_k G_k s_k), per row.",
              _LAYER, predict=_softmax_jacobian_diagonal),
    Signature("gradient passed through unmasked",
              "The gradient passes through unchanged, as if the derivative were 1 everywhere: for ReLU, a mask "
              "that lets negative inputs through (e.g. output >= 0, which every ReLU output is).",
              _LAYER, predict=_passed_through),
    Signature("gradients accumulated",
              "Backward adds to layer.grads instead of overwriting them: the second backward on the same batch "
              "doubled them. Set them (grads[name] = ...), don't add, or zero them between steps (then pass the "
              "zeroing as zero_grad, and the check tests that instead).",
              _LAYER, predict=_accumulated(zeroed=False)),
    Signature("zero_grad does not zero",
              "The gradients accumulate and the zero_grad given did not reset them: after zero_grad, a second "
              "backward on the same batch doubled them. zero_grad must set every gradient to 0 (in place, where "
              "backward adds in place).",
              _LAYER, predict=_accumulated(zeroed=True)),
    Signature("softmax overflow",
              "Not finite at large logits: e^z overflows to Inf (beyond e^709 in float64, e^88 in float32) and "
              "the softmax, the loss or a gradient becomes NaN. Subtract each row's maximum before exponentiating.",
              _LAYER + _LOSS, holds=_overflowed),
    Signature("sign flipped",
              "The sign is flipped: e.g. t - a where a - t belongs.",
              _LAYER + _LOSS, predict=_scaled(lambda case: -1.0), generic=True),
    Signature("batch size too big",
              "N times too big, n the batch size: the 1/n of the mean over the batch is missing (e.g. the "
              "cross-entropy gradient softmax(z) - t not divided by n).",
              _LAYER + _LOSS, predict=_scaled(lambda case: case.batch_size), generic=True),
    Signature("batch size too small",
              "N times too small, n the batch size: divided by n once more than it should be (the loss already "
              "divides by n; the layers' gradients are sums over the batch).",
              _LAYER + _LOSS, predict=_scaled(lambda case: 1 / case.batch_size), generic=True),
    Signature("factor 2 too big",
              "2 times too big: for the squared error L = 1/(2n) sum ||a - t||^2 the 1/2 cancels the 2 from the "
              "square, dL/da = (a - t)/n; a 2(a - t) kept the 2 without the 1/2.",
              _LAYER + _LOSS, predict=_scaled(lambda case: 2.0), generic=True),
    Signature("factor 2 too small",
              "Half what it should be: a 1/2 too many (or a 2 missing).",
              _LAYER + _LOSS, predict=_scaled(lambda case: 0.5), generic=True),
]


@dataclass(frozen=True)
class Match:
    """A signature that explains one tensor of a part."""

    tensor: str
    signature: str
    words: str


def match_signatures(case: Case, failing: list[str], tolerance, signatures=None) -> list[Match]:
    """The signatures (default SIGNATURES) that explain the failing tensors; generic ones only where
    no specific one does."""
    signatures = SIGNATURES if signatures is None else signatures
    # a value the scratch side gave that is no array of numbers (None, a str) is no mistake's prediction
    failing = [key for key in failing if key not in case.scratch or numbers(case.scratch[key]) is not None]
    found = [(s, key) for s in signatures for key in s.matching(case, failing, tolerance)] if failing else []
    explained = {key for s, key in found if not s.generic}
    return [Match(key, s.name, _in_terms(s, case.terms)) for s, key in found if not (s.generic and key in explained)]


def _in_terms(signature: Signature, terms) -> str:
    """The signature's words, and the fix in the user's own terms where the case says them."""
    fix = terms.fix(signature.name) if terms is not None else None
    return signature.words + (f" The fix, in your code's terms: {fix}." if fix else "")
