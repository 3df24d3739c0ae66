"""Layers that behave differently in training and in evaluation: Dropout and BatchNorm1d.

Each has a ``training`` flag (True when built), set by ``Sequential.train()`` / ``eval()`` as
torch's ``module.train()`` / ``eval()`` set theirs. The conventions of layers.py hold: a batch is
(n, features), backward returns dL/dx and leaves parameter gradients in ``grads``, nothing is
upcast. BatchNorm1d also keeps running statistics that are not parameters: they live in
``buffers``, appear in the network's state_dict under torch's keys, and no optimizer touches them.

How dropout is matched with torch. A random mask cannot be reproduced by seeding two libraries
(their generators differ), so both sides draw their masks with NumPy, with ``keep_mask`` below:
a Dropout layer owns a ``numpy.random.Generator``, and its torch twin
(``reference.regularization.MaskedDropout``) is given a copy of that generator in the same
state. Each side then draws the same sequence of masks on its own, one per training-mode
forward call. Nothing is shared between the sides at run time, so they may step alternately,
one whole run after the other, or concurrently, and a deep copy of a layer (the checkers copy
layers) draws exactly the masks the original would have drawn next, without advancing the
original. The one rule: both sides must make the same training-mode forward calls (same
number, same shapes); a side that runs an extra one is out of step from then on, and every
comparison after it fails loudly rather than passing by chance. Evaluation-mode calls draw
nothing.
"""

import numpy as np

from .layers import Layer, check_batch, check_grad_output, require_cache


def keep_mask(rng: np.random.Generator, shape, p: float) -> np.ndarray:
    """A boolean mask of the given shape, each entry True (kept) with probability 1 - p."""
    return rng.random(shape) >= p


