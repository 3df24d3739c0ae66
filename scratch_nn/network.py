"""A sequential container of layers, and networks built from a short spec such as "784-128-10"
or, with convolutions, "1x28x28-conv8k5-pool2-conv16k5-pool2-120-10".

The container mirrors torch.nn.Sequential, down to how it names parameters: layer i's
parameter p is "i.p" (activations take an index too), so for 784-128-10 with a sigmoid the
keys are 0.weight (128, 784), 0.bias (128,), 2.weight (10, 128), 2.bias (10,). state_dict,
load_state_dict and grad_dict use exactly these keys, shapes and layouts, so a scratch
network's weights load into the equivalent torch.nn.Sequential as they are, and back.
"""

import math
import re
from dataclasses import dataclass

import numpy as np

from .conv import Conv2d, Flatten, MaxPool2d, Unflatten
from .init import INITIALIZERS
from .layers import LeakyReLU, Linear, ReLU, Sigmoid, Tanh

ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh, "leaky_relu": LeakyReLU}

CONV = re.compile(r"conv(\d+)k(\d+)(?:x(\d+))?(?:s(\d+))?(?:p(\d+))?")
POOL = re.compile(r"pool(\d+)(?:s(\d+))?")
IMAGE = re.compile(r"(\d+)x(\d+)x(\d+)")


@dataclass(frozen=True)
class Conv:
    """conv<out>k<k>[x<kw>][s<stride>][p<padding>]: e.g. conv8k5 (8 channels, 5x5 kernel, stride 1,
    no padding), conv16k3x2s2p1 (16 channels, 3 high by 2 wide, stride 2, 1 zero on every side)."""

    out_channels: int
    kernel_size: tuple[int, int]
    stride: int = 1
    padding: int = 0

    def __str__(self):
        kh, kw = self.kernel_size
        return (f"conv{self.out_channels}k{kh}{f'x{kw}' if kw != kh else ''}"
                f"{f's{self.stride}' if self.stride != 1 else ''}{f'p{self.padding}' if self.padding else ''}")


@dataclass(frozen=True)
class Pool:
    """pool<k>[s<stride>]: max-pooling over k x k windows, at stride k unless given."""

    kernel_size: int
    stride: int | None = None

    def __str__(self):
        return f"pool{self.kernel_size}{f's{self.stride}' if self.stride is not None else ''}"


def parse_layer(token: str):
    """One spec token: a dense layer's size ("120"), a Conv ("conv8k5") or a Pool ("pool2")."""
    if token.isdigit():
        return int(token)
    for pattern, make in ((CONV, lambda o, kh, kw, s, p: Conv(int(o), (int(kh), int(kw or kh)), int(s or 1),
                                                                 int(p or 0))),
                          (POOL, lambda k, s: Pool(int(k), s and int(s)))):
        match = pattern.fullmatch(token)
        if match:
            return make(*match.groups())
    raise ValueError(f"unknown layer {token!r} in the spec: write a size (120), a convolution "
                     f"(conv8k5, conv16k3x2s2p1: channels, kernel, stride, padding) or a max-pool (pool2, pool3s2)")


