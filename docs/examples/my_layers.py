"""Two layers written from scratch, with a mistake in the sigmoid's backward pass. They do not
subclass scratch_nn's layers; they only share its interface (a `params` dict, `grads`,
`forward(x)`, `backward(grad_output)`)."""

import numpy as np


class MyLinear:
    """y = x W^T + b, with W stored (out, in) as torch stores it."""

    def __init__(self, weight, bias):
        self.params = {"weight": weight, "bias": bias}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, grad_output):
        self.grads["weight"] = grad_output.T @ self.x
        self.grads["bias"] = grad_output.sum(axis=0)
        return grad_output @ self.params["weight"]


class MySigmoid:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, grad_output):
        s = 1 / (1 + np.exp(-self.out))  # sigmoid of the cached output...
        return grad_output * s * (1 - s)  # ...so this is sigmoid'(sigmoid(x))
