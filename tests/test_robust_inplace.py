"""check names an in-place write to what a layer was given, for every kind of layer: a forward that
changes its input, a backward that changes the upstream gradient (after using it, so every number it
returns is right), never "gradients accumulated" or an error of the check itself."""

import copy

import pytest

from reference.gradcheck import check
from reference.gradcheck.parts import MODIFIED_GRADIENT, MODIFIED_INPUT
from scratch_nn import Softmax, build_network

NETWORKS = [("1x6x6-conv2k3-pool2-5-4", "relu", {}), ("12-7-6-5", "sigmoid", {"batch_norm": True, "dropout": 0.5}),
            ("12-7-5", "tanh", {}), ("12-7-5", "leaky_relu", {})]


def with_writes(layer, where: str):
    """A copy of layer whose forward zeroes its input, or whose backward doubles the gradient it was
    given, each after the layer's own work: what it returns and stores is unchanged."""
    base = type(layer)

    class Writing(base):
        def forward(self, x, *args, **kwargs):
            out = base.forward(self, x, *args, **kwargs)
            if where == "forward":
                x[...] = 0
            return out

        def backward(self, grad, *args, **kwargs):
            out = base.backward(self, grad, *args, **kwargs)
            if where == "backward":
                grad *= 2
            return out

    Writing.__name__ = f"Writing{base.__name__}"
    written = copy.copy(layer)
    written.__class__ = Writing
    return written


def layer_cases():
    for spec, activation, regularisation in NETWORKS:
        network = build_network(spec, activation, init="torch", **regularisation)
        for index, layer in enumerate(network.layers):
            for where in ("forward", "backward"):
                yield pytest.param(spec, activation, regularisation, index, where,
                                   id=f"{type(layer).__name__}-{index}-of-{spec}-{activation}-{where}")
    yield pytest.param("12-7-5", "relu", {"output_activation": "softmax"}, 3, "backward", id="Softmax-backward")
    yield pytest.param("12-7-5", "relu", {"output_activation": "softmax"}, 3, "forward", id="Softmax-forward")


@pytest.mark.parametrize("spec, activation, regularisation, index, where", list(layer_cases()))
def test_an_in_place_write_is_named_at_its_layer(spec, activation, regularisation, index, where):
    network = build_network(spec, activation, init="torch", **regularisation)
    if regularisation.get("output_activation"):
        assert isinstance(network.layers[index], Softmax)
    network.layers[index] = with_writes(network.layers[index], where)
    report = check(network, loss=None if regularisation.get("output_activation") else "cross_entropy")
    failure = report.first_failure
    assert failure is not None and failure.index == index, report.table()
    expected = MODIFIED_INPUT if where == "forward" else MODIFIED_GRADIENT
    assert failure.error and failure.error.startswith(expected), report.table()
