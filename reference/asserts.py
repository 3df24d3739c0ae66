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
On success they return the report. Keyword arguments are reference.gradcheck.check's: the
checker's own (x, target, batch_size, seed, fd_samples, optimizer_steps, zero_grad, ...) and the
adapters' conventions (reference.adapters, e.g. layout="in_out", backward="x,grad", lr=0.1,
loss_twin="cross_entropy", in_features=784).
"""

from reference.gradcheck import check


def assert_layer_matches_torch(layer, twin=None, **options):
    """AssertionError with the checker's table unless the layer (instance, class or functional pair)
    computes what its torch twin ("linear", "sigmoid", "relu", "tanh") computes."""
    return assert_ok(check(layer, twin=twin, **options))


def assert_network_matches_torch(layers, loss=None, **options):
    """AssertionError with the checker's table unless every layer, the loss and the update of the
    network (a list of layers, or an object holding them) agree with torch."""
    return assert_ok(check(layers, loss=loss, **options))


def assert_ok(report):
    """The report, or an AssertionError carrying its table (which starts with the conventions found)."""
    if not report.ok:
        raise AssertionError(report.table())
    return report
