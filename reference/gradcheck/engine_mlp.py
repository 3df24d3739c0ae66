"""The whole-MLP part of the engine check (engine.py): a micrograd-style MLP(nin, nouts) built
fresh, its parameters() set to known values, the loss users write (the sum of squared errors
over a few examples, with the user's Value operations) and backward(), against a torch twin. The
user's side (reference.adapters.engine.LocalMLP, or its proxy when grading) runs the MLP and hands
back numbers; the twin, the comparison and what was found are here.

What the MLP computes is found by experiment: the order of each neuron's parameters (w then b,
as micrograd's `self.w + [self.b]`, or b then w), the nonlinearity (tanh, relu, sigmoid or
none) and whether the last layer is linear (micrograd) or not (the lecture), from the user's
forward against the twin's under each candidate. The parts are the loss (outputs, loss and the
outputs' .grad), then the layers in the order backward reaches them, last first: a wrong
gradient spreads to every layer before the one it starts in, so the first layer that disagrees
is where to look; its rows are the neurons, each gradient as [w..., b].
"""

import itertools

import numpy as np
import torch

from reference import tolerances
from reference.adapters.engine import MLPSide
from reference.comparison import compare, diff
from reference.gradcheck.report import PartCheck

EXAMPLES = 4  # inputs of the loss: few, since every scalar is a Python object
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "none": lambda z: z}
LAYOUTS = ("w then b", "b then w")  # each neuron's parameters in parameters()


def check_mlp(side: MLPSide, sizes, seed: int) -> tuple[list[PartCheck], str]:
    """The MLP's parts, and what was found, e.g. "MLP(3, [4, 4, 1]): relu, linear last layer, w then b".
    side: reference.adapters.engine's LocalMLP (or a proxy of one run elsewhere)."""
    count = side.build(sizes)
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1, 1, count)
    xs, ys = rng.uniform(-1, 1, (EXAMPLES, sizes[0])), rng.uniform(-1, 1, (EXAMPLES, sizes[-1]))
    # At the kink: the first example all zeros and the first neuron's bias 0 (its last and its first
    # parameter, whichever order parameters() lists them in), so that neuron's input is exactly 0 in
    # any order of summation, where relu'(0) = 0 is torch's convention.
    xs[0], values[[0, sizes[0]]] = 0.0, 0.0
    ran = side.run(values, xs, ys)
    found = _found(values, sizes, xs, ran["outputs"])
    reference = _torch_pass(_unpack(values, sizes, found[0]), found[1:], xs, ys)
    grads = _unpack(ran["grads"], sizes, found[0])
    ours = {"output": ran["outputs"], "loss": ran["loss"], "output.grad": ran["output_grad"]}
    parts = [PartCheck("loss", None, f"sum of (output - target)**2 over {EXAMPLES} examples", "loss",
                       torch=compare(ours, {key: reference[key] for key in ours}, tolerances.FLOAT64))]
    for i in reversed(range(len(sizes) - 1)):
        last = i == len(sizes) - 2
        activation = "none" if last and found[2] else found[1]
        neurons = {f"{i}.neuron {j}": np.append(*grads[i][j]) for j in range(sizes[i + 1])}
        twins = {key: np.append(*reference["grads"][i][j]) for j, key in enumerate(neurons)}
        parts.append(PartCheck("layer", i, f"Layer({sizes[i]}->{sizes[i + 1]}, {activation})", "Layer",
                               torch=compare(neurons, twins, tolerances.FLOAT64)))
    layout, activation, linear_last = found
    return parts, (f"{side.name}({sizes[0]}, {list(sizes[1:])}): {activation}, "
                   f"{'linear last layer' if linear_last else 'on every layer'}, parameters {layout}")


def _unpack(flat, sizes, layout) -> list[list[tuple]]:
    """Per layer, per neuron, (w, b) from parameters()' order."""
    layers, at = [], 0
    for n_in, n_out in zip(sizes, sizes[1:]):
        block = np.asarray(flat[at:at + n_out * (n_in + 1)]).reshape(n_out, n_in + 1)
        at += block.size
        layers.append([(row[:-1], row[-1:]) if layout == LAYOUTS[0] else (row[1:], row[:1]) for row in block])
    return layers


def _found(values, sizes, xs, outputs) -> tuple:
    """(layout, activation, linear last layer) whose twin computes the user's outputs: the first that
    does, in the order micrograd, then the lecture, write it."""
    for candidate in itertools.product(LAYOUTS, ("relu", "tanh", "sigmoid", "none"), (True, False)):
        twin = _forward(_unpack(values, sizes, candidate[0]), *candidate[1:], torch.from_numpy(xs))[0]
        if diff("output", outputs, twin, tolerances.FLOAT64).ok:
            return candidate
    raise ValueError(f"the MLP's output matches no MLP of --spec {'-'.join(map(str, sizes))} with tanh, relu, sigmoid "
                     f"or no nonlinearity, its parameters() each neuron's w then b or b then w; the check needs "
                     f"act(sum(wi*xi) + b) in every neuron")


def _forward(layers, activation, linear_last, h):
    tensors = []
    for i, neurons in enumerate(layers):
        weight = torch.tensor(np.array([w for w, _ in neurons]), requires_grad=True)
        bias = torch.tensor(np.concatenate([b for _, b in neurons]), requires_grad=True)
        tensors.append((weight, bias))
        z = h @ weight.T + bias
        h = z if i == len(layers) - 1 and linear_last else ACTIVATIONS[activation](z)
    return h, tensors


def _torch_pass(layers, found, xs, ys) -> dict:
    out, tensors = _forward(layers, *found, torch.from_numpy(xs))
    out.retain_grad()
    loss = ((out - torch.from_numpy(ys)) ** 2).sum()
    loss.backward()
    return {"output": out.detach().numpy(), "loss": loss.detach().numpy(), "output.grad": out.grad.numpy(),
            "grads": [list(zip(w.grad.numpy(), b.grad.numpy()[:, None])) for w, b in tensors]}
