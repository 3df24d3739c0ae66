"""The convolutional layers (Conv2d, MaxPool2d, Flatten, Unflatten, LeakyReLU) and CNNs built from
specs, against their torch twins: every layer's output, input gradient and parameter gradients in
float64 and float32, finite differences as a third opinion, whole CNNs over 20 SGD steps, the
state_dict interchange, the conv bug zoo (tests/zoo_conv.py), and bad input.

Shapes are chosen so that a transposed or mis-strided kernel cannot pass: non-square kernels
(3x2), in != out channels, height != width, strides 1 to 3 (also different per axis), padding 0
to 2, batch size 1 among them. Layers backpropagate a random upstream gradient (see test_layers).
"""

import re

import numpy as np
import pytest
import torch
import zoo_conv
from test_network import batches_of, mnist_like
from test_triangulation import triangulate
from torch import nn

from reference.side_by_side import compare_pass, compare_step, compare_trajectory
from reference.twin import copy_to_scratch, torch_model
from scratch_nn import (
    Conv2d,
    Flatten,
    LeakyReLU,
    MaxPool2d,
    Sequential,
    SoftmaxCrossEntropy,
    Spec,
    Unflatten,
    build_network,
)

DTYPES = [np.float64, np.float32]
# A small CNN with every kind of layer: padding 2 keeps 28x28, pool to 14x14, a 3x2 kernel at
# stride 2 with padding 1 gives 7x8 (6 channels), then 336 -> 24 -> 10.
SMALL_CNN = "1x28x28-conv4k5p2-pool2-conv6k3x2s2p1-24-10"
PRESET_CNN = "1x28x28-conv8k5-pool2-conv16k5-pool2-120-10"

# in channels, out channels, kernel, stride, padding, height, width
CONV_CASES = [
    (3, 5, (3, 2), 1, 0, 9, 7),
    (2, 4, (3, 2), 2, 1, 10, 7),
    (1, 3, (5, 5), 1, 2, 8, 11),
    (4, 2, (2, 3), (2, 1), (1, 2), 9, 8),
    (5, 6, (4, 3), 3, 2, 11, 13),
]
# kernel, stride (None: the kernel), height, width: tiling, overlapping, leftover rows and columns
POOL_CASES = [(2, None, 8, 6), (3, 2, 7, 9), ((2, 3), None, 7, 9), (2, 1, 5, 6), ((3, 2), (1, 2), 6, 7)]


def one_pass(layers, x, rng):
    """One forward and backward pass of the layers and their torch twin, every tensor compared."""
    network = Sequential(*layers)
    upstream = rng.standard_normal(network.forward(x).shape).astype(x.dtype)
    return compare_pass(network, torch_model(network), x, upstream=upstream)


def conv(rng, case, dtype, variant=Conv2d):
    c_in, c_out, kernel, stride, padding, _, _ = case
    weight = rng.uniform(-1, 1, (c_out, c_in, *kernel)).astype(dtype)
    return variant(weight, rng.uniform(-1, 1, c_out).astype(dtype), stride, padding)


def images(rng, case, batch, dtype):
    return rng.standard_normal((batch, case[0], *case[-2:])).astype(dtype)


def pool_input(rng, batch, height, width, dtype):
    """After a ReLU: about half exact zeros, so that windows of tied maxima occur, and integers,
    so that positive maxima tie too."""
    return np.maximum(np.round(2 * rng.standard_normal((batch, 3, height, width))), 0).astype(dtype)


# Each layer against torch ------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d(case, batch, dtype):
    rng = np.random.default_rng(0)
    comparison = one_pass([conv(rng, case, dtype)], images(rng, case, batch, dtype), rng)
    comparison.assert_ok()
    assert [d.name for d in comparison.diffs] == ["0.output", "0.grad_input", "0.weight.grad", "0.bias.grad"]


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("kernel,stride,height,width", POOL_CASES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d(kernel, stride, height, width, batch, dtype):
    rng = np.random.default_rng(0)
    one_pass([MaxPool2d(kernel, stride)], pool_input(rng, batch, height, width, dtype), rng).assert_ok()


@pytest.mark.parametrize("slope", [0.01, 0.2])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 4, 5)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu(shape, slope, dtype):
    """Both signs, and exact zeros, where torch's derivative is negative_slope."""
    rng = np.random.default_rng(0)
    x = (4 * rng.standard_normal(shape)).astype(dtype)
    x.flat[::3] = 0
    one_pass([LeakyReLU(slope)], x, rng).assert_ok()


