"""Properties of specs, networks, initialisation and SGD that network.py, init.py, optim.py and
the README promise and the torch comparisons do not pin down: how a spec is read and written,
what build_network builds and from which draws, the order of forward and backward, the
state_dict/grad_dict/load_state_dict contract (copies, in-place loads, all-or-nothing), and the
SGD update. Found by mutation testing (tools/mutation.py).
"""

import re

import numpy as np
import pytest
import torch

from scratch_nn import (
    INITIALIZERS,
    SGD,
    Linear,
    QuadraticLoss,
    ReLU,
    Sequential,
    Sigmoid,
    SoftmaxCrossEntropy,
    Spec,
    Tanh,
    build_network,
    paper_uniform,
    torch_default,
)


def trained_once(network, seed=0):
    """Run one forward, loss and backward on a random batch; return the network."""
    rng = np.random.default_rng(seed)
    x = rng.random((3, network.layers[0].in_features)).astype(network.dtype)
    output = network.forward(x)
    loss = SoftmaxCrossEntropy()
    loss.forward(output, rng.integers(0, output.shape[1], 3))
    network.backward(loss.backward())
    return network


# Specs: read from a string or sizes, written back the same way.
@pytest.mark.parametrize("sizes,activation,output,expected", [
    ("784-128-10", "sigmoid", None, Spec((784,), (128, 10), ("sigmoid",))),
    ((4, np.int64(3), 2), "relu", None, Spec((4,), (3, 2), ("relu",))),
    ("4-3-3-2", " ReLU , Tanh", "sigmoid", Spec((4,), (3, 3, 2), ("relu", "tanh"), "sigmoid")),
    ("4-3-3-2", ["tanh"], None, Spec((4,), (3, 3, 2), ("tanh", "tanh"))),
    ("4-2", "relu", None, Spec((4,), (2,), ())),
])
def test_spec_parse_reads_sizes_and_one_activation_per_hidden_layer(sizes, activation, output, expected):
    assert Spec.parse(sizes, activation, output) == expected


def test_spec_parse_defaults_to_sigmoid_and_no_output_activation():
    assert Spec.parse("4-3-2") == Spec((4,), (3, 2), ("sigmoid",), None)


@pytest.mark.parametrize("spec,text", [
    (Spec((784,), (128, 10), ("sigmoid",)), "784-128-10 sigmoid"),
    (Spec((4,), (3, 3, 2), ("relu", "relu")), "4-3-3-2 relu"),
    (Spec((4,), (3, 3, 2), ("relu", "sigmoid")), "4-3-3-2 relu,sigmoid"),
    (Spec((4,), (3, 2), ("tanh",), "sigmoid"), "4-3-2 tanh (output sigmoid)"),
    (Spec((4,), (2,), ()), "4-2"),
    (Spec((4,), (2,), (), "sigmoid"), "4-2 (output sigmoid)"),
])
def test_spec_str_is_what_parse_reads(spec, text):
    assert str(spec) == text


@pytest.mark.parametrize("sizes,activation,output,words", [
    ("784_128_10", "sigmoid", None,
     "a spec starts with the input size (784) or image shape (1x28x28); got '784_128_10'"),
    ("784-128x10", "sigmoid", None, "unknown layer '128x10' in the spec: write a size (120), a convolution "
                                    "(conv8k5, conv16k3x2s2p1: channels, kernel, stride, padding) or a max-pool"),
    ("10", "sigmoid", None, "a spec is the input, then layers separated by '-', ending with the output size "
                            "(a dense layer), all sizes positive, e.g. 784-128-10 or 1x28x28-conv8k5-pool2-10; got 10"),
    ("4-0-2", "sigmoid", None, "a spec is the input, then layers separated by '-', ending with the output size "
                               "(a dense layer), all sizes positive, e.g. 784-128-10 or 1x28x28-conv8k5-pool2-10; "
                               "got 4-0-2 sigmoid"),
    ("4-3-3-2", "relu,tanh,sigmoid", None,
     "2 hidden layers need one activation each (or one for all); got ['relu', 'tanh', 'sigmoid']"),
    ("4-3-2", "softplus", None,
     "unknown activation 'softplus'; choose from ['leaky_relu', 'relu', 'sigmoid', 'softmax', 'tanh']"),
    ("4-3-2", "relu", "log_softmax", "unknown activation 'log_softmax'; choose from"),
])
def test_bad_specs_are_refused_with_the_expected_form(sizes, activation, output, words):
    with pytest.raises(ValueError, match="^" + re.escape(words)):
        Spec.parse(sizes, activation, output)


