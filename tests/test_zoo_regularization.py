"""Every mistake in tests/zoo_regularization.py is caught by the comparisons of
test_regularization.py, on the tensor where it first shows: a training pass, an SGD step
(parameters and running statistics), and an evaluation pass. Each phase starts from identical
state on both sides (the scratch parameters and buffers copied into the twin), so a mistake is
seen in the phase it belongs to and not only as a consequence of an earlier one."""

import copy

import numpy as np
import pytest
import zoo_regularization as zoo

from reference.side_by_side import compare_pass, compare_step
from reference.twin import copy_to_torch, torch_model
from scratch_nn import SoftmaxCrossEntropy, build_network

DTYPES = [np.float64, np.float32]
BATCH_NORM, DROPOUT = 1, 3  # Linear, BatchNorm1d, Tanh, Dropout, Linear


def build(variant, dtype):
    """10-7-4 with batch norm and dropout, the variant in place of the layer it subclasses, with that
    layer's state (parameters, buffers, generator)."""
    network = build_network("10-7-4", "tanh", init="torch", dtype=dtype, batch_norm=True, dropout=0.5)
    if variant is not None:
        index = next(i for i, layer in enumerate(network.layers) if isinstance(layer, variant.__bases__[0]))
        network.layers[index] = copy.copy(network.layers[index])
        network.layers[index].__class__ = variant
    return network


def first_failure(comparison):
    return next((d.name for d in comparison.diffs if not d.ok), None)


def phases(network, dtype):
    """The first failing tensor (None: all agree) of a training pass, a step, and an evaluation pass."""
    rng = np.random.default_rng(0)
    batch = lambda: (rng.random((8, 10)).astype(dtype), rng.integers(0, 4, 8))  # noqa: E731
    model, loss = torch_model(network), SoftmaxCrossEntropy()
    training_pass = compare_pass(network, model, *batch(), loss)
    copy_to_torch(network, model)
    step = compare_step(network, model, *batch(), loss, lr=0.1)
    copy_to_torch(network, model)
    network.eval(), model.eval()
    evaluation_pass = compare_pass(network, model, *batch(), loss)
    return first_failure(training_pass), first_failure(step), first_failure(evaluation_pass)


ZOO = {  # variant: the first failing tensor of (training pass, step, evaluation pass)
    zoo.DropoutWithoutScaling: (f"{DROPOUT}.output", "0.weight", None),
    zoo.DropoutActiveInEvaluation: (None, None, f"{DROPOUT}.output"),
    zoo.BatchNormUnbiasedInTraining: (f"{BATCH_NORM}.output", "0.weight", None),
    zoo.BatchNormBatchStatisticsInEvaluation: (None, None, f"{BATCH_NORM}.output"),
    zoo.BatchNormRunningVarianceBiased: (None, f"{BATCH_NORM}.running_var", None),
    zoo.BatchNormMomentumReversed: (None, f"{BATCH_NORM}.running_mean", None),
    zoo.BatchNormGradientIgnoresTheMean: (f"{BATCH_NORM}.grad_input", "0.weight", None),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ZOO, ids=lambda v: v.__name__)
def test_the_comparisons_catch_it_where_it_shows(variant, dtype):
    assert phases(build(variant, dtype), dtype) == ZOO[variant]


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_correct_layers_raise_no_alarm(dtype):
    assert phases(build(None, dtype), dtype) == (None, None, None)


def test_the_zoo_is_complete():
    """Every class in tests/zoo_regularization.py is a specimen, so a variant added there is tested here."""
    variants = {value for value in vars(zoo).values() if isinstance(value, type) and value.__module__ == zoo.__name__}
    assert variants == set(ZOO)
    assert len(variants) >= 4
