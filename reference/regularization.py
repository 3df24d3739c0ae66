"""The torch twins of scratch_nn.regularization's layers.

BatchNorm1d's twin is torch.nn.BatchNorm1d itself. Dropout's is MaskedDropout: torch's own
dropout draws its mask from torch's generator, which no NumPy generator can reproduce, so the
twin draws its masks from a copy of the scratch layer's NumPy generator, with the same function
(scratch_nn.regularization.keep_mask), and applies them with torch's dropout formula. See
scratch_nn/regularization.py for why each side owning an identical generator is what keeps the
two in step, whatever order (or thread) each side runs in.
"""

import copy

import numpy as np
import torch
from torch import nn

from reference import tolerances
from reference.comparison import TensorDiff, layer_label
from scratch_nn.regularization import BatchNorm1d, Dropout, keep_mask


class MaskedDropout(nn.Module):
    """Dropout with masks given from outside: y = x * (m / (1 - p)) in training, y = x in evaluation.

    That is torch.nn.functional.dropout's computation (noise = bernoulli(1 - p); noise /= 1 - p;
    x * noise) with m in place of its random draw. m is the keep argument of forward or, by
    default, the next mask from rng, a numpy.random.Generator (a copy of the scratch layer's).
    """

    def __init__(self, p: float, rng: np.random.Generator):
        super().__init__()
        self.p, self.rng = p, rng

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if keep is None:
            keep = torch.from_numpy(keep_mask(self.rng, tuple(x.shape), self.p)).to(x.device)
        return x * keep.to(x.dtype).div_(1 - self.p)

    def extra_repr(self):
        return f"p={self.p}"


class GivenMaskDropout(MaskedDropout):
    """MaskedDropout whose mask for a batch comes from draw(shape) (True: kept): the mask a user's own
    dropout draws (reference.adapters.functional_params), applied with torch's dropout formula."""

    def __init__(self, p: float, draw):
        super().__init__(p, None)
        self.draw = draw

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        if keep is None and self.training and self.p > 0:
            keep = torch.from_numpy(self.draw(tuple(x.shape))).to(x.device)
        return super().forward(x, keep)


class BiasedRunningVarBatchNorm1d(nn.BatchNorm1d):
    """torch's batch norm (its output and gradients), with the running variance CS231n's assignment
    specifies: the running average of the biased batch variance, where torch averages the unbiased one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        before = self.running_var.clone()
        output = super().forward(x)
        if self.training:  # a new tensor: the one torch updated in place is saved for its backward
            with torch.no_grad():
                self.running_var = (1 - self.momentum) * before + self.momentum * x.var(dim=0, unbiased=False)
        return output


def regularization_twin(layer) -> nn.Module:
    """The twin of a Dropout or BatchNorm1d layer, in the same mode (training or evaluation). A
    Dropout twin gets a copy of the layer's generator, so it draws the masks the layer will draw
    next, or, for a layer with draw_mask (a user's dropout), the mask it draws; BatchNorm1d's
    statistics and parameters arrive with the network's state_dict (a layer with biased_running_var
    keeps the biased batch variance's running average, as CS231n's does)."""
    if isinstance(layer, Dropout):
        module = (GivenMaskDropout(layer.p, layer.draw_mask) if hasattr(layer, "draw_mask")
                  else MaskedDropout(layer.p, copy.deepcopy(layer.rng)))
    else:
        running_mean = layer.buffers["running_mean"]
        kind = BiasedRunningVarBatchNorm1d if getattr(layer, "biased_running_var", False) else nn.BatchNorm1d
        module = kind(layer.num_features, eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
                      dtype=torch.from_numpy(running_mean).dtype)
    return module.train(layer.training)


TWINS = {"dropout": Dropout, "batchnorm1d": BatchNorm1d}


def cancelled_gradients(network, ours: dict, theirs: dict, dtype) -> list[TensorDiff]:
    """Judge the gradients that batch norm cancels on each side alone, taking them out of both traces.

    A bias followed by batch norm in training mode has a gradient of exactly 0 (batch norm subtracts
    the batch mean, so the bias changes nothing), and each side computes rounding noise that cannot
    be compared with the other's. Each side must be 0 to rounding instead:
    |dL/db| <= CANCELLED_BY_BATCH_NORM * eps(dtype) * sum_i |dL/dz_i|, z the batch norm's input
    (see reference.tolerances). ours, theirs: traces as side_by_side makes them ("i.bias.grad",
    "i.grad_input"). Returns one TensorDiff per such bias, its ratio the worse side's |dL/db| over
    that bound, to be added to the comparison of the rest.
    """
    diffs = []
    for index, (layer, after) in enumerate(zip(network.layers, network.layers[1:])):
        if not (isinstance(after, BatchNorm1d) and after.training and "bias" in layer.params):
            continue
        name = f"{index}.bias.grad"
        terms = np.abs(theirs[f"{index + 1}.grad_input"]).astype(np.float64).sum(axis=0)
        allowed = tolerances.CANCELLED_BY_BATCH_NORM * np.finfo(dtype).eps * terms
        ratios = {side: np.abs(trace.pop(name)) / allowed for side, trace in (("scratch", ours), ("torch", theirs))}
        side = max(ratios, key=lambda s: ratios[s].max())
        ratio = float(ratios[side].max())
        problem = "" if ratio <= 1 else (f"must be 0 (the bias is followed by batch norm), but the {side} side's is "
                                         f"{ratio:.3g} times CANCELLED_BY_BATCH_NORM * eps * sum_i |dL/dz_i|")
        diffs.append(TensorDiff(name, layer_label(name, network.layers), terms.shape, tolerances.for_dtype(dtype),
                                ratio=ratio, mismatched=int((ratios[side] > 1).sum()), problem=problem))
    return diffs


def generator_states(layers) -> dict[int, dict]:
    """The state of every dropout generator, by layer index: of a scratch network's layers or of a torch
    twin's modules (MaskedDropout). What a saved run needs to draw, when it goes on, the masks it
    would have drawn."""
    return {index: copy.deepcopy(layer.rng.bit_generator.state) for index, layer in enumerate(layers)
            if isinstance(layer, (Dropout, MaskedDropout))}


def set_generator_states(layers, states: dict) -> None:
    """Put every dropout generator of the layers in the given state (generator_states' dict; the
    indices may be strings, as JSON keeps them); ValueError unless the indices are the same."""
    generators = {index: layer.rng for index, layer in enumerate(layers) if isinstance(layer, (Dropout, MaskedDropout))}
    states = {int(index): state for index, state in states.items()}
    if states.keys() != generators.keys():
        raise ValueError(f"dropout generators saved for layers {sorted(states)}, but the network has them at "
                         f"{sorted(generators)}")
    for index, state in states.items():
        generators[index].bit_generator.state = state