def test_sizes_of_one_are_a_valid_network():
    assert Spec.parse("1-1-1").sizes == (1, 1, 1)


# build_network: the layers, and the weights they start from.
def test_build_network_alternates_linear_and_activation_and_ends_as_asked():
    network = build_network("6-5-4-3", "relu,tanh", output_activation="sigmoid")
    assert [type(layer) for layer in network.layers] == [Linear, ReLU, Linear, Tanh, Linear, Sigmoid]
    assert [(layer.in_features, layer.out_features) for layer in network.layers[::2]] == [(6, 5), (5, 4), (4, 3)]
    assert [type(layer) for layer in build_network("6-5-3").layers] == [Linear, Sigmoid, Linear]
    assert [type(layer) for layer in build_network(Spec((6,), (5, 3), ("relu",))).layers] == [Linear, ReLU, Linear]


@pytest.mark.parametrize("init", INITIALIZERS)
def test_weights_are_the_seeded_draws_weight_then_bias_layer_by_layer(init):
    """Each layer draws its weight, then its bias, in layer order, from default_rng(seed), in
    float64, rounded once to the network's dtype."""
    rng = np.random.default_rng(7)
    expected = {}
    for i, (fan_in, fan_out) in enumerate([(6, 5), (5, 3)]):
        expected[f"{2 * i}.weight"], expected[f"{2 * i}.bias"] = INITIALIZERS[init](rng, fan_in, fan_out)
    for dtype in (np.float64, np.float32):
        state = build_network("6-5-3", init=init, seed=7, dtype=dtype).state_dict()
        assert list(state) == list(expected)
        for key, value in state.items():
            np.testing.assert_array_equal(value, expected[key].astype(dtype), err_msg=key)
    assert not np.array_equal(build_network("6-5-3", init=init, seed=8).state_dict()["0.weight"], expected["0.weight"])


def test_the_default_build_is_reproducible_seed_0_paper_init_float64():
    default, explicit = build_network("6-5-3"), build_network("6-5-3", init="paper", seed=0, dtype=np.float64)
    for key, value in default.state_dict().items():
        np.testing.assert_array_equal(value, explicit.state_dict()[key])
        assert value.dtype == np.float64


@pytest.mark.parametrize("init,fan_in,bound", [(paper_uniform, 9, 1.0), (torch_default, 9, 1 / 3), (torch_default,
                                                                                                    100, 0.1)])
def test_initializers_draw_uniformly_over_their_whole_range(init, fan_in, bound):
    """paper: U[-1, 1] for weight and bias; torch: U[-1/sqrt(fan_in), 1/sqrt(fan_in)] for both.
    With 20000 draws the extremes lie within 0.5% of the bounds (failing by chance: < e^-100)."""
    weight, bias = init(np.random.default_rng(0), fan_in, 20000)
    assert weight.shape == (20000, fan_in) and bias.shape == (20000,)
    for values in (weight, bias):
        assert -bound <= values.min() < -0.995 * bound and 0.995 * bound < values.max() <= bound


@pytest.mark.parametrize("kwargs,error,words", [
    (dict(init="xavier"), ValueError, "unknown init 'xavier'; choose from ['paper', 'torch']"),
    (dict(dtype=np.float16), TypeError, "networks compute in float32 or float64; got float16"),
    (dict(dtype=np.int64), TypeError, "got int64"),
])
def test_build_network_refuses_unknown_settings(kwargs, error, words):
    with pytest.raises(error, match=re.escape(words)):
        build_network("4-3-2", **kwargs)


def test_dtype_accepts_a_name_and_the_network_reports_it():
    assert build_network("4-3-2", dtype="float32").dtype == np.float32
    assert build_network("4-3-2").dtype == np.float64


def test_a_network_without_parameters_has_no_dtype_of_its_own():
    with pytest.raises(AttributeError, match="no parameters, so no dtype of its own"):
        Sequential(ReLU()).dtype


