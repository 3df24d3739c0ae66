"""The torch side of a whole-network check, and the mistakes of whole networks it recognises.

twin_pass runs the twin (reference.gradcheck.network_twin.twin_model) on X and returns,
under the checker's keys, the output a, the loss C and every parameter's gradient dC/dW_i,
dC/db_i, with each layer's input h_{i-1} and upstream gradient G_i = dC/dz_i (what the layer
signatures of signatures.py predict from). With mistake=..., the same pass made the way a buggy
backprop makes it, by replacing the activation's derivative in the backward pass only:

    h = f(z).detach() + (z - z.detach()) * d.detach()     (value f(z), dh/dz = d)

with d = f'(f(z)) ("derivative at the output": sigmoid_prime(a) where sigmoid_prime(z) belongs),
d = 1 at every layer (the derivative left out), or d = 1 at the output layer only (the output
delta a - y of cross-entropy with a quadratic cost). A layer whose user gradient equals such a
prediction, and not the correct one, is named with the mistake.
"""

import numpy as np
import torch

from reference.gradcheck.network_twin import twin_loss, twin_model
from reference.gradcheck.signatures import SIGNATURES, Signature

# The layer signatures of signatures.py that read only what a whole network's check has (the
# gradients, the batch size, the layer's upstream gradient): transposed, bias averaged, the scales.
REUSED = [s for s in SIGNATURES if s.name in ("transposed weight gradient", "bias gradient averaged") or s.generic]

MISTAKES = {
    "derivative at the output": (
        "The activation's derivative is taken at the layer's output a = f(z) instead of at z, e.g. "
        "sigmoid_prime(activations[-l]) where sigmoid_prime(zs[-l]) belongs: f'(f(z)) in every layer."),
    "activation derivative missing": (
        "The activation's derivative is left out of delta: the gradient passes through every activation as if "
        "f'(z) were 1 (for ReLU: the mask dhidden[hidden <= 0] = 0 forgotten)."),
    "output derivative missing": (
        "The output layer's delta is a - y without f'(z_L): that is cross-entropy's delta, while the cost is "
        "quadratic (delta = (a - y) * sigmoid_prime(z_L)); or the loss is not the one the network says. Where the "
        "layers before say \"activation derivative missing\", it is missing in every layer."),
}


def twin_pass(params, activations, X, labels, loss, reduction, mistake=None) -> dict:
    """The twin's "output", "loss", "i.weight.grad" and "i.bias.grad" (weights (out, in)), and the
    per-layer "i.input" and "i.upstream" (h_{i-1} and dC/dz_i)."""
    model = twin_model(params, activations)
    h, inputs, zs = torch.from_numpy(X), [], []
    for i in range(len(params)):
        linear, activation = model[2 * i], model[2 * i + 1]
        inputs.append(h.detach().numpy().copy())
        z = linear(h)
        z.retain_grad()
        zs.append(z)
        h = _mistaken(activation, z, mistake, last=i == len(params) - 1)
    value = twin_loss(h, labels, loss, reduction, activations[-1])
    value.backward()
    trace = {"output": h.detach().numpy().copy(), "loss": np.asarray(value.item())}
    for i in range(len(params)):
        linear = model[2 * i]
        trace.update({f"{i}.weight.grad": linear.weight.grad.numpy().copy(),
                      f"{i}.bias.grad": linear.bias.grad.numpy().copy(),
                      f"{i}.input": inputs[i], f"{i}.upstream": zs[i].grad.numpy().copy()})
    return trace


def _mistaken(activation, z, mistake, last) -> torch.Tensor:
    a = activation(z)
    if mistake is None or isinstance(activation, (torch.nn.Identity, torch.nn.Softmax)):
        return a
    if mistake == "derivative at the output":
        at = a.detach().requires_grad_()
        derivative = torch.autograd.grad(activation(at).sum(), at)[0]
    elif mistake == "activation derivative missing" or (mistake == "output derivative missing" and last):
        derivative = torch.ones_like(z)
    else:
        return a
    return a.detach() + (z - z.detach()) * derivative.detach()


def network_signatures(params, activations, X, labels, loss, reduction) -> list[Signature]:
    """REUSED and one Signature per whole-network mistake, predicting from twin_pass(mistake=...)."""
    predicted = {name: twin_pass(params, activations, X, labels, loss, reduction, mistake=name) for name in MISTAKES}
    last = f"{len(params) - 1}."  # at the output layer, a derivative missing everywhere is the output's alone: one name
    predicted["activation derivative missing"] = {key: value for key, value in
                                                  predicted["activation derivative missing"].items()
                                                  if not key.startswith(last)}
    own = [Signature(name, words, ("layer",),
                     predict=lambda case, p=predicted[name]: {key: p[key] for key in case.gradient_keys if key in p})
           for name, words in MISTAKES.items()]
    return own + REUSED


def _update_scaled(factor):
    """The parameters after a step whose change is factor times torch's: W - factor lr dC/dW."""
    return lambda case: {key: case.params[key] + factor(case) * (case.reference[key] - case.params[key])
                         for key in case.reference}


UPDATE_SIGNATURES = [
    Signature("update by the sum over the batch",
              "The step is eta times the sum of the examples' gradients, n times too big: the update divides by "
              "the batch size, w - (eta / len(mini_batch)) * sum(nabla_w).",
              ("optimizer",), predict=_update_scaled(lambda case: case.batch_size)),
    Signature("update divided by the batch size twice",
              "The step is n times too small: the gradients are already the batch's mean, and the update "
              "divides by the batch size again.",
              ("optimizer",), predict=_update_scaled(lambda case: 1 / case.batch_size)),
    Signature("update climbs the gradient",
              "The step adds the gradient, W + lr dW, which climbs the cost; W - lr dW descends it.",
              ("optimizer",), predict=_update_scaled(lambda case: -1.0)),
]
