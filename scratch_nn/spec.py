"""Networks described by a short spec, "784-128-10" or, with convolutions,
"1x28x28-conv8k5-pool2-conv16k5-pool2-120-10", and the layers a spec builds.

Spec.parse reads a spec and its activations and checks that every layer fits its input;
Spec.build_layers makes the layers, which network.build_network puts in a Sequential.
"""

import math
import numbers
import re
from dataclasses import dataclass

import numpy as np

from .conv import Conv2d, Flatten, MaxPool2d, Unflatten
from .layers import LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from .regularization import BatchNorm1d, Dropout

# softmax is meant for the output (output_activation="softmax", before the probability_cross_entropy loss)
ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh, "leaky_relu": LeakyReLU, "softmax": Softmax}

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
    paper's squared error, "softmax" for the cross-entropy of probabilities).
    """

    input_shape: tuple[int, ...]                 # (features,) or (channels, height, width)
    layers: tuple[int | Conv | Pool, ...]        # dense sizes, convolutions, max-pools, in order
    activations: tuple[str, ...]
    output_activation: str | None = None

    @classmethod
    def parse(cls, sizes, activation="sigmoid", output_activation=None):
        tokens = sizes.split("-") if isinstance(sizes, str) else [str(s) for s in whole_numbers(sizes)]
        image = IMAGE.fullmatch(tokens[0])
        if not (image or tokens[0].isdigit()):
            raise ValueError(f"a spec starts with the input size (784) or image shape (1x28x28); got {sizes!r}")
        input_shape = tuple(int(s) for s in image.groups()) if image else (int(tokens[0]),)
        layers = tuple(parse_layer(token) for token in tokens[1:])
        hidden = sum(not isinstance(layer, Pool) for layer in layers) - 1
        names = [] if activation is None else activation.split(",") if isinstance(activation, str) else list(activation)
        if len(names) == 1:
            names = names * hidden
        spec = cls(input_shape, layers, tuple(n.strip().lower() for n in names), output_activation)
        spec.validate()
        return spec

    @property
    def sizes(self) -> tuple[int, ...]:
        """The layer sizes of a multilayer perceptron, input first: (784, 128, 10) for 784-128-10."""
        if len(self.input_shape) > 1 or not all(isinstance(layer, int) for layer in self.layers):
            raise ValueError(f"{self} is not a plain multilayer perceptron: it has no list of layer sizes")
        return (*self.input_shape, *self.layers)

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

    def build_layers(self, initializer, rng, dtype, *, batch_norm=False, dropout=0.0, seed=0) -> list:
        """The layers, in order, with weights drawn by initializer(rng, fan_in, fan_out) and rounded to
        dtype: an Unflatten first for an image input, a Flatten before the first dense layer after
        images, and an activation after every convolution and dense layer. A convolution's weight is
        drawn as (out, in * kh * kw), fan_in = in * kh * kw as torch counts it, then reshaped.
        A hidden dense layer is regularised in this order: Linear, BatchNorm1d (batch_norm),
        activation, Dropout(dropout) (its masks from np.random.default_rng((seed, its index))).
        The output layer gets neither."""
        activations = iter([*self.activations, self.output_activation])
        hidden_dense = sum(isinstance(layer, int) for layer in self.layers) - 1
        shape, built_layers = self.input_shape, []
        if len(shape) > 1:
            built_layers.append(Unflatten(shape))
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
                    built_layers.append(Flatten())
                weight, bias = initializer(rng, math.prod(shape), layer)
                built = Linear(weight.astype(dtype), bias.astype(dtype))
            shape = (layer,) if isinstance(layer, int) else built.output_shape(shape)
            built_layers.append(built)
            regularised = isinstance(layer, int) and hidden_dense > 0
            hidden_dense -= isinstance(layer, int)
            if regularised and batch_norm:
                built_layers.append(BatchNorm1d(layer, dtype=dtype))
            activation = None if isinstance(layer, Pool) else next(activations)
            if activation:
                built_layers.append(ACTIVATIONS[activation]())
            if regularised and dropout:
                built_layers.append(Dropout(dropout, seed=(seed, len(built_layers))))
        return built_layers

    def __str__(self):
        mixed = len(set(self.activations)) > 1
        activation = ",".join(self.activations) if mixed else "".join(self.activations[:1])
        output = f" (output {self.output_activation})" if self.output_activation else ""
        sizes = "-".join(["x".join(map(str, self.input_shape)), *map(str, self.layers)])
        return f"{sizes} {activation}".rstrip() + output


def whole_numbers(sizes) -> tuple[int, ...]:
    """Layer sizes as ints, refusing what int() would silently truncate (12.7) or misread (True)."""
    sizes = tuple(sizes)
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"layer sizes are whole numbers; got {size!r} ({type(size).__name__}) in {sizes}")
    return tuple(int(size) for size in sizes)
