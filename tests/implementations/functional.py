"""The functional style with caches: affine_forward(x, w, b) -> (out, cache) with w (in, out),
affine_backward(dout, cache) -> (dx, dw, db); relu and sigmoid pairs; softmax_loss(x, y) ->
(loss, dx) in one call, labels, mean over the batch."""

import numpy as np


def affine_forward(x, w, b):
    return x @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[cache <= 0] = 0
    return dx


def sigmoid_forward(x):
    out = 1 / (1 + np.exp(-x))
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1 - cache)


def softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return -log_probs[np.arange(n), y].mean(), dx / n


def network(sizes=(784, 32, 10), seed=0, affine=(affine_forward, affine_backward),
            activation=(relu_forward, relu_backward), loss=softmax_loss):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        w, b = 0.1 * rng.standard_normal((fan_in, fan_out)), np.zeros(fan_out)
        layers += [(*affine, w, b), activation]
    return layers[:-1], loss


# Mistakes made in this style -----------------------------------------------------------------

def relu_backward_open(dout, cache):
    return dout * (cache >= 0)


def affine_backward_bias_mean(dout, cache):
    dx, dw, _ = affine_backward(dout, cache)
    return dx, dw, dout.mean(axis=0)


def softmax_loss_unscaled(x, y):
    loss, dx = softmax_loss(x, y)
    return loss, dx * x.shape[0]


MUTANTS = {
    "relu open at zero": ("activation", (relu_forward, relu_backward_open), 1, "derivative at exactly 0"),
    "bias gradient averaged": ("affine", (affine_forward, affine_backward_bias_mean), 0, "bias gradient averaged"),
    "loss gradient not divided by n": ("loss", softmax_loss_unscaled, "loss", "batch size too big"),
}
