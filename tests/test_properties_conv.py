"""Properties of the image layers that conv.py promises and the torch comparisons do not pin
down: max-pooling against the definition, window by window, for kernels and strides torch's
cases leave out (a side of 1, strides apart from the kernel), the gradient routed to the first
maximum of each window, and refusals naming the layer. Found by mutation testing
(tools/mutation.py).
"""

import re

import numpy as np
import pytest

from reference import tolerances
from scratch_nn import Conv2d, Flatten, MaxPool2d, Unflatten


def pool_by_definition(x, kernel, stride):
    """y[n, c, i, j] = max over the window at (s_h i, s_w j), and the row-major index of its first maximum."""
    (kh, kw), (sh, sw) = kernel, stride
    ho, wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    y, first = np.empty((*x.shape[:2], ho, wo)), {}
    for n, c, i, j in np.ndindex(*y.shape):
        window = x[n, c, sh * i:sh * i + kh, sw * j:sw * j + kw]
        y[n, c, i, j] = window.max()
        u, v = np.unravel_index(np.argmax(window), window.shape)  # argmax: the first maximum, row-major
        first[n, c, i, j] = (n, c, sh * i + u, sw * j + v)
    return y, first


@pytest.mark.parametrize("kernel,stride", [((1, 2), (2, 2)), ((2, 1), (2, 3)), ((2, 2), (1, 1)), ((3, 2), (2, 1))])
def test_max_pool_is_the_max_of_each_window_and_routes_its_gradient_to_the_first_max(kernel, stride):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (2, 2, 6, 7)).astype(np.float64)  # small integers: many ties within a window
    layer = MaxPool2d(kernel, stride)
    expected, first = pool_by_definition(x, kernel, stride)
    np.testing.assert_array_equal(layer.forward(x), expected)
    grad_output = rng.integers(1, 9, expected.shape).astype(np.float64)  # whole numbers: overlapping sums exact
    grad = np.zeros_like(x)
    for index, at in first.items():
        grad[at] += grad_output[index]
    np.testing.assert_array_equal(layer.backward(grad_output), grad)


def test_max_pool_refusals_name_the_layer():
    layer = MaxPool2d(2)
    with pytest.raises(ValueError,
                       match="^" + re.escape(f"{layer!r} expects a 4-D array (batch, channels, height, width)")):
        layer.forward(np.ones((2, 4)))
    layer.forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError,
                       match="^" + re.escape(f"{layer!r}.backward expects a gradient of shape (1, 1, 2, 2)")):
        layer.backward(np.ones((1, 1, 4, 4)))


