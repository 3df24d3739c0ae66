"""What a learner writes: a layer in its author's conventions (W stored (in, out), gradients in
.dW/.db) with a classic mistake, the weight gradient divided by the batch size although the loss
already averaged. DENSE_BUGGY is its source, which the tests write into notebooks and test files."""

import inspect

import numpy as np


class DenseBuggy:
    def __init__(self, n_in, n_out):
        self.W = 0.1 * np.random.default_rng(0).standard_normal((n_in, n_out))
        self.b = np.zeros(n_out)

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        self.dW = self.x.T @ grad / len(self.x)
        self.db = grad.sum(axis=0)
        return grad @ self.W.T


DENSE_BUGGY = f"import numpy as np\n\n\n{inspect.getsource(DenseBuggy)}"
