"""A network in the textbook style: weights stored (in, out) and used as x @ W + b, a stateless
backward(x, grad) that updates the weights itself, a loss that returns one value per example."""

import numpy as np


class Linear:
    def __init__(self, input_nodes, output_nodes, learning_rate=0.1, rng=None):
        rng = rng or np.random.default_rng(0)
        self.weights = rng.uniform(-0.1, 0.1, (input_nodes, output_nodes))
        self.biases = np.zeros((1, output_nodes))
        self.learning_rate = learning_rate

    def forward(self, x):
        return x @ self.weights + self.biases

    def backward(self, x, prev_grad):
        grad = prev_grad @ self.weights.T
        self.weights -= self.learning_rate * x.T @ prev_grad
        self.biases -= self.learning_rate * prev_grad.sum(axis=0)
        return grad


class Sigmoid:
    def forward(self, x):
        return 1 / (1 + np.exp(-x))

    def backward(self, x, prev_grad):
        s = self.forward(x)
        return prev_grad * s * (1 - s)


class ReLU:
    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, x, prev_grad):
        return prev_grad * (x > 0)


class CrossEntropy:
    def forward(self, logits, one_hot):
        shifted = logits - logits.max(axis=1, keepdims=True)
        return np.log(np.exp(shifted).sum(axis=1)) - (shifted * one_hot).sum(axis=1)

    def backward(self, logits, one_hot):
        exps = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exps / exps.sum(axis=1, keepdims=True) - one_hot) / len(logits)


def build(sizes, activations, lr, seed):
    rng = np.random.default_rng(seed)
    layers = [Linear(sizes[0], sizes[1], lr, rng)]
    for name, fan_in, fan_out in zip(activations, sizes[1:], sizes[2:]):
        layers += [{"sigmoid": Sigmoid, "relu": ReLU}[name](), Linear(fan_in, fan_out, lr, rng)]
    return layers, CrossEntropy()
