"""One training step, and the predictions, of each side of a run: what every way of running the
two sides (in turn, or concurrently in two processes; reference.training.run) has in common.

Each side keeps its own clock and its epoch's loss: `seconds` adds up the time of its training
steps only, so it means the same whether the other side ran in between or beside it;
`loss_sum` adds up the loss times the batch size, and `losses` keeps each step's loss (the
report's per-step curves). new_epoch() sets them back to 0 and empty.

Modes: a run's networks stay in training mode (dropout draws masks, batch norm uses and updates
batch statistics) except while predicting, which runs in evaluation mode (evaluating() below).
A prediction in training mode would draw dropout masks on one side only and leave the twins'
masks out of step from then on (scratch_nn.regularization).
"""

import contextlib
import time

import numpy as np
import torch

from reference.loss_names import as_loss
from reference.training.cuda_graph import GraphedStep, graphed_step
from reference.twin import torch_loss, torch_target

EVAL_CHUNK = 5_000  # examples per forward pass when evaluating: bounds memory on deep networks, and makes
# 14 pieces of MNIST's 70,000 evaluation images, shared 7 and 7 between two processes (reference.training.concurrent)


class Side:
    seconds = loss_sum = 0.0
    losses: list[float]

    def new_epoch(self):
        self.seconds = self.loss_sum = 0.0
        self.losses = []


class ScratchSide(Side):
    """The scratch network's optimizer steps on the training images, one batch of indices at a time.
    optimizer: a scratch_nn optimizer over the network's parameters."""

    name = "scratch"

    def __init__(self, network, loss, optimizer, images, labels):
        self.network, self.images, self.labels, self.optimizer = network, images, labels, optimizer
        self.loss = as_loss(loss)
        self.detail = ""  # why the last step's loss is NaN, where the loss refused to compute it
        self.new_epoch()

    def step(self, index) -> float:
        """One optimizer step on the examples `index`; the loss before it (NaN where it is not finite)."""
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
        self.losses.append(value)
        return value


class TorchSide(Side):
    """The torch twin's steps with a torch.optim optimizer over the model's parameters (the scratch
    optimizer's twin, reference.optimizers.torch_optimizer), on its own copy of the images on its device.

    On a GPU the step is captured as a CUDA graph at the second step and replayed from then on,
    where it can be (reference.training.cuda_graph); cuda_graph=False keeps every step eager."""

    name = "torch"

    def __init__(self, model, loss, optimizer, images, labels, device, cuda_graph=True):
        self.model, self.device, self.optimizer = model, device, optimizer
        # The torch side gets its own copy of the data on its device once, not per batch.
        self.images, self.labels = torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)
        self.scratch_loss = as_loss(loss)  # what the twin's loss computes (its class and reduction)
        self.loss = torch_loss(self.scratch_loss)
        self.steps = 0
        self.graph = None  # the captured step, a GraphedStep
        self._capture = cuda_graph and GraphedStep.supports(self)  # still to be tried
        self.new_epoch()

    def step(self, index) -> float:
        start = time.perf_counter()
        if self._capture and self.steps:  # after the first step, which makes the optimizer's state
            self.graph, self._capture = graphed_step(self, index), False
        if self.graph and len(index) == len(self.graph.index):
            value = self.graph(index)
        else:  # eager: the same work as the graph's, reference.training.cuda_graph.GraphedStep._work
            index_t = torch.from_numpy(index).to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            output = self.model(self.images[index_t])
            value = self.loss(output, torch_target(self.scratch_loss, self.labels[index_t], output))
            value.backward()
            self.optimizer.step()
        result = value.item()
        self.steps += 1
        self.seconds += time.perf_counter() - start
        self.loss_sum += result * len(index)
        self.losses.append(result)
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


@contextlib.contextmanager
def evaluating(network):
    """Evaluation mode (a scratch network or a torch model) inside, training mode again after."""
    network.eval()
    try:
        yield network
    finally:
        network.train()


def predicted_classes(output):
    """The class of each row of a network's output (NumPy or torch): the largest unit's; with one
    unit (a sigmoid's probability of class 1, binary cross-entropy's output), 1 where it is above 1/2."""
    if output.shape[1] == 1:
        above = output[:, 0] > 0.5
        return above.astype(np.int64) if isinstance(above, np.ndarray) else above.long()
    return output.argmax(axis=1) if isinstance(output, np.ndarray) else output.argmax(dim=1)


def predict_scratch(network, images) -> np.ndarray:
    with evaluating(network):
        return np.concatenate([predicted_classes(network.forward(images[i:i + EVAL_CHUNK]))
                               for i in range(0, len(images), EVAL_CHUNK)])


def predict_torch(model, images, device) -> np.ndarray:
    return np.concatenate(predict_torch_chunks(model, {"all": images}, evaluation_chunks({"all": images}), device))


def evaluation_chunks(splits: dict[str, np.ndarray]) -> list[tuple[str, int]]:
    """(split name, first example) of every EVAL_CHUNK-example piece of the splits' images, in order:
    the pieces a prediction is made in. Two processes can share them and still compute exactly what
    one would, piece for piece."""
    return [(name, start) for name, images in splits.items() for start in range(0, len(images), EVAL_CHUNK)]


@torch.no_grad()
def predict_torch_chunks(model, splits: dict[str, np.ndarray], chunks, device) -> list[np.ndarray]:
    """The torch model's predicted classes on each (split name, first example) piece of the splits."""
    with evaluating(model):
        return [predicted_classes(model(torch.from_numpy(splits[name][start:start + EVAL_CHUNK]).to(device))).cpu()
                .numpy() for name, start in chunks]


def join_chunks(chunks, predicted: dict) -> dict[str, np.ndarray]:
    """Each split's predictions, from predicted[chunk] of every chunk (evaluation_chunks' order)."""
    joined = {}
    for chunk in chunks:
        joined.setdefault(chunk[0], []).append(predicted[chunk])
    return {name: np.concatenate(pieces) for name, pieces in joined.items()}
