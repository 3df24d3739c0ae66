"""A class-based network on batches as columns, as learners write it after the deep-learning course:
self.parameters {"W1": (n_1, n_0), "b1": (n_1, 1), ...}, forward(X) on X (features, m) caching
what backward needs, tanh hidden layers and a softmax output over the classes (rows), backward(Y)
with one-hot columns Y (classes, m) storing self.grads {"dW1", "db1", ...}, and
update_parameters(learning_rate). The softmax cross-entropy's dZ = (A - Y) / m carries the 1/m, so
the layers sum over the batch."""

import numpy as np


class DeepNetwork:
    def __init__(self, layer_dims, seed=0):
        rng = np.random.default_rng(seed)
        self.L = len(layer_dims) - 1
        self.parameters = {}
        for l in range(1, self.L + 1):
            fan_in = layer_dims[l - 1]
            self.parameters[f"W{l}"] = rng.standard_normal((layer_dims[l], fan_in)) / np.sqrt(fan_in)
            self.parameters[f"b{l}"] = np.zeros((layer_dims[l], 1))
        self.grads = {}

    def forward(self, X):
        self.A = {0: X}
        for l in range(1, self.L + 1):
            Z = self.parameters[f"W{l}"] @ self.A[l - 1] + self.parameters[f"b{l}"]
            self.A[l] = self.softmax(Z) if l == self.L else np.tanh(Z)
        return self.A[self.L]

    @staticmethod
    def softmax(Z):
        e = np.exp(Z - Z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    def compute_cost(self, AL, Y):
        return -np.sum(Y * np.log(AL)) / Y.shape[1]

    def backward(self, Y):
        m = Y.shape[1]
        dZ = (self.A[self.L] - Y) / m
        for l in range(self.L, 0, -1):
            self.grads[f"dW{l}"] = self.weight_gradient(dZ, self.A[l - 1])
            self.grads[f"db{l}"] = self.bias_gradient(dZ)
            if l > 1:
                dZ = self.parameters[f"W{l}"].T @ dZ * self.tanh_derivative(self.A[l - 1])

    def weight_gradient(self, dZ, A_prev):
        return dZ @ A_prev.T

    def bias_gradient(self, dZ):
        return np.sum(dZ, axis=1, keepdims=True)

    def tanh_derivative(self, A):
        return 1 - A ** 2

    def update_parameters(self, learning_rate):
        for l in range(1, self.L + 1):
            self.parameters[f"W{l}"] -= learning_rate * self.grads[f"dW{l}"]
            self.parameters[f"b{l}"] -= learning_rate * self.grads[f"db{l}"]


# Mistakes made in this style ---------------------------------------------------------------------

class WithoutM(DeepNetwork):
    """dZ = A - Y: the softmax cross-entropy's 1/m forgotten, and the layers sum."""

    def backward(self, Y):
        super().backward(Y * 1.0)
        for key in self.grads:
            self.grads[key] = self.grads[key] * Y.shape[1]


class BiasMean(DeepNetwork):
    """db = np.mean(dZ, ...): the 1/m taken again, which dZ already holds."""

    def bias_gradient(self, dZ):
        return np.mean(dZ, axis=1, keepdims=True)


class TransposedWeightGradient(DeepNetwork):
    """dW = A_prev @ dZ.T: the (in, out) product for a weight stored (out, in)."""

    def weight_gradient(self, dZ, A_prev):
        return A_prev @ dZ.T


class TanhDerivativeUnsquared(DeepNetwork):
    """tanh' as 1 - A instead of 1 - A^2."""

    def tanh_derivative(self, A):
        return 1 - A


# class: (the first part that fails, the signature named there, a text of the fix line)
MUTANTS = {
    WithoutM: ("layer 1", "batch size too big", "dW = dZ @ A_prev.T"),
    BiasMean: ("layer 1", "bias gradient averaged", "db = np.sum(dZ, axis=1, keepdims=True)"),
    TransposedWeightGradient: ("layer 1", "transposed weight gradient", "dW = dZ @ A_prev.T"),
    TanhDerivativeUnsquared: ("layer 0", None, None),
}
