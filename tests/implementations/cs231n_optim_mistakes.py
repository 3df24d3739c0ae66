"""Mistakes people make in CS231n's optim.py, each a whole update rule (tests/implementations/cs231n_optim.py
is the right one), and a class-style Adam. Checked by tests/test_update_rule.py."""

import numpy as np


def adam_without_bias_correction(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    m = config["m"] = config["beta1"] * config.get("m", 0) + (1 - config["beta1"]) * dw
    v = config["v"] = config["beta2"] * config.get("v", 0) + (1 - config["beta2"]) * dw ** 2
    return w - config["learning_rate"] * m / (np.sqrt(v) + config["epsilon"]), config


def adam_eps_inside_sqrt(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config["t"] = t = config.get("t", 0) + 1
    m = config["m"] = config["beta1"] * config.get("m", 0) + (1 - config["beta1"]) * dw
    v = config["v"] = config["beta2"] * config.get("v", 0) + (1 - config["beta2"]) * dw ** 2
    mt, vt = m / (1 - config["beta1"] ** t), v / (1 - config["beta2"] ** t)
    return w - config["learning_rate"] * mt / np.sqrt(vt + config["epsilon"]), config


def rmsprop_cache_not_returned(w, dw, config=None):
    """The new cache is a local: the config keeps the zeros it started with, so every step is a first step."""
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    cache = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * dw ** 2
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def sgd_momentum_velocity_sign_flipped(w, dw, config=None):
    """v = mu v - lr dw, then w - v: the step climbs."""
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["velocity"] = config["momentum"] * v - config["learning_rate"] * dw
    return w - v, config


class Adam:
    """Adam as a class over a list of arrays, updated in place by step(grads)."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params, self.lr, self.beta1, self.beta2, self.eps = params, lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= self.lr / (1 - self.beta1 ** self.t) * m / (np.sqrt(v / (1 - self.beta2 ** self.t)) + self.eps)


class Momentum:
    """SGD with momentum stepped as update(params, grads) over dicts by name, as a from-scratch network keeps them."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.velocity = lr, momentum, {}

    def update(self, params, grads):
        for key in params:
            self.velocity[key] = self.momentum * self.velocity.get(key, 0) + grads[key]
            params[key] -= self.lr * self.velocity[key]
