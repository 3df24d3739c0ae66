"""The optimizer zoo: mistakes people really make in momentum, Adam, AdamW and RMSprop, each a small
subclass of a scratch optimizer. Several take a first step that is right and go wrong only in
the state they carry (or when the learning rate changes): tests/test_optimizers.py checks that
reference.optimizers.compare_optimizer_steps catches every one over several steps and names the
tensor that is wrong. Never imported by the packages.
"""

import numpy as np

from scratch_nn import SGD, Adam, AdamW, Linear, RMSprop


class SGDMomentumOnScaledGradient(SGD):
    """b <- momentum b + lr g; p <- p - b (the lecture-notes form). At a constant learning rate the
    parameters follow torch's exactly, but the buffer holds lr times torch's: a learning-rate
    schedule, or a checkpoint moved to torch, goes wrong."""

    def update(self, param, grad, state):
        buffer = state.setdefault("momentum_buffer", np.zeros_like(param))
        buffer *= self.momentum
        buffer += self.lr * grad
        param -= buffer


class SGDWeightDecayAfterMomentum(SGD):
    """The decay term added to the step after the momentum buffer, not to the gradient before it:
    the first step is torch's, the buffer never holds the decay."""

    def update(self, param, grad, state):
        buffer = state.get("momentum_buffer")
        if buffer is None:
            buffer = state["momentum_buffer"] = np.array(grad)
        else:
            buffer *= self.momentum
            buffer += (1 - self.dampening) * grad
        param -= self.lr * (buffer + self.weight_decay * param)


class SGDMomentumOutsideState(SGD):
    """The velocity kept in an attribute of its own, outside the state: the steps are torch's, but
    state_dict() has no momentum, so a checkpoint resumes without it."""

    def update(self, param, grad, state):
        velocities = self.__dict__.setdefault("velocities", {})
        velocity = velocities.setdefault(id(param), np.zeros_like(param))
        velocity *= self.momentum
        velocity += grad  # from zero, the first step's velocity is g, as torch's (without dampening)
        param -= self.lr * velocity


class SGDDampensFirstStep(SGD):
    """The buffer starts at zero, so the first step is dampened too: torch starts it at g."""

    def update(self, param, grad, state):
        state.setdefault("momentum_buffer", np.zeros_like(param))
        super().update(param, grad, state)


class AdamWithoutBiasCorrection(Adam):
    """p <- p - lr m / (sqrt(v) + eps): m and v, started at zero, are not corrected for it."""

    def step_size(self, t):
        return self.lr

    def denominator(self, v, t):
        return np.sqrt(v) + self.eps


class AdamEpsInsideSqrt(Adam):
    """sqrt(v_hat + eps): epsilon inside the square root. Only gradients with v ~ eps show it."""

    def denominator(self, v, t):
        return np.sqrt(v / (1 - self.beta2 ** t) + self.eps)


class AdamStateResetEveryStep(Adam):
    """The moments and the step count started afresh on every step (state kept in a local): every
    step is a first step. The first step is right."""

    def update(self, param, grad, state):
        state.clear()
        super().update(param, grad, state)


class AdamWCoupledDecay(AdamW):
    """'AdamW' that adds weight_decay * p to the gradient (Adam's L2 penalty) instead of shrinking the
    parameters: the decay goes through m and v, and is divided by sqrt(v)."""

    decay = Adam.decay


class RMSpropEpsInsideSqrt(RMSprop):
    """sqrt(v + eps): epsilon inside the square root."""

    def denominator(self, v):
        return np.sqrt(v + self.eps)


class LinearAccumulatesGradients(Linear):
    """Adds each backward's parameter gradients to the last ones (torch's .grad without zero_grad),
    while the network and its optimizers expect them overwritten: a second backward on a batch
    doubles the step."""

    def backward(self, grad_output):
        previous = self.grads
        grad_input = super().backward(grad_output)
        for name, value in previous.items():
            self.grads[name] += value
        return grad_input
