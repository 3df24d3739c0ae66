"""Properties of the spec grammar (spec.py) that the torch comparisons do not pin down: what each
token means, that a spec is written back as it is read, which layers a spec builds and in what
order (Unflatten, Flatten, batch norm before and dropout after each hidden activation, the output
left alone), where each layer's draws come from, and a one-line refusal for each mistake.
Found by mutation testing (tools/mutation.py).
"""

import re

import numpy as np
import pytest

from scratch_nn import (
    BatchNorm1d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Spec,
    Tanh,
    Unflatten,
    build_network,
    paper_uniform,
)
from scratch_nn.spec import Conv, Pool, parse_layer


@pytest.mark.parametrize("token,layer", [
    ("120", 120),
    ("conv8k5", Conv(8, (5, 5), 1, 0)),
    ("conv16k3x2s2p1", Conv(16, (3, 2), 2, 1)),
    ("conv4k1p2", Conv(4, (1, 1), 1, 2)),
    ("conv4k3s3", Conv(4, (3, 3), 3, 0)),
    ("pool2", Pool(2, None)),
    ("pool3s2", Pool(3, 2)),
])
def test_each_token_is_the_layer_its_grammar_names(token, layer):
    assert parse_layer(token) == layer
    assert str(layer) == token


@pytest.mark.parametrize("token", ["conv8", "conv8k", "pool", "pool2x2", "dense120", "conv8k5s", "8k5"])
def test_an_unknown_token_is_refused_with_the_grammar(token):
    with pytest.raises(ValueError, match="^" + re.escape(
            f"unknown layer {token!r} in the spec: write a size (120), a convolution (conv8k5, conv16k3x2s2p1: "
            "channels, kernel, stride, padding) or a max-pool (pool2, pool3s2)") + "$"):
        Spec.parse(f"1x8x8-{token}-10", "relu")


@pytest.mark.parametrize("sizes,activation,output,text", [
    ("1x12x12-conv4k3x2s2p1-pool3s2-conv2k1-10", "relu", None, "1x12x12-conv4k3x2s2p1-pool3s2-conv2k1-10 relu"),
    ("3x9x9-conv2k3-pool2-6-4", "relu,tanh", "sigmoid", "3x9x9-conv2k3-pool2-6-4 relu,tanh (output sigmoid)"),
    ("5-4", None, "tanh", "5-4 (output tanh)"),
])
def test_a_spec_is_written_as_it_is_read(sizes, activation, output, text):
    assert str(Spec.parse(sizes, activation, output)) == text


def test_activations_count_convolutions_and_hidden_dense_layers_not_pools():
    spec = Spec.parse("3x9x9-conv2k3-pool2-6-4", "relu,tanh")
    assert (spec.input_shape, spec.layers, spec.activations) == ((3, 9, 9), (Conv(2, (3, 3)), Pool(2), 6, 4),
                                                                 ("relu", "tanh"))
    assert Spec.parse("5-4", None).activations == ()


def test_sizes_are_a_plain_mlps_layer_sizes_and_refused_otherwise():
    assert Spec.parse("784-128-10").sizes == (784, 128, 10)
    for spec in ("1x28x28-conv8k5-10", "1x28x28-10"):
        with pytest.raises(ValueError, match="^" + re.escape(
                f"{Spec.parse(spec, 'relu')} is not a plain multilayer perceptron: it has no list of layer sizes")):
            Spec.parse(spec, "relu").sizes


@pytest.mark.parametrize("sizes,activation,error,message", [
    ("x28x28-10", "relu", ValueError,
     "a spec starts with the input size (784) or image shape (1x28x28); got 'x28x28-10'"),
    ("784-conv8k5-10", "relu", ValueError, "conv8k5 needs an image: start the spec with the image shape (1x28x28), "
                                           "and put convolutions and pools before the dense layers"),
    ("1x8x8-10-pool2-4", "relu", ValueError, "pool2 needs an image"),
    ("1x8x8-conv2k3-pool2", "relu", ValueError, "a spec is the input, then layers separated by '-', ending with the "
                                                "output size (a dense layer)"),
    ("0x8x8-conv2k3-10", "relu", ValueError, "a spec is the input, then layers"),
    ("1x8x8-conv2k3-pool2-10", "relu,relu", ValueError, "1 hidden layers need one activation each (or one for all); "
                                                        "got ['relu', 'relu']"),
    ((4, 3.0, 2), "relu", TypeError, "layer sizes are whole numbers; got 3.0 (float) in (4, 3.0, 2)"),
    ((4, True, 2), "relu", TypeError, "layer sizes are whole numbers; got True (bool) in (4, True, 2)"),
])
def test_a_spec_that_cannot_be_built_is_refused_with_one_line(sizes, activation, error, message):
    with pytest.raises(error, match="^" + re.escape(message)):
        Spec.parse(sizes, activation)


