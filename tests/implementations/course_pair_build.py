"""The deep-learning course's layer functions wrapped by a build() for --implementation: each layer the
pair linear_forward/linear_backward with W (n_l, n_{l-1}) and b (n_l, 1) on a batch of columns, the
activations as pairs on the course's caches, scratch_nn's loss."""

import numpy as np

from tests.implementations.course_columns import linear_backward, linear_forward

CONVENTIONS = {"batching": "columns", "param_grads": "mean"}


def relu_forward(Z):
    return np.maximum(0, Z), Z


def relu_backward(dA, cache):
    dZ = np.array(dA, copy=True)
    dZ[cache <= 0] = 0
    return dZ


def build(sizes, linear=(linear_forward, linear_backward)):
    rng = np.random.default_rng(0)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [(*linear, 0.01 * rng.standard_normal((fan_out, fan_in)), np.zeros((fan_out, 1))),
                   (relu_forward, relu_backward)]
    return layers[:-1]
