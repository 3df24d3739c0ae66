"""Properties of reference.comparison, the function every verdict rests on: each number a
TensorDiff reports, on inputs small enough to work out by hand; the boundary of the criterion;
problems that make values moot; and what Comparison and compare report. Found by mutation
testing (tools/mutation.py). Hand-worked values are exact in binary, or compared to 1e-15
relative where a division rounds.
"""

import json
import re
import warnings
from dataclasses import fields

import numpy as np
import pytest
import torch

from reference.comparison import (
    Comparison,
    TensorDiff,
    Tolerance,
    as_numpy,
    compare,
    diff,
    layer_label,
)
from scratch_nn import Linear, build_network

TOL = Tolerance(rtol=0.01, atol=0.001, why="for these tests")


@pytest.fixture(autouse=True)
def no_warnings():
    """diff divides by zeros on purpose (rel_diff, ratios): it must do so silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_every_number_of_a_diff_worked_by_hand():
    theirs = np.array([[1.0, 10.0], [0.125, 4.0]])
    ours = np.array([[1.0, 10.5], [0.25, 4.0]])
    d = diff("w", ours, theirs, TOL, where="layer 0")
    # |differences| = [[0, 0.5], [0.125, 0]]; relative = [[0, 0.05], [1, 0]]
    assert (d.max_abs, d.max_abs_at, d.scratch_at_max_abs, d.torch_at_max_abs) == (0.5, (0, 1), 10.5, 10.0)
    assert (d.max_rel, d.max_rel_at) == (1.0, (1, 0))
    assert d.scale == 10.0 and d.scaled_abs == 0.05
    # allowed = 0.01 |torch| + 0.001 * 10:  0.11 at [0, 1], 0.01125 at [1, 0]
    assert d.ratio == pytest.approx(0.125 / 0.01125, rel=1e-15) and d.mismatched == 2 and not d.ok
    assert d.rel_norm == pytest.approx(np.sqrt(0.5**2 + 0.125**2) / np.sqrt(1 + 100 + 0.125**2 + 16), rel=1e-15)
    assert (d.name, d.where, d.shape, d.tolerance, d.judge, d.problem) == ("w", "layer 0", (2, 2), TOL, "torch", "")


def test_a_difference_exactly_at_the_tolerance_passes_and_just_past_it_fails():
    """Within means |scratch - torch| <= rtol |torch| + atol max|torch| (torch.testing's <=)."""
    line = Tolerance(rtol=0.125, atol=0.0)
    at = diff("t", np.array([4.5, 1.0]), np.array([4.0, 1.0]), line)
    assert at.ratio == 1.0 and at.mismatched == 0 and at.ok
    past = diff("t", np.array([4.5 + 2**-40, 1.0]), np.array([4.0, 1.0]), line)
    assert past.ratio > 1 and past.mismatched == 1 and not past.ok


def test_atol_is_a_fraction_of_the_largest_torch_element_not_of_the_scratch_one():
    tol = Tolerance(rtol=0.0, atol=0.01)
    assert diff("t", np.array([100.0, 0.5]), np.array([100.0, 0.0]), tol).ok          # 0.5 <= 0.01 * 100
    assert not diff("t", np.array([100.0, 0.0]), np.array([1.0, 0.0]), tol).ok       # scale is 1, not 100


def test_identical_tensors_agree_with_every_number_zero():
    values = np.array([[0.0, -2.0], [3.0, 0.0]])
    d = diff("t", values.copy(), values, Tolerance(0.0, 0.0))
    assert d.ok and (d.max_abs, d.max_rel, d.ratio, d.rel_norm, d.mismatched) == (0, 0, 0, 0, 0)
    assert d.scale == 3.0


@pytest.mark.parametrize("ours,ok,rel_norm,scaled_abs", [
    (np.zeros(3), True, 0.0, 0.0),
    (np.array([0.0, 1e-300, 0.0]), False, np.inf, np.inf),
])
def test_an_all_zero_torch_tensor_allows_no_difference(ours, ok, rel_norm, scaled_abs):
    d = diff("t", ours, np.zeros(3), Tolerance(1e-3, 1e-3))
    assert (d.ok, d.rel_norm, d.scaled_abs, d.scale) == (ok, rel_norm, scaled_abs, 0.0)


def test_an_empty_tensor_agrees():
    d = diff("t", np.zeros((0, 3)), np.zeros((0, 3)), TOL)
    assert d.ok and d.shape == (0, 3) and d.ratio == 0


def test_differences_are_measured_in_float64():
    """float32 inputs: the difference 2^-23 at 1.0 must not round away."""
    ours, theirs = np.array([1 + 2**-23], np.float32), np.array([1.0], np.float32)
    assert diff("t", ours, theirs, TOL).max_abs == 2**-23


@pytest.mark.parametrize("ours,theirs,judge,problem", [
    (np.ones((2, 3)), np.ones((3, 2)), "torch", "shape (2, 3) on the scratch side, (3, 2) in torch (transposed?)"),
    (np.ones((2, 3, 4)), np.ones((4, 3, 2)), "torch", "shape (2, 3, 4) on the scratch side, (4, 3, 2) in torch"),
    (np.ones(3), np.ones((3, 1)), "finite differences", "shape (3,) on the scratch side, (3, 1) in finite differences"),
    (np.ones(2, np.float32), np.ones(2), "torch", "dtype float32 on the scratch side, float64 in torch"),
    (np.array([1.0, np.nan, np.inf]), np.ones(3), "torch", "not finite at [1]: scratch nan, torch 1.0"),
    (np.ones((2, 2)), np.array([[1.0, 1.0], [-np.inf, 1.0]]), "fd", "not finite at [1, 0]: scratch 1.0, fd -inf"),
])
def test_a_problem_makes_the_values_moot_and_is_named(ours, theirs, judge, problem):
    d = diff("t", ours, theirs, TOL, judge=judge)
    assert d.problem == problem and not d.ok
    assert (d.max_abs, d.max_rel, d.rel_norm, d.ratio) == (np.inf,) * 4
    assert d.describe() == f"t: {problem}"


def test_torch_tensors_are_read_from_any_device_and_with_grad():
    tensor = torch.tensor([[1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    np.testing.assert_array_equal(as_numpy(tensor), [[1.0, 2.0]])
    assert diff("t", np.array([[1.0, 2.0]]), tensor * 1, TOL).ok
    np.testing.assert_array_equal(as_numpy([3.0]), [3.0])


def test_describe_names_the_tensor_its_layer_the_count_and_both_worst_elements():
    d = diff("0.weight.grad", np.array([1.0, 3.0]), np.array([1.0, 2.0]), TOL, where="layer 0, Linear()",
             judge="finite differences")
    assert d.describe() == (
        "0.weight.grad (layer 0, Linear()): 1 of 2 elements outside rtol=1.0e-02, atol=1.0e-03*max|finite "
        "differences|; largest absolute difference 1 at [1] (scratch 3, finite differences 2); "
        "largest relative difference 0.5 at [1]")
    assert diff("loss", np.array(2.0), np.array(1.0), TOL).describe().startswith("loss: 1 of 1 elements outside")


def test_tolerance_prints_against_torch_unless_told_otherwise():
    assert str(Tolerance(1e-12, 2e-8)) == "rtol=1.0e-12, atol=2.0e-08*max|torch|"
    assert Tolerance(1e-12, 2e-8).against("fd") == "rtol=1.0e-12, atol=2.0e-08*max|fd|"


def sample_comparison():
    network = build_network("4-3-2")
    ours = {"0.weight": np.array([1.0, 2.0]), "2.bias": np.array([5.0]), "loss": np.array(1.0)}
    theirs = {"0.weight": np.array([1.0, 2.5]), "2.bias": np.ones(2), "loss": np.array(1.0)}
    return compare(ours, theirs, lambda key: Tolerance(0.5, 0.0) if key == "0.weight" else TOL, network.layers,
                   context="step 3")


def test_compare_diffs_every_key_in_order_with_its_tolerance_and_layer():
    comparison = sample_comparison()
    assert [d.name for d in comparison.diffs] == ["0.weight", "2.bias", "loss"]
    assert comparison["0.weight"].tolerance == Tolerance(0.5, 0.0) and comparison["loss"].tolerance == TOL
    assert comparison["0.weight"].where == "layer 0, Linear(in_features=4, out_features=3)"
    assert comparison["2.bias"].where == "layer 2, Linear(in_features=3, out_features=2)"
    assert comparison["loss"].where == ""
    assert comparison.context == "step 3"


def test_compare_defaults_to_no_context_no_layers_and_torch_as_the_judge():
    comparison = compare({"0.w": np.ones(2)}, {"0.w": np.ones(2)}, TOL)
    assert comparison.context == "" and comparison["0.w"].where == "" and comparison["0.w"].judge == "torch"
    assert compare({"0.w": np.ones(2)}, {"0.w": np.ones(2)}, TOL, judge="fd")["0.w"].judge == "fd"


def test_compare_refuses_dicts_with_different_keys_naming_them():
    with pytest.raises(KeyError, match=re.escape("only on one side: ['a', 'c']")):
        compare({"a": np.ones(1), "b": np.ones(1)}, {"b": np.ones(1), "c": np.ones(1)}, TOL)


@pytest.mark.parametrize("name,where", [
    ("1.output", "layer 1, 'b'"), ("0.grad_input", "layer 0, 'a'"), ("2.weight", ""), ("loss", ""), ("x.1", ""),
])
def test_layer_label_names_the_layer_only_for_an_index_the_network_has(name, where):
    assert layer_label(name, ["a", "b"]) == where


def test_comparison_ok_failures_and_lookup():
    comparison = sample_comparison()
    assert not comparison.ok
    assert [d.name for d in comparison.failures] == ["2.bias"]
    assert Comparison([comparison["0.weight"], comparison["loss"]]).ok
    with pytest.raises(KeyError,
                       match=re.escape("'2.weight' was not compared; compared: ['0.weight', '2.bias', 'loss']")):
        comparison["2.weight"]


def test_worst_puts_problems_first_then_the_largest_ratio():
    a, b, c = (diff(n, np.array([x]), np.array([1.0]), TOL) for n, x in [("a", 1.0), ("b", 1.5), ("c", 1.1)])
    problem = diff("p", np.ones(2), np.ones(3), TOL)
    assert Comparison([a, b, c]).worst() is b
    assert Comparison([a, problem, b]).worst() is problem
    assert Comparison([a]).worst() is a
    unbounded = diff("z", np.ones(2), np.zeros(2), TOL)  # no problem, but an infinite ratio (scale 0)
    assert unbounded.ratio == np.inf and not unbounded.problem
    assert Comparison([unbounded, problem]).worst() is problem


def test_table_has_one_row_per_tensor_with_its_verdict():
    assert sample_comparison().table().split("\n") == [
        "tensor                    max abs    max rel     /tol  tolerance                  verdict",
        "0.weight                 5.00e-01   2.00e-01      0.4  rtol=5.0e-01, atol=0.0e+00*max|torch| ok",
        "2.bias                        inf        inf      inf  rtol=1.0e-02, atol=1.0e-03*max|torch| "
        "FAIL: shape (1,) on the scratch side, (2,) in torch",
        "loss                     0.00e+00   0.00e+00        0  rtol=1.0e-02, atol=1.0e-03*max|torch| ok",
    ]
    failing = Comparison([diff("t", np.array([2.0, 3.0]), np.array([1.0, 1.0]), TOL)]).table().split("\n")[1]
    assert failing.endswith(" FAIL (2 elements)")


def test_failure_message_and_assert_ok_name_the_context_and_each_failure():
    comparison = sample_comparison()
    message = ("scratch and torch disagree (step 3):\n"
               "  2.bias (layer 2, Linear(in_features=3, out_features=2)): shape (1,) on the scratch side, "
               "(2,) in torch")
    assert comparison.failure_message() == message
    with pytest.raises(AssertionError) as failure:
        comparison.assert_ok()
    assert str(failure.value) == message
    assert Comparison(comparison.failures).failure_message().startswith("scratch and torch disagree:\n  2.bias")
    Comparison([comparison["loss"]]).assert_ok()
    two = Comparison([diff("a", np.ones(2), np.ones(3), TOL), diff("b", np.ones(1), np.ones(2), TOL)])
    assert two.failure_message().split("\n") == [
        "scratch and torch disagree:",
        "  a: shape (2,) on the scratch side, (3,) in torch",
        "  b: shape (1,) on the scratch side, (2,) in torch"]


def test_to_dict_holds_every_field_and_verdict_and_is_json():
    comparison = sample_comparison()
    data = json.loads(json.dumps(comparison.to_dict(), default=float))
    assert data["context"] == "step 3" and data["ok"] is False
    assert list(data["tensors"]) == ["0.weight", "2.bias", "loss"]
    weight = data["tensors"]["0.weight"]
    assert weight["ok"] is True and weight["max_abs"] == 0.5 and weight["max_abs_at"] == [1]
    assert weight["tolerance"] == {"rtol": 0.5, "atol": 0.0, "why": ""}
    assert set(weight) == {field.name for field in fields(TensorDiff)} | {"ok"}
    assert data["tensors"]["2.bias"]["ok"] is False


class Bare:
    """A layer class that writes no __repr__ of its own."""

    def __init__(self, params=None):
        if params is not None:
            self.params = params


@pytest.mark.parametrize("layer,where", [
    (Linear(np.zeros((3, 4)), np.zeros(3)), "layer 0, Linear(in_features=4, out_features=3)"),
    (Bare({"weight": np.zeros((3, 4)), "bias": np.zeros(3)}), "layer 0, Bare(4->3)"),
    (Bare({"weight": np.zeros((2, 1, 3, 3))}), "layer 0, Bare"),
    (Bare({"bias": np.zeros(3)}), "layer 0, Bare"),
    (Bare(), "layer 0, Bare"),
])
def test_layer_label_uses_the_layers_repr_or_its_class_and_weight_sizes(layer, where):
    """Never <... object at 0x...>: a layer without a repr is named by its class and, for a 2-D
    weight (out, in), its sizes in -> out."""
    assert layer_label("0.weight", [layer]) == where
