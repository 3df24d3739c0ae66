"""Dropout and BatchNorm1d against torch, in training and evaluation modes, float64 and float32;
finite differences as the third opinion; whole networks over 20 SGD steps with the running
statistics compared after every step; the state_dict with buffers against a hand-built
torch.nn.Sequential.

Dropout is compared on the same masks: the twin (reference.regularization.MaskedDropout) draws
them from a copy of the scratch layer's NumPy generator (see scratch_nn/regularization.py).
"""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from reference import tolerances
from reference.comparison import Comparison, compare
from reference.finite_differences import numerical_trace
from reference.regularization import MaskedDropout, cancelled_gradients
from reference.side_by_side import (
    compare_pass,
    compare_step,
    trace_scratch,
    trace_torch,
)
from reference.twin import assert_same_weights, copy_to_torch, torch_model
from scratch_nn import (
    SGD,
    BatchNorm1d,
    Dropout,
    Linear,
    Sequential,
    SoftmaxCrossEntropy,
    Tanh,
    build_network,
)

DTYPES = [np.float64, np.float32]
TORCH_DTYPES = {np.float64: torch.float64, np.float32: torch.float32}


# Helpers -----------------------------------------------------------------------------------------

def batch_norm(rng, features, dtype, momentum=0.1, affine=True):
    """A BatchNorm1d whose parameters and running statistics are not the defaults (gamma 1, beta 0,
    mean 0, var 1), so that a mix-up between them shows."""
    layer = BatchNorm1d(features, momentum=momentum, affine=affine, dtype=dtype)
    values = {"weight": rng.uniform(0.5, 2, features), "bias": rng.standard_normal(features),
              "running_mean": rng.standard_normal(features), "running_var": rng.uniform(0.5, 2, features)}
    for name, array in (*layer.params.items(), *layer.buffers.items()):
        if name in values:
            array[...] = values[name]
    return layer


def inputs(rng, batch, features, dtype):
    """Features centred away from 0 with a spread of 2: subtracting the mean and dividing by the
    standard deviation both matter."""
    return (3 + 2 * rng.standard_normal((batch, features))).astype(dtype)


def check(layers, x, rng, training=True, out_features=None):
    """layers (as a Sequential) and their twin, in the given mode, on x with a random upstream gradient
    (for an output of out_features, by default x's)."""
    network = Sequential(*layers).train(training)
    model = torch_model(network)
    upstream = rng.standard_normal((len(x), out_features or x.shape[1])).astype(x.dtype)
    compare_pass(network, model, x, upstream=upstream).assert_ok()
    return network, model


class FreshCopy:
    """A layer whose every forward call runs on a fresh copy of it: the same dropout mask every time,
    running statistics untouched, so finite differences see one fixed function."""

    def __init__(self, layer):
        self.layer, self.params = layer, layer.params  # params shared: finite differences perturb them

    def forward(self, x):
        return copy.deepcopy(self.layer).forward(x)


def triangulate(network, x, upstream):
    """Scratch and torch agree, and finite differences (float64, on fresh copies) agree with both;
    a gradient that batch norm cancels is judged on each side alone."""
    model = torch_model(network)  # first: its dropout generators copy the layers' before any draw
    numerical = numerical_trace(Sequential(*map(FreshCopy, network.layers)), x, upstream=upstream)
    ours, theirs = trace_scratch(network, x, upstream=upstream), trace_torch(model, x, upstream=upstream)
    cancelled = cancelled_gradients(network, ours, theirs, np.float64)
    Comparison(cancelled).assert_ok()
    for judged in cancelled:
        del numerical[judged.name]
    compare(ours, theirs, tolerances.FLOAT64, network.layers).assert_ok()
    for side, trace in (("scratch", ours), ("torch", theirs)):
        compare({key: trace[key] for key in numerical}, numerical, tolerances.FINITE_DIFFERENCES, network.layers,
                context=f"{side} against finite differences", judge="finite differences").assert_ok()
    return numerical