@dataclass(frozen=True)
class Spec:
    """The input's shape, the layers, one activation per hidden layer, and an optional activation
    on the output.

    Spec.parse("784-512-256-10", "relu,sigmoid") is 784 -> 512 (ReLU) -> 256 (sigmoid) -> 10.
    Spec.parse("1x28x28-conv8k5-pool2-conv16k5-pool2-120-10", "relu") takes rows of 784 pixels,
    reshapes them to 1x28x28 images (channels x height x width), then: an 8-channel 5x5
    convolution, ReLU, 2x2 max-pooling, a 16-channel 5x5 convolution, ReLU, 2x2 max-pooling,
    flattening, a dense layer of 120, ReLU, and 10 outputs. Convolutions and hidden dense layers
    are the hidden layers that take an activation; pools take none.
    A single activation applies to every hidden layer. The output is raw scores (logits, for
    the softmax cross-entropy) unless output_activation is given (e.g. "sigmoid" for the
    paper's squared error).
    """

    input_shape: tuple[int, ...]                 # (features,) or (channels, height, width)
    layers: tuple[int | Conv | Pool, ...]        # dense sizes, convolutions, max-pools, in order
    activations: tuple[str, ...]
    output_activation: str | None = None

    @classmethod
    def parse(cls, sizes, activation="sigmoid", output_activation=None):
        tokens = sizes.split("-") if isinstance(sizes, str) else [str(int(s)) for s in sizes]
        image = IMAGE.fullmatch(tokens[0])
        if not (image or tokens[0].isdigit()):
            raise ValueError(f"a spec starts with the input size (784) or image shape (1x28x28); got {sizes!r}")
        input_shape = tuple(int(s) for s in image.groups()) if image else (int(tokens[0]),)
        layers = tuple(parse_layer(token) for token in tokens[1:])
        hidden = sum(not isinstance(layer, Pool) for layer in layers) - 1
        names = activation.split(",") if isinstance(activation, str) else list(activation)
        if len(names) == 1:
            names = names * hidden
        spec = cls(input_shape, layers, tuple(n.strip().lower() for n in names), output_activation)
        spec.validate()
        return spec

    def validate(self):
        if not self.layers or not isinstance(self.layers[-1], int) or min(self.input_shape) < 1 or \
                min(s for s in self.layers if isinstance(s, int)) < 1:
            raise ValueError(f"a spec is the input, then layers separated by '-', ending with the output size "
                             f"(a dense layer), all sizes positive, e.g. 784-128-10 or 1x28x28-conv8k5-pool2-10; "
                             f"got {self}")
        hidden = sum(not isinstance(layer, Pool) for layer in self.layers) - 1
        if len(self.activations) != hidden:
            raise ValueError(f"{hidden} hidden layers need one activation each (or one for all); "
                             f"got {list(self.activations)}")
        for name in (*self.activations, *([self.output_activation] if self.output_activation else [])):
            if name not in ACTIVATIONS:
                raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
        zeros = lambda rng, fan_in, fan_out: (np.zeros((fan_out, fan_in)), np.zeros(fan_out))  # noqa: E731
        list(self.build_layers(zeros, None, np.float64))  # every layer fits its input, or a clear error

    def build_layers(self, initializer, rng, dtype):
        """The layers, in order, with weights drawn by initializer(rng, fan_in, fan_out) and rounded to
        dtype: an Unflatten first for an image input, a Flatten before the first dense layer after
        images, and an activation after every convolution and dense layer. A convolution's weight is
        drawn as (out, in * kh * kw), fan_in = in * kh * kw as torch counts it, then reshaped."""
        activations = iter([*self.activations, self.output_activation])
        shape = self.input_shape
        if len(shape) > 1:
            yield Unflatten(shape)
        for layer in self.layers:
            if not isinstance(layer, int) and len(shape) == 1:
                raise ValueError(f"{layer} needs an image: start the spec with the image shape (1x28x28), "
                                 f"and put convolutions and pools before the dense layers")
            if isinstance(layer, Pool):
                built = MaxPool2d(layer.kernel_size, layer.stride)
            elif isinstance(layer, Conv):
                weight, bias = initializer(rng, shape[0] * math.prod(layer.kernel_size), layer.out_channels)
                weight = weight.reshape(layer.out_channels, shape[0], *layer.kernel_size)
                built = Conv2d(weight.astype(dtype), bias.astype(dtype), layer.stride, layer.padding)
            else:
                if len(shape) > 1:
                    yield Flatten()
                weight, bias = initializer(rng, math.prod(shape), layer)
                built = Linear(weight.astype(dtype), bias.astype(dtype))
            shape = (layer,) if isinstance(layer, int) else built.output_shape(shape)
            yield built
            activation = None if isinstance(layer, Pool) else next(activations)
            if activation:
                yield ACTIVATIONS[activation]()

    def __str__(self):
        mixed = len(set(self.activations)) > 1
        activation = ",".join(self.activations) if mixed else "".join(self.activations[:1])
        output = f" (output {self.output_activation})" if self.output_activation else ""
        sizes = "-".join(["x".join(map(str, self.input_shape)), *map(str, self.layers)])
        return f"{sizes} {activation}".rstrip() + output


