"""The layers of a multilayer perceptron, each with a forward and a backward pass.

Conventions, the same as torch.nn so that the two can be compared number for number:

- A batch is a 2-D array with one example per row: x has shape (n, features).
- Linear stores its weight as (out_features, in_features) and computes y = x W^T + b.
- ``forward(x)`` remembers what ``backward`` needs from that call (and only that call).
- ``backward(grad_output)`` receives dL/dy for the output of the last forward call and returns
  dL/dx. Parameter gradients are left in ``layer.grads`` under the same names as
  ``layer.params``; they are overwritten, not accumulated, on every backward call.
  ``backward(grad_output, input_grad=False)`` leaves the same parameter gradients but skips
  dL/dx and returns None: a network's first layer needs no input gradient to train (for
  784-128-10 it is a third of the backward pass's arithmetic).
- What backward will read cannot change under it (torch refuses a backward after such a change;
  it would compute the gradient at other numbers). Sigmoid, Tanh and Softmax keep their output
  and return it read-only, so an in-place change raises NumPy's "read-only" ValueError; Linear
  and ReLU keep their input as it is if nothing can write to it, else as a read-only copy, so a
  change to the caller's array leaves backward unaffected. Pass read-only inputs
  (x.flags.writeable = False) to skip the copy; a sigmoid's, tanh's or softmax's output is one
  already.
- The dtype of the parameters and of the input decide the arithmetic: nothing is upcast, and an
  input whose dtype differs from the parameters' is refused.
"""

import numpy as np


class Layer:
    """Base class: a layer with no parameters. Subclasses implement forward and backward."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._cache = None  # what forward saved for backward: the input or the output

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_output: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class Linear(Layer):
    """Fully connected layer, y = x W^T + b.

    With upstream gradient G = dL/dy of shape (n, out):
        dL/dW = G^T x      (out, in): one outer product per example, summed over the batch
        dL/db = sum_i G_i  (out,):    summed, not averaged; the loss already divides by n
        dL/dx = G W        (n, in)
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        super().__init__()
        if weight.ndim != 2 or bias.shape != weight.shape[:1]:
            raise ValueError(
                f"Linear needs a weight of shape (out, in) and a bias of shape (out,); "
                f"got weight {weight.shape} and bias {bias.shape}"
            )
        if weight.dtype != bias.dtype:
            raise TypeError(f"Linear weight is {weight.dtype} but bias is {bias.dtype}; give both one dtype")
        self.params = {"weight": weight, "bias": bias}

    @property
    def in_features(self) -> int:
        return self.params["weight"].shape[1]

    @property
    def out_features(self) -> int:
        return self.params["weight"].shape[0]

    def forward(self, x):
        weight, bias = self.params["weight"], self.params["bias"]
        check_batch(self, x, weight.dtype, self.in_features)
        self._cache = read_only_input(x)
        output = x @ weight.T
        output += bias  # in place: the same sums as x @ weight.T + bias, one array fewer
        return output

    def backward(self, grad_output, input_grad=True):
        x = require_cache(self)
        check_grad_output(self, grad_output, (x.shape[0], self.out_features), x.dtype)
        self.grads = {"weight": grad_output.T @ x, "bias": grad_output.sum(axis=0)}
        return grad_output @ self.params["weight"] if input_grad else None

    def __repr__(self):
        return f"{type(self).__name__}(in_features={self.in_features}, out_features={self.out_features})"


class Sigmoid(Layer):
    """sigma(x) = 1 / (1 + e^-x);  dL/dx = G * (1 - sigma(x)) * sigma(x), from the cached output.

    With e = e^-|x|, which never overflows (e^400 would, at x = -400 in float32):
    sigma(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, one division either way.
    The numerator is max(e, [x >= 0]), as 0 <= e <= 1: np.where or a masked copy measured 4x slower.
    """

    def forward(self, x):
        check_batch(self, x)
        e = np.abs(x)  # then in place: one new array besides the denominator and the mask
        np.negative(e, out=e)
        np.exp(e, out=e)
        denominator = e + 1
        np.maximum(e, x >= 0, out=e)  # the numerator: 1 where x >= 0, e = e^x where x < 0
        np.divide(e, denominator, out=e)
        self._cache = read_only(e)
        return self._cache

    def backward(self, grad_output, input_grad=True):
        s = require_cache(self)
        check_grad_output(self, grad_output, s.shape, s.dtype)
        if not input_grad:
            return None
        # Same grouping as PyTorch's sigmoid_backward, (G * (1 - s)) * s, in one new array.
        grad_input = 1 - s
        grad_input *= grad_output
        grad_input *= s
        return grad_input


class Tanh(Layer):
    """tanh(x);  dL/dx = G * (1 - tanh(x)^2), from the cached output."""

    def forward(self, x):
        check_batch(self, x)
        self._cache = read_only(np.tanh(x))
        return self._cache

    def backward(self, grad_output, input_grad=True):
        t = require_cache(self)
        check_grad_output(self, grad_output, t.shape, t.dtype)
        if not input_grad:
            return None
        grad_input = t * t
        np.subtract(1, grad_input, out=grad_input)
        grad_input *= grad_output
        return grad_input