# Dropout -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("batch", [1, 7, 32])
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout(p, batch, training, dtype):
    rng = np.random.default_rng(batch)
    check([Dropout(p, seed=batch)], rng.standard_normal((batch, 50)).astype(dtype), rng, training)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_scales_the_kept_units_by_one_over_one_minus_p(p, dtype):
    x = np.random.default_rng(0).standard_normal((64, 50)).astype(dtype)
    layer = Dropout(p)
    y = layer.forward(x)
    assert (y[~layer.mask] == 0).all()
    expected = np.where(layer.mask, x.astype(np.float64) / (1 - p), 0)
    compare({"kept": y}, {"kept": expected.astype(dtype)}, tolerances.for_dtype(dtype), judge="x / (1 - p)").assert_ok()
    np.testing.assert_array_equal(layer.backward(x), y)  # G = x: the forward's scaled mask, not a new one


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_keeps_units_with_probability_one_minus_p(p):
    """A million draws: the kept fraction within 5 standard deviations of 1 - p."""
    kept = Dropout(p).forward(np.ones((1000, 1000))) != 0
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / kept.size)


def test_dropout_in_evaluation_is_the_identity():
    x = np.random.default_rng(0).standard_normal((8, 5))
    network = Sequential(Dropout(0.5)).eval()
    np.testing.assert_array_equal(network.forward(x), x)
    np.testing.assert_array_equal(network.backward(2 * x), 2 * x)
    assert network.layers[0].mask is None, "evaluation draws no mask"


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_dropout_computes_torchs_dropout(p, dtype):
    """The twin, given the mask torch's own dropout drew, returns what torch's dropout returns, and the
    same gradient: the twin is torch's formula, x * (m / (1 - p)), with the mask from outside."""
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((16, 30)).astype(dtype)).requires_grad_(True)
    torch.manual_seed(7)
    keep = nn.functional.dropout(torch.ones_like(x), p) != 0
    torch.manual_seed(7)
    theirs = nn.functional.dropout(x, p)
    ours = MaskedDropout(p, rng=None)(x, keep)  # no generator: the mask is given
    upstream = torch.randn_like(x)
    (grad_theirs,) = torch.autograd.grad(theirs, x, upstream)
    (grad_ours,) = torch.autograd.grad(ours, x, upstream)
    compare({"output": ours.detach(), "grad_input": grad_ours}, {"output": theirs, "grad_input": grad_theirs},
            tolerances.for_dtype(dtype), judge="torch.nn.functional.dropout").assert_ok()


def test_each_side_draws_the_same_masks_in_any_order():
    """Four training-mode calls on each side: scratch all first, then torch (or interleaved, or on other
    threads): the masks are the same, because each side owns an identical generator. Bit for bit: the
    same mask scaled by the same division, then one multiplication."""
    rng = np.random.default_rng(0)
    network = Sequential(Dropout(0.3, seed=3))
    model = torch_model(network)
    for dtype in DTYPES:
        batches = [rng.standard_normal((5, 6)).astype(dtype) for _ in range(4)]
        ours = [network.forward(x) for x in batches]
        theirs = [model(torch.from_numpy(x)).numpy() for x in batches]
        np.testing.assert_array_equal(ours, theirs)
        assert len({o.tobytes() for o in ours}) == 4, "a fresh mask on every call"


def test_a_deep_copy_draws_the_originals_next_masks_without_advancing_it():
    layer, x = Dropout(0.5, seed=1), np.ones((4, 8))
    twin = copy.deepcopy(layer)
    first = layer.forward(x)
    np.testing.assert_array_equal(twin.forward(x), first)
    np.testing.assert_array_equal(copy.deepcopy(layer).forward(x), copy.deepcopy(layer).forward(x))
    assert not np.array_equal(layer.forward(x), first)


@pytest.mark.parametrize("p", [1, 1.0, -0.1, float("nan"), True, "0.5", None])
def test_dropout_refuses_a_probability_outside_0_1(p):
    with pytest.raises(ValueError, match=r"dropout needs a drop probability p with 0 <= p < 1"):
        Dropout(p)
    with pytest.raises(ValueError, match=r"0 <= p < 1"):
        build_network("4-3-2", dropout=p)


# BatchNorm1d -------------------------------------------------------------------------------------

