"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay: torch.optim.SGD."""

import numpy as np

from .optimizer import Optimizer, check_flag, check_number


class SGD(Optimizer):
    """torch.optim.SGD, step for step. With gradient g of parameter p:

        g <- g + weight_decay * p                          (L2 penalty, added to the gradient)
        b <- g                        on the first step    (no dampening on the first step)
        b <- momentum * b + (1 - dampening) * g            afterwards
        g <- g + momentum * b  if nesterov,  else g <- b   (only when momentum > 0)
        p <- p - lr * g

    SGD(network, lr) is plain SGD, p <- p - lr g. State: "momentum_buffer" b, when momentum > 0.
    Nesterov needs momentum > 0 and dampening 0, as torch requires.
    """

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(self, network, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(network, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov)

    def validate(self):
        super().validate()
        check_number(self, "momentum")
        check_number(self, "dampening", 0, 1)
        check_number(self, "weight_decay")
        check_flag(self, "nesterov")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"SGD: nesterov needs momentum > 0 and dampening 0; got momentum={self.momentum}, "
                             f"dampening={self.dampening}")

    def state_keys(self):
        return ("momentum_buffer",) if self.momentum else ()

    def update(self, param, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * param  # a new array: the layer's gradient stays as backward left it
        if self.momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = np.array(grad)
            else:
                buffer *= self.momentum
                buffer += (1 - self.dampening) * grad
            grad = grad + self.momentum * buffer if self.nesterov else buffer
        param -= self.lr * grad
