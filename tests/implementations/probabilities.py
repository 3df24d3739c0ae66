"""The probabilities style, as many courses teach it: the network ends in an explicit Softmax layer
and the loss is the cross-entropy of its probabilities. Dense layers hold weights (in, out) used as
x @ W + b and a (1, out) bias; every layer caches what its backward needs in forward, and
backward(dvalues) returns dL/dx, leaving the parameter gradients in .dweights and .dbiases;
Softmax.backward builds each example's Jacobian diag(s) - s s^T; the loss's forward(probs, labels)
returns the batch mean (of probabilities clipped to [1e-7, 1 - 1e-7]) and backward(probs, labels)
its gradient."""

import numpy as np


class Linear:
    def __init__(self, n_inputs, n_neurons, rng=None):
        rng = rng or np.random.default_rng(0)
        self.weights = 0.01 * rng.standard_normal((n_inputs, n_neurons))
        self.biases = np.zeros((1, n_neurons))

    def forward(self, inputs):
        self.inputs = inputs
        return inputs @ self.weights + self.biases

    def backward(self, dvalues):
        self.dweights = self.inputs.T @ dvalues
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        return dvalues @ self.weights.T


class ReLU:
    def forward(self, inputs):
        self.inputs = inputs
        return np.maximum(0, inputs)

    def backward(self, dvalues):
        dinputs = dvalues.copy()
        dinputs[self.inputs <= 0] = 0
        return dinputs


class Softmax:
    def forward(self, inputs):
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        return self.output

    def backward(self, dvalues):
        dinputs = np.empty_like(dvalues)
        for index, (single_output, single_dvalues) in enumerate(zip(self.output, dvalues)):
            single_output = single_output.reshape(-1, 1)
            jacobian_matrix = np.diagflat(single_output) - single_output @ single_output.T
            dinputs[index] = jacobian_matrix @ single_dvalues
        return dinputs


class CrossEntropy:
    def forward(self, probs, labels):
        clipped = np.clip(probs, 1e-7, 1 - 1e-7)  # no log(0)
        correct_confidences = clipped[range(len(probs)), labels]
        return np.mean(-np.log(correct_confidences))

    def backward(self, probs, labels):
        one_hot = np.eye(probs.shape[1])[labels]
        return -one_hot / probs / len(probs)


def network(sizes=(784, 32, 10), seed=0, softmax=Softmax, loss=CrossEntropy):
    """Linear, ReLU, ..., Linear, Softmax, and the loss on its probabilities."""
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [Linear(fan_in, fan_out, rng), ReLU()]
    return [*layers[:-1], softmax()], loss()


# Mistakes made in this style -----------------------------------------------------------------

class SoftmaxJacobianDiagonal(Softmax):
    def backward(self, dvalues):
        return dvalues * self.output * (1 - self.output)


class CrossEntropyNotAveraged(CrossEntropy):
    def backward(self, probs, labels):
        one_hot = np.eye(probs.shape[1])[labels]
        return -one_hot / probs


MUTANTS = {
    "softmax backward with the Jacobian's diagonal only": ("softmax", SoftmaxJacobianDiagonal, 3,
                                                           "softmax backward uses only the Jacobian's diagonal"),
    "loss gradient without the 1/n": ("loss", CrossEntropyNotAveraged, "loss", "batch size too big"),
}
