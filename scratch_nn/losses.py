"""Loss functions: a scalar loss from the network's output and the targets, and its gradient.

``forward(output, target)`` returns the loss as a NumPy scalar of the output's dtype;
``backward()`` returns dL/d(output) for that call. Targets are either integer class labels of
shape (n,) or per-class targets of shape (n, classes) (one-hot rows, or any probabilities),
in the output's dtype.

``reduction="mean"`` divides by the batch size n (the default, as in the paper and in PyTorch);
``reduction="sum"`` does not.
"""

import numpy as np

from .layers import read_only_input

REDUCTIONS = ("mean", "sum")


class Loss:
    def __init__(self, reduction: str = "mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
        self.reduction = reduction
        self._cache = None

    def _divisor(self, n: int) -> int:
        return n if self.reduction == "mean" else 1

    def backward(self) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self!r}.backward was called before forward: there is no loss to differentiate.")
        return self._gradient(*self._cache)

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by the cross-entropy, on raw scores (logits) z:

        L = -(1/n) sum_i sum_c t_ic log softmax(z_i)_c      (t one-hot: -(1/n) sum_i log p_i,y_i)
        dL/dz = (softmax(z) - t) / n

    log softmax is taken through the log-sum-exp with the row maximum m shifted out,
    log softmax(z)_c = z_c - m - log sum_k e^(z_k - m), so that logits of +-1000 stay finite:
    without the shift e^1000 overflows to Inf and the loss becomes NaN. This is
    torch.nn.CrossEntropyLoss (class-index or class-probability targets).
    """

    def forward(self, logits, target):
        check_output(logits)
        targets = one_hot(target, logits)
        log_probs = logits - logits.max(axis=1, keepdims=True)  # the shift; then, in place, log softmax
        exp = np.exp(log_probs)
        log_probs -= np.log(exp.sum(axis=1, keepdims=True))
        if is_labels(target):  # pick the one log-probability per row; no 0 * (-big) products
            picked = log_probs[np.arange(len(target)), target]
        else:
            picked = (targets * log_probs).sum(axis=1)
        # softmax as e^(log softmax), as torch's log_softmax backward computes it (same rounding)
        self._cache = (np.exp(log_probs, out=exp), targets)
        return -picked.sum() / logits.dtype.type(self._divisor(len(logits)))

    def _gradient(self, probs, targets):
        gradient = probs - targets
        gradient /= probs.dtype.type(self._divisor(len(probs)))
        return gradient


class QuadraticLoss(Loss):
    """The paper's mean squared error on the network's output a (e.g. after a final sigmoid):

        L = 1/(2n) sum_i ||t_i - a_i||^2          dL/da = (a - t) / n

    Not torch.nn.MSELoss, which averages over all n * classes entries and has no 1/2; the
    PyTorch twin expresses this exact form (sum of squares, divided by 2n).
    """

    def forward(self, output, target):
        check_output(output)
        targets = one_hot(target, output)
        residual = output - targets
        self._cache = (residual,)
        return (residual * residual).sum() / output.dtype.type(2 * self._divisor(len(output)))

    def _gradient(self, residual):
        return residual / residual.dtype.type(self._divisor(len(residual)))


class ProbabilityCrossEntropy(Loss):
    """The cross-entropy of probabilities p, e.g. a Softmax layer's output (not of logits):

        L = -(1/n) sum_i sum_c t_ic log p_ic      (t one-hot: -(1/n) sum_i log p_i,y_i)
        dL/dp = -t / (n p)

    Behind a Softmax layer, whose backward multiplies by its Jacobian, this gives back
    dL/dz = (softmax(z) - t) / n, what SoftmaxCrossEntropy computes in one step; written as two
    parts, each is checked alone. Every p must be above 0: log 0 = -inf, and -t/p is not finite
    (a float64 softmax underflows to 0 only for logits 745 below the row's largest; the logits'
    loss, which never takes log p, has no such limit). The PyTorch twin computes the same formula
    (torch.nn.NLLLoss takes log-probabilities, not probabilities).
    """

    def forward(self, probs, target):
        check_output(probs)
        targets = one_hot(target, probs)
        if not (probs > 0).all():
            row, col = np.argwhere(~(probs > 0))[0]
            raise ValueError(f"the cross-entropy of probabilities got output[{row}, {col}] = {probs[row, col]}, "
                             f"and log p needs p > 0: give it a Softmax's output, or, where the softmax "
                             f"underflows to 0, drop the Softmax and use cross_entropy on the logits")
        self._cache = (read_only_input(probs), targets)
        # every log p is finite (p > 0), so a label's one-hot row picks its own exactly: 0 * log p is 0
        return -(targets * np.log(probs)).sum() / probs.dtype.type(self._divisor(len(probs)))

    def _gradient(self, probs, targets):
        gradient = targets / probs
        gradient /= probs.dtype.type(-self._divisor(len(probs)))
        return gradient


class BinaryCrossEntropy(Loss):
    """The cross-entropy of one sigmoid output unit a (n, 1) against labels t in {0, 1}:

        L = -(1/n) sum_i [t_i log a_i + (1 - t_i) log(1 - a_i)]      dL/da = (a - t) / (n a (1 - a))

    Behind a Sigmoid layer, whose backward multiplies by a (1 - a), this gives back dL/dz = (a - t) / n.
    Targets: labels (n,) of 0 and 1 (integers), or (n, 1) in the output's dtype. Every a must lie
    strictly between 0 and 1: log 0 is -inf (a float64 sigmoid rounds to 1 for z above about 37).
    This is torch.nn.BCELoss.
    """

    def forward(self, probs, target):
        check_output(probs)
        if probs.shape[1] != 1:
            raise ValueError(f"binary cross-entropy takes one output unit, (n, 1); got {probs.shape}: give the "
                             f"network one output with a sigmoid, or use cross_entropy for {probs.shape[1]} classes")
        targets = one_hot(target, np.zeros((len(probs), 2), probs.dtype))[:, 1:] if is_labels(target) \
            else one_hot(target, probs)
        if not ((probs > 0) & (probs < 1)).all():
            row = int(np.argmax(~((probs > 0) & (probs < 1))))
            # a FloatingPointError, as for an output not finite: a sigmoid saturates only when training blows up
            raise FloatingPointError(f"binary cross-entropy got output[{row}, 0] = {probs[row, 0]}, and log a, "
                                     f"log(1 - a) need 0 < a < 1: give it a sigmoid's output, not saturated")
        self._cache = (read_only_input(probs), targets)
        values = targets * np.log(probs) + (1 - targets) * np.log(1 - probs)  # as torch computes it
        return -values.sum() / probs.dtype.type(self._divisor(len(probs)))

    def _gradient(self, probs, targets):
        gradient = (probs - targets) / (probs * (1 - probs))
        gradient /= probs.dtype.type(self._divisor(len(probs)))
        return gradient


LOSSES = {"cross_entropy": SoftmaxCrossEntropy, "mse": QuadraticLoss,
          "probability_cross_entropy": ProbabilityCrossEntropy, "binary_cross_entropy": BinaryCrossEntropy}


def is_labels(target) -> bool:
    return isinstance(target, np.ndarray) and target.ndim == 1


def check_output(output):
    """Refuse an output the loss cannot be taken of: not a 2-D float array, empty, or not finite."""
    if not isinstance(output, np.ndarray) or output.ndim != 2:
        raise ValueError(f"the loss expects a 2-D output (batch, classes); got "
                         f"{getattr(output, 'shape', type(output).__name__)}")
    if output.dtype not in (np.float32, np.float64):
        raise TypeError(f"the loss computes in float32 or float64; got a {output.dtype} output. "
                        f"Use output.astype(np.float32).")
    if len(output) == 0:
        raise ValueError("the loss got an empty batch (0 examples), whose mean is undefined; "
                         "give at least one example")
    if not np.isfinite(output).all():
        row, col = np.argwhere(~np.isfinite(output))[0]
        raise FloatingPointError(f"the network output is not finite (output[{row}, {col}] = {output[row, col]}): "
                                 f"the forward pass overflowed; lower the learning rate or check the inputs")


def one_hot(target, output):
    """Targets as an (n, classes) array in the output's dtype, after checking they fit the output:
    class labels become one-hot rows, per-class rows are returned as they are. The output itself
    is checked by check_output."""
    n, classes = output.shape
    if not isinstance(target, np.ndarray):
        raise TypeError(f"targets must be a NumPy array; got {type(target).__name__}")
    if is_labels(target):
        if not np.issubdtype(target.dtype, np.integer):
            raise TypeError(f"class labels must be integers; got {target.dtype}. Use labels.astype(np.int64).")
        if len(target) != n:
            raise ValueError(f"got {len(target)} labels for a batch of {n} outputs")
        bad = (target < 0) | (target >= classes)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"label {target[i]} at position {i} is out of range: the output has {classes} "
                             f"classes, so labels must lie in 0..{classes - 1}")
        targets = np.zeros_like(output)
        targets[np.arange(n), target] = 1
        return targets
    if target.shape != output.shape:
        raise ValueError(f"targets must be labels of shape ({n},) or one-hot rows of shape {output.shape}; "
                         f"got {target.shape}")
    if target.dtype != output.dtype:
        raise TypeError(f"one-hot targets are {target.dtype} but the output is {output.dtype}; "
                        f"convert them with target.astype(np.{output.dtype})")
    if not np.isfinite(target).all():
        raise ValueError("the targets contain NaN or Inf")
    return target
