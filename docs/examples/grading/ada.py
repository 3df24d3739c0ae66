"""The textbook style: Linear(input_nodes, output_nodes, learning_rate), weights (in, out) used as
x @ W + b; backward(x, prev_grad) is stateless (it is handed the layer's input), computes dL/dx,
updates the weights itself and returns dL/dx; a loss whose forward(logits, one_hot) returns the
per-example losses and whose backward(logits, one_hot) returns the gradient of their mean."""

import numpy as np


class Linear:
    def __init__(self, input_nodes, output_nodes, learning_rate, rng=None):
        rng = rng or np.random.default_rng(0)
        self.weights = rng.uniform(-0.1, 0.1, (input_nodes, output_nodes))
        self.biases = np.zeros((1, output_nodes))
        self.learning_rate = learning_rate

    def forward(self, x):
        return x @ self.weights + self.biases

    def backward(self, x, prev_grad):
        grad = prev_grad @ self.weights.T  # with the weights forward used, before the update
        self.weights = self.weights - self.learning_rate * (x.T @ prev_grad)
        self.biases = self.biases - self.learning_rate * prev_grad.sum(axis=0, keepdims=True)
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


def network(sizes=(784, 32, 10), seed=0, lr=0.1, linear=Linear, activation=ReLU, loss=CrossEntropy):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [linear(fan_in, fan_out, lr, rng), activation()]
    return layers[:-1], loss()


# Mistakes made in this style -----------------------------------------------------------------

class ReLUOpenAtZero(ReLU):
    def backward(self, x, prev_grad):
        return prev_grad * (x >= 0)


class LinearBiasAveraged(Linear):
    def backward(self, x, prev_grad):
        grad = prev_grad @ self.weights.T
        self.weights = self.weights - self.learning_rate * (x.T @ prev_grad)
        self.biases = self.biases - self.learning_rate * prev_grad.mean(axis=0, keepdims=True)
        return grad


class CrossEntropyUnshifted(CrossEntropy):
    def forward(self, logits, one_hot):
        return np.log(np.exp(logits).sum(axis=1)) - (logits * one_hot).sum(axis=1)

    def backward(self, logits, one_hot):
        exps = np.exp(logits)
        return (exps / exps.sum(axis=1, keepdims=True) - one_hot) / len(logits)


MUTANTS = {
    "relu open at zero": ("activation", ReLUOpenAtZero, 1, "derivative at exactly 0"),
    "bias gradient averaged": ("linear", LinearBiasAveraged, 0, "bias gradient averaged"),
    "softmax without the max shift": ("loss", CrossEntropyUnshifted, "loss", "softmax overflow"),
}



def build(sizes, activations, lr, seed):
    kinds = {"sigmoid": Sigmoid, "relu": ReLU}
    rng = np.random.default_rng(seed)
    layers = [Linear(sizes[0], sizes[1], lr, rng)]
    for name, fan_in, fan_out in zip(activations, sizes[1:], sizes[2:]):
        layers += [kinds[name](), Linear(fan_in, fan_out, lr, rng)]
    return layers, CrossEntropy()
