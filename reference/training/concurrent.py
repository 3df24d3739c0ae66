"""The scratch side in a process of its own, so that the two sides train at the same time.

Why a process and not a thread: a step at batch 32 is a few dozen small NumPy and torch calls,
much of each Python holding the GIL, so two threads mostly wait for each other. Measured in one
process (784-128-10 float32, 20,000 images, one thread per side): torch 0.95 s, scratch 0.73 s,
the two in turn 1.69 s, the two in two threads 1.86 s. Two processes each get a core.

The process is forked from the run's own, so it starts with the network, the training images and
the evaluation splits already in memory (copy on write: nothing is pickled). The one shuffler
stays in the parent: every epoch the parent sends that epoch's batches (the index arrays), so
both sides see identical batches in identical order. The child trains on them, evaluates its
network on the splits (while the torch side still trains) and answers with a ScratchEpoch: the
loss, its own training seconds, the first non-finite step, its network (every layer, so any state
beyond the parameters comes along: batch norm's running statistics, dropout's generators), its
optimizer's state (momentum buffers, Adam's moments and step count) and its predictions. The
parent's copies of the network and the optimizer become the child's, so the parent judges, checks
and saves exactly what trained, as a sequential run does.

The torch side's evaluation is shared: the scratch side trains faster, so its process waits
while the torch side finishes. Given the torch model's weights after the epoch, it predicts with
its own (forked) copy of the model on part of the evaluation pieces (reference.training.sides
.evaluation_chunks) while the parent predicts the rest: the same pieces either way, so the same
predictions as one process makes. On a GPU the parent keeps it all (CUDA cannot be used again in
a forked process), as a GPU makes the evaluation short.

Threads and the fork: torch computes with an OpenMP pool (libgomp), started by the parent's first
parallel work (set_num_threads, loading the data) and not usable again in a forked child: the
child's first parallel region would wait forever for pool threads that were not copied. So the
child's torch is kept to one thread (no parallel region, nothing to wait for), and the torch
evaluation is shared with it only with --threads 1, where its one thread is the parent's match; with
more, the parent predicts it all on its own pool. NumPy's BLAS (OpenBLAS, pthreads) makes its
pool afresh in a child, so the scratch side keeps its --threads. The child also ends with the
parent, SIGKILL included (reference.child_lifetime), so a killed run leaves no orphan.
"""

import copy
import multiprocessing
import os
import signal
import traceback
from dataclasses import dataclass

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from reference.child_lifetime import end_with_parent
from reference.training.sides import (
    ScratchSide,
    predict_scratch,
    predict_torch_chunks,
    train_alone,
)
from reference.twin import numpy_state_dict


@dataclass
class ScratchEpoch:
    loss_sum: float
    losses: list  # each step's loss
    seconds: float
    bad_step: int | None  # the first step whose loss was not finite (the side stopped there), or None
    detail: str  # why, where the loss said so
    network: object  # the scratch network after the epoch, every layer's state with it (pickled across)
    optimizer_state: dict  # the scratch optimizer's state_dict() after the epoch
    predictions: dict  # split name -> predicted classes (empty after a non-finite step)


class ScratchProcess:
    """A forked process that trains `side` one epoch at a time: start_epoch, then finish_epoch.
    With the torch twin `model` (on the CPU) it also predicts with the twin's weights on evaluation
    pieces it is given: start_torch_predictions, then finish_torch_predictions."""

    def __init__(self, side: ScratchSide, splits: dict, threads: int, model=None):
        context = multiprocessing.get_context("fork")  # the child shares the parent's arrays
        self._connection, child = context.Pipe()
        model = model if threads == 1 else None  # the child's torch has one thread (see the module's text)
        self._process = context.Process(target=serve, args=(child, side, splits, threads, self._connection, model,
                                                            os.getpid()),
                                        daemon=True, name="scratch side")
        self._process.start()
        child.close()
        self.shares_evaluation = model is not None
        self._pending = 0  # requests sent whose answers are not yet read

    def start_epoch(self, batches: list[np.ndarray]) -> None:
        self._connection.send(batches)
        self._pending += 1

    def finish_epoch(self) -> ScratchEpoch:
        return self._answer()

    def start_torch_predictions(self, model, chunks: list) -> None:
        """Have the process predict with model's weights now on the evaluation pieces `chunks`."""
        self._connection.send((numpy_state_dict(model), chunks))
        self._pending += 1

    def finish_torch_predictions(self) -> list[np.ndarray]:
        """The predicted classes on each piece asked for, in order."""
        return self._answer()

    def _answer(self):
        try:
            answer = self._connection.recv()
            self._pending -= 1
        except EOFError:
            raise RuntimeError(f"the scratch side's process ended unexpectedly "
                               f"(exit code {self._process.exitcode})") from None
        if isinstance(answer, str):
            raise RuntimeError(f"the scratch side's process failed:\n{answer}")
        return answer

    def close(self) -> None:
        """Stop the process: at once if it is in the middle of an epoch (the run was stopped, e.g. by
        Ctrl-C, or the torch side failed), else when it reads the request."""
        if not self._pending:
            try:
                self._connection.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._connection.close()


def serve(connection, side: ScratchSide, splits: dict, threads: int, parents_end, model, parent_pid: int) -> None:
    """The child: answer each request until None or EOF: a list of batches with the epoch trained and
    evaluated (a ScratchEpoch), a (torch weights, pieces) pair with the torch model's predictions."""
    end_with_parent(parent_pid)
    torch.set_num_threads(1)  # the parent's OpenMP pool is not the child's: one thread never waits on it
    parents_end.close()  # the fork copied it: closed here, the parent's death (even by SIGKILL) is an EOF here
    # Ctrl-C reaches the whole process group; the parent decides what stops, and closes this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with threadpool_limits(limits=threads, user_api="blas"):
        while True:
            try:
                request = connection.recv()
            except EOFError:  # the parent is gone
                return
            if request is None:
                return
            try:
                if isinstance(request, tuple):
                    connection.send(torch_predictions(model, splits, *request))
                else:
                    connection.send(train_epoch(side, splits, request))
            except Exception:  # reported in the parent, with this traceback
                connection.send(traceback.format_exc())


def train_epoch(side: ScratchSide, splits: dict, batches: list[np.ndarray]) -> ScratchEpoch:
    side.new_epoch()
    bad_step = train_alone(side, batches)
    trained = copy.deepcopy(side.network)  # as training left it: evaluating would cache 10,000-row batches
    predictions = {} if bad_step else {name: predict_scratch(side.network, images) for name, images in splits.items()}
    return ScratchEpoch(side.loss_sum, side.losses, side.seconds, bad_step, side.detail, trained,
                        side.optimizer.state_dict(), predictions)


def torch_predictions(model, splits: dict, weights: dict, chunks: list) -> list[np.ndarray]:
    model.load_state_dict({key: torch.from_numpy(value) for key, value in weights.items()})
    return predict_torch_chunks(model, splits, chunks, "cpu")
