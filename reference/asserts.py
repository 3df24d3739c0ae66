"""One-line assertions for a course's or a project's own pytest suite: a user's layer, or whole
network, in the user's own conventions, checked against PyTorch and finite differences.

    from reference.asserts import assert_layer_matches_torch, assert_network_matches_torch

    def test_my_linear():
        assert_layer_matches_torch(Linear, "linear")                 # a class, or an instance

    def test_my_network():
        assert_network_matches_torch([Linear(784, 32, 0.1), ReLU(), Linear(32, 10, 0.1)],
                                     CrossEntropy(), loss_twin="cross_entropy", in_features=784)

On a disagreement they raise AssertionError carrying the conventions found and the checker's
table (reference.gradcheck's): which part disagrees first, by how much, and what it looks like.
On success they return the report. Keyword arguments go to the checker where they are its own
(x, target, batch_size, seed, fd_samples, optimizer_steps, zero_grad, ...) and otherwise to the adapter (reference.adapters: the
conventions, e.g. layout="in_out", backward="x,grad", lr=0.1).
"""

import inspect

from reference.adapters import Adapted, adapt_layer, adapt_network
from reference.gradcheck import check_network
from scratch_nn import Sequential

# The checker's own keyword arguments, read from its signature so that a new one is never sent to
# the adapter by mistake. What describes the subject (its layers, loss, update, learning rate and
# dtype) is the adapter's: Adapted.check passes it on.
CHECK_OPTIONS = tuple(sorted(set(inspect.signature(check_network).parameters)
                             - {"network", "twins", "loss", "optimizer", "lr", "dtype"}))


def assert_layer_matches_torch(layer, twin=None, **options):
    """AssertionError with the checker's table unless the layer (instance, class or functional pair)
    computes what its torch twin ("linear", "sigmoid", "relu", "tanh") computes."""
    checking, adapting = split(options)
    wrapped = adapt_layer(layer, twin, **adapting)
    return assert_ok(Adapted(Sequential(wrapped), None), checking)


def assert_network_matches_torch(layers, loss=None, **options):
    """AssertionError with the checker's table unless every layer, the loss and the update of the
    network (a list of layers, or an object holding them) agree with torch."""
    checking, adapting = split(options)
    return assert_ok(adapt_network(layers, loss, **adapting), checking)


def split(options):
    """(the checker's options, the adapter's); seed goes to both: it also fills a built layer's weights."""
    checking = {key: value for key, value in options.items() if key in CHECK_OPTIONS}
    adapting = {key: value for key, value in options.items() if key not in CHECK_OPTIONS or key == "seed"}
    return checking, adapting


def assert_ok(adapted: Adapted, checking):
    report = adapted.check(**checking)
    if not report.ok:
        raise AssertionError(f"{adapted.describe()}\n\n{report.table()}")
    return report