# Sequential: forward in order, backward in reverse, torch's names.
def test_forward_runs_the_layers_in_order_and_backward_in_reverse():
    network = build_network("5-4-3", "tanh", output_activation="sigmoid", seed=3)
    x, grad = np.random.default_rng(1).random((2, 5)), np.random.default_rng(2).random((2, 3))
    expected = x
    for layer in network.layers:
        expected = layer.forward(expected)
    np.testing.assert_array_equal(network.forward(x), expected)
    expected = grad
    for layer in reversed(network.layers):
        expected = layer.backward(expected)
    np.testing.assert_array_equal(network.backward(grad), expected)
    assert len(Sequential(*network.layers).layers) == 4


def test_non_finite_input_is_refused_at_its_first_position():
    x = np.zeros((3, 4))
    x[1, 2], x[2, 0] = np.inf, np.nan
    with pytest.raises(ValueError, match=re.escape("the input contains NaN or Inf (first at index [1, 2]); "
                                                   "clean the data first")):
        build_network("4-3-2").forward(x)


def test_integer_input_reaches_the_layer_check_not_the_nan_check():
    with pytest.raises(TypeError, match="computes in float32 or float64; got int64"):
        build_network("4-3-2").forward(np.zeros((2, 4), np.int64))


def test_repr_lists_the_layers_with_their_index():
    assert repr(build_network("4-3-2", "relu")) == (
        "Sequential(\n  (0): Linear(in_features=4, out_features=3)\n  (1): ReLU()"
        "\n  (2): Linear(in_features=3, out_features=2)\n)")


# state_dict, grad_dict and load_state_dict: copies out, in-place loads, all or nothing.
def test_grad_dict_returns_copies_of_the_last_gradients():
    network = trained_once(build_network("4-3-2"))
    grads = network.grad_dict()
    assert list(grads) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for key, layer, name in network.named_parameters():
        np.testing.assert_array_equal(grads[key], layer.grads[name])
        grads[key][...] = 0
        assert layer.grads[name].any(), f"grad_dict()[{key!r}] is the layer's own array, not a copy"


def test_grad_dict_names_every_parameter_still_without_a_gradient():
    network = build_network("4-3-2")
    network.layers[2].grads = {"weight": np.zeros((2, 3)), "bias": np.zeros(2)}
    with pytest.raises(RuntimeError, match="^" + re.escape("no gradients yet for 0.weight, 0.bias: run forward")):
        network.grad_dict()


def test_load_state_dict_writes_into_the_same_arrays():
    """In place: arrays held elsewhere (an optimizer, a view) see the loaded values."""
    network, source = build_network("4-3-2", seed=0), build_network("4-3-2", seed=1)
    arrays = [layer.params[name] for _, layer, name in network.named_parameters()]
    network.load_state_dict({key: torch.from_numpy(value) for key, value in source.state_dict().items()})
    for array, (key, value) in zip(arrays, source.state_dict().items()):
        np.testing.assert_array_equal(array, value, err_msg=key)


def test_load_state_dict_lists_every_problem_at_once_and_loads_nothing():
    network = build_network("4-3-2")
    before = network.state_dict()
    state = network.state_dict()
    state["0.weight"] = state["0.weight"] + 1            # fits: must still not be loaded
    state["0.bias"] = np.ones(4)                          # wrong shape, not a transpose
    state["2.weight"] = state["2.weight"].T.copy()         # transposed
    state["2.bias"] = state["2.bias"].astype(np.float32)  # wrong dtype
    state["9.weight"] = np.ones(1)                        # unexpected
    with pytest.raises(ValueError) as failure:
        network.load_state_dict(state)
    head, *problems = str(failure.value).split("\n  ")
    assert head == "load_state_dict: the state does not fit this network:"
    assert sorted(problems) == [  # one line each, in no promised order
        "'0.bias' has shape (4,), expected (3,)",
        "'2.bias' is float32, expected float64: convert it before loading",
        "'2.weight' has shape (3, 2), expected (2, 3) (transposed? weights are stored (out, in))",
        "unexpected key '9.weight': this network's keys are ['0.weight', '0.bias', '2.weight', '2.bias']"]
    for key, value in network.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_load_state_dict_names_a_missing_key_with_its_shape_and_dtype():
    network = build_network("4-3-2", dtype=np.float32)
    state = network.state_dict()
    del state["2.weight"]
    with pytest.raises(ValueError, match=re.escape("missing key '2.weight' (expected shape (2, 3), float32)")):
        network.load_state_dict(state)


