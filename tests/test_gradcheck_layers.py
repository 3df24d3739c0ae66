"""The gradient checker on convolutional networks, batch norm and dropout: no false alarm on
correct layers, and every mistake of the conv and regularisation zoos caught at its own layer.

Dropout draws a mask on every training-mode forward, so the checker's three judges must see the
same calls in the same order: the twin runs the decoy batch first, as the scratch layer does, and
each finite-difference evaluation starts from a copy of the layer as the decoy left it. Batch
norm's running statistics after those batches are compared too, and a layer with a training
mode is checked again in evaluation mode.
"""

import copy
import inspect

import pytest
import zoo_conv
import zoo_regularization

from reference.gradcheck import check
from scratch_nn import build_network

NETWORKS = [  # (spec, activation, build_network's regularisation)
    ("1x8x7-conv3k3x2p1-pool2-conv4k2s2-5-4", "relu", {}),
    ("1x6x6-conv2k3-pool2-4-3", "leaky_relu", {}),
    ("12-7-5", "tanh", {"batch_norm": True}),
    ("12-7-5", "relu", {"dropout": 0.3}),
    ("12-7-6-5", "sigmoid", {"batch_norm": True, "dropout": 0.5}),
]


@pytest.mark.parametrize("spec,activation,regularisation", NETWORKS)
def test_correct_layers_raise_no_alarm(spec, activation, regularisation, dtype):
    network = build_network(spec, activation, init="torch", dtype=dtype, **regularisation)
    report = check(network, loss="cross_entropy")
    assert report.ok, report.table()


def mistakes(module):
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass) if cls.__module__ == module.__name__]


def with_mistake(network, mistake):
    """The network with its first layer of the mistake's base class turned into the mistake (same state)."""
    index = next(i for i, layer in enumerate(network.layers) if type(layer) is mistake.__bases__[0])
    network.layers[index] = copy.copy(network.layers[index])
    network.layers[index].__class__ = mistake
    return network, index


@pytest.mark.parametrize("mistake", mistakes(zoo_conv) + mistakes(zoo_regularization), ids=lambda cls: cls.__name__)
def test_every_mistake_is_caught_at_its_layer(mistake):
    spec, activation, regularisation = (("1x6x6-conv3k3p1-pool2-9-4", "leaky_relu", {}) if mistake in mistakes(zoo_conv)
                                        else ("12-7-5", "tanh", {"batch_norm": True, "dropout": 0.5}))
    network, index = with_mistake(build_network(spec, activation, init="torch", **regularisation), mistake)
    if mistake.__name__ == "MaxPool2dGradToEveryTiedMax":  # ties need equal inputs: a ReLU's zeros give them
        network = build_network("1x6x6-conv3k3-pool2-5-4", "relu", init="torch")
        network, index = with_mistake(network, mistake)
    report = check(network, loss="cross_entropy")
    failure = report.first_failure
    assert failure is not None and (failure.index, failure.name) == (index, mistake.__name__), report.table()
