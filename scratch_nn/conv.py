"""Layers for images: Conv2d, MaxPool2d, and the reshapes between images and feature rows.

Conventions, the same as torch.nn (and as layers.py for everything else):

- An image batch is a 4-D array (n, channels, height, width), torch's NCHW layout.
- Conv2d stores its weight as (out_channels, in_channels, kh, kw) and computes torch's
  cross-correlation: the kernel is not flipped.
- No Python loop runs over pixels: a convolution is a matrix product per example over im2col
  columns (numpy.lib.stride_tricks.sliding_window_view); loops run only over the kh * kw offsets
  within a window, each step one operation on every window at once (col2im, max-pooling).
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .layers import Layer, check_batch, check_grad_output, require_cache


def pair(value, what) -> tuple[int, int]:
    """An int or a (height, width) pair of ints, as torch takes kernel sizes, strides and padding."""
    values = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"{what} is an int or a (height, width) pair of ints; got {value!r}")
    return int(values[0]), int(values[1])


def check_images(layer, x, dtype=None, channels=None):
    """Refuse anything but a float (n, channels, height, width) batch in the layer's dtype."""
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"{layer!r} expects a 4-D array (batch, channels, height, width); got {shape}. "
                         f"Reshape rows of pixels first, e.g. x.reshape(len(x), 1, 28, 28).")
    check_batch(layer, x, dtype)  # the dtype checks, shared with every other layer
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{layer!r} expects {channels} input channels; got input of shape {x.shape}.")


def windows(x, kernel, stride):
    """Every kernel-sized window of x (n, c, h, w) at the given stride: a view (n, c, ho, wo, kh, kw)."""
    return sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::stride[0], ::stride[1]]


def at_offset(i, j, out_size, stride):
    """The index of element (i, j) of every window: x[at_offset(...)] is (n, c, ho, wo), one value a window."""
    return (..., slice(i, i + stride[0] * out_size[0], stride[0]), slice(j, j + stride[1] * out_size[1], stride[1]))


