"""Layers and losses whose methods are not called forward and backward, as people write them:

- the call style: Dense(n_in, n_out) and ReLU called as layer(x), with backward(dout) using what the
  call cached; a loss called as loss(logits, labels) (the batch mean) with a stateless grad(logits, labels);
- the fprop style: Linear(n_in, n_out) with W (out, in), fprop(x) and bprop(dout) leaving dW, db;
  Sigmoid with fprop/bprop; a loss with compute(logits, one_hot) and derivative(logits, one_hot);
- the activate style: activations with activate(z) and derivative(z) (f'(z) at the input) or
  derivative(a) (f' from the output a = f(z)), multiplied by the upstream gradient by the caller.

Each style's network(sizes, seed, ...) returns (layers, loss) with the given parts swapped in; MUTANTS
maps a mistake to (role, replacement, the part it is caught at, its signature).
"""

import numpy as np

# The call style --------------------------------------------------------------------------------

class Dense:
    def __init__(self, n_in, n_out, rng=None):
        rng = rng or np.random.default_rng(0)
        self.W = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        self.b = np.zeros(n_out)

    def __call__(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dout @ self.W.T

    def parameters(self):
        return [self.W, self.b]


class ReLU:
    def __call__(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class CrossEntropyLoss:
    def __call__(self, logits, labels):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -log_probs[np.arange(len(labels)), labels].mean()

    def grad(self, logits, labels):
        exps = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = exps / exps.sum(axis=1, keepdims=True)
        probs[np.arange(len(labels)), labels] -= 1
        return probs / len(labels)


def call_network(sizes=(784, 32, 10), seed=0, dense=Dense, activation=ReLU, loss=CrossEntropyLoss):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [dense(fan_in, fan_out, rng), activation()]
    return layers[:-1], loss()


class DenseBiasAveraged(Dense):
    def backward(self, dout):
        grad = super().backward(dout)
        self.db = dout.mean(axis=0)
        return grad


class CrossEntropyGradientSummed(CrossEntropyLoss):
    def grad(self, logits, labels):
        return super().grad(logits, labels) * len(labels)


class DenseTwoBackwards(Dense):
    """A refactor left half done: backprop is the old backward, with the bias gradient averaged."""

    def backprop(self, dout):
        grad = self.backward(dout)
        self.db = dout.mean(axis=0)
        return grad


# The fprop style -------------------------------------------------------------------------------

class Linear:
    def __init__(self, n_in, n_out, rng=None):
        rng = rng or np.random.default_rng(0)
        self.W = 0.1 * rng.standard_normal((n_out, n_in))
        self.b = np.zeros(n_out)

    def fprop(self, x):
        self.x = x
        return x @ self.W.T + self.b

    def bprop(self, dout):
        self.dW = dout.T @ self.x
        self.db = dout.sum(axis=0)
        return dout @ self.W


class Sigmoid:
    def fprop(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def bprop(self, dout):
        return dout * self.out * (1 - self.out)


class SoftmaxCrossEntropy:
    def compute(self, logits, one_hot):
        shifted = logits - logits.max(axis=1, keepdims=True)
        return np.mean(np.log(np.exp(shifted).sum(axis=1)) - (shifted * one_hot).sum(axis=1))

    def derivative(self, logits, one_hot):
        exps = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exps / exps.sum(axis=1, keepdims=True) - one_hot) / len(logits)


def fprop_network(sizes=(784, 32, 10), seed=0, linear=Linear, activation=Sigmoid, loss=SoftmaxCrossEntropy):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [linear(fan_in, fan_out, rng), activation()]
    return layers[:-1], loss()


class LinearTransposedGradient(Linear):
    def bprop(self, dout):
        grad = super().bprop(dout)
        self.dW = self.x.T @ dout
        return grad


class SigmoidDerivativeAtOutput(Sigmoid):
    def bprop(self, dout):
        s = 1 / (1 + np.exp(-self.out))
        return dout * s * (1 - s)


# The activate style ----------------------------------------------------------------------------

class Logistic:
    def activate(self, z):
        return 1 / (1 + np.exp(-z))

    def derivative(self, z):
        s = self.activate(z)
        return s * (1 - s)


class Tanh:
    def activate(self, z):
        return np.tanh(z)

    def derivative(self, a):
        return 1 - a ** 2


class TanhDerivativeOneMinus(Tanh):
    def derivative(self, a):
        return 1 - a


MUTANTS = {  # mistake: (style, role, replacement, part caught at (layer index or "loss"), signature)
    "call: bias gradient averaged": ("call", "dense", DenseBiasAveraged, 0, "bias gradient averaged"),
    "call: loss gradient summed": ("call", "loss", CrossEntropyGradientSummed, "loss", "batch size too big"),
    "fprop: weight gradient transposed": ("fprop", "linear", LinearTransposedGradient, 0,
                                          "transposed weight gradient"),
    "fprop: sigmoid derivative at its output": ("fprop", "activation", SigmoidDerivativeAtOutput, 1,
                                                "derivative at the output"),
}
