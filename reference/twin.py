"""The PyTorch twin: the torch.nn.Sequential and loss that compute what a scratch network computes.

The twin is built from the scratch network's layers, not from its spec, so a network put
together by hand (or with a user's own layer classes) gets the right twin too. Weights travel
through state_dict in both directions, exactly as PyTorch's own checkpoints would.
"""

import numpy as np
import torch
from torch import nn

import scratch_nn
from reference.choices import LAYER_TWINS
from reference.loss_names import loss_class
from reference.regularization import TWINS as REGULARIZATION_TWINS
from reference.regularization import regularization_twin

TORCH_MODULES = {scratch_nn.Sigmoid: nn.Sigmoid, scratch_nn.ReLU: nn.ReLU, scratch_nn.Tanh: nn.Tanh}
# Layers with settings: the twin is built from the scratch layer's attributes, which carry torch's names.
CONFIGURED_MODULES = {
    scratch_nn.LeakyReLU: lambda layer: nn.LeakyReLU(layer.negative_slope),
    scratch_nn.Conv2d: lambda layer: nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                                               layer.padding, dtype=torch_dtype(layer.params["weight"].dtype)),
    scratch_nn.MaxPool2d: lambda layer: nn.MaxPool2d(layer.kernel_size, layer.stride),
    scratch_nn.Flatten: lambda layer: nn.Flatten(),
    scratch_nn.Unflatten: lambda layer: nn.Unflatten(1, layer.unflattened_size),
    scratch_nn.Softmax: lambda layer: nn.Softmax(dim=1),
}
# The scratch layer class each twin name stands for: how a layer written without subclassing a
# scratch layer says what it computes (a twin= argument, or its own torch_twin attribute).
LAYERS_BY_TWIN_NAME = {"linear": scratch_nn.Linear, **{torch_type.__name__.lower(): scratch_type
                                                      for scratch_type, torch_type in TORCH_MODULES.items()},
                       **{scratch_type.__name__.lower(): scratch_type for scratch_type in CONFIGURED_MODULES},
                       **REGULARIZATION_TWINS}
assert tuple(LAYERS_BY_TWIN_NAME) == LAYER_TWINS, "reference.choices names the twins the commands offer"


def configure_determinism():
    """Make torch compute the same way every run: deterministic kernels, full-precision float32
    matmuls (no TF32 on GPUs, which would round float32 inputs to 10-bit mantissas)."""
    torch.use_deterministic_algorithms(True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def torch_dtype(dtype) -> torch.dtype:
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]


def scratch_class_for(layer, twin=None) -> type | None:
    """The scratch layer class whose torch twin a layer (or a layer class) gets: the one named by
    twin ("linear", "sigmoid", "relu", "tanh", "softmax", ...), else the one it subclasses, else the one named by
    its own torch_twin attribute. None for a twin given as a torch.nn.Module, used as it is."""
    if isinstance(twin, nn.Module):
        return None
    cls = layer if isinstance(layer, type) else type(layer)
    if twin is None:
        found = next((t for t in LAYERS_BY_TWIN_NAME.values() if issubclass(cls, t)), None)
        if found is not None:
            return found
        twin = getattr(layer, "torch_twin", None)
    if twin is None:
        raise TypeError(f"no PyTorch twin is known for {layer!r}; subclass one of "
                        f"{[t.__name__ for t in LAYERS_BY_TWIN_NAME.values()]} or name its twin "
                        f"({', '.join(LAYERS_BY_TWIN_NAME)}, or a torch.nn.Module), as an argument or as "
                        f"the layer's torch_twin attribute")
    if twin not in LAYERS_BY_TWIN_NAME:
        raise ValueError(f"unknown twin {twin!r}; name one of {list(LAYERS_BY_TWIN_NAME)} or pass a torch.nn.Module")
    return LAYERS_BY_TWIN_NAME[twin]


def torch_module(layer, twin=None) -> nn.Module:
    """The torch module that computes what one scratch layer computes (with fresh weights).

    The twin is found from the scratch class the layer is an instance of. A layer written without
    subclassing one can name its twin instead, as twin= or as its torch_twin attribute: "linear"
    (the layer's params must then hold "weight" (out, in) and "bias" (out,)), "sigmoid", "relu"
    or "tanh"; a torch.nn.Module given as twin is used as it is.
    """
    scratch_type = scratch_class_for(layer, twin)
    if scratch_type is None:
        return twin
    if scratch_type is scratch_nn.Linear:
        weight = layer.params.get("weight") if isinstance(getattr(layer, "params", None), dict) else None
        if getattr(weight, "ndim", 0) != 2:
            raise ValueError(f"{layer!r} has a linear twin, so its params must hold a 2-D 'weight' (out, in) "
                             f"and a 'bias' (out,), as scratch_nn.Linear's do")
        return nn.Linear(weight.shape[1], weight.shape[0], dtype=torch_dtype(weight.dtype))
    if scratch_type in REGULARIZATION_TWINS.values():  # Dropout, BatchNorm1d: in the layer's mode
        return regularization_twin(layer)
    if scratch_type in CONFIGURED_MODULES:
        return CONFIGURED_MODULES[scratch_type](layer)
    return TORCH_MODULES[scratch_type]()


def torch_model(network: scratch_nn.Sequential, device="cpu", twins=None) -> nn.Sequential:
    """A torch.nn.Sequential with the same layers as the scratch network, holding the same weights.

    twins: optionally, one twin per layer as torch_module takes it (None: found from the class).
    """
    twins = [None] * len(network.layers) if twins is None else list(twins)
    if len(twins) != len(network.layers):
        raise ValueError(f"got {len(twins)} twins for {len(network.layers)} layers; "
                         f"give one per layer (None: found from its class)")
    model = nn.Sequential(*(torch_module(layer, twin) for layer, twin in zip(network.layers, twins))).to(device)
    copy_to_torch(network, model)
    return model


