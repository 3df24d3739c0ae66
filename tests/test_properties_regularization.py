"""Properties of Dropout and BatchNorm1d that regularization.py promises and the torch
comparisons do not pin down: where dropout's masks come from (its seed, one draw per
training-mode call, none at p = 0), the defaults (torch's), and that every refusal names the
layer, what it got and what it expected.
Found by mutation testing (tools/mutation.py).
"""

import re

import numpy as np
import pytest

from scratch_nn import BatchNorm1d, Dropout
from scratch_nn.regularization import keep_mask

X = np.random.default_rng(0).random((4, 6))


def test_dropout_defaults_are_p_one_half_and_seed_0():
    layer = Dropout()
    assert layer.p == 0.5
    layer.forward(X)
    np.testing.assert_array_equal(layer.mask, keep_mask(np.random.default_rng(0), X.shape, 0.5))


@pytest.mark.parametrize("seed", [5, (3, 1)])
def test_masks_are_drawn_from_default_rng_of_the_seed_one_per_training_call(seed):
    layer, rng = Dropout(0.3, seed=seed), np.random.default_rng(seed)
    for _ in range(2):
        y = layer.forward(X)
        mask = keep_mask(rng, X.shape, 0.3)
        np.testing.assert_array_equal(layer.mask, mask)
        np.testing.assert_array_equal(y, X * (mask.astype(X.dtype) / (1 - 0.3)))  # the documented grouping


def test_p_0_is_the_identity_and_draws_nothing():
    layer = Dropout(0.0)
    state = layer.rng.bit_generator.state
    assert layer.forward(X) is X and layer.backward(X) is X
    assert layer.mask is None and layer.rng.bit_generator.state == state


def test_dropout_repr_gives_its_probability():
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"


def test_dropout_refusals_name_the_layer():
    layer = Dropout(0.25)
    with pytest.raises(ValueError,
                       match="^" + re.escape("Dropout(p=0.25) expects a 2-D array (batch, features); got (6,)")):
        layer.forward(X[0])
    layer.forward(X)
    with pytest.raises(ValueError,
                       match="^" + re.escape("Dropout(p=0.25).backward expects a gradient of shape (4, 6)")):
        layer.backward(X[:2])


def test_batch_norm_defaults_are_torchs():
    layer = BatchNorm1d(3)
    assert (layer.eps, layer.momentum, layer.affine, layer.params["weight"].dtype) == (1e-5, 0.1, True, np.float64)
    assert repr(layer) == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True)"


@pytest.mark.parametrize("x,error,words", [
    (np.ones((4, 5)), ValueError, "expects 3 features per example; got input of shape (4, 5)."),
    (np.ones((4, 3, 2)), ValueError, "expects a 2-D array (batch, features); got (4, 3, 2)."),
    (np.ones((4, 3), np.float32), TypeError, "has float64 parameters but got a float32 input"),
])
def test_batch_norm_refuses_what_does_not_fit_naming_itself(x, error, words):
    layer = BatchNorm1d(3)
    with pytest.raises(error, match="^" + re.escape(f"{layer!r} {words}")):
        layer.forward(x)


def test_batch_norm_backward_refuses_a_gradient_of_another_shape_naming_itself():
    layer = BatchNorm1d(3)
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match="^" + re.escape(f"{layer!r}.backward expects a gradient of shape (4, 3)")):
        layer.backward(np.ones((4, 2)))


@pytest.mark.parametrize("arguments,error,message", [
    (dict(num_features=True), ValueError, "BatchNorm1d needs a positive number of features; got True"),
    (dict(num_features=2.0), ValueError, "BatchNorm1d needs a positive number of features; got 2.0"),
    (dict(num_features=0), ValueError, "BatchNorm1d needs a positive number of features; got 0"),
    (dict(eps=0.0), ValueError, "BatchNorm1d needs eps > 0 (it keeps 1/sqrt(var + eps) finite); got 0.0"),
    (dict(momentum=None), ValueError, "BatchNorm1d: momentum=None (torch's cumulative average) is not implemented; "
                                      "give a momentum in [0, 1]"),
    (dict(momentum=-0.1), ValueError, "BatchNorm1d needs a momentum in [0, 1] (the running estimates' step); got -0.1"),
    (dict(dtype=np.float16), TypeError, "BatchNorm1d computes in float32 or float64; got float16"),
])
def test_batch_norm_refuses_bad_arguments_with_one_line_each(arguments, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        BatchNorm1d(**{"num_features": 3, **arguments})