def check_drop_probability(p) -> float:
    """p as a float, or a clear error: dropout needs 0 <= p < 1."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p < 1:
        raise ValueError(f"dropout needs a drop probability p with 0 <= p < 1; got {p!r} "
                         f"(p = 1 would drop every unit and scale by 1/0)")
    return float(p)


class Dropout(Layer):
    """Inverted dropout: y = x * m / (1 - p) in training, with m ~ Bernoulli(1 - p) drawn afresh for
    every forward call; y = x in evaluation. The 1/(1 - p) keeps E[y] = x, so evaluation needs no
    rescaling.

    dL/dx = G * m / (1 - p) in training (the mask of the forward call), G in evaluation.
    The scaled mask is computed as torch's dropout computes it, m.astype(dtype) / (1 - p), so the
    two agree bit for bit on the same mask.

    seed: anything np.random.default_rng takes (an int, a sequence of ints, or a Generator, which is
    then used as it is, not copied). The
    layer's masks are drawn from ``self.rng``; ``self.mask`` holds the last one (True = kept).
    p = 0 is the identity and draws nothing.
    """

    def __init__(self, p: float = 0.5, seed=0):
        super().__init__()
        self.p = check_drop_probability(p)
        self.rng = np.random.default_rng(seed)
        self.training = True
        self.mask = None

    def forward(self, x):
        check_batch(self, x)
        scale = None
        if self.training and self.p > 0:
            self.mask = keep_mask(self.rng, x.shape, self.p)
            scale = self.mask.astype(x.dtype) / (1 - self.p)
        self._cache = (x.shape, x.dtype, scale)
        return x if scale is None else x * scale

    def backward(self, grad_output):
        shape, dtype, scale = require_cache(self)
        check_grad_output(self, grad_output, shape, dtype)
        return grad_output if scale is None else grad_output * scale

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class BatchNorm1d(Layer):
    """Batch normalisation over the batch dimension, torch.nn.BatchNorm1d on (n, features) inputs.

    Training: with the batch mean mu and the BIASED variance var = mean((x - mu)^2),
        x_hat = (x - mu) / sqrt(var + eps),   y = gamma * x_hat + beta,
    and the running estimates move towards the batch's, with the UNBIASED variance:
        running_mean <- (1 - momentum) * running_mean + momentum * mu
        running_var  <- (1 - momentum) * running_var  + momentum * var * n / (n - 1)
        num_batches_tracked <- num_batches_tracked + 1
    Evaluation: x_hat = (x - running_mean) / sqrt(running_var + eps), nothing updated.

    Backward, with G = dL/dy, G' = G * gamma and inv_std = 1 / sqrt(var + eps):
        dL/dgamma = sum_i G_i * x_hat_i,      dL/dbeta = sum_i G_i
        dL/dx = (1/n) * inv_std * (n G' - sum_i G'_i - x_hat * sum_i (G'_i * x_hat_i))   (training:
                mu and var depend on every x_i, hence the two sums)
        dL/dx = G' * inv_std                                                             (evaluation)

    params: "weight" (gamma, ones) and "bias" (beta, zeros), when affine; buffers:
    "running_mean" (zeros), "running_var" (ones), "num_batches_tracked" (a 0-d int64), updated in
    place. The keys, shapes and dtypes are torch's, so state_dicts cross both ways.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 dtype=np.float64):
        super().__init__()
        dtype = np.dtype(dtype)
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"BatchNorm1d needs a positive number of features; got {num_features!r}")
        if not eps > 0:
            raise ValueError(f"BatchNorm1d needs eps > 0 (it keeps 1/sqrt(var + eps) finite); got {eps!r}")
        if momentum is None:
            raise ValueError("BatchNorm1d: momentum=None (torch's cumulative average) is not implemented; "
                             "give a momentum in [0, 1]")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d needs a momentum in [0, 1] (the running estimates' step); got {momentum!r}")
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"BatchNorm1d computes in float32 or float64; got {dtype}")
        self.eps, self.momentum, self.affine = float(eps), float(momentum), bool(affine)
        if affine:
            self.params = {"weight": np.ones(num_features, dtype), "bias": np.zeros(num_features, dtype)}
        self.buffers = {"running_mean": np.zeros(num_features, dtype), "running_var": np.ones(num_features, dtype),
                        "num_batches_tracked": np.zeros((), np.int64)}
        self.training = True

    @property
    def num_features(self) -> int:
        return self.buffers["running_mean"].shape[0]

    def forward(self, x):
        check_batch(self, x, self.buffers["running_mean"].dtype, self.num_features)
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(f"{self!r} in training mode needs at least 2 examples per batch to compute a "
                                 f"variance; got a batch of {n}. Use larger batches, or call eval() first to "
                                 f"normalise with the running statistics (torch refuses this too).")
            mean = x.mean(axis=0)
            centred = x - mean
            var = (centred * centred).mean(axis=0)  # biased: the batch is normalised by its own spread
            self._update_running(mean, var * (n / (n - 1)))  # unbiased: an estimate of the population's
        else:
            centred = x - self.buffers["running_mean"]
            var = self.buffers["running_var"]
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat = centred * inv_std
        self._cache = (x_hat, inv_std, self.training)
        return x_hat * self.params["weight"] + self.params["bias"] if self.affine else x_hat

    def _update_running(self, mean, unbiased_var):
        m = self.momentum
        self.buffers["running_mean"][...] = m * mean + (1 - m) * self.buffers["running_mean"]
        self.buffers["running_var"][...] = m * unbiased_var + (1 - m) * self.buffers["running_var"]
        self.buffers["num_batches_tracked"] += 1

    def backward(self, grad_output):
        x_hat, inv_std, training = require_cache(self)
        check_grad_output(self, grad_output, x_hat.shape, x_hat.dtype)
        if self.affine:
            self.grads = {"weight": (grad_output * x_hat).sum(axis=0), "bias": grad_output.sum(axis=0)}
            grad_output = grad_output * self.params["weight"]
        if not training:  # the running statistics are constants
            return grad_output * inv_std
        n = x_hat.shape[0]
        return (inv_std / n) * (n * grad_output - grad_output.sum(axis=0)
                                - x_hat * (grad_output * x_hat).sum(axis=0))

    def __repr__(self):
        return (f"{type(self).__name__}({self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}, "
                f"affine={self.affine})")