def output_size(layer, size, kernel, stride, padding=(0, 0)):
    """torch's output size per spatial dimension: floor((size + 2 padding - kernel) / stride) + 1."""
    out = tuple((s + 2 * p - k) // st + 1 for s, k, st, p in zip(size, kernel, stride, padding))
    if min(out) < 1:
        raise ValueError(f"{layer!r} gets a {size[0]}x{size[1]} image (padding {padding}), smaller than its "
                         f"{kernel[0]}x{kernel[1]} window: use a larger input, more padding or a smaller kernel.")
    return out


class Conv2d(Layer):
    """2-D cross-correlation over several channels, with stride and symmetric zero padding:

        y[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] * xp[n, c, s_h i + u, s_w j + v]

    where xp is x padded with p zeros on every side. With X_n the im2col matrix of example n (one
    row per (c, u, v), one column per output pixel (i, j)) and W as an (out, in * kh * kw) matrix,
    this is Y_n = W X_n + b: a Linear layer applied to every patch. So, with upstream gradient
    G_n = dL/dY_n (out, pixels):
        dL/dW = sum_n G_n X_n^T         (out, in * kh * kw), reshaped to (out, in, kh, kw)
        dL/db = sum over n, i, j of G   (out,)
        dL/dX_n = W^T G_n, each entry added back into the padded image at the pixel it was read
                from (col2im), then the padding cut off: that is dL/dx.
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray, stride=1, padding=0):
        super().__init__()
        if weight.ndim != 4 or bias.shape != weight.shape[:1]:
            raise ValueError(f"Conv2d needs a weight of shape (out, in, kh, kw) and a bias of shape (out,); "
                             f"got weight {weight.shape} and bias {bias.shape}")
        if weight.dtype != bias.dtype:
            raise TypeError(f"Conv2d weight is {weight.dtype} but bias is {bias.dtype}; give both one dtype")
        self.stride, self.padding = pair(stride, "stride"), pair(padding, "padding")
        if min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"Conv2d needs a stride of at least 1 and padding of at least 0; "
                             f"got stride {stride}, padding {padding}")
        self.params = {"weight": weight, "bias": bias}

    @property
    def out_channels(self) -> int:
        return self.params["weight"].shape[0]

    @property
    def in_channels(self) -> int:
        return self.params["weight"].shape[1]

    @property
    def kernel_size(self) -> tuple[int, int]:
        return self.params["weight"].shape[2:]

    def output_shape(self, shape):
        """(channels, height, width) out for (channels, height, width) in."""
        return (self.out_channels, *output_size(self, shape[1:], self.kernel_size, self.stride, self.padding))

    def forward(self, x):
        weight, bias = self.params["weight"], self.params["bias"]
        check_images(self, x, weight.dtype, self.in_channels)
        n, (ho, wo) = len(x), self.output_shape(x.shape[1:])[1:]
        (ph, pw) = self.padding
        padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        # im2col, one matrix per example: rows (c, u, v) in the weight's (in, kh, kw) order, columns
        # the output pixels (i, j). The product then comes out in (n, out, ho * wo): NCHW, contiguous.
        columns = windows(padded, self.kernel_size, self.stride).transpose(0, 1, 4, 5, 2, 3).reshape(n, -1, ho * wo)
        self._cache = (columns, padded.shape, (ho, wo))
        output = weight.reshape(self.out_channels, -1) @ columns + bias[:, None]
        return output.reshape(n, self.out_channels, ho, wo)

    def backward(self, grad_output):
        columns, padded_shape, (ho, wo) = require_cache(self)
        n, _, hp, wp = padded_shape
        weight = self.params["weight"]
        check_grad_output(self, grad_output, (n, self.out_channels, ho, wo), columns.dtype)
        grad = grad_output.reshape(n, self.out_channels, ho * wo)
        self.grads = {"weight": (grad @ columns.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape),
                      "bias": grad.sum(axis=(0, 2))}
        grad_columns = weight.reshape(self.out_channels, -1).T @ grad  # (n, in * kh * kw, ho * wo)
        # col2im: every column's gradient goes back to the pixel it was read from; windows overlap
        # wherever the stride is smaller than the kernel, so the contributions add up.
        grad_columns = grad_columns.reshape(n, self.in_channels, *self.kernel_size, ho, wo)
        grad_padded = np.zeros(padded_shape, columns.dtype)
        for i, j in np.ndindex(*self.kernel_size):
            grad_padded[at_offset(i, j, (ho, wo), self.stride)] += grad_columns[:, :, i, j]
        (ph, pw) = self.padding
        return grad_padded[:, :, ph:hp - ph, pw:wp - pw]

    def __repr__(self):
        padding = f", padding={self.padding}" if any(self.padding) else ""
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}{padding})")


class MaxPool2d(Layer):
    """The largest value of every kernel-sized window, taken at the given stride (default: the
    kernel size, so windows tile the image), per channel; no padding, rows and columns that do not
    fill a window are dropped (torch's floor mode).

        y[n, c, i, j] = max_{u, v} x[n, c, s i + u, s j + v]
        dL/dx = G routed to the argmax of each window only, 0 elsewhere; where windows overlap,
                the contributions add up.

    Ties (e.g. the zeros after a ReLU): the first maximum in the window in row-major order gets
    the gradient, as in torch. Both passes loop over the kh * kw offsets within a window, each
    step one vectorised operation over every window at once.
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError(f"MaxPool2d needs a kernel size and stride of at least 1; got {kernel_size}, {stride}")

    def output_shape(self, shape):
        return (shape[0], *output_size(self, shape[1:], self.kernel_size, self.stride))

    def forward(self, x):
        check_images(self, x)
        out_size = self.output_shape(x.shape[1:])[1:]
        output = x[at_offset(0, 0, out_size, self.stride)]
        for i, j in np.ndindex(*self.kernel_size):  # (0, 0) again too: the output is a copy, not a view of x
            output = np.maximum(output, x[at_offset(i, j, out_size, self.stride)])
        self._cache = (x, output)
        return output

    def backward(self, grad_output):
        x, output = require_cache(self)
        check_grad_output(self, grad_output, output.shape, x.dtype)
        grad = np.zeros_like(x)
        unclaimed = np.ones(output.shape, bool)
        zero = np.zeros((), x.dtype)
        for i, j in np.ndindex(*self.kernel_size):  # row-major: the first maximum claims the gradient
            at = at_offset(i, j, output.shape[2:], self.stride)
            first = unclaimed & (x[at] == output)
            unclaimed &= ~first
            grad[at] += np.where(first, grad_output, zero)
        return grad

    def __repr__(self):
        return f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride})"


class Flatten(Layer):
    """(n, c, h, w) -> (n, c * h * w), in C order, as torch.nn.Flatten; backward reshapes back."""

    def forward(self, x):
        check_batch(self, x)
        self._cache = (x.shape, x.dtype)
        return x.reshape(len(x), -1)

    def backward(self, grad_output):
        shape, dtype = require_cache(self)
        check_grad_output(self, grad_output, (shape[0], math.prod(shape[1:])), dtype)
        return grad_output.reshape(shape)


class Unflatten(Layer):
    """(n, c * h * w) -> (n, c, h, w), as torch.nn.Unflatten(1, (c, h, w)): rows of pixels, as
    MNIST comes, become images. Backward reshapes back."""

    def __init__(self, unflattened_size):
        super().__init__()
        self.unflattened_size = tuple(int(s) for s in unflattened_size)

    def forward(self, x):
        check_batch(self, x, features=math.prod(self.unflattened_size))
        self._cache = (x.shape, x.dtype)
        return x.reshape(len(x), *self.unflattened_size)

    def backward(self, grad_output):
        shape, dtype = require_cache(self)
        check_grad_output(self, grad_output, (shape[0], *self.unflattened_size), dtype)
        return grad_output.reshape(shape)

    def __repr__(self):
        return f"Unflatten(unflattened_size={self.unflattened_size})"