# SGD: theta <- theta - lr * grad, in place, for every parameter that has a gradient.
def test_sgd_step_subtracts_lr_times_the_gradient_in_place():
    network = trained_once(build_network("4-3-2", "relu"))
    before, grads = network.state_dict(), network.grad_dict()
    arrays = [layer.params[name] for _, layer, name in network.named_parameters()]
    SGD(network, lr=0.25).step()
    for array, (key, value) in zip(arrays, network.state_dict().items()):
        np.testing.assert_array_equal(value, before[key] - 0.25 * grads[key], err_msg=key)
        assert array is network.layers[int(key[0])].params[key.split(".")[1]]


def test_sgd_refuses_to_step_before_backward_and_changes_nothing():
    network = build_network("4-3-2")
    before = network.state_dict()
    with pytest.raises(RuntimeError, match="^" + re.escape(
            "Linear(in_features=4, out_features=3) has no gradient for 'weight': call backward before step()")):
        SGD(network, lr=0.1).step()
    for key, value in network.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("lr", [0.0, -0.1, float("inf"), float("nan")])
def test_sgd_refuses_a_learning_rate_that_is_not_positive_and_finite(lr):
    with pytest.raises(ValueError, match=re.escape(f"SGD: the learning rate must be a positive number; got lr={lr}")):
        SGD(build_network("4-3-2"), lr=lr)


@pytest.mark.parametrize("lr", [1e-300, 0.5, 1.0, 3.0])
def test_sgd_accepts_any_positive_finite_learning_rate(lr):
    assert SGD(build_network("4-3-2"), lr=lr).lr == lr


def test_squared_error_network_with_a_sigmoid_output_trains_downhill():
    """One small SGD step lowers the paper's squared error (a gradient with the right sign)."""
    network = build_network("6-5-3", "sigmoid", output_activation="sigmoid", seed=2)
    rng = np.random.default_rng(0)
    x, labels = rng.random((8, 6)), rng.integers(0, 3, 8)
    loss = QuadraticLoss()
    before = loss.forward(network.forward(x), labels)
    network.backward(loss.backward())
    SGD(network, lr=0.01).step()
    assert loss.forward(network.forward(x), labels) < before


@pytest.mark.parametrize("value,words", [
    (torch.zeros(3, requires_grad=True), "'0.bias' is a tensor that requires grad: pass value.detach() "
                                         "(model.state_dict()'s do not)"),
    (torch.zeros(3, device="meta"), "'0.bias' is a tensor on meta: pass value.cpu()"),
    ([[0.0], [1.0, 2.0]], "'0.bias' cannot be read as a NumPy array ("),
])
def test_load_state_dict_names_a_value_numpy_cannot_share_and_the_fix(value, words):
    network = build_network("4-3-2")
    with pytest.raises(ValueError,
                       match=re.escape("load_state_dict: the state does not fit this network:\n  " + words)):
        network.load_state_dict({**network.state_dict(), "0.bias": value})


def test_load_state_dict_checks_every_key_after_a_missing_or_unreadable_one():
    network = build_network("4-3-2")
    state = network.state_dict()
    del state["0.weight"]
    state["0.bias"], state["2.bias"] = [[0.0], [1.0, 2.0]], np.ones(3)
    with pytest.raises(ValueError) as failure:
        network.load_state_dict(state)
    problems = str(failure.value).split("\n  ")[1:]
    assert [problem.split(" ")[:2] for problem in problems] == [["missing", "key"], ["'0.bias'", "cannot"],
                                                              ["'2.bias'", "has"]]


def test_an_empty_network_passes_the_gradient_through_unless_asked_not_to():
    grad = np.ones((2, 3))
    assert Sequential().backward(grad) is grad and Sequential().backward(grad, input_grad=False) is None


def test_backward_without_input_grad_tells_the_first_layer_so():
    """A user's first layer that takes input_grad gets exactly False (and later layers the plain call)."""
    calls = []

    class Recording(ReLU):
        def backward(self, grad_output, input_grad=True):
            calls.append(input_grad)
            return super().backward(grad_output, input_grad)

    network = Sequential(Recording(), Recording())
    network.forward(np.ones((2, 3)))
    assert network.backward(np.ones((2, 3)), input_grad=False) is None
    assert calls == [True, False] and calls[1] is False
