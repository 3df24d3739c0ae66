"""The torch side's step captured as a CUDA graph (reference.training.cuda_graph): which runs it is used for,
on any machine, and, on a GPU, that the replayed steps compute what the eager ones do, to the bit."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from reference.optimizers import torch_optimizer
from reference.training.cuda_graph import GraphedStep
from reference.training.sides import TorchSide, epoch_batches
from reference.twin import configure_determinism, torch_model
from scratch_nn import SGD, Adam, build_network

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")


def twin(dtype=np.float64, dropout=0.0, optimizer=SGD, device="cpu", **hyperparameters):
    network = build_network("784-32-10", "sigmoid", init="torch", dtype=dtype, dropout=dropout)
    model = torch_model(network, device=device)
    return model, torch_optimizer(optimizer(network, **{"lr": 0.1, **hyperparameters}), model)


@pytest.mark.parametrize("device,dropout,optimizer,captured", [
    ("cuda", 0.0, SGD, True),
    ("cuda:1", 0.0, SGD, True),
    ("cuda", 0.5, SGD, False),  # dropout's masks are drawn on the CPU, from NumPy generators
    ("cuda", 0.0, Adam, False),  # its step count lives on the CPU (the twin is not built capturable)
    ("cpu", 0.0, SGD, False),
])
def test_only_steps_that_can_be_replayed_are_captured(device, dropout, optimizer, captured):
    model, twin_optimizer = twin(dropout=dropout, optimizer=optimizer)  # on the CPU: only the device is asked
    assert GraphedStep.supports(SimpleNamespace(device=device, model=model, optimizer=twin_optimizer)) is captured


def test_on_the_cpu_every_step_is_eager():
    model, optimizer = twin()
    images = np.random.default_rng(0).random((64, 784))
    side = TorchSide(model, "cross_entropy", optimizer, images, np.arange(64) % 10, "cpu")
    for index in epoch_batches(64, 16, np.random.default_rng(0)):
        side.step(index)
    assert side.steps == 4 and side.graph is None


@needs_gpu
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("hyperparameters", [{}, {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_replayed_step_is_the_eager_step_to_the_bit(dtype, hyperparameters, loss):
    """Two epochs of 200 examples at batch 32 (a last batch of 8, eager) from the same weights: the
    losses and the parameters after each step the same, with and without the graph."""
    configure_determinism()
    rng = np.random.default_rng(0)
    images, labels = rng.random((200, 784)).astype(dtype), rng.integers(0, 10, 200)

    def side(cuda_graph):
        model, optimizer = twin(dtype, device="cuda", **hyperparameters)
        return TorchSide(model, loss, optimizer, images, labels, "cuda", cuda_graph=cuda_graph)

    eager, graphed = side(False), side(True)
    for _ in range(2):
        for index in epoch_batches(200, 32, rng):
            assert graphed.step(index) == eager.step(index)
            for ours, theirs in zip(graphed.model.parameters(), eager.model.parameters()):
                torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    assert graphed.graph is not None and eager.graph is None