class ReLU(Layer):
    """max(0, x);  dL/dx = G where x > 0, else 0.

    At exactly x = 0 the derivative is taken as 0, PyTorch's convention (threshold_backward).
    np.where, not G * mask, so that a NaN or Inf upstream never leaks through a closed unit.
    """

    def forward(self, x):
        check_batch(self, x)
        self._cache = read_only_input(x)
        return np.where(x > 0, x, np.zeros((), x.dtype))

    def backward(self, grad_output, input_grad=True):
        x = require_cache(self)
        check_grad_output(self, grad_output, x.shape, x.dtype)
        return np.where(x > 0, grad_output, np.zeros((), x.dtype)) if input_grad else None


class Softmax(Layer):
    """softmax(x)_c = e^(x_c - m) / sum_k e^(x_k - m) along each row (axis 1, torch's dim=1),
    m the row's maximum: softmax is unchanged by the shift, and without it e^1000 overflows to
    Inf and the output becomes NaN (e^x - m <= 1, so the sum lies in [1, classes]).

    The Jacobian of one row is ds_c/dx_k = s_c ([c = k] - s_k), so with G = dL/ds, per row,

        dL/dx = s * (G - sum_k G_k s_k)

    the Jacobian-vector product, from the cached output, without building the classes x classes
    matrix (torch's softmax_backward, the same grouping). Its diagonal alone, s * (1 - s) * G,
    is the classic mistake: it drops the -s_c s_k terms through which every output depends on
    every input.
    """

    def forward(self, x):
        check_batch(self, x)
        if x.shape[1] == 0:  # the row maximum of nothing: NumPy's error would not say why
            raise ValueError(f"{self!r} takes a probability over at least one class per row; got input of shape "
                             f"{x.shape}. Give it the output layer's scores, shape (batch, classes).")
        e = x - x.max(axis=1, keepdims=True)
        np.exp(e, out=e)
        e /= e.sum(axis=1, keepdims=True)
        self._cache = read_only(e)
        return self._cache

    def backward(self, grad_output, input_grad=True):
        s = require_cache(self)
        check_grad_output(self, grad_output, s.shape, s.dtype)
        if not input_grad:
            return None
        grad_input = grad_output - (grad_output * s).sum(axis=1, keepdims=True)
        grad_input *= s
        return grad_input


def read_only(array: np.ndarray) -> np.ndarray:
    """An array this layer made and keeps for backward, marked read-only."""
    array.flags.writeable = False
    return array


def read_only_input(x: np.ndarray) -> np.ndarray:
    """x itself if neither it nor any array it views is writeable, else a read-only copy."""
    base = x
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return read_only(x.copy())
        base = base.base
    return x


def check_batch(layer, x, dtype=None, features=None):
    """Refuse what would otherwise broadcast or upcast silently into wrong numbers. A layer that
    names its features takes (batch, features); an elementwise one (features None) any (batch, ...)."""
    if not isinstance(x, np.ndarray) or x.ndim < 2 or (features is not None and x.ndim != 2):
        shape = getattr(x, "shape", type(x).__name__)
        raise ValueError(f"{layer!r} expects a 2-D array (batch, features); got {shape}. "
                         f"Flatten images first, e.g. x.reshape(len(x), -1).")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{layer!r} computes in float32 or float64; got {x.dtype}. Use x.astype(np.float32).")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{layer!r} has {dtype} parameters but got a {x.dtype} input; nothing is converted "
                        f"silently: pass x.astype(np.{dtype}) or build the network with dtype=np.{x.dtype}.")
    if features is not None and x.shape[1] != features:
        raise ValueError(f"{layer!r} expects {features} features per example; got input of shape {x.shape}.")


def check_grad_output(layer, grad_output, shape, dtype):
    if getattr(grad_output, "shape", None) != shape or grad_output.dtype != dtype:
        got = (getattr(grad_output, "shape", None), getattr(grad_output, "dtype", type(grad_output).__name__))
        raise ValueError(f"{layer!r}.backward expects a gradient of shape {shape} and dtype {dtype}, "
                         f"matching its last output; got shape {got[0]}, dtype {got[1]}.")


def require_cache(layer):
    if layer._cache is None:
        raise RuntimeError(f"{layer!r}.backward was called before forward: there is nothing to differentiate.")
    return layer._cache


class LeakyReLU(Layer):
    """x where x > 0, else negative_slope * x;  dL/dx = G where x > 0, else negative_slope * G.

    At exactly x = 0 the derivative is taken as negative_slope, PyTorch's convention
    (leaky_relu_backward: x > 0 ? G : G * negative_slope).
    """

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        check_batch(self, x)
        self._cache = read_only_input(x)
        return np.where(x > 0, x, x * self.negative_slope)

    def backward(self, grad_output, input_grad=True):
        x = require_cache(self)
        check_grad_output(self, grad_output, x.shape, x.dtype)
        return np.where(x > 0, grad_output, grad_output * self.negative_slope) if input_grad else None

    def __repr__(self):
        return f"{type(self).__name__}(negative_slope={self.negative_slope})"
