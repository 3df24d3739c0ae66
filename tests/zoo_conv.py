"""The convolutional bug zoo: mistakes people really make writing Conv2d and MaxPool2d by hand,
each a small subclass overriding one thing. tests/test_conv.py checks that compare_pass catches
every one and names the tensors it breaks. Never imported by the packages.
"""

from contextlib import contextmanager

import numpy as np

from scratch_nn import Conv2d, LeakyReLU, MaxPool2d
from scratch_nn.conv import at_offset
from scratch_nn.layers import require_cache

# Conv2d -----------------------------------------------------------------------------------------

@contextmanager
def flipped_kernel(layer):
    """The layer's weight flipped top-bottom and left-right while inside (the same array after)."""
    weight = layer.params["weight"]
    layer.params["weight"] = weight[:, :, ::-1, ::-1]
    try:
        yield
    finally:
        layer.params["weight"] = weight


class Conv2dFlipsKernel(Conv2d):
    """A true convolution (the kernel flipped, as in scipy.signal.convolve2d and the textbooks)
    where torch computes a cross-correlation; backward is consistent with the flipped forward."""

    def forward(self, x):
        with flipped_kernel(self):
            return super().forward(x)

    def backward(self, grad_output):
        with flipped_kernel(self):
            grad_input = super().backward(grad_output)
        self.grads["weight"] = self.grads["weight"][:, :, ::-1, ::-1]
        return grad_input


class Conv2dPadsOneSide(Conv2d):
    """All 2p zeros of padding on the bottom and right, none on the top and left (np.pad with
    (0, 2p)): the output has torch's size, but every value is shifted by p pixels."""

    def forward(self, x):
        (ph, pw), self.padding = self.padding, (0, 0)
        try:
            return super().forward(np.pad(x, ((0, 0), (0, 0), (0, 2 * ph), (0, 2 * pw))))
        finally:
            self.padding = (ph, pw)

    def backward(self, grad_output):
        _, _, hp, wp = require_cache(self)[1]
        (ph, pw), self.padding = self.padding, (0, 0)
        try:
            return super().backward(grad_output)[:, :, :hp - 2 * ph, :wp - 2 * pw]
        finally:
            self.padding = (ph, pw)


class Conv2dWeightGradReshapedNotTransposed(Conv2d):
    """dL/dW computed as X G^T, (in * kh * kw, out), then reshaped to (out, in, kh, kw) instead of
    transposed: the shape fits, the values are scrambled."""

    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        columns = require_cache(self)[0]
        grad = grad_output.reshape(*grad_output.shape[:2], -1)
        self.grads["weight"] = (columns @ grad.transpose(0, 2, 1)).sum(axis=0).reshape(self.params["weight"].shape)
        return grad_input


class Conv2dBiasGradOverBatchOnly(Conv2d):
    """The bias gradient summed over the batch, as for a Linear layer, then averaged over the
    output pixels to make the shape fit: every pixel of a channel uses the bias, so it is a sum."""

    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grads["bias"] = grad_output.sum(axis=0).mean(axis=(1, 2))
        return grad_input


# MaxPool2d --------------------------------------------------------------------------------------

def route(layer, grad_output, share):
    """dL/dx with share(window) (n, c, ho, wo) routed to window element (i, j), as MaxPool2d adds it up."""
    x, output = require_cache(layer)
    grad = np.zeros_like(x)
    for i, j in np.ndindex(*layer.kernel_size):
        at = at_offset(i, j, output.shape[2:], layer.stride)
        grad[at] += share(x[at], output, grad_output)
    return grad


class MaxPool2dGradToWholeWindow(MaxPool2d):
    """The upstream gradient copied to every element of the window, not only to its maximum."""

    def backward(self, grad_output):
        return route(self, grad_output, lambda x, out, g: g)


class MaxPool2dGradSpreadEvenly(MaxPool2d):
    """The upstream gradient divided evenly over the window, as average pooling would."""

    def backward(self, grad_output):
        return route(self, grad_output, lambda x, out, g: g / np.prod(self.kernel_size, dtype=g.dtype))


class MaxPool2dGradToEveryTiedMax(MaxPool2d):
    """The mask x == max(window): right without ties, but every tied maximum gets the full
    gradient (after a ReLU a window of zeros passes it to all its elements)."""

    def backward(self, grad_output):
        return route(self, grad_output, lambda x, out, g: np.where(x == out, g, 0).astype(g.dtype))


# LeakyReLU --------------------------------------------------------------------------------------

class LeakyReLUSlopeOneAtZero(LeakyReLU):
    """The mask x >= 0: the gradient passes whole at exactly 0, where torch uses negative_slope."""

    def backward(self, grad_output):
        x = require_cache(self)
        return np.where(x >= 0, grad_output, grad_output * self.negative_slope)