@pytest.mark.parametrize("dtype", DTYPES)
def test_flatten_and_unflatten(dtype):
    rng = np.random.default_rng(0)
    one_pass([Flatten()], rng.standard_normal((3, 2, 4, 5)).astype(dtype), rng).assert_ok()
    one_pass([Unflatten((2, 4, 5))], rng.standard_normal((3, 40)).astype(dtype), rng).assert_ok()


# A third opinion --------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "leaky_relu"])
def test_finite_differences_agree_on_a_tiny_conv_net(activation):
    """Stride 2, padding 1 and a 3x2 kernel, then a 2x2 kernel, then a dense layer."""
    network = build_network("2x6x5-conv3k3x2s2p1-conv2k2-4", activation, init="torch", seed=1)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3, 60)), rng.integers(0, 4, 3)
    numerical = triangulate(network, x, y, SoftmaxCrossEntropy())
    assert {"0.grad_input", "1.weight.grad", "3.bias.grad"} <= numerical.keys()


def test_finite_differences_agree_on_max_pooling():
    """Distinct values 0.1 apart: finite-difference steps (at most 0.04) never change a window's argmax."""
    rng = np.random.default_rng(2)
    x = 0.1 * rng.permutation(2 * 3 * 7 * 9).reshape(2, 3, 7, 9).astype(np.float64)
    triangulate(Sequential(MaxPool2d(3, 2)), x, upstream=rng.standard_normal((2, 3, 3, 4)))


# Whole CNNs ------------------------------------------------------------------------------------

def test_spec_builds_torch_sequential_layout():
    network = build_network(PRESET_CNN, "relu", init="torch")
    model = torch_model(network)
    assert [type(m) for m in model] == [nn.Unflatten, nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Conv2d, nn.ReLU,
                                        nn.MaxPool2d, nn.Flatten, nn.Linear, nn.ReLU, nn.Linear]
    assert {key: value.shape for key, value in network.state_dict().items()} == {
        "1.weight": (8, 1, 5, 5), "1.bias": (8,), "4.weight": (16, 8, 5, 5), "4.bias": (16,),
        "8.weight": (120, 256), "8.bias": (120,), "10.weight": (10, 120), "10.bias": (10,)}


@pytest.mark.parametrize("spec", [PRESET_CNN, SMALL_CNN, "3x32x30-conv6k3x2s2p1-pool3s2-conv4k1-10", "784-128-10"])
def test_spec_reads_back_as_written(spec):
    assert str(Spec.parse(spec, "relu")) == f"{spec} relu"


@pytest.mark.parametrize("init,bound", [("torch", lambda fan_in: 1 / np.sqrt(fan_in)), ("paper", lambda fan_in: 1.0)])
def test_conv_initialisation(init, bound):
    """torch's default for Conv2d (kaiming_uniform_ with a = sqrt(5), and the bias alike) is uniform in
    +-1/sqrt(in * kh * kw): torch's own Conv2d(8, 16, 5) must fill the same range as ours."""
    network = build_network(PRESET_CNN, "relu", init=init)
    weight, bias = network.layers[4].params["weight"], network.layers[4].params["bias"]
    limit = bound(8 * 5 * 5)
    assert 0.95 * limit < np.abs(weight).max() <= limit and np.abs(bias).max() <= limit
    if init == "torch":
        theirs = nn.Conv2d(8, 16, 5).weight.detach().abs().max().item()
        assert 0.95 * limit < theirs <= limit


@pytest.mark.parametrize("activation,init,dtype", [
    (activation, init, dtype) for activation in ("relu", "tanh", "leaky_relu") for init in ("torch", "paper")
    for dtype in DTYPES if (activation, init, dtype) != ("tanh", "paper", np.float32)])
def test_cnn_one_pass_and_one_step(activation, init, dtype):
    """Every layer's output, the loss, every gradient; then one SGD step. Not float32 tanh with the
    paper's initialisation: saturated tanh outputs tie to within an ulp in max-pool windows, and
    the gradient's routing is then decided by rounding (reference/tolerances.py says more)."""
    rng = np.random.default_rng(0)
    network = build_network(SMALL_CNN, activation, init=init, dtype=dtype)
    x, y = mnist_like(rng, 8, dtype)
    compare_pass(network, torch_model(network), x, y, SoftmaxCrossEntropy()).assert_ok()
    compare_step(network, torch_model(network), x, y, SoftmaxCrossEntropy(), lr=0.1).assert_ok()