# A batch of 1 in evaluation only (test_batch_norm_refuses_a_batch_of_one_in_training);
# 2: test_batch_norm_batch_of_two.
MODES_AND_BATCHES = [(True, "train", 3), (True, "train", 7), (True, "train", 32), (False, "eval", 1), (False, "eval",
                                                                                                       7)]


@pytest.mark.parametrize("training,batch", [pytest.param(t, b, id=f"{mode}-{b}") for t, mode, b in MODES_AND_BATCHES])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("features", [1, 10, 128])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm(features, affine, training, batch, dtype):
    rng = np.random.default_rng(features + batch)
    network, model = check([batch_norm(rng, features, dtype, affine=affine)], inputs(rng, batch, features, dtype),
                           rng, training)
    compare(network.state_dict(), model.state_dict(), tolerances.for_dtype(dtype)).assert_ok()


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_batch_of_two(dtype):
    """The smallest batch training allows. Its two normalised values are +-sqrt(var / (var + eps))
    whatever x is, so dL/dx is only what eps leaves, eps / (var + eps) of the terms it is computed
    from: an ill-conditioned number on both sides (measured 3e-10 apart relative to itself in float64,
    1e-3 in float32), outside the tolerances' regime, so it is left out here. The rest is compared."""
    rng = np.random.default_rng(0)
    network = Sequential(batch_norm(rng, 10, dtype))
    model = torch_model(network)
    x, upstream = inputs(rng, 2, 10, dtype), rng.standard_normal((2, 10)).astype(dtype)
    ours, theirs = trace_scratch(network, x, upstream=upstream), trace_torch(model, x, upstream=upstream)
    del ours["0.grad_input"], theirs["0.grad_input"]
    compare(ours, theirs, tolerances.for_dtype(dtype)).assert_ok()
    compare(network.state_dict(), model.state_dict(), tolerances.for_dtype(dtype)).assert_ok()


