"""Plain stochastic gradient descent."""

import numpy as np


class SGD:
    """theta <- theta - lr * dL/dtheta for every parameter, in place.

    This is the update torch.optim.SGD makes with its defaults (no momentum, no weight
    decay). It reads the gradients the last backward pass left in each layer's ``grads``.
    """

    def __init__(self, network, lr: float):
        if not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"the learning rate must be a positive number; got {lr}")
        self.network = network
        self.lr = lr

    def step(self):
        for layer in self.network.layers:
            for name, param in layer.params.items():
                if name not in layer.grads:
                    raise RuntimeError(f"{layer!r} has no gradient for {name!r}: call backward before step()")
                param -= self.lr * layer.grads[name]
