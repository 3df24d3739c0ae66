"""scratch_nn's own conventions: Linear(weight, bias) with params/grads dicts, weight (out, in),
stateful backward(grad_output), SoftmaxCrossEntropy on labels; the mistakes are the bug zoo's."""

import numpy as np
import zoo

import scratch_nn


def network(sizes=(784, 32, 10), seed=0, linear=scratch_nn.Linear, activation=scratch_nn.Sigmoid,
            loss=scratch_nn.SoftmaxCrossEntropy):
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [linear(*scratch_nn.torch_default(rng, fan_in, fan_out)), activation()]
    return layers[:-1], loss()


MUTANTS = {
    "stale cache": ("linear", zoo.LinearStaleCache, 0, "stale cache"),
    "derivative at the output": ("activation", zoo.SigmoidDerivativeAtOutput, 1, "derivative at the output"),
    "loss gradient not divided by n": ("loss", zoo.CrossEntropyGradNotDividedByBatch, "loss", "batch size too big"),
}
