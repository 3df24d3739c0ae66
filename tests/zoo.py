"""The bug zoo: mistakes people really make in backprop code, each a small subclass of a scratch
layer, loss or optimizer overriding one method. The tests check that the equivalence suite and
reference.gradcheck catch every one, and name the right part. Never imported by the packages.
"""

import numpy as np

from scratch_nn import (
    SGD,
    Linear,
    ProbabilityCrossEntropy,
    QuadraticLoss,
    ReLU,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
)
from scratch_nn.layers import require_cache
from scratch_nn.losses import one_hot

# Linear -----------------------------------------------------------------------------------------

class LinearTransposedWeightGrad(Linear):
    """dL/dW as x^T G, (in, out): the transpose of the weight's layout."""

    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grads["weight"] = self._cache.T @ grad_output
        return grad_input


class LinearWeightGradDividedByBatch(Linear):
    """dL/dW divided by the batch size, though the loss's gradient already carries the 1/n."""

    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grads["weight"] = self.grads["weight"] / len(grad_output)
        return grad_input


class LinearBiasGradAveraged(Linear):
    """The bias gradient averaged over the batch instead of summed: with the loss's 1/n already in
    G, this scales it by the batch size twice (the paper's hazard)."""

    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grads["bias"] = grad_output.mean(axis=0)
        return grad_input


class LinearUpdatesBeforeGradInput(Linear):
    """The paper's hazard: backward applies the SGD update to its weight in place, then computes
    dL/dx with the updated weight."""

    lr = 0.5

    def backward(self, grad_output):
        x = require_cache(self)
        self.grads = {"weight": grad_output.T @ x, "bias": grad_output.sum(axis=0)}
        self.params["weight"] -= self.lr * self.grads["weight"]
        return grad_output @ self.params["weight"]


class LinearStaleCache(Linear):
    """Caches its input on the first forward call only; later batches backpropagate through it."""

    def forward(self, x):
        cached = self._cache
        output = super().forward(x)
        if cached is not None:
            self._cache = cached
        return output


class LinearForwardUntransposed(Linear):
    """y = x W + b with W stored (out, in): only a square layer gets through without a shape error."""

    def forward(self, x):
        self._cache = x
        return x @ self.params["weight"] + self.params["bias"]


# Activations ------------------------------------------------------------------------------------

class SigmoidDerivativeAtOutput(Sigmoid):
    """sigmoid'(sigmoid(x)): the derivative formula applied to the cached output."""

    def backward(self, grad_output):
        s = 1 / (1 + np.exp(-require_cache(self)))
        return grad_output * s * (1 - s)


class TanhDerivativeWithoutSquare(Tanh):
    """1 - tanh(x) for the derivative, where 1 - tanh(x)^2 belongs."""

    def backward(self, grad_output):
        return grad_output * (1 - require_cache(self))


class ReLUDerivativeOneAtZero(ReLU):
    """The mask x >= 0: the gradient passes at exactly 0, where PyTorch takes the derivative as 0."""

    def backward(self, grad_output):
        return np.where(require_cache(self) >= 0, grad_output, 0).astype(grad_output.dtype)


class ReLUMaskFromOutput(ReLU):
    """Caches the output and masks with output >= 0, which every ReLU output is: the gradient
    passes through negative inputs."""

    def forward(self, x):
        output = super().forward(x)
        self._cache = output
        return output

    def backward(self, grad_output):
        return np.where(require_cache(self) >= 0, grad_output, 0).astype(grad_output.dtype)


# Losses -----------------------------------------------------------------------------------------

class SoftmaxWithoutMaxShift(SoftmaxCrossEntropy):
    """softmax as e^z / sum e^z, with no row maximum subtracted: e^z overflows at large logits
    (e^710 in float64, e^89 in float32), as after a few steps at a large learning rate."""

    def forward(self, logits, target):
        targets = one_hot(target, logits)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        self._cache = (probs, targets)
        return -(targets * np.log(probs)).sum() / logits.dtype.type(self._divisor(len(logits)))


class CrossEntropyGradNotDividedByBatch(SoftmaxCrossEntropy):
    """dL/dz = softmax(z) - t, without the 1/n of the mean."""

    def _gradient(self, probs, targets):
        return probs - targets


class QuadraticLossFactorTwo(QuadraticLoss):
    """dL/da = 2(a - t)/n: the derivative of (a - t)^2, though the loss carries a 1/2."""

    def _gradient(self, residual):
        return 2 * super()._gradient(residual)


class QuadraticLossSignFlipped(QuadraticLoss):
    """dL/da = (t - a)/n: the residual taken the other way round."""

    def _gradient(self, residual):
        return -super()._gradient(residual)


# A Softmax layer and the cross-entropy of its probabilities --------------------------------------

class SoftmaxJacobianDiagonal(Softmax):
    """dL/dx = s (1 - s) G: the Jacobian's diagonal alone, as if each output depended on its own
    input only (a sigmoid's derivative, carried over)."""

    def backward(self, grad_output):
        s = require_cache(self)
        return grad_output * s * (1 - s)


class SoftmaxLayerWithoutMaxShift(Softmax):
    """e^x / sum e^x, with no row maximum subtracted: overflows at large logits."""

    def forward(self, x):
        e = np.exp(x)
        self._cache = e / e.sum(axis=1, keepdims=True)
        return self._cache


class ProbabilityCrossEntropyGradNotDividedByBatch(ProbabilityCrossEntropy):
    """dL/dp = -t/p, without the 1/n of the mean."""

    def _gradient(self, probs, targets):
        return -targets / probs


class ProbabilityCrossEntropyGradDividedTwice(ProbabilityCrossEntropy):
    """-t/(n p) divided by n once more: the mean taken in the gradient and again on top."""

    def _gradient(self, probs, targets):
        return super()._gradient(probs, targets) / len(probs)


# Optimizers -------------------------------------------------------------------------------------

class SGDAscends(SGD):
    """theta += lr g."""

    def step(self):
        for layer in self.network.layers:
            for name, param in layer.params.items():
                param += self.lr * layer.grads[name]


class SGDLearningRateTwice(SGD):
    """theta -= lr (lr g): the learning rate folded into the gradient, then applied again."""

    def step(self):
        for layer in self.network.layers:
            for name, param in layer.params.items():
                param -= self.lr * (self.lr * layer.grads[name])


class SGDSkipsBiases(SGD):
    """Updates the weights only: the biases never move."""

    def step(self):
        for layer in self.network.layers:
            if "weight" in layer.params:
                layer.params["weight"] -= self.lr * layer.grads["weight"]
