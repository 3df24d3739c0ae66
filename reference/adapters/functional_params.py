"""Functional pairs that take a dict of settings, as CS231n's layers.py writes them, made into
scratch_nn layers, so that the checker compares them with torch's Conv2d, MaxPool2d, BatchNorm1d
and (the user's own mask applied as torch applies one) dropout:

    conv_forward_naive(x, w, b, conv_param) -> (out, cache)      conv_param = {'stride', 'pad'}
    conv_backward_naive(dout, cache) -> (dx, dw, db)             w (F, C, HH, WW): torch's layout
    max_pool_forward_naive(x, pool_param) -> (out, cache)        pool_param = {'pool_height', 'pool_width',
    max_pool_backward_naive(dout, cache) -> dx                                 'stride'}
    batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)  bn_param = {'mode', 'eps', 'momentum',
    batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)                    'running_mean', 'running_var'}
    dropout_forward(x, dropout_param) -> (out, cache)            dropout_param = {'p', 'mode', 'seed'}
    dropout_backward(dout, cache) -> dx

What the pair computes is found from its settings argument's name (conv_param, pool_param,
bn_param, dropout_param), else from the forward function's name; twin= ("conv2d", "maxpool2d",
"batchnorm1d", "dropout") says it instead. Every call gets a fresh dict: the user's forward may
write into it (batchnorm_forward stores its running statistics there by design), and what it
stores is read back from that dict alone.

Conventions that differ from torch's, and how each is compared:
- bn_param's momentum is the weight of the old running value (CS231n: 0.9); torch's is the new
  batch's (0.1 = 1 - 0.9). The running variance is CS231n's: the biased batch variance, where
  torch's is unbiased (n/(n-1) larger); the twin keeps the biased one, so a running_var that
  follows CS231n's specification agrees, and the conventions line says so.
- dropout_param's p is the probability of keeping a unit (CS231n), or of dropping it: found by
  experiment on a large batch. The mask is the user's own: the one the forward draws with
  np.random.seed(dropout_param['seed']), read from the forward's output on a batch of ones; the
  twin applies it as torch's dropout applies its own (x * mask / keep probability).
- CS231n's batchnorm_backward is written for training mode only: batch norm is checked in training
  mode; dropout, whose backward handles both modes, in both.
"""

import copy

import numpy as np

from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.probing import required_arguments
from scratch_nn import BatchNorm1d, Conv2d, Dropout, MaxPool2d
from scratch_nn.layers import require_cache

PARAM_ARGUMENTS = {"conv_param": "conv2d", "pool_param": "maxpool2d", "bn_param": "batchnorm1d",
                   "dropout_param": "dropout"}
KINDS = tuple(PARAM_ARGUMENTS.values())
NAME_WORDS = {"conv2d": ("conv",), "maxpool2d": ("pool",), "batchnorm1d": ("batchnorm", "batch_norm"),
              "dropout": ("dropout",)}
CS231N_MOMENTUM, CS231N_EPS = 0.9, 1e-5  # bn_param's defaults in CS231n's batchnorm_forward
KEEP_PROBE_P, PROBE_SHAPE = 0.8, (100, 100)  # p=0.8 keeps 80% or 20% of 10,000 units: never in between


def kind_of(forward_fn, twin=None) -> tuple[str, str] | None:
    """(kind, how it was found) for a forward function taking a settings dict; None for any other
    (affine_forward, relu_forward, ...). twin: a kind given, which is taken as it is."""
    if twin in KINDS:
        return twin, "given"
    arguments = required_arguments(forward_fn)
    for argument in arguments:
        if argument in PARAM_ARGUMENTS:
            return PARAM_ARGUMENTS[argument], f"its argument {argument}"
    if twin is not None or not arguments or not arguments[-1].endswith("param"):
        return None
    named = [kind for kind, words in NAME_WORDS.items() if any(w in forward_fn.__name__.lower() for w in words)]
    if len(named) != 1:
        raise ConventionError(f"{forward_fn.__name__}({', '.join(arguments)}) takes a settings dict, but neither "
                              f"its name nor the argument's says what it computes; give ", Keyword("twin"),
                              f" one of {KINDS}")
    return named[0], f"its name {forward_fn.__name__}"


