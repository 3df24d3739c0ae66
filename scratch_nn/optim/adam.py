"""Adam (optionally AMSGrad) and AdamW: torch.optim.Adam and torch.optim.AdamW."""

import numpy as np

from .optimizer import Optimizer, check_flag, check_number


class Adam(Optimizer):
    """torch.optim.Adam, step for step. With gradient g of parameter p, at step t = 1, 2, ...:

        g <- g + weight_decay * p                  (L2 penalty, added to the gradient)
        m <- m + (1 - beta1) (g - m)               (= beta1 m + (1 - beta1) g; torch's lerp)
        v <- beta2 v + (1 - beta2) g^2
        v_max <- max(v_max, v)                     (amsgrad only; v_max replaces v below)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    epsilon is added after the square root and after the bias correction of v, exactly where
    torch adds it. m and v start at zero. State: "step" t, "exp_avg" m, "exp_avg_sq" v and, with
    amsgrad, "max_exp_avg_sq" v_max.
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    fixed = {"maximize": False, "decoupled_weight_decay": False}

    def __init__(self, network, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(network, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    def validate(self):
        super().validate()
        if not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise TypeError(f"{type(self).__name__}: betas must be a pair (beta1, beta2); got {self.betas!r}")
        self.betas = self.beta1, self.beta2 = tuple(self.betas)  # a list (from JSON) kept as torch keeps it
        check_number(self, "beta1", 0, 1, high_open=True)
        check_number(self, "beta2", 0, 1, high_open=True)
        check_number(self, "eps", 0, low_open=True)
        check_number(self, "weight_decay")
        check_flag(self, "amsgrad")

    def state_keys(self):
        return ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def update(self, param, grad, state):
        if not state:
            state.update({key: np.zeros_like(param) for key in self.state_keys() if key != "step"}, step=0)
        state["step"] = t = state["step"] + 1
        grad = self.decay(param, grad)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - self.beta1) * (grad - m)
        v *= self.beta2
        v += (1 - self.beta2) * grad * grad
        if self.amsgrad:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        param -= self.step_size(t) * m / self.denominator(v, t)

    def step_size(self, t):
        """lr / (1 - beta1^t): the bias correction of m, folded into the learning rate as torch does."""
        return self.lr / (1 - self.beta1 ** t)

    def denominator(self, v, t):
        """sqrt(v) / sqrt(1 - beta2^t) + eps: epsilon outside the root, after the bias correction."""
        denominator = np.sqrt(v)
        denominator /= (1 - self.beta2 ** t) ** 0.5
        denominator += self.eps
        return denominator

    def decay(self, param, grad):
        """Adam's weight decay: the L2 penalty's gradient, added to g (a new array)."""
        return grad + self.weight_decay * param if self.weight_decay else grad


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (Loshchilov & Hutter). Before the Adam step
    above, with the gradient left as it is (no L2 term in m and v):

        p <- p (1 - lr * weight_decay)

    The default weight_decay is torch's, 1e-2.
    """

    fixed = {"maximize": False, "decoupled_weight_decay": True}

    def __init__(self, network, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(network, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)

    def decay(self, param, grad):
        if self.weight_decay:
            param *= 1 - self.lr * self.weight_decay
        return grad
