"""RMSprop, optionally centered and with momentum: torch.optim.RMSprop."""

import numpy as np

from .optimizer import Optimizer, check_flag, check_number


class RMSprop(Optimizer):
    """torch.optim.RMSprop, step for step. With gradient g of parameter p:

        g <- g + weight_decay * p                  (L2 penalty, added to the gradient)
        v <- alpha v + (1 - alpha) g^2
        a <- a + (1 - alpha) (g - a)               (centered only: the mean gradient; torch's lerp)
        d <- sqrt(v - a^2) + eps  if centered,  else  sqrt(v) + eps
        b <- momentum b + g / d;  p <- p - lr b    if momentum > 0 (b starts at zero)
        p <- p - lr g / d                          otherwise

    epsilon is added after the square root, as torch adds it; no bias correction. State: "step",
    "square_avg" v, "momentum_buffer" b (momentum > 0), "grad_avg" a (centered).
    """

    hyperparameters = ("lr", "momentum", "alpha", "eps", "centered", "weight_decay")

    def __init__(self, network, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False):
        super().__init__(network, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered)

    def validate(self):
        super().validate()
        check_number(self, "alpha", 0, 1, high_open=True)
        check_number(self, "eps", 0, low_open=True)
        check_number(self, "weight_decay")
        check_number(self, "momentum")
        check_flag(self, "centered")

    def state_keys(self):
        return (("step", "square_avg") + (("momentum_buffer",) if self.momentum > 0 else ())
                + (("grad_avg",) if self.centered else ()))

    def update(self, param, grad, state):
        if not state:
            state.update({key: np.zeros_like(param) for key in self.state_keys() if key != "step"}, step=0)
        state["step"] += 1
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * grad * grad
        if self.centered:
            a = state["grad_avg"]
            a += (1 - self.alpha) * (grad - a)
            v = v - a * a
        denominator = self.denominator(v)
        if self.momentum > 0:
            buffer = state["momentum_buffer"]
            buffer *= self.momentum
            buffer += grad / denominator
            param -= self.lr * buffer
        else:
            param -= self.lr * grad / denominator

    def denominator(self, v):
        """sqrt(v) + eps (v less the squared mean gradient when centered): epsilon outside the root."""
        denominator = np.sqrt(v)
        denominator += self.eps
        return denominator
