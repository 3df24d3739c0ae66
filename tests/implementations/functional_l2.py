"""A functional library in CS231n's style: layers are pairs of functions, affine_forward(x, w, b)
-> (out, cache) and affine_backward(dout, cache) -> (dx, dw, db), with w (in, out) and b (out,);
the model (FullyConnectedNet) keeps W1, b1, W2, ... in self.params and its layers as a list of
(forward, backward, w, b) tuples over those arrays, with the regularisation strength self.reg;
the loss takes the model, loss(model, scores, y) -> (loss, dscores): the softmax cross-entropy
averaged over the batch plus 0.5 * reg * sum W^2 over the weight matrices (never the biases)."""

import numpy as np


def affine_forward(x, w, b):
    return x @ w + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def softmax_loss(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = scores.shape[0]
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    return -log_probs[np.arange(n), y].sum() / n, dscores / n


def loss(model, scores, y):
    data_loss, dscores = softmax_loss(scores, y)
    weights = [value for name, value in model.params.items() if name.startswith("W")]
    return data_loss + 0.5 * model.reg * sum(np.sum(w * w) for w in weights), dscores


class FullyConnectedNet:
    def __init__(self, sizes, reg=0.0, weight_scale=1e-2, seed=0, pairs=None):
        rng = np.random.default_rng(seed)
        self.reg, self.params, self.layers = reg, {}, []
        for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), start=1):
            self.params[f"W{i}"] = weight_scale * rng.standard_normal((fan_in, fan_out))
            self.params[f"b{i}"] = np.zeros(fan_out)
            if i > 1:
                self.layers.append(pairs or (relu_forward, relu_backward))
            self.layers.append((affine_forward, affine_backward, self.params[f"W{i}"], self.params[f"b{i}"]))


def network(sizes=(784, 32, 10), seed=0, reg=0.0, activation=None, loss=loss, affine=None):
    """The model and its loss, as build returns them: (model, loss)."""
    model = FullyConnectedNet(sizes, reg=reg, seed=seed, pairs=activation)
    if affine is not None:
        model.layers = [(*affine, *layer[2:]) if layer[0] is affine_forward else layer for layer in model.layers]
    return model, loss


# Mistakes made in this style -----------------------------------------------------------------

def affine_backward_bias_averaged(dout, cache):
    dx, dw, _ = affine_backward(dout, cache)
    return dx, dw, dout.mean(axis=0)


def relu_backward_open_at_zero(dout, cache):
    return dout * (cache >= 0)


def loss_not_averaged(model, scores, y):
    value, dscores = loss(model, scores, y)
    return value, dscores * scores.shape[0]  # the 1/n of the mean left out of the gradient


MUTANTS = {
    "bias gradient averaged": ("affine", (affine_forward, affine_backward_bias_averaged), 0,
                               "bias gradient averaged"),
    "relu open at zero": ("activation", (relu_forward, relu_backward_open_at_zero), 1, "derivative at exactly 0"),
    "loss gradient without the 1/n": ("loss", loss_not_averaged, "loss", "batch size too big"),
}
