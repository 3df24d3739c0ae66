"""The comparison itself: it must fail on a small real error, and say where and by how much."""

import numpy as np
import pytest

from reference import tolerances
from reference.comparison import Tolerance, compare, diff, numbers
from reference.side_by_side import trace_scratch, trace_torch
from reference.twin import torch_model
from scratch_nn import SoftmaxCrossEntropy, build_network

GRADIENTS = ["0.weight.grad", "0.bias.grad", "2.weight.grad", "2.bias.grad", "0.grad_input", "loss.grad"]


def traces(dtype):
    network = build_network("784-32-10", "sigmoid", dtype=dtype)
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 784)).astype(dtype), rng.integers(0, 10, 16)
    ours = trace_scratch(network, x, y, SoftmaxCrossEntropy())
    theirs = trace_torch(torch_model(network), x, y, SoftmaxCrossEntropy())
    return network, ours, theirs


@pytest.mark.parametrize("key", GRADIENTS)
def test_a_gradient_off_by_a_relative_1e3_fails(dtype, key):
    network, ours, theirs = traces(dtype)
    assert compare(ours, theirs, tolerances.for_dtype(dtype)).ok
    ours[key] = ours[key] * dtype(1 + 1e-3)
    comparison = compare(ours, theirs, tolerances.for_dtype(dtype), network.layers)
    assert [d.name for d in comparison.failures] == [key]


@pytest.mark.parametrize("key", GRADIENTS)
def test_one_element_off_by_a_relative_1e3_fails_in_float64(key):
    """float64 is tight enough to see a single element go wrong, however small it is."""
    network, ours, theirs = traces(np.float64)
    flat = ours[key].reshape(-1)
    flat[len(flat) // 2] *= 1 + 1e-3
    assert not compare(ours, theirs, tolerances.FLOAT64).ok


def test_failure_message_names_the_layer_the_parameter_and_the_worst_element():
    network, ours, theirs = traces(np.float64)
    ours["2.weight.grad"][3, 7] += 1e-3 * np.abs(theirs["2.weight.grad"]).max()
    with pytest.raises(AssertionError) as failure:
        compare(ours, theirs, tolerances.FLOAT64, network.layers, context="step 5").assert_ok()
    message = str(failure.value)
    assert "step 5" in message
    assert "2.weight.grad (layer 2, Linear(in_features=32, out_features=10))" in message
    assert "1 of 320 elements" in message
    assert "largest absolute difference" in message and "at [3, 7]" in message
    assert "largest relative difference" in message


def test_transposed_gradient_is_reported_as_such():
    wrong = np.arange(6.0).reshape(2, 3)
    d = diff("0.weight.grad", wrong.T, wrong, tolerances.FLOAT64)
    assert not d.ok and "transposed" in d.problem


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_never_agree(bad):
    values = np.ones(4)
    broken = values.copy()
    broken[2] = bad
    assert "not finite at [2]" in diff("loss.grad", broken, values, tolerances.FLOAT64).problem
    assert not diff("loss.grad", broken, broken, tolerances.FLOAT64).ok  # not even NaN against NaN


def test_dtype_mismatch_is_reported():
    d = diff("0.output", np.ones(3, np.float32), np.ones(3), tolerances.FLOAT64)
    assert not d.ok and "dtype float32" in d.problem


@pytest.mark.parametrize("value,said", [
    (None, "None"), ("0.5", "a str"), ([[1.0], [2.0, 3.0]], "a list"),
    (np.array([None, 1.0]), "an array of object of shape (2,)"),
    (np.array([1j, 2j]), "an array of complex128 of shape (2,)"),
])
def test_what_is_not_an_array_of_numbers_is_named_not_measured(value, said):
    d = diff("0.output", value, np.ones(2), tolerances.FLOAT64)
    assert not d.ok and d.problem == f"the scratch side gave {said}, not an array of numbers"


@pytest.mark.parametrize("dtype", [np.bool_, np.int64, np.uint8, np.float32])
def test_booleans_integers_and_floats_are_numbers(dtype):
    np.testing.assert_array_equal(numbers(np.ones(2, dtype)), np.ones(2, dtype))


def test_criterion_is_relative_to_the_element_and_the_tensor_scale():
    tol = Tolerance(rtol=1e-3, atol=1e-6)
    reference = np.array([1000.0, 1.0, 0.0])
    assert diff("t", reference + [0.9, 0, 0], reference, tol).ok          # 0.9 <= 1e-3 * 1000
    assert diff("t", reference + [0, 0, 1e-3], reference, tol).ok         # 1e-3 <= 1e-6 * 1000
    assert not diff("t", reference + [0, 0, 2e-3], reference, tol).ok     # a cancelled entry: only atol * scale
    assert not diff("t", reference + [0, 2e-3, 0], reference, tol).ok


def test_every_tolerance_states_its_reason():
    for name in ("FLOAT64", "FLOAT32", "TRAJECTORY_FLOAT64_HIGH_LR", "FINITE_DIFFERENCES"):
        assert len(getattr(tolerances, name).why) > 40, name


def test_the_package_exports_what_a_user_needs_and_the_shortest_comparison_is_one_line():
    import reference
    from reference import gradcheck, side_by_side, twin

    assert sorted(reference.__all__) == ["check", "compare_pass", "compare_step", "compare_trajectory", "torch_model"]
    assert (reference.check, reference.torch_model) == (gradcheck.check, twin.torch_model)
    assert reference.compare_pass is side_by_side.compare_pass
    network, rng = build_network("6-5-3", "relu"), np.random.default_rng(0)
    x, y = rng.standard_normal((4, 6)), rng.integers(0, 3, 4)
    assert reference.compare_pass(network, x=x, target=y, loss=SoftmaxCrossEntropy()).ok
    assert reference.compare_step(network, x=x, target=y, loss=SoftmaxCrossEntropy(), lr=0.1).ok
    with pytest.raises(TypeError, match="give the input x"):
        reference.compare_pass(network)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        reference.nothing