class Sequential:
    """Layers applied one after another; backward runs them in reverse.

    forward(x) -> output, backward(dL/d output) -> dL/dx, leaving each layer's parameter
    gradients in layer.grads.
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

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def named_parameters(self):
        """(key, layer, name) for every parameter, in torch.nn.Sequential's order and naming."""
        for index, layer in enumerate(self.layers):
            for name in layer.params:
                yield f"{index}.{name}", layer, name

    @property
    def dtype(self):
        """The parameters' dtype (the first parameter's; Linear refuses to mix)."""
        for _, layer, name in self.named_parameters():
            return layer.params[name].dtype
        raise AttributeError("this network has no parameters, so no dtype of its own: its input's dtype decides")

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters under torch.nn.Sequential's keys, e.g. {"0.weight": (out, in) array}."""
        return {key: layer.params[name].copy() for key, layer, name in self.named_parameters()}

    def grad_dict(self) -> dict[str, np.ndarray]:
        """Copies of the last backward pass's parameter gradients, under the state_dict keys."""
        missing = [key for key, layer, name in self.named_parameters() if name not in layer.grads]
        if missing:
            raise RuntimeError(f"no gradients yet for {', '.join(missing)}: run forward, the loss and backward first")
        return {key: layer.grads[name].copy() for key, layer, name in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Copy values into the parameters, in place, after checking every key, shape and dtype.

        Accepts NumPy arrays or anything np.asarray understands (a CPU torch tensor from
        model.state_dict() included). Nothing is converted: a dtype that differs is an error,
        as are missing or unexpected keys and other shapes. All problems are listed at once,
        and nothing is loaded unless everything fits.
        """
        params = {key: layer.params[name] for key, layer, name in self.named_parameters()}
        values = {key: np.asarray(value) for key, value in state.items()}
        problems = [f"missing key {key!r} (expected shape {p.shape}, {p.dtype})"
                    for key, p in params.items() if key not in values]
        problems += [f"unexpected key {key!r}: this network's keys are {list(params)}"
                     for key in values if key not in params]
        for key in params.keys() & values.keys():
            param, value = params[key], values[key]
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


def build_network(spec, activation="sigmoid", *, init="paper", seed=0, dtype=np.float64,
                  output_activation=None) -> Sequential:
    """A Sequential for a spec: Linear, activation, Linear, activation, ..., Linear [, output activation];
    with an image input, Unflatten, then Conv2d, activation and MaxPool2d as the spec says, Flatten,
    and the dense layers (see Spec).

    build_network("784-128-10", "sigmoid", init="paper", seed=0, dtype=np.float32)
    build_network("1x28x28-conv8k5-pool2-conv16k5-pool2-120-10", "relu", init="torch")
    init: "paper" (uniform in [-1, 1]) or "torch" (torch.nn.Linear's and Conv2d's default), from
    np.random.default_rng(seed).
    """
    if not isinstance(spec, Spec):
        spec = Spec.parse(spec, activation, output_activation)
    if init not in INITIALIZERS:
        raise ValueError(f"unknown init {init!r}; choose from {sorted(INITIALIZERS)}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"networks compute in float32 or float64; got {dtype}")
    rng = np.random.default_rng(seed)
    return Sequential(*spec.build_layers(INITIALIZERS[init], rng, dtype))
