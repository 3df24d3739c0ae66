"""Layers that probing alone cannot read: each stops with an error naming the option (or flag)
that settles it. Used by tests/test_adapter_probes.py and, as a file, by tests/test_check_own_code.py."""

import numpy as np


class Projection:
    """A linear layer with a second, unused matrix of the weight's shape."""

    def __init__(self, n_in, n_out):
        rng = np.random.default_rng(0)
        self.M, self.R = rng.standard_normal((n_out, n_in)), rng.standard_normal((n_out, n_in))
        self.c = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.M.T + self.c

    def backward(self, g):
        self.dM, self.dc = g.T @ self.x, g.sum(axis=0)
        return g @ self.M


class StepLinear:
    """Updates inside backward with a learning rate under a name no probe knows."""

    def __init__(self, n_in, n_out):
        self.W, self.b, self.step = np.ones((n_in, n_out)) / n_in, np.zeros(n_out), 0.1

    def forward(self, x):
        return x @ self.W + self.b

    def backward(self, x, grad):
        dx = grad @ self.W.T
        self.W, self.b = self.W - self.step * x.T @ grad, self.b - self.step * grad.sum(axis=0)
        return dx


class UnnamedReLU:
    """backward(a, b): nothing says which argument is the input and which the gradient."""

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, a, b):
        return b * (a > 0)


class Squash:
    """A ReLU under a name (and no base class) that says nothing about what it computes."""

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, grad):
        return grad * (self.x > 0)
