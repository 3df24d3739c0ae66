"""The torch side's training step captured once as a CUDA graph and replayed, on a GPU.

At batch 32 a GPU step is a few dozen tiny kernels, and launching them from Python takes longer
than running them (an MNIST epoch on a GPU can take longer than the scratch side's on one CPU
core). A CUDA graph records the kernels of one whole step (forward,
loss, backward, optimizer step) and replays them with one launch. The replayed kernels are
the eager step's, on the same tensors, so the numbers are the same to the bit
(tests/test_cuda_graph.py, on a GPU); `python benchmarks/cuda_graph.py` measures the gain.

What can be captured (GraphedStep.supports): a model whose modules draw nothing on the CPU (not
dropout, whose masks come from NumPy generators shared with the scratch side), stepped by
torch.optim.SGD (Adam and RMSprop keep their step count on the CPU unless built capturable, which
their twins are not), at the run's batch size. The first step is eager, so that an optimizer's
state (momentum buffers) exists before capture, as does a smaller last batch. Capture needs a few
warm-up steps on a side stream; they change the weights and the optimizer's state, so both are
saved before and put back after. If capture fails anyway, the step stays eager, with a warning.
"""

import warnings

import torch

from reference.regularization import MaskedDropout
from reference.twin import torch_target

WARMUP_STEPS = 3  # as in torch's CUDA graph examples: lazy state and cuBLAS workspaces made before capture


class GraphedStep:
    """side.step's work (zero_grad, forward, loss, backward, optimizer step) on the batch of
    indices copied into a static tensor, replayed from a CUDA graph; call(index) -> loss tensor."""

    @staticmethod
    def supports(side) -> bool:
        return (torch.device(side.device).type == "cuda" and type(side.optimizer) is torch.optim.SGD
                and not any(isinstance(module, MaskedDropout) for module in side.model.modules()))

    def __init__(self, side, index):
        self.side = side
        self.index = torch.as_tensor(index, device=side.device).clone()  # the static input
        saved = _tensors(side)
        kept = [tensor.clone() for tensor in saved]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        try:
            with torch.cuda.stream(stream):
                for _ in range(WARMUP_STEPS):
                    self._work()
        finally:  # the run goes on from the state before the warm-up, captured or not
            torch.cuda.current_stream().wait_stream(stream)
            with torch.no_grad():
                for tensor, value in zip(saved, kept):
                    tensor.copy_(value)
        self.graph = torch.cuda.CUDAGraph()
        side.optimizer.zero_grad(set_to_none=True)  # backward then makes the gradients in the graph's memory
        with torch.cuda.graph(self.graph, stream=stream):  # the warm-up's stream: its cuBLAS handles are made
            self.loss = self._work()

    def _work(self) -> torch.Tensor:
        side = self.side
        side.optimizer.zero_grad(set_to_none=True)
        output = side.model(side.images[self.index])
        value = side.loss(output, torch_target(side.scratch_loss, side.labels[self.index], output))
        value.backward()
        side.optimizer.step()
        return value

    def __call__(self, index) -> torch.Tensor:
        self.index.copy_(torch.as_tensor(index))
        self.graph.replay()
        return self.loss


def graphed_step(side, index) -> GraphedStep | None:
    """A GraphedStep for the side at this batch's size, or None (and a warning) if capture fails."""
    try:
        return GraphedStep(side, index)
    except RuntimeError as error:
        warnings.warn(f"the torch side's step could not be captured as a CUDA graph, so it runs eagerly: {error}",
                      stacklevel=2)
        return None


def _tensors(side) -> list[torch.Tensor]:
    """Everything a step changes but the gradients: the model's parameters and buffers, and the
    optimizer's state tensors."""
    state = [value for entry in side.optimizer.state.values() for value in entry.values()
             if isinstance(value, torch.Tensor)]
    return [*side.model.state_dict(keep_vars=True).values(), *state]