def copy_to_torch(network: scratch_nn.Sequential, model: nn.Module) -> None:
    """Load the scratch weights into the torch model through state_dict, and check they arrived bit for bit."""
    device = model_device(model)
    model.load_state_dict({key: torch.from_numpy(value).to(device) for key, value in network.state_dict().items()})
    assert_same_weights(network, model)


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters(), torch.empty(0)).device


def copy_to_scratch(model: nn.Module, network: scratch_nn.Sequential) -> None:
    """Load the torch model's weights into the scratch network through state_dict, bit for bit."""
    network.load_state_dict(numpy_state_dict(model))
    assert_same_weights(network, model)


def numpy_state_dict(model: nn.Module) -> dict[str, np.ndarray]:
    """The torch model's state_dict as NumPy copies (copies: the parameters go on changing)."""
    return {key: value.detach().cpu().numpy().copy() for key, value in model.state_dict().items()}


def assert_same_weights(network: scratch_nn.Sequential, model: nn.Module) -> None:
    """Fail unless both sides hold exactly the same parameters: same keys, dtypes and bits.

    Every comparison starts from here: a difference found later must come from the
    computation, not from weights that were rounded or mangled on the way over.
    """
    scratch = network.state_dict()
    theirs = numpy_state_dict(model)
    if scratch.keys() != theirs.keys():
        raise AssertionError(f"parameter keys differ: scratch {list(scratch)}, torch {list(theirs)}")
    for key, value in scratch.items():
        other = theirs[key]
        if value.dtype != other.dtype or value.shape != other.shape or value.tobytes() != other.tobytes():
            raise AssertionError(f"{key}: the weights on the two sides are not bit-for-bit equal "
                                 f"(scratch {value.dtype}{value.shape}, torch {other.dtype}{other.shape})")


class ReducedLoss(nn.Module):
    """A loss of a sum over the batch, divided by n for reduction "mean" and not for "sum"."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def divisor(self, output) -> int:
        return len(output) if self.reduction == "mean" else 1


class HalfSquaredError(ReducedLoss):
    """The paper's squared error, L = 1/(2n) sum_i ||t_i - a_i||^2 ('sum' drops the 1/n).

    torch.nn.MSELoss would divide by n * classes and drop the 1/2; this is the exact form the
    scratch QuadraticLoss computes.
    """

    def forward(self, output, target):
        return nn.functional.mse_loss(output, target, reduction="sum") / (2 * self.divisor(output))


class ProbabilityCrossEntropyLoss(ReducedLoss):
    """The cross-entropy of probabilities, L = -(1/n) sum_i sum_c t_ic log p_ic ('sum' drops the 1/n):
    for class labels, log p of the label's entry, gathered, as the scratch ProbabilityCrossEntropy
    picks it. torch has no such loss: NLLLoss takes log-probabilities, and CrossEntropyLoss logits.
    """

    def forward(self, probs, target):
        if target.dtype.is_floating_point:
            picked = (target * torch.log(probs)).sum(dim=1)
        else:
            picked = torch.log(probs.gather(1, target[:, None]))
        return -picked.sum() / self.divisor(probs)


def scratch_loss_class_for(loss) -> type:
    """The scratch loss class a loss computes what: the one it subclasses, else the one named by its
    torch_twin attribute ("cross_entropy", "mse", "probability_cross_entropy": scratch_nn.LOSSES's names)."""
    found = next((t for t in scratch_nn.LOSSES.values() if isinstance(loss, t)), None)
    if found is not None:
        return found
    name = getattr(loss, "torch_twin", None)
    if name is None:
        raise TypeError(f"no PyTorch twin is known for the loss {loss!r}; subclass one of "
                        f"{[t.__name__ for t in scratch_nn.LOSSES.values()]} or give it a torch_twin attribute "
                        f"({', '.join(scratch_nn.LOSSES)})")
    return loss_class(name, what=f"torch_twin {name!r} of the loss {loss!r}")


def torch_loss(loss) -> nn.Module:
    """The torch loss that computes what a scratch loss computes, with the same reduction
    (a loss without a reduction attribute takes the mean over the batch)."""
    reduction = getattr(loss, "reduction", "mean")
    scratch_type = scratch_loss_class_for(loss)
    if scratch_type is scratch_nn.SoftmaxCrossEntropy:
        return nn.CrossEntropyLoss(reduction=reduction)
    if scratch_type is scratch_nn.ProbabilityCrossEntropy:
        return ProbabilityCrossEntropyLoss(reduction=reduction)
    if scratch_type is scratch_nn.BinaryCrossEntropy:
        return nn.BCELoss(reduction=reduction)  # on the sigmoid's output (n, 1), as the scratch loss takes it
    return HalfSquaredError(reduction=reduction)


def torch_target(loss, target, output: torch.Tensor) -> torch.Tensor:
    """Targets as the twin loss wants them: per-class targets as they are; class labels as int64
    for the cross-entropy and as one-hot rows in the output's dtype for the squared error."""
    target = torch.as_tensor(target, device=output.device)
    if target.dtype.is_floating_point:
        return target
    if scratch_loss_class_for(loss) is scratch_nn.QuadraticLoss:
        return nn.functional.one_hot(target.long(), output.shape[1]).to(output.dtype)
    if scratch_loss_class_for(loss) is scratch_nn.BinaryCrossEntropy:
        return target.to(output.dtype).reshape(-1, 1)  # labels 0/1 as the one unit's targets
    return target.long()