class ParamPair:
    """The part every pair shares: forward_fn(x, *params, settings) -> (out, cache) and
    backward_fn(dout, cache) -> dx, or (dx, *parameter gradients) in the order of param_names."""

    param_names: tuple[str, ...] = ()

    def bind(self, pair, found: str):
        self.forward_fn, self.backward_fn = pair
        self.found = found
        return self

    def settings(self) -> dict:
        raise NotImplementedError

    def forward(self, x):
        self.last_settings = self.settings()  # fresh: the user's forward may write into it
        out, self._cache = self.forward_fn(x, *(self.params[name] for name in self.param_names), self.last_settings)
        return out

    def backward(self, grad_output):
        result = self.backward_fn(grad_output, require_cache(self))
        if not self.param_names:
            return result
        grad_input, *grads = result
        self.grads = dict(zip(self.param_names, grads))
        return grad_input

    def describe(self) -> str:
        """One line for the conventions block."""
        name = f"{self.forward_fn.__name__}/{self.backward_fn.__name__}"
        return f"{name} ({type(self).__mro__[2].__name__.lower()}, from {self.found}): {self.words()}"

    def words(self) -> str:
        raise NotImplementedError

    def __repr__(self):
        return f"{self.forward_fn.__name__}: {type(self).__mro__[2].__repr__(self)}"


class FunctionalConv2d(ParamPair, Conv2d):
    param_names = ("weight", "bias")

    def settings(self):
        return {"stride": self.stride[0], "pad": self.padding[0]}

    def words(self):
        return (f"forward(x, w, b, conv_param={self.settings()}), w (F, C, HH, WW) = "
                f"{self.params['weight'].shape}; backward(dout, cache) returns (dx, dw, db)")


class FunctionalMaxPool2d(ParamPair, MaxPool2d):
    def settings(self):
        return {"pool_height": self.kernel_size[0], "pool_width": self.kernel_size[1], "stride": self.stride[0]}

    def words(self):
        return f"forward(x, pool_param={self.settings()}); backward(dout, cache) returns dx"


class FunctionalBatchNorm1d(ParamPair, BatchNorm1d):
    param_names = ("weight", "bias")
    biased_running_var = True  # the twin keeps CS231n's running variance (reference.regularization)
    checked_in_evaluation = False  # CS231n's batchnorm_backward takes a training-mode cache only

    def settings(self):
        return {"mode": "train", "eps": self.eps, "momentum": 1 - self.momentum,
                "running_mean": self.buffers["running_mean"].copy(), "running_var": self.buffers["running_var"].copy()}

    def forward(self, x):
        out = super().forward(x)
        for name in ("running_mean", "running_var"):  # what forward stored: compared with the twin's
            self.buffers[name] = np.array(self.last_settings.get(name, self.buffers[name]), copy=True)
        self.buffers["num_batches_tracked"] += 1
        return out

    def words(self):
        return (f"forward(x, gamma, beta, bn_param) in mode 'train', eps {self.eps:g}, momentum "
                f"{1 - self.momentum:g} (torch's {self.momentum:g}); running_mean and running_var read back from "
                f"bn_param; running_var compared as CS231n defines it, from the biased batch variance (torch's "
                f"own uses the unbiased one, n/(n-1) larger); backward(dout, cache) returns (dx, dgamma, dbeta); "
                f"test mode not checked (CS231n's batchnorm_backward is for training)")


class FunctionalDropout(ParamPair, Dropout):
    def bind_probability(self, p: float, keeps: bool):
        """p as dropout_param holds it; keeps: it is the probability of keeping a unit (CS231n's)."""
        self.user_p, self.keeps, self.p = p, keeps, 1 - p if keeps else p
        return self

    def settings(self):
        return {"p": self.user_p, "mode": "train" if self.training else "test", "seed": 0}

    def draw_mask(self, shape) -> np.ndarray:
        """The mask the user's forward draws for a batch of this shape (True: kept), for the twin."""
        out, _ = self.forward_fn(np.ones(shape), {**self.settings(), "mode": "train"})
        return out != 0

    def __repr__(self):
        return f"{self.forward_fn.__name__}: dropout_param['p']={self.user_p:g}"

    def words(self):
        meaning = "keeping" if self.keeps else "dropping"
        return (f"forward(x, dropout_param={self.settings() | {'mode': 'train|test'}}), p the probability of "
                f"{meaning} a unit; the mask: the one forward draws with that seed, given to the twin; "
                f"backward(dout, cache) returns dx; training and test mode")


