"""The scratch side in a process of its own, so that the two sides train at the same time.

Why a process and not a thread: a step at batch 32 is a few dozen small NumPy and torch calls,
much of each Python holding the GIL, so two threads mostly wait for each other. Measured in one
process (784-128-10 float32, 20,000 images, one thread per side): torch 0.95 s, scratch 0.73 s,
the two in turn 1.69 s, the two in two threads 1.86 s. Two processes each get a core.

The process is forked from the run's own, so it starts with the network, the training images and
the evaluation splits already in memory (copy on write: nothing is pickled), and it uses NumPy
only. The one shuffler stays in the parent: every epoch the parent sends that epoch's batches
(the index arrays), so both sides see identical batches in identical order. The child trains on
them, evaluates its network on the splits (beside the torch side's own evaluation) and answers
with a ScratchEpoch: the loss, its own training seconds, the first non-finite step, its network
(every layer, so any state beyond the parameters comes along) and its predictions. The parent then judges the two sides exactly as a sequential run does.
"""

import copy
import multiprocessing
import signal
import traceback
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .sides import ScratchSide, predict_scratch, train_alone


@dataclass
class ScratchEpoch:
    loss_sum: float
    seconds: float
    bad_step: int | None  # the first step whose loss was not finite (the side stopped there), or None
    detail: str  # why, where the loss said so
    network: object  # the scratch network after the epoch, every layer's state with it (pickled across)
    predictions: dict  # split name -> predicted classes (empty after a non-finite step)


class ScratchProcess:
    """A forked process that trains `side` one epoch at a time: start_epoch, then finish_epoch."""

    def __init__(self, side: ScratchSide, splits: dict, threads: int):
        context = multiprocessing.get_context("fork")  # the child shares the parent's arrays
        self._connection, child = context.Pipe()
        self._process = context.Process(target=serve, args=(child, side, splits, threads, self._connection),
                                        daemon=True, name="scratch side")
        self._process.start()
        child.close()
        self._busy = False  # an epoch was sent and its answer not yet read

    def start_epoch(self, batches: list[np.ndarray]) -> None:
        self._connection.send(batches)
        self._busy = True

    def finish_epoch(self) -> ScratchEpoch:
        try:
            answer = self._connection.recv()
            self._busy = False
        except EOFError:
            raise RuntimeError(f"the scratch side's process ended unexpectedly "
                               f"(exit code {self._process.exitcode})") from None
        if isinstance(answer, str):
            raise RuntimeError(f"the scratch side's process failed:\n{answer}")
        return answer

    def close(self) -> None:
        """Stop the process: at once if it is in the middle of an epoch (the run was stopped, e.g. by
        Ctrl-C, or the torch side failed), else when it reads the request."""
        if not self._busy:
            try:
                self._connection.send(None)
            except (BrokenPipeError, OSError):
                pass
            self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._connection.close()


def serve(connection, side: ScratchSide, splits: dict, threads: int, parents_end) -> None:
    """The child: train and evaluate an epoch for each batch list received, until None or EOF."""
    parents_end.close()  # the fork copied it: closed here, the parent's death (even by SIGKILL) is an EOF here
    # Ctrl-C reaches the whole process group; the parent decides what stops, and closes this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with threadpool_limits(limits=threads, user_api="blas"):
        while True:
            try:
                batches = connection.recv()
            except EOFError:  # the parent is gone
                return
            if batches is None:
                return
            try:
                side.new_epoch()
                bad_step = train_alone(side, batches)
                trained = copy.deepcopy(side.network)  # as training left it: evaluating would cache 10,000-row batches
                predictions = {} if bad_step else {name: predict_scratch(side.network, images)
                                                   for name, images in splits.items()}
                connection.send(ScratchEpoch(side.loss_sum, side.seconds, bad_step, side.detail, trained, predictions))
            except Exception:  # reported in the parent, with this traceback
                connection.send(traceback.format_exc())