def test_batch_norm_refuses_a_batch_of_one_in_training():
    x = np.ones((1, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(4, dtype=torch.float64)(torch.from_numpy(x))
    with pytest.raises(ValueError, match=r"in training mode needs at least 2 examples per batch .* call eval\(\)"):
        BatchNorm1d(4).forward(x)


@pytest.mark.parametrize("argument,words", [
    ({"num_features": 0}, "positive number of features"), ({"eps": 0}, "eps > 0"),
    ({"momentum": None}, "momentum=None .* not implemented"), ({"momentum": 1.5}, r"momentum in \[0, 1\]"),
])
def test_batch_norm_refuses_bad_arguments(argument, words):
    with pytest.raises(ValueError, match=words):
        BatchNorm1d(**{"num_features": 4, **argument})


@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0, 0.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_running_statistics_follow_torch_over_several_batches(momentum, dtype):
    """Four training batches of different sizes: the running mean, the running variance (unbiased:
    n / (n - 1) differs per batch) and the count after each; then evaluation uses them."""
    rng = np.random.default_rng(2)
    network = Sequential(batch_norm(rng, 6, dtype, momentum=momentum))
    model = torch_model(network)
    for n in (3, 8, 5, 32):
        x, upstream = inputs(rng, n, 6, dtype), rng.standard_normal((n, 6)).astype(dtype)
        compare_pass(network, model, x, upstream=upstream).assert_ok()
        compare(network.state_dict(), model.state_dict(), tolerances.for_dtype(dtype)).assert_ok()
    assert network.state_dict()["0.num_batches_tracked"] == 4
    network.eval(), model.eval()
    compare_pass(network, model, inputs(rng, 4, 6, dtype), upstream=np.ones((4, 6), dtype)).assert_ok()


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batch_norm_gradients_agree_with_finite_differences(affine, training):
    rng = np.random.default_rng(4)
    layer = batch_norm(rng, 5, np.float64, affine=affine)
    layer.training = training
    numerical = triangulate(Sequential(layer), inputs(rng, 6, 5, np.float64), rng.standard_normal((6, 5)))
    assert numerical.keys() == {"0.grad_input"} | ({"0.weight.grad", "0.bias.grad"} if affine else set())


def test_dropout_gradient_agrees_with_finite_differences_on_a_fixed_mask():
    rng = np.random.default_rng(5)
    triangulate(Sequential(Dropout(0.5, seed=2)), rng.standard_normal((6, 5)), rng.standard_normal((6, 5)))


def test_a_small_regularised_network_agrees_with_finite_differences():
    """Linear, batch norm, tanh, dropout, Linear."""
    rng = np.random.default_rng(6)
    network = build_network("6-5-3", "tanh", init="torch", seed=6, batch_norm=True, dropout=0.3)
    numerical = triangulate(network, rng.standard_normal((7, 6)), rng.standard_normal((7, 3)))
    assert {"0.grad_input", "0.weight.grad", "1.weight.grad", "3.grad_input", "4.bias.grad"} <= numerical.keys()


# Whole networks ----------------------------------------------------------------------------------

def regularised(dtype, activation="relu", seed=0):
    """784-32-10 with batch norm and dropout 0.3: Linear, BatchNorm1d, activation, Dropout, Linear."""
    network = build_network("784-32-10", activation, init="torch", seed=seed, dtype=dtype, batch_norm=True,
                            dropout=0.3)
    return network, torch_model(network)


def test_build_network_places_batch_norm_before_and_dropout_after_each_hidden_activation():
    network = build_network("784-32-16-10", "relu,tanh", batch_norm=True, dropout=0.5)
    assert [type(layer).__name__ for layer in network.layers] == [
        "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear", "BatchNorm1d", "Tanh", "Dropout", "Linear"]
    x = np.ones((3, 8))
    assert not np.array_equal(network.layers[3].forward(x), network.layers[7].forward(x)), "one stream per layer"
    plain = build_network("784-32-16-10", "relu,tanh")
    assert [type(layer) for layer in plain.layers] == [type(layer) for layer in
                                                       build_network("784-32-16-10", "relu,tanh", dropout=0.0).layers]


def test_train_and_eval_set_every_layers_mode_and_the_twin_follows():
    network = build_network("784-32-16-10", "relu", batch_norm=True, dropout=0.5)
    assert network.eval() is network
    assert not any(getattr(layer, "training", False) for layer in network.layers)
    model = torch_model(network)
    assert not any(module.training for module, layer in zip(model, network.layers) if hasattr(layer, "training"))
    network.train()
    assert all(layer.training for layer in network.layers if hasattr(layer, "training"))


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_pass_in_each_mode(activation, dtype):
    rng = np.random.default_rng(1)
    network, model = regularised(dtype, activation)
    x, y = rng.random((32, 784)).astype(dtype), rng.integers(0, 10, 32)
    compare_pass(network, model, x, y, SoftmaxCrossEntropy()).assert_ok()
    network.eval(), model.eval()
    compare_pass(network, model, x, y, SoftmaxCrossEntropy()).assert_ok()


@pytest.mark.parametrize("dtype", DTYPES)
def test_20_sgd_steps_parameters_and_running_statistics_after_every_step(dtype):
    """Each side on its own trajectory; the parameters and the buffers compared after every step (the
    step's state_dict), then an evaluation pass with the running statistics the 20 steps left."""
    rng = np.random.default_rng(2)
    network, model = regularised(dtype)
    for step in range(1, 21):
        x, y = rng.random((16, 784)).astype(dtype), rng.integers(0, 10, 16)
        comparison = compare_step(network, model, x, y, SoftmaxCrossEntropy(), lr=0.1, context=f"after step {step}")
        comparison.assert_ok()
    assert {"1.running_mean", "1.running_var", "1.num_batches_tracked"} <= {d.name for d in comparison.diffs}
    assert network.state_dict()["1.num_batches_tracked"] == 20
    network.eval(), model.eval()
    compare_pass(network, model, x, y, SoftmaxCrossEntropy()).assert_ok()


def test_a_bias_gradient_before_batch_norm_must_be_0_on_each_side():
    """The check that replaces comparing the cancelled gradient (reference.tolerances.CANCELLED_BY_BATCH_NORM)
    fails on a value far below any real gradient; in evaluation the bias has a gradient and is compared."""
    rng = np.random.default_rng(4)
    network, model = regularised(np.float64)
    x, y = rng.random((16, 784)), rng.integers(0, 10, 16)
    ours, theirs = trace_scratch(network, x, y, SoftmaxCrossEntropy()), trace_torch(model, x, y, SoftmaxCrossEntropy())
    ours["0.bias.grad"] = ours["0.bias.grad"] + 1e-12 * np.abs(theirs["1.grad_input"]).sum(axis=0)
    (judged,) = cancelled_gradients(network, ours, theirs, np.float64)
    assert judged.name == "0.bias.grad" and not judged.ok and "the scratch side's" in judged.problem
    assert "0.bias.grad" not in ours and "0.bias.grad" not in theirs
    assert cancelled_gradients(network.eval(), ours, theirs, np.float64) == []


def test_sgd_leaves_the_running_statistics_alone():
    network, _ = regularised(np.float64)
    rng = np.random.default_rng(3)
    loss = SoftmaxCrossEntropy()
    loss.forward(network.forward(rng.random((8, 784))), rng.integers(0, 10, 8))
    network.backward(loss.backward())
    before = network.state_dict()
    SGD(network, 0.1).step()
    for key in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        np.testing.assert_array_equal(network.state_dict()[key], before[key])


# state_dict with buffers -------------------------------------------------------------------------

def hand_built(dtype):
    return nn.Sequential(nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(32, 10)).to(TORCH_DTYPES[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_state_dict_round_trip_with_a_hand_built_torch_sequential(dtype):
    network = build_network("784-32-10", "relu", init="torch", dtype=dtype, batch_norm=True, dropout=0.3)
    model = hand_built(dtype)
    ours, theirs = network.state_dict(), model.state_dict()
    assert list(ours) == list(theirs)  # parameters, then buffers, per layer: torch's order
    assert [(v.shape, torch.from_numpy(v).dtype) for v in ours.values()] == \
        [(tuple(v.shape), v.dtype) for v in theirs.values()]
    model.load_state_dict({k: torch.from_numpy(v) for k, v in ours.items()}, strict=True)
    assert_same_weights(network, model)
    rng = np.random.default_rng(0)  # torch trains a step: its buffers and parameters move
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    nn.functional.cross_entropy(model(torch.from_numpy(rng.random((8, 784)).astype(dtype))),
                                torch.from_numpy(rng.integers(0, 10, 8))).backward()
    optimizer.step()
    network.load_state_dict(model.state_dict())
    assert_same_weights(network, model)
    assert network.state_dict()["1.num_batches_tracked"] == 1
    back = hand_built(dtype)
    back.load_state_dict({k: torch.from_numpy(v) for k, v in network.state_dict().items()}, strict=True)
    assert_same_weights(network, back)


def test_load_state_dict_checks_the_buffers_too():
    network = build_network("4-3-2", batch_norm=True)
    state = network.state_dict()
    state.pop("1.running_var")
    state["1.num_batches_tracked"] = np.array(3.0)
    with pytest.raises(ValueError, match=r"missing key '1.running_var'(.|\n)*'1.num_batches_tracked' is float64, "
                                         r"expected int64"):
        network.load_state_dict(state)


def test_the_bit_for_bit_check_sees_a_running_statistic():
    network, model = regularised(np.float64)
    copy_to_torch(network, model)
    with torch.no_grad():
        model[1].running_var[0] = np.nextafter(model[1].running_var[0].item(), np.inf)
    with pytest.raises(AssertionError, match="1.running_var: the weights on the two sides are not bit-for-bit"):
        assert_same_weights(network, model)


def test_a_hand_built_network_of_these_layers():
    rng = np.random.default_rng(8)
    layers = [Linear(rng.standard_normal((5, 6)), rng.standard_normal(5)), batch_norm(rng, 5, np.float64), Tanh(),
              Dropout(0.4, seed=4), Linear(rng.standard_normal((3, 5)), rng.standard_normal(3))]
    check(layers, rng.standard_normal((9, 6)), rng, out_features=3)