def check_fit(in_shape, window: int, stride: int, pad: int, window_option: str) -> None:
    """The window must tile the (padded) image a whole number of times, as CS231n's naive code assumes
    (conv_forward_naive asserts it): (H + 2 pad - window) % stride == 0, and the same for W."""
    for size, what in zip(in_shape[1:], "HW"):
        span = size + 2 * pad - window
        if span < 0 or span % stride:
            raise ConventionError(Keyword(window_option), f"{window} at ", Keyword("stride"), str(stride),
                                  *([" with ", Keyword("pad"), str(pad)] if pad else []),
                                  f" does not fit an image {what} of {size} a whole number of times ({what} + 2 pad "
                                  f"- window) % stride == 0, as CS231n's naive layers assume; give ",
                                  Keyword("in_shape"), " ", Keyword("stride"), " or ", Keyword(window_option),
                                  " that fit")


def build(pair, kind: str, found: str, *, in_shape, out_channels=4, kernel=3, stride=None, pad=1, pool=2, p=0.7,
          dtype=np.float64, seed=0):
    """The scratch layer over the pair, parameters drawn from seed (torch's default for conv, and gamma
    near 1, beta near 0 for batch norm: neither all ones nor zeros, which would hide a missing term)."""
    rng = np.random.default_rng(seed)
    if kind == "conv2d":
        stride = stride or 1
        check_fit(in_shape, kernel, stride, pad, "kernel")
        bound = 1 / np.sqrt(in_shape[0] * kernel * kernel)
        weight = rng.uniform(-bound, bound, (out_channels, in_shape[0], kernel, kernel)).astype(dtype)
        bias = rng.uniform(-bound, bound, out_channels).astype(dtype)
        return FunctionalConv2d(weight, bias, stride, pad).bind(pair, found)
    if kind == "maxpool2d":
        stride = stride or pool
        check_fit(in_shape, pool, stride, 0, "pool")
        return FunctionalMaxPool2d(pool, stride).bind(pair, found)
    if kind == "batchnorm1d":
        layer = FunctionalBatchNorm1d(in_shape[0], CS231N_EPS, 1 - CS231N_MOMENTUM, dtype=dtype).bind(pair, found)
        layer.params = {"weight": (1 + 0.5 * rng.standard_normal(in_shape[0])).astype(dtype),
                        "bias": rng.standard_normal(in_shape[0]).astype(dtype)}
        return layer
    layer = FunctionalDropout().bind(pair, found)
    return layer.bind_probability(p, keeps_with(pair[0]))


def keeps_with(forward_fn) -> bool:
    """Whether dropout_param['p'] is the probability of keeping a unit: forward at p=0.8 on 10,000 ones
    keeps about 8,000 (keep) or 2,000 (drop). Its mask must follow from the seed: two calls agree."""
    settings = {"p": KEEP_PROBE_P, "mode": "train", "seed": 0}
    outputs = [forward_fn(np.ones(PROBE_SHAPE), copy.deepcopy(settings))[0] for _ in range(2)]
    if not np.array_equal(outputs[0] != 0, outputs[1] != 0):
        raise ConventionError(f"{forward_fn.__name__} drew two masks for the same dropout_param['seed']: seed "
                              f"np.random with it (np.random.seed(dropout_param['seed'])), so that the twin can "
                              f"apply the same mask")
    kept = float(np.mean(outputs[0] != 0))
    if abs(kept - KEEP_PROBE_P) < 0.05 or abs(kept - (1 - KEEP_PROBE_P)) < 0.05:
        return abs(kept - KEEP_PROBE_P) < 0.05
    raise ConventionError(f"{forward_fn.__name__} with dropout_param['p'] = {KEEP_PROBE_P} kept {kept:.0%} of the "
                          f"units: p is neither the probability of keeping one nor of dropping one")
