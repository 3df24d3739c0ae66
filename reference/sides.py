"""One training step, and the predictions, of each side of a run: what every way of running the
two sides (in turn, or concurrently in two processes; reference.training) has in common.

Each side keeps its own clock and its epoch's loss: `seconds` adds up the time of its training
steps only, so it means the same whether the other side ran in between or beside it;
`loss_sum` adds up the loss times the batch size. new_epoch() sets both to 0.
"""

import time

import numpy as np
import torch

import scratch_nn

from .twin import torch_loss, torch_target

EVAL_CHUNK = 10_000  # examples per forward pass when evaluating, to bound memory on deep networks


def as_loss(loss):
    """A scratch loss object from its name in scratch_nn.LOSSES, or the loss given (an implementation's
    own, adapted: reference.implementation.build_loss)."""
    return scratch_nn.LOSSES[loss]() if isinstance(loss, str) else loss


class Side:
    seconds = loss_sum = 0.0

    def new_epoch(self):
        self.seconds = self.loss_sum = 0.0


class ScratchSide(Side):
    """The scratch network's SGD steps on the training images, one batch of indices at a time."""

    name = "scratch"

    def __init__(self, network, loss, lr: float, images, labels):
        self.network, self.images, self.labels = network, images, labels
        self.loss = as_loss(loss)
        self.optimizer = scratch_nn.SGD(network, lr)
        self.detail = ""  # why the last step's loss is NaN, where the loss refused to compute it

    def step(self, index) -> float:
        """One SGD step on the examples `index`; the loss before it (NaN where it is not finite)."""
        start = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported by the caller, once
            try:
                batch = self.images[index]
                batch.flags.writeable = False  # nothing changes it: the layers need not copy it to cache it
                output = self.network.forward(batch)
                value = float(self.loss.forward(output, self.labels[index]))
                self.network.backward(self.loss.backward(), input_grad=False)  # dL/dx is never used
                self.optimizer.step()
            except FloatingPointError as error:  # the loss refuses a non-finite output
                value, self.detail = np.nan, f"(scratch: {error})"
        self.seconds += time.perf_counter() - start
        self.loss_sum += value * len(index)
        return value


class TorchSide(Side):
    """The torch twin's SGD steps (torch.optim.SGD), on its own copy of the images on its device."""

    name = "torch"

    def __init__(self, model, loss, lr: float, images, labels, device):
        self.model, self.device = model, device
        # The torch side gets its own copy of the data on its device once, not per batch.
        self.images, self.labels = torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)
        self.scratch_loss = as_loss(loss)  # what the twin's loss computes (its class and reduction)
        self.loss = torch_loss(self.scratch_loss)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def step(self, index) -> float:
        start = time.perf_counter()
        index_t = torch.from_numpy(index).to(self.device)
        self.optimizer.zero_grad(set_to_none=True)
        output = self.model(self.images[index_t])
        value = self.loss(output, torch_target(self.scratch_loss, self.labels[index_t], output))
        value.backward()
        self.optimizer.step()
        result = value.item()
        self.seconds += time.perf_counter() - start
        self.loss_sum += result * len(index)
        return result


def epoch_batches(num_examples: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The one shuffler: a fresh permutation each epoch, cut into batches (the last may be smaller).
    Both sides consume exactly these index arrays."""
    order = rng.permutation(num_examples)
    return [order[i:i + batch_size] for i in range(0, num_examples, batch_size)]


def train_alone(side, batches) -> int | None:
    """Every step of one side over the batches; the first step (from 1) whose loss is not finite,
    where the side stops, or None."""
    for step, index in enumerate(batches, start=1):
        if not np.isfinite(side.step(index)):
            return step
    return None


def predict_scratch(network, images) -> np.ndarray:
    return np.concatenate([network.forward(images[i:i + EVAL_CHUNK]).argmax(axis=1)
                           for i in range(0, len(images), EVAL_CHUNK)])


@torch.no_grad()
def predict_torch(model, images, device) -> np.ndarray:
    return np.concatenate([model(torch.from_numpy(images[i:i + EVAL_CHUNK]).to(device)).argmax(dim=1).cpu().numpy()
                           for i in range(0, len(images), EVAL_CHUNK)])
