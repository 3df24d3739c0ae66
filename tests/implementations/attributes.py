"""The attribute style: Dense(n_inputs, n_neurons) with self.W (in, out) and self.b (1, out);
forward(inputs) remembers its input and leaves self.output, returning nothing; backward(dvalues)
stores self.dW, self.db and self.dinputs and returns nothing; the loss (labels, mean over the
batch) remembers its probabilities and backward() returns dL/dlogits."""

import numpy as np


class Dense:
    def __init__(self, n_inputs, n_neurons, rng=None):
        rng = rng or np.random.default_rng(0)
        self.W = 0.1 * rng.standard_normal((n_inputs, n_neurons))
        self.b = np.zeros((1, n_neurons))

    def forward(self, inputs):
        self.inputs = inputs
        self.output = inputs @ self.W + self.b

    def backward(self, dvalues):
        self.dW = self.inputs.T @ dvalues
        self.db = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = dvalues @ self.W.T


class Tanh:
    def forward(self, inputs):
        self.output = np.tanh(inputs)

    def backward(self, dvalues):
        self.dinputs = dvalues * (1 - self.output ** 2)


class SoftmaxCrossEntropyLoss:
    def forward(self, logits, y_true):
        exps = np.exp(logits - np.max(logits, axis=1, keepdims=True))
        self.probs = exps / np.sum(exps, axis=1, keepdims=True)
        self.y_true = y_true
        return -np.mean(np.log(self.probs[np.arange(len(y_true)), y_true]))

    def backward(self):
        dinputs = self.probs.copy()
        dinputs[np.arange(len(self.y_true)), self.y_true] -= 1
        return dinputs / len(dinputs)


def network(sizes=(784, 32, 10), seed=0, dense=Dense, activation=Tanh, loss=SoftmaxCrossEntropyLoss):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [dense(fan_in, fan_out, rng), activation()]
    return layers[:-1], loss()


# Mistakes made in this style -----------------------------------------------------------------

class DenseTransposedGradient(Dense):
    def backward(self, dvalues):
        super().backward(dvalues)
        self.dW = dvalues.T @ self.inputs


class TanhWithoutSquare(Tanh):
    def backward(self, dvalues):
        self.dinputs = dvalues * (1 - self.output)


class LossNotAveraged(SoftmaxCrossEntropyLoss):
    def backward(self):
        dinputs = self.probs.copy()
        dinputs[np.arange(len(self.y_true)), self.y_true] -= 1
        return dinputs


MUTANTS = {
    "transposed weight gradient": ("dense", DenseTransposedGradient, 0, "transposed weight gradient"),
    "tanh derivative 1 - tanh": ("activation", TanhWithoutSquare, 1, "tanh derivative 1 - tanh"),
    "loss gradient not divided by n": ("loss", LossNotAveraged, "loss", "batch size too big"),
}
