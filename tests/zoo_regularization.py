"""The bug zoo of dropout and batch norm: mistakes people really make, each a small subclass of
scratch_nn's Dropout or BatchNorm1d overriding one method. tests/test_zoo_regularization.py checks
that the comparisons of tests/test_regularization.py catch every one, on the tensor where it
shows. Never imported by the packages.
"""

import numpy as np

from scratch_nn import BatchNorm1d, Dropout
from scratch_nn.layers import require_cache
from scratch_nn.regularization import keep_mask

# Dropout ----------------------------------------------------------------------------------------

class DropoutWithoutScaling(Dropout):
    """y = x * m, without the 1/(1 - p): the expected activation shrinks by (1 - p) in training only,
    so the next layer sees differently scaled inputs at evaluation."""

    def forward(self, x):
        if not self.training or self.p == 0:
            return super().forward(x)
        self.mask = keep_mask(self.rng, x.shape, self.p)
        scale = self.mask.astype(x.dtype)
        self._cache = (x.shape, x.dtype, scale)
        return x * scale


class DropoutActiveInEvaluation(Dropout):
    """Drops (and rescales) units at evaluation too: the training flag is never looked at."""

    def forward(self, x):
        self.training, mode = True, self.training
        try:
            return super().forward(x)
        finally:
            self.training = mode


# BatchNorm1d ------------------------------------------------------------------------------------

class BatchNormUnbiasedInTraining(BatchNorm1d):
    """Normalises with the unbiased variance (np.var(x, ddof=1)), which torch uses only for the
    running estimate: every output is off by sqrt((n - 1) / n)."""

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)
        self._update_running(mean, var)
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat = (x - mean) * inv_std
        self._cache = (x_hat, inv_std, True)
        return x_hat * self.params["weight"] + self.params["bias"]


class BatchNormBatchStatisticsInEvaluation(BatchNorm1d):
    """Normalises with the batch's own statistics at evaluation too (and so updates the running
    ones there): predictions then depend on what else is in the batch."""

    def forward(self, x):
        self.training, mode = True, self.training
        try:
            return super().forward(x)
        finally:
            self.training = mode


class BatchNormRunningVarianceBiased(BatchNorm1d):
    """Updates the running variance with the biased batch variance (the one it normalised with),
    where torch uses the unbiased n / (n - 1) one: training outputs are right, evaluation is not."""

    def forward(self, x):
        self.batch_size = len(x)
        return super().forward(x)

    def _update_running(self, mean, unbiased_var):
        n = self.batch_size
        super()._update_running(mean, unbiased_var * ((n - 1) / n))


class BatchNormMomentumReversed(BatchNorm1d):
    """running <- momentum * running + (1 - momentum) * batch: Keras' convention (momentum 0.99 keeps
    the old value) with torch's momentum 0.1, so the running statistics follow each batch almost entirely."""

    def _update_running(self, mean, unbiased_var):
        m = self.momentum
        self.buffers["running_mean"][...] = (1 - m) * mean + m * self.buffers["running_mean"]
        self.buffers["running_var"][...] = (1 - m) * unbiased_var + m * self.buffers["running_var"]
        self.buffers["num_batches_tracked"] += 1


class BatchNormGradientIgnoresTheMean(BatchNorm1d):
    """Backward treats the batch mean as a constant: dL/dx = inv_std * (G' - x_hat * mean(G' x_hat)),
    dropping the -mean(G') term that comes from the mean's dependence on every x_i."""

    def backward(self, grad_output):
        super().backward(grad_output)  # the parameter gradients, which are right
        x_hat, inv_std, training = require_cache(self)
        g = grad_output * self.params["weight"]
        if not training:
            return g * inv_std
        return inv_std * (g - x_hat * (g * x_hat).mean(axis=0))
