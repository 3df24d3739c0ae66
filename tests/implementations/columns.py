"""One example at a time, as column vectors: x is (in, 1), W is (out, in), b is (out, 1), the
layer computes W @ x + b and backward(delta) stores the example's dW and db; the loss takes one
logit column and one one-hot column and backward() returns that example's gradient. The user's
own training loop sums the examples' gradients over a batch."""

import numpy as np


class FullyConnected:
    def __init__(self, n_in, n_out, rng=None):
        rng = rng or np.random.default_rng(0)
        self.W = rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)
        self.b = np.zeros((n_out, 1))

    def forward(self, x):
        self.x = x
        return self.W @ x + self.b

    def backward(self, delta):
        self.dW = delta @ self.x.T
        self.db = delta
        return self.W.T @ delta


class Sigmoid:
    def forward(self, z):
        self.a = 1 / (1 + np.exp(-z))
        return self.a

    def backward(self, delta):
        return delta * self.a * (1 - self.a)


class SoftmaxCrossEntropy:
    def forward(self, z, y):
        e = np.exp(z - z.max())
        self.p, self.y = e / e.sum(), y
        return -float(np.log(self.p[y.argmax(), 0]))

    def backward(self):
        return self.p - self.y


def network(sizes=(784, 32, 10), seed=0, layer=FullyConnected, activation=Sigmoid, loss=SoftmaxCrossEntropy):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [layer(fan_in, fan_out, rng), activation()]
    return layers[:-1], loss()


# Mistakes made in this style -----------------------------------------------------------------

class SigmoidOfOutput(Sigmoid):
    def backward(self, delta):
        s = 1 / (1 + np.exp(-self.a))
        return delta * s * (1 - s)


class FullyConnectedTransposed(FullyConnected):
    def backward(self, delta):
        grad = super().backward(delta)
        self.dW = self.x @ delta.T
        return grad


class SoftmaxUnshifted(SoftmaxCrossEntropy):
    def forward(self, z, y):
        e = np.exp(z)
        self.p, self.y = e / e.sum(), y
        return -float(np.log(self.p[y.argmax(), 0]))


MUTANTS = {
    "derivative at the output": ("activation", SigmoidOfOutput, 1, "derivative at the output"),
    "transposed weight gradient": ("layer", FullyConnectedTransposed, 0, "transposed weight gradient"),
    "softmax without the max shift": ("loss", SoftmaxUnshifted, "loss", "softmax overflow"),
}