@pytest.mark.parametrize("lockstep", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cnn_20_steps(dtype, lockstep):
    """20 SGD steps at lr 0.1 on identical batches, the parameters compared after every step under
    the one-step tolerance: free-running (each side on its own trajectory), and in lockstep."""
    rng = np.random.default_rng(2)
    network = build_network(SMALL_CNN, "relu", init="torch", dtype=dtype)
    x, y = mnist_like(rng, 20 * 8, dtype)
    trajectory = compare_trajectory(network, torch_model(network), batches_of(x, y, 8), SoftmaxCrossEntropy(),
                                    lr=0.1, lockstep=lockstep)
    for comparison in trajectory:
        comparison.assert_ok()


@pytest.mark.parametrize("dtype", DTYPES)
def test_state_dict_round_trip_with_a_hand_built_torch_model(dtype):
    """torch's own load_state_dict(strict=True) takes the scratch weights, and a torch model's
    weights load into the scratch network: forward and gradients then agree."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 6, (3, 2), stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(336, 24),
                          nn.ReLU(), nn.Linear(24, 10)).to(torch.float64 if dtype == np.float64 else torch.float32)
    network = build_network(SMALL_CNN, "relu", init="paper", dtype=dtype)
    model.load_state_dict({key: torch.from_numpy(value) for key, value in network.state_dict().items()}, strict=True)
    before = network.state_dict()["4.weight"]
    nn.init.normal_(model[4].weight)  # something new for the way back
    copy_to_scratch(model, network)  # network.load_state_dict, then asserts bit-for-bit equality
    assert not np.array_equal(network.state_dict()["4.weight"], before)
    x, y = mnist_like(np.random.default_rng(0), 4, dtype)
    compare_pass(network, model, x, y, SoftmaxCrossEntropy()).assert_ok()


# The conv bug zoo: every mistake is caught, and the tensors it breaks are named ------------------

CASE = (3, 5, (3, 2), 2, 1, 9, 7)  # a non-square kernel, stride 2, padding 1
ZOO = [
    (zoo_conv.Conv2dFlipsKernel, {"0.output", "0.grad_input", "0.weight.grad"}),
    (zoo_conv.Conv2dPadsOneSide, {"0.output", "0.grad_input", "0.weight.grad"}),
    (zoo_conv.Conv2dWeightGradReshapedNotTransposed, {"0.weight.grad"}),
    (zoo_conv.Conv2dBiasGradOverBatchOnly, {"0.bias.grad"}),
    (zoo_conv.MaxPool2dGradToWholeWindow, {"0.grad_input"}),
    (zoo_conv.MaxPool2dGradSpreadEvenly, {"0.grad_input"}),
    (zoo_conv.MaxPool2dGradToEveryTiedMax, {"0.grad_input"}),
    (zoo_conv.LeakyReLUSlopeOneAtZero, {"0.grad_input"}),
]


def specimen(variant, dtype, rng):
    """The variant as a one-layer network, and an input that exposes it."""
    if issubclass(variant, Conv2d):
        return conv(rng, CASE, dtype, variant), images(rng, CASE, 4, dtype)
    if issubclass(variant, MaxPool2d):
        return variant(3, 2), pool_input(rng, 4, 7, 9, dtype)
    x = rng.standard_normal((4, 6)).astype(dtype)
    x[:, ::2] = 0  # exact zeros: LeakyReLU's derivative there is a convention
    return variant(), x


@pytest.mark.parametrize("variant,broken", ZOO, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_suite_catches_conv_mistakes(variant, broken, dtype):
    rng = np.random.default_rng(0)
    layer, x = specimen(variant, dtype, rng)
    comparison = one_pass([layer], x, rng)
    assert {d.name for d in comparison.failures} == broken, comparison.table()


def test_the_conv_zoo_is_complete():
    variants = {v for v in vars(zoo_conv).values() if isinstance(v, type) and v.__module__ == zoo_conv.__name__}
    assert variants == {variant for variant, _ in ZOO}


def test_tied_maxima_need_tied_inputs():
    """Why pool_input has ties: on distinct values the tie mistake is invisible."""
    rng = np.random.default_rng(0)
    x = rng.permutation(4 * 3 * 7 * 9).reshape(4, 3, 7, 9).astype(np.float64)
    assert one_pass([zoo_conv.MaxPool2dGradToEveryTiedMax(3, 2)], x, rng).ok


# Bad input: a clear error naming the problem and the fix ------------------------------------------

def layer_call(make, x, backward=None):
    def call():
        layer = make()
        if x is not None:
            layer.forward(x)
        if backward is not None:
            layer.backward(backward)
    return call


CONV = lambda: Conv2d(np.ones((4, 3, 3, 2)), np.ones(4))  # noqa: E731


@pytest.mark.parametrize("call,error,words", [
    (layer_call(CONV, np.ones((2, 27))), ValueError, "expects a 4-D array (batch, channels, height, width)"),
    (layer_call(CONV, np.ones((2, 2, 5, 5))), ValueError, "expects 3 input channels"),
    (layer_call(CONV, np.ones((2, 3, 5, 5), np.float32)), TypeError, "float64 parameters but got a float32 input"),
    (layer_call(CONV, np.ones((2, 3, 5, 5), int)), TypeError, "float32 or float64"),
    (layer_call(CONV, np.ones((2, 3, 2, 5))), ValueError, "smaller than its 3x2 window"),
    (layer_call(CONV, np.ones((2, 3, 5, 5)), np.ones((2, 4, 3, 3))), ValueError,
     "expects a gradient of shape (2, 4, 3, 4)"),
    (layer_call(CONV, None, np.ones((2, 4, 3, 4))), RuntimeError, "backward was called before forward"),
    (lambda: Conv2d(np.ones((4, 3, 3)), np.ones(4)), ValueError, "weight of shape (out, in, kh, kw)"),
    (lambda: Conv2d(np.ones((4, 3, 3, 2)), np.ones(4, np.float32)), TypeError, "give both one dtype"),
    (lambda: Conv2d(np.ones((4, 3, 3, 2)), np.ones(4), stride=0), ValueError, "stride of at least 1"),
    (layer_call(lambda: MaxPool2d(2), np.ones((2, 4))), ValueError, "expects a 4-D array"),
    (layer_call(lambda: Unflatten((1, 28, 28)), np.ones((2, 728))), ValueError, "expects 784 features"),
    (lambda: build_network("784-conv8k5-10", "relu"), ValueError, "conv8k5 needs an image: start the spec with"),
    (lambda: build_network("1x28x28-conv8k5", "relu"), ValueError, "ending with the output size"),
    (lambda: build_network("1x28x28-conv8x5-10", "relu"), ValueError, "unknown layer 'conv8x5'"),
    (lambda: build_network("1x28x28-conv8k29-10", "relu"), ValueError, "smaller than its 29x29 window"),
    (lambda: build_network("1x28x28-conv8k5-pool2-10", "relu,tanh"), ValueError, "1 hidden layers need one"),
    (lambda: build_network("1x28x28-conv8k5-10", "relu").forward(np.ones((2, 729))), ValueError, "784 features"),
])
def test_bad_input_is_refused_clearly(call, error, words):
    with pytest.raises(error, match=re.escape(words)):
        call()


# Real MNIST --------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.mnist
def test_small_cnn_trains_alike_on_mnist(mnist_root):
    """The preset CNN, relu, torch init, float32, plain SGD at lr 0.05, batch 32, 2 epochs.

    Measured (2-core machine, one thread a side): test accuracy 98.13% / 98.07% (scratch / torch),
    validation predictions agreeing on 99.50%, parameter drift 1.8e-1 of the scale: float32
    rounding amplified by ReLU and max-pool choices, while one step from identical weights still
    agrees (the step check). 13 s / 8 s of training per epoch unloaded. In float64 the same run
    drifts 4.0e-15 (TRAINING_RUN_FLOAT64 holds) and agrees on 100%. Plain SGD does not reach 99%:
    best 98.98% (lr 0.1, epoch 5), 98.77% (lr 0.05, 5 epochs), 98.82% (lr 0.02, epoch 9).
    """
    from reference.training.data import load_dataset
    from reference.training.run import RunConfig, train_twins

    data = load_dataset("mnist", mnist_root, dtype=np.float32)
    config = RunConfig(spec=PRESET_CNN, activation="relu", init="torch", dtype="float32", lr=0.05, epochs=2,
                       batch_size=32)
    *_, record = train_twins(config, data)
    d = record.divergence
    print(f"\n{PRESET_CNN} relu float32, lr 0.05, 2 epochs: test {record.scratch.test_accuracy:.2%} / "
          f"{record.torch.test_accuracy:.2%}, drift {d.worst_scaled_abs:.2e} in {d.worst_tensor}, "
          f"agreement {d.prediction_agreement:.2%}, seconds {record.scratch.seconds:.0f} / {record.torch.seconds:.0f}")
    assert record.scratch.test_accuracy >= 0.975 and record.torch.test_accuracy >= 0.975
    assert abs(record.scratch.test_accuracy - record.torch.test_accuracy) <= 0.005
    assert d.prediction_agreement >= 0.99 and d.step_check_ok
