"""Properties of the layers that layers.py promises and the torch comparisons do not pin down:
the exact formulas against an independent NumPy/SciPy evaluation, what forward remembers, that
gradients are overwritten, that nothing is upcast, and that every refusal names the layer, what
it got and what it expected. Found by mutation testing (tools/mutation.py).

Exact equality is used where the layer's formula and the check evaluate the same float
operations; elsewhere tolerances.FLOAT64 (the one-pass float64 bound).
"""

import re

import numpy as np
import pytest
from scipy.special import expit

from reference import tolerances
from scratch_nn import LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh

ACTIVATIONS = [Sigmoid, ReLU, Tanh, Softmax]
KINDS = [Linear, *ACTIVATIONS, LeakyReLU]
DTYPES = [np.float64, np.float32]
F64 = tolerances.FLOAT64


def rng_arrays(*shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [(3 * rng.standard_normal(shape)).astype(dtype) for shape in shapes]


def make_linear(n_in=4, n_out=3, dtype=np.float64, seed=1):
    weight, bias = rng_arrays((n_out, n_in), (n_out,), dtype=dtype, seed=seed)
    return Linear(weight, bias)


def make(kind, dtype=np.float64):
    """A layer taking 4 features: Linear 4 -> 3, or an activation (4 -> 4)."""
    return make_linear(dtype=dtype) if kind is Linear else kind()


def out_width(layer):
    return 3 if isinstance(layer, Linear) else 4


def test_linear_computes_x_wt_plus_b_and_its_three_gradients():
    """y = x W^T + b;  dL/dW = G^T x, dL/db = sum_i G_i (summed, not averaged), dL/dx = G W."""
    layer = make_linear()
    weight, bias = layer.params["weight"], layer.params["bias"]
    x, grad = rng_arrays((5, 4), (5, 3), seed=2)
    np.testing.assert_allclose(layer.forward(x), np.einsum("ni,oi->no", x, weight) + bias, rtol=F64.rtol)
    np.testing.assert_allclose(layer.backward(grad), np.einsum("no,oi->ni", grad, weight), rtol=F64.rtol)
    np.testing.assert_allclose(layer.grads["weight"], np.einsum("no,ni->oi", grad, x), rtol=F64.rtol)
    np.testing.assert_allclose(layer.grads["bias"], grad.sum(axis=0), rtol=F64.rtol)
    assert set(layer.grads) == set(layer.params) == {"weight", "bias"}


@pytest.mark.parametrize("kind", KINDS)
def test_backward_differentiates_the_last_forward_and_overwrites_gradients(kind):
    """forward remembers only its last call; a second backward gives the same result, not a sum."""
    layer, fresh = make(kind), make(kind)
    first, last, grad = rng_arrays((2, 4), (2, 4), (2, out_width(layer)), seed=3)
    layer.forward(first)
    layer.forward(last)
    fresh.forward(last)
    once = layer.backward(grad)
    np.testing.assert_array_equal(once, fresh.backward(grad))
    np.testing.assert_array_equal(layer.backward(grad), once)
    for name in layer.params:
        np.testing.assert_array_equal(layer.grads[name], fresh.grads[name])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_the_logistic_function_and_its_derivative_both_sides_of_zero(dtype):
    """sigma(x) = 1/(1 + e^-x), evaluated on each side of 0 without overflow; dsigma = s (1 - s)."""
    x = np.array([[-30.0, -2.5, -0.5, 0.0, 0.5, 2.5, 30.0]], dtype=dtype)
    grad = np.linspace(-1, 2, x.size, dtype=dtype).reshape(x.shape)
    layer = Sigmoid()
    s = layer.forward(x)
    rtol = tolerances.for_dtype(dtype).rtol * 4  # a few roundings of e^-|x|, 1 + e and the division
    np.testing.assert_allclose(s, expit(x.astype(np.float64)), rtol=rtol)
    assert s[0, 3] == 0.5
    np.testing.assert_array_equal(layer.backward(grad), grad * (1 - s) * s)


def test_tanh_derivative_is_one_minus_tanh_squared():
    x, grad = rng_arrays((3, 5), (3, 5), seed=4)
    layer = Tanh()
    np.testing.assert_array_equal(layer.forward(x), np.tanh(x))
    np.testing.assert_allclose(layer.backward(grad), grad / np.cosh(x) ** 2, rtol=F64.rtol, atol=F64.atol)


def test_relu_passes_positives_and_blocks_the_rest_even_nan_upstream():
    """max(0, x); the gradient is G where x > 0 and exactly 0 elsewhere, so a NaN or Inf coming
    from above never leaks through a closed unit (np.where, not G * mask)."""
    x = np.array([[-2.0, -0.0, 0.0, 0.5, 1.0, 3.0]])
    layer = ReLU()
    np.testing.assert_array_equal(layer.forward(x), [[0, 0, 0, 0.5, 1.0, 3.0]])
    upstream = np.array([[np.nan, np.inf, -np.inf, 2.0, 3.0, -4.0]])
    np.testing.assert_array_equal(layer.backward(upstream), [[0, 0, 0, 2.0, 3.0, -4.0]])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nothing_is_upcast_forward_or_backward(kind, dtype):
    layer = make(kind, dtype)
    x, grad = rng_arrays((2, 4), (2, out_width(layer)), dtype=dtype, seed=5)
    assert layer.forward(x).dtype == dtype
    assert layer.backward(grad).dtype == dtype
    assert all(g.dtype == dtype for g in layer.grads.values())


def test_a_fresh_layer_has_no_gradients_and_activations_have_no_parameters():
    assert make_linear().grads == {}
    for activation in ACTIVATIONS:
        assert activation().params == {} and activation().grads == {}


@pytest.mark.parametrize("layer,text", [
    (Linear(np.ones((3, 4)), np.zeros(3)), "Linear(in_features=4, out_features=3)"),
    (Sigmoid(), "Sigmoid()"), (ReLU(), "ReLU()"), (Tanh(), "Tanh()"), (Softmax(), "Softmax()"),
])
def test_repr_names_the_layer_and_its_sizes(layer, text):
    assert repr(layer) == text


# Every refusal is one clear message: which layer, what it got, what it expects, and the fix.
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad,error,words", [
    ([[1.0, 2.0, 3.0, 4.0]], ValueError, "expects a 2-D array (batch, features); got list. Flatten"),
    (np.ones(4), ValueError, "expects a 2-D array (batch, features); got (4,). Flatten"),
    (np.ones((2, 4), np.int64), TypeError, "computes in float32 or float64; got int64. Use x.astype(np.float32)"),
    (np.ones((2, 4), np.float16), TypeError, "computes in float32 or float64; got float16. Use"),
])
def test_bad_input_is_refused_naming_the_layer(kind, bad, error, words):
    layer = make(kind)
    with pytest.raises(error, match="^" + re.escape(f"{layer!r} {words}")):
        layer.forward(bad)