def test_a_cnn_is_unflatten_conv_activation_pool_then_flatten_and_dense():
    network = build_network("1x8x8-conv3k3x2s1p1-pool2-conv2k2s2-5-4", "relu,tanh,sigmoid", init="torch")
    assert [type(layer) for layer in network.layers] == [Unflatten, Conv2d, ReLU, MaxPool2d, Conv2d, Tanh, Flatten,
                                                         Linear, Sigmoid, Linear]
    unflatten, conv, _, pool, conv2, _, _, dense, _, _ = network.layers
    assert unflatten.unflattened_size == (1, 8, 8)
    assert (conv.params["weight"].shape, conv.stride, conv.padding) == ((3, 1, 3, 2), (1, 1), (1, 1))
    assert (pool.kernel_size, pool.stride) == ((2, 2), (2, 2))
    assert (conv2.params["weight"].shape, conv2.stride) == ((2, 3, 2, 2), (2, 2))
    assert dense.params["weight"].shape == (5, 2 * 2 * 2)  # 8x8 -> conv 8x9 -> pool 4x4 -> conv 2x2


def test_each_layer_draws_from_one_generator_in_order_with_fan_in_in_times_kernel():
    rng = np.random.default_rng(4)
    conv_weight, conv_bias = paper_uniform(rng, 2 * 3 * 2, 3)
    dense_weight, dense_bias = paper_uniform(rng, 3 * 2 * 4, 4)  # 4x5 -> 2x4 after a 3x2 kernel
    network = build_network("2x4x5-conv3k3x2-4", "relu", seed=4)
    np.testing.assert_array_equal(network.layers[1].params["weight"], conv_weight.reshape(3, 2, 3, 2))
    np.testing.assert_array_equal(network.layers[1].params["bias"], conv_bias)
    np.testing.assert_array_equal(network.layers[4].params["weight"], dense_weight)
    np.testing.assert_array_equal(network.layers[4].params["bias"], dense_bias)


def test_hidden_dense_layers_get_batch_norm_before_and_dropout_after_the_activation():
    network = build_network("1x6x6-conv2k3-5-4-3", "relu", batch_norm=True, dropout=0.25, seed=7, dtype=np.float32)
    assert [type(layer) for layer in network.layers] == [
        Unflatten, Conv2d, ReLU, Flatten, Linear, BatchNorm1d, ReLU, Dropout, Linear, BatchNorm1d, ReLU, Dropout,
        Linear]
    for index in (5, 9):
        assert network.layers[index].num_features == network.layers[index - 1].params["weight"].shape[0]
        assert network.layers[index].buffers["running_mean"].dtype == np.float32
    for index in (7, 11):  # each Dropout's masks from default_rng((seed, its index))
        assert network.layers[index].p == 0.25
        expected = np.random.default_rng((7, index)).random(5)
        np.testing.assert_array_equal(network.layers[index].rng.random(5), expected)


def test_build_layers_alone_adds_no_regularisation_and_seeds_dropout_with_0():
    spec = Spec.parse("4-3-2")
    layers = spec.build_layers(paper_uniform, np.random.default_rng(0), np.float64)
    assert [type(layer) for layer in layers] == [Linear, Sigmoid, Linear]
    dropout = spec.build_layers(paper_uniform, np.random.default_rng(0), np.float64, dropout=0.5)[2]
    np.testing.assert_array_equal(dropout.rng.random(3), np.random.default_rng((0, 2)).random(3))


def test_a_pools_stride_reaches_the_layer():
    pool = build_network("1x9x9-conv2k2-pool3s2-4", "relu").layers[3]
    assert (pool.kernel_size, pool.stride) == ((3, 3), (2, 2))
