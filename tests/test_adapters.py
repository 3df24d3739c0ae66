"""reference.adapters on eight from-scratch MLPs written in other people's conventions
(tests/implementations): the conventions are found, every correct implementation passes every
check and trains to torch's numbers, and every mistake is caught at the right part with the
right signature. Then the probes themselves: ambiguity is an error naming the option that
resolves it, explicit conventions override, and the user's objects are never modified."""

import copy
import functools
import importlib

import numpy as np
import pytest

from reference import tolerances
from reference.adapters import adapt_network
from reference.comparison import compare
from reference.gradcheck import check
from reference.side_by_side import torch_step
from reference.training.data import Split, load_dataset
from reference.twin import numpy_state_dict, torch_model

IMPLEMENTATIONS = ["textbook", "attributes", "functional", "columns", "scratch", "nnfs_style", "keras_like",
                   "functional_l2"]
SIZES = (784, 32, 10)


def implementation(name):
    return importlib.import_module(f"implementations.{name}")


def adapted(name, dtype=None, **parts):
    layers, loss = implementation(name).network(SIZES, **parts)
    return adapt_network(layers, loss, loss_twin="cross_entropy", in_features=SIZES[0], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_correct_implementation_passes_every_check(name, dtype):
    report = check(adapted(name, dtype))
    assert report.ok and report.settings["dtype"] == np.dtype(dtype).name, report.table()
    assert [part.kind for part in report.parts] == ["layer"] * 3 + ["loss", "optimizer"]


MUTANTS = [(name, mutant) for name in IMPLEMENTATIONS for mutant in implementation(name).MUTANTS]


@pytest.mark.parametrize("name, mutant", MUTANTS, ids=[f"{n}: {m}" for n, m in MUTANTS])
def test_mistake_is_caught_at_its_part_with_its_signature(name, mutant):
    role, replacement, part, signature = implementation(name).MUTANTS[mutant]
    report = check(adapted(name, **{role: replacement}))
    first = report.first_failure
    assert first is not None, report.table()
    assert (first.index, first.kind) == ((part, "layer") if part != "loss" else (None, "loss")), report.table()
    for failure in report.failures:  # the replaced part, wherever the network uses it, and nothing else
        assert failure.name == user_name(replacement), report.table()
        assert signature in failure.signatures, report.table()


def user_name(replacement):
    """The name reports give a user's part: its class, function, or a functional pair's forward without _forward."""
    function = replacement[0] if isinstance(replacement, tuple) else replacement
    return function.__name__.removesuffix("_forward")


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_training_an_epoch_matches_torch(name, synthetic):
    """One epoch (10 batches of 32, lr 0.1, float64) with the user's update (inside backward, or SGD):
    the parameters agree with torch's within the whole-run tolerance, and the loss went down."""
    layers, loss = implementation(name).network(SIZES)
    originals = copy.deepcopy((layers, loss))
    comparison, losses = train_epoch(layers, loss, synthetic(n_train=320, seed=1).train)
    comparison.assert_ok()
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert_untouched(originals, (layers, loss))


@pytest.mark.slow  # reading MNIST and 5 x 63 steps: about 25 s on 2 busy cores; the synthetic epoch above is fast
@pytest.mark.mnist
@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_training_on_mnist_matches_torch(name, mnist_root):
    """The same on the first 2,000 MNIST training images (63 steps)."""
    comparison, losses = train_epoch(*implementation(name).network(SIZES), mnist_subset(mnist_root))
    comparison.assert_ok()
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


@functools.cache
def mnist_subset(root, n=2000):
    train = load_dataset("mnist", root, dtype=np.float64).train
    return Split(train.images[:n], train.labels[:n])


def test_training_with_a_mistake_parts_from_torch(synthetic):
    """The same epoch with the bias gradient averaged (the update uses it) ends outside the tolerance."""
    textbook = implementation("textbook")
    layers, loss = textbook.network(SIZES, linear=textbook.LinearBiasAveraged)
    comparison, _ = train_epoch(layers, loss, synthetic(n_train=320, seed=1).train)
    assert not comparison.ok and {d.name for d in comparison.failures} >= {"0.bias", "2.bias"}


def train_epoch(layers, loss, data, lr=0.1):
    """Both sides trained on the same batches of data (a Split); the parameters compared at the end,
    and the training losses."""
    run = adapt_network(layers, loss, loss_twin="cross_entropy", in_features=SIZES[0])
    model = torch_model(run.network)  # each adapted layer names its twin (torch_twin)
    step, losses = run.optimizer(run.network, lr), []
    for start in range(0, len(data.images), 32):
        x, y = data.images[start:start + 32], data.labels[start:start + 32]
        losses.append(float(run.loss.forward(run.network.forward(x), y)))
        run.network.backward(run.loss.backward())
        step.step()
        torch_step(model, x, y, run.loss, lr)
    comparison = compare(run.network.state_dict(), numpy_state_dict(model), tolerances.TRAINING_RUN_FLOAT64,
                         context="after an epoch")
    return comparison, losses


def assert_untouched(originals, objects):
    """Every array of the user's objects is as it was, bit for bit, and no attribute was added."""
    for before, after in zip(flatten(originals), flatten(objects)):
        if hasattr(before, "__dict__"):
            assert vars(before).keys() == vars(after).keys()
            for key, value in vars(before).items():
                if isinstance(value, np.ndarray):
                    np.testing.assert_array_equal(value, vars(after)[key])
        elif isinstance(before, np.ndarray):
            np.testing.assert_array_equal(before, after)


def flatten(value):
    if isinstance(value, (list, tuple)):
        return [item for v in value for item in flatten(v)]
    return [value]