def test_linear_names_the_dtype_mix_and_the_feature_count():
    layer = make(Linear)
    with pytest.raises(TypeError, match=re.escape(
            "Linear(in_features=4, out_features=3) has float64 parameters but got a float32 input; nothing is "
            "converted silently: pass x.astype(np.float64) or build the network with dtype=np.float32.")):
        layer.forward(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=re.escape(
            "Linear(in_features=4, out_features=3) expects 4 features per example; got input of shape (2, 5).")):
        layer.forward(np.ones((2, 5)))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad,got", [
    (np.ones((3, 2)), "got shape (3, 2), dtype float64"),
    (np.ones((2, 9)), "got shape (2, 9), dtype float64"),
    ([[1.0, 2.0]], "got shape None, dtype list"),
    ("float32", "dtype float32"),
])
def test_wrong_upstream_gradient_is_refused_naming_what_was_expected(kind, bad, got):
    layer = make(kind)
    layer.forward(np.ones((2, 4)))
    width = out_width(layer)
    if isinstance(bad, str):  # the right shape in the wrong dtype
        bad = np.ones((2, width), np.float32)
    expected = (f"{layer!r}.backward expects a gradient of shape (2, {width}) and dtype float64, "
                f"matching its last output")
    with pytest.raises(ValueError, match="^" + re.escape(expected) + ".*" + re.escape(got)):
        layer.backward(bad)


@pytest.mark.parametrize("kind", KINDS)
def test_backward_before_forward_names_the_layer(kind):
    layer = make(kind)
    with pytest.raises(RuntimeError, match="^" + re.escape(f"{layer!r}.backward was called before forward")):
        layer.backward(np.ones((2, 4)))


@pytest.mark.parametrize("weight,bias,error,words", [
    (np.ones(3), np.ones(3), ValueError, "got weight (3,) and bias (3,)"),
    (np.ones((3, 2, 1)), np.ones(3), ValueError, "got weight (3, 2, 1) and bias (3,)"),
    (np.ones((3, 2)), np.ones(2), ValueError, "got weight (3, 2) and bias (2,)"),
    (np.ones((3, 2)), np.ones((3, 2)), ValueError,
     "Linear needs a weight of shape (out, in) and a bias of shape (out,)"),
    (np.ones((3, 2)), np.ones(3, np.float32), TypeError,
     "Linear weight is float64 but bias is float32; give both one dtype"),
])
def test_linear_refuses_parameters_that_do_not_fit(weight, bias, error, words):
    with pytest.raises(error, match=re.escape(words)):
        Linear(weight, bias)


@pytest.mark.parametrize("kind", KINDS)
def test_backward_without_input_grad_returns_none_and_the_same_parameter_gradients(kind):
    layer = make(kind)
    x, grad = rng_arrays((2, 4), (2, out_width(layer)), seed=4)
    layer.forward(x)
    full = layer.backward(grad)
    grads = {name: value.copy() for name, value in layer.grads.items()}
    assert full is not None and layer.backward(grad, input_grad=False) is None
    assert layer.grads.keys() == grads.keys()
    for name, value in grads.items():
        np.testing.assert_array_equal(layer.grads[name], value, err_msg=name)


def test_leaky_relu_defaults_to_torchs_slope_and_names_itself():
    assert LeakyReLU().negative_slope == 0.01
    layer = LeakyReLU(0.2)
    assert repr(layer) == "LeakyReLU(negative_slope=0.2)"
    with pytest.raises(ValueError, match="^" + re.escape("LeakyReLU(negative_slope=0.2) expects a 2-D array")):
        layer.forward(np.ones(3))
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="^" + re.escape("LeakyReLU(negative_slope=0.2).backward expects a gradient "
                                                         "of shape (2, 3)")):
        layer.backward(np.ones((3, 2)))


@pytest.mark.parametrize("kind", [Linear, ReLU])
def test_a_read_only_view_of_a_writeable_array_is_copied_before_caching(kind):
    """Writing to the array under a read-only view must not change what backward differentiates."""
    layer, reference = make(kind), make(kind)
    base, grad = rng_arrays((2, 4), (2, out_width(layer)), seed=5)
    view = base[:]
    view.flags.writeable = False
    layer.forward(view)
    reference.forward(base.copy())
    base[...] = -base
    np.testing.assert_array_equal(layer.backward(grad), reference.backward(grad))
    for name, value in reference.grads.items():
        np.testing.assert_array_equal(layer.grads[name], value, err_msg=name)