@pytest.mark.parametrize("make,message", [
    (lambda: MaxPool2d((2, "a")), "kernel_size is an int or a (height, width) pair of ints; got (2, 'a')"),
    (lambda: MaxPool2d(2, (1, 2, 3)), "stride is an int or a (height, width) pair of ints; got (1, 2, 3)"),
    (lambda: MaxPool2d(2, 0), "MaxPool2d needs a kernel size and stride of at least 1; got 2, 0"),
    (lambda: MaxPool2d(0, 1), "MaxPool2d needs a kernel size and stride of at least 1; got 0, 1"),
    (lambda: MaxPool2d(3).forward(np.ones((1, 1, 2, 5))),
     "MaxPool2d(kernel_size=(3, 3), stride=(3, 3)) gets a 2x5 image (padding (0, 0)), smaller than its 3x3 window"),
])
def test_max_pool_refuses_sizes_it_cannot_use_naming_them(make, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        make()


def test_max_pool_of_1_is_the_identity():
    x = np.random.default_rng(0).random((1, 2, 3, 3))
    np.testing.assert_array_equal(MaxPool2d(1).forward(x), x)


@pytest.mark.parametrize("layer,text", [
    (Conv2d(np.zeros((3, 2, 3, 2)), np.zeros(3), stride=2), "Conv2d(2, 3, kernel_size=(3, 2), stride=(2, 2))"),
    (Conv2d(np.zeros((3, 2, 3, 2)), np.zeros(3), padding=(0, 1)),
     "Conv2d(2, 3, kernel_size=(3, 2), stride=(1, 1), padding=(0, 1))"),
    (MaxPool2d(3, 2), "MaxPool2d(kernel_size=(3, 3), stride=(2, 2))"),
    (Flatten(), "Flatten()"),
    (Unflatten((1, 2, 3)), "Unflatten(unflattened_size=(1, 2, 3))"),
])
def test_repr_gives_the_sizes_padding_only_when_there_is_some(layer, text):
    assert repr(layer) == text


@pytest.mark.parametrize("layer,x,bad_x,bad_grad,words_x,words_grad", [
    (Conv2d(np.ones((3, 2, 2, 2)), np.ones(3)), np.ones((1, 2, 3, 3)), np.ones((1, 2, 3)), np.ones((1, 3, 3, 3)),
     "expects a 4-D array (batch, channels, height, width); got (1, 2, 3)",
     ".backward expects a gradient of shape (1, 3, 2, 2)"),
    (Flatten(), np.ones((2, 3, 4)), np.ones(3), np.ones((2, 3)),
     "expects a 2-D array (batch, features); got (3,)", ".backward expects a gradient of shape (2, 12)"),
    (Unflatten((3, 4)), np.ones((2, 12)), np.ones((2, 11)), np.ones((2, 12)),
     "expects 12 features per example; got input of shape (2, 11).", ".backward expects a gradient of shape (2, 3, 4)"),
])
def test_refusals_name_the_layer_what_it_got_and_what_it_expects(layer, x, bad_x, bad_grad, words_x, words_grad):
    with pytest.raises(ValueError, match="^" + re.escape(f"{layer!r} {words_x}")):
        layer.forward(bad_x)
    layer.forward(x)
    with pytest.raises(ValueError, match="^" + re.escape(f"{layer!r}{words_grad}")):
        layer.backward(bad_grad)


@pytest.mark.parametrize("make,error,message", [
    (lambda: Conv2d(np.ones((3, 2, 2, 2)), np.ones(3), stride=(1, 2, 3)), ValueError,
     "stride is an int or a (height, width) pair of ints; got (1, 2, 3)"),
    (lambda: Conv2d(np.ones((3, 2, 2, 2)), np.ones(3), padding=(1.5, 1)), ValueError,
     "padding is an int or a (height, width) pair of ints; got (1.5, 1)"),
    (lambda: Conv2d(np.ones((3, 2, 2, 2)), np.ones(3)).forward([[[[1.0]]]]), ValueError,
     "Conv2d(2, 3, kernel_size=(2, 2), stride=(1, 1)) expects a 4-D array (batch, channels, height, width); got list. "
     "Reshape rows of pixels first, e.g. x.reshape(len(x), 1, 28, 28)."),
    (lambda: Conv2d(np.ones((3, 2, 2, 2)), np.ones(3)).forward(np.ones((2, 18))), ValueError,
     "Conv2d(2, 3, kernel_size=(2, 2), stride=(1, 1)) expects a 4-D array (batch, channels, height, width); "
     "got (2, 18)."),
    (lambda: Conv2d(np.ones((3, 2, 2, 2)), np.ones(3)).forward(np.ones((1, 2, 3, 3), np.float32)), TypeError,
     "Conv2d(2, 3, kernel_size=(2, 2), stride=(1, 1)) has float64 parameters but got a float32 input"),
    (lambda: Conv2d(np.ones((3, 2, 2, 2)), np.ones(3)).forward(np.ones((1, 2, 1, 3))), ValueError,
     "Conv2d(2, 3, kernel_size=(2, 2), stride=(1, 1)) gets a 1x3 image (padding (0, 0)), smaller than its 2x2 window"),
])
def test_conv_refuses_what_it_cannot_use_in_one_line_naming_itself(make, error, message):
    with pytest.raises(error, match="^" + re.escape(message)):
        make()


def test_a_window_the_size_of_the_image_gives_one_output_pixel():
    x = np.random.default_rng(0).random((2, 1, 3, 2))
    np.testing.assert_array_equal(MaxPool2d((3, 2)).forward(x), x.max(axis=(2, 3), keepdims=True))
    weight = np.random.default_rng(1).random((4, 1, 3, 2))
    y = Conv2d(weight, np.zeros(4)).forward(x)
    np.testing.assert_allclose(y[:, :, 0, 0], np.einsum("nchw,ochw->no", x, weight), rtol=tolerances.FLOAT64.rtol)
