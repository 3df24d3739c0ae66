"""A sequential container of layers, and build_network, which builds one from a short spec
(spec.py) such as "784-128-10" or, with convolutions, "1x28x28-conv8k5-pool2-conv16k5-pool2-120-10".

The container mirrors torch.nn.Sequential, down to how it names parameters: layer i's
parameter p is "i.p" (activations take an index too), so for 784-128-10 with a sigmoid the
keys are 0.weight (128, 784), 0.bias (128,), 2.weight (10, 128), 2.bias (10,). state_dict,
load_state_dict and grad_dict use exactly these keys, shapes and layouts, so a scratch
network's weights load into the equivalent torch.nn.Sequential as they are, and back.
"""

import functools
import inspect

import numpy as np

from .init import INITIALIZERS
from .regularization import check_drop_probability
from .spec import Spec


class Sequential:
    """Layers applied one after another; backward runs them in reverse.

    forward(x) -> output, backward(dL/d output) -> dL/dx, leaving each layer's parameter
    gradients in layer.grads. backward(dL/d output, input_grad=False) leaves the same parameter
    gradients and returns None: the first layer skips dL/dx, which training never uses (a layer
    class placed first must then accept input_grad, as every scratch_nn layer does).
    """

    def __init__(self, *layers):
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if isinstance(x, np.ndarray) and x.dtype.kind == "f" and not np.isfinite(x).all():
            where = [int(i) for i in np.argwhere(~np.isfinite(x))[0]]
            raise ValueError(f"the input contains NaN or Inf (first at index {where}); clean the data first")
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_output: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not self.layers:
            return grad_output if input_grad else None
        first, *rest = self.layers
        for layer in reversed(rest):
            grad_output = layer.backward(grad_output)
        if input_grad or not _takes_input_grad(type(first)):  # layers written without it still work
            return first.backward(grad_output)
        return first.backward(grad_output, input_grad=False)

    def named_parameters(self):
        """(key, layer, name) for every parameter, in torch.nn.Sequential's order and naming."""
        for index, layer in enumerate(self.layers):
            for name in layer.params:
                yield f"{index}.{name}", layer, name

    def train(self, mode: bool = True) -> "Sequential":
        """Training mode (as built) or, with mode=False, evaluation mode, for every layer that has a
        ``training`` flag (Dropout, BatchNorm1d), as torch's module.train(mode). Returns the network."""
        for layer in self.layers:
            if hasattr(layer, "training"):
                layer.training = bool(mode)
        return self

    def eval(self) -> "Sequential":
        """Evaluation mode: dropout off, batch norm with its running statistics. Same as train(False)."""
        return self.train(False)

    def _state(self) -> dict[str, np.ndarray]:
        """The arrays of state_dict, not copied: per layer its parameters, then its buffers (e.g. batch
        norm's running statistics, which no optimizer updates), torch.nn.Sequential's keys and order."""
        return {f"{index}.{name}": value for index, layer in enumerate(self.layers)
                for name, value in (*layer.params.items(), *getattr(layer, "buffers", {}).items())}

    @property
    def dtype(self):
        """The parameters' dtype (the first parameter's; Linear refuses to mix)."""
        for _, layer, name in self.named_parameters():
            return layer.params[name].dtype
        raise AttributeError("this network has no parameters, so no dtype of its own: its input's dtype decides")

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters and buffers under torch.nn.Sequential's keys, e.g. {"0.weight": (out, in)
        array}; a BatchNorm1d at index 1 adds "1.running_mean", "1.running_var", "1.num_batches_tracked"."""
        return {key: value.copy() for key, value in self._state().items()}

    def param_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters alone (state_dict without buffers such as batch norm's running
        statistics): what an optimizer updates, in the order it updates them."""
        return {key: layer.params[name].copy() for key, layer, name in self.named_parameters()}

    def grad_dict(self) -> dict[str, np.ndarray]:
        """Copies of the last backward pass's parameter gradients, under the state_dict keys."""
        missing = [key for key, layer, name in self.named_parameters() if name not in layer.grads]
        if missing:
            raise RuntimeError(f"no gradients yet for {', '.join(missing)}: run forward, the loss and backward first")
        return {key: layer.grads[name].copy() for key, layer, name in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Copy values into the parameters, in place, after checking every key, shape and dtype.

        Accepts NumPy arrays or anything np.asarray understands (a CPU float32/float64 torch
        tensor from model.state_dict() included; see as_array). Nothing is converted: a dtype
        that differs is an error, as are missing or unexpected keys and other shapes. All
        problems are listed at once, and nothing is loaded unless everything fits.
        """
        params = self._state()
        problems = [f"missing key {key!r} (expected shape {p.shape}, {p.dtype})"
                    for key, p in params.items() if key not in state]
        problems += [f"unexpected key {key!r}: this network's keys are {list(params)}"
                     for key in state if key not in params]
        values = {}
        for key, param in params.items():
            if key not in state:
                continue
            try:
                value = values[key] = as_array(state[key])
            except TypeError as error:
                problems.append(f"{key!r} {error}")
                continue
            if value.shape != param.shape:
                hint = " (transposed? weights are stored (out, in))" if value.shape == param.shape[::-1] else ""
                problems.append(f"{key!r} has shape {value.shape}, expected {param.shape}{hint}")
            elif value.dtype != param.dtype:
                problems.append(f"{key!r} is {value.dtype}, expected {param.dtype}: convert it before loading")
            elif not np.isfinite(value).all():
                problems.append(f"{key!r} contains NaN or Inf")
        if problems:
            raise ValueError("load_state_dict: the state does not fit this network:\n  " + "\n  ".join(problems))
        for key, param in params.items():
            param[...] = values[key]

    def __repr__(self):
        lines = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({lines}\n)"


@functools.cache
def _takes_input_grad(layer_type) -> bool:
    """Whether layer_type.backward has an input_grad parameter (a subclass may override backward
    without one, and a user's layer never heard of it)."""
    return "input_grad" in inspect.signature(layer_type.backward).parameters


def as_array(value) -> np.ndarray:
    """value as a NumPy array without converting it; a torch tensor is recognised by duck typing
    (scratch_nn never imports torch) and refused with the fix when NumPy cannot share it."""
    if hasattr(value, "detach"):
        if getattr(value, "requires_grad", False):
            raise TypeError("is a tensor that requires grad: pass value.detach() (model.state_dict()'s do not)")
        if str(getattr(value, "device", "cpu")) != "cpu":
            raise TypeError(f"is a tensor on {value.device}: pass value.cpu()")
        # float parameters, and int64 buffers (batch norm's num_batches_tracked)
        if str(value.dtype) not in ("torch.float32", "torch.float64", "torch.int64"):
            raise TypeError(f"is a {value.dtype} tensor: convert it to the network's dtype "
                            f"(value.float() or value.double())")
    try:
        return np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"cannot be read as a NumPy array ({error})") from None


def build_network(spec, activation="sigmoid", *, init="paper", seed=0, dtype=np.float64,
                  output_activation=None, dropout=0.0, batch_norm=False) -> Sequential:
    """A Sequential for a spec: Linear, activation, Linear, activation, ..., Linear [, output activation];
    with an image input, Unflatten, then Conv2d, activation and MaxPool2d as the spec says, Flatten,
    and the dense layers (see Spec).

    build_network("784-128-10", "sigmoid", init="paper", seed=0, dtype=np.float32)
    build_network("1x28x28-conv8k5-pool2-conv16k5-pool2-120-10", "relu", init="torch")
    init: "paper" (uniform in [-1, 1]) or "torch" (torch.nn.Linear's and Conv2d's default), from
    np.random.default_rng(seed).
    Each hidden dense layer can be regularised, in this order: Linear, BatchNorm1d (batch_norm=True,
    normalising the pre-activations), activation, Dropout(dropout) (when dropout > 0, on the
    activations; its masks from np.random.default_rng((seed, index of the Dropout layer))).
    The output layer gets neither.
    """
    if not isinstance(spec, Spec):
        spec = Spec.parse(spec, activation, output_activation)
    if init not in INITIALIZERS:
        raise ValueError(f"unknown init {init!r}; choose from {sorted(INITIALIZERS)}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"networks compute in float32 or float64; got {dtype}")
    check_drop_probability(dropout)
    rng = np.random.default_rng(seed)
    return Sequential(*spec.build_layers(INITIALIZERS[init], rng, dtype, batch_norm=batch_norm, dropout=dropout,
                                         seed=seed))
