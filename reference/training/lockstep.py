"""Every training step judged on its own, and the first one that disagrees located to a layer.

Lockstep: after each step of the scratch side, a torch twin takes the same step (same batch, the
torch.optim twin of the run's optimizer) from the state the scratch side had before it, copied
bit for bit: the weights and batch norm's statistics, the optimizer's state (momentum buffers,
Adam's moments and step count, through reference.optimizers' converters) and the dropout
generators (so the twin draws the scratch step's masks). The parameters and buffers after the
step are compared under the one-step tolerance (tolerances.for_dtype).
Free-running twins drift apart by rounding that the dynamics amplify; lockstep twins start every
step level, so a run whose every step passes has proven its drift to be rounding: no single step
computes anything different.

The first step that fails is taken apart by reference.gradcheck.check, on that step's weights
and batch: each layer, the loss and the SGD step alone against torch and finite differences,
which names the first part that disagrees and the mistake's signature.

A free-running run (no --lockstep) that disagrees is replayed: the scratch side retrains from
the run's start with the same batches (the shuffler's saved state) with the lockstep check, up
to the first step that fails. The scratch side is deterministic, so the replay takes the very
steps the run took.
"""

import copy
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from reference import tolerances
from reference.comparison import compare
from reference.loss_names import as_loss
from reference.optimizers import optimizer_copy, torch_optimizer, torch_state_dict
from reference.regularization import generator_states, set_generator_states
from reference.side_by_side import torch_step
from reference.training.sides import ScratchSide, epoch_batches
from reference.twin import model_device, torch_model


@dataclass
class FirstDivergence:
    """Where a run's steps first disagree, from identical weights, and in which part; or that none did."""

    found_by: str  # "lockstep" (the run checked every step) or "replay" (a free-running run, replayed)
    steps_checked: int
    step: int | None = None  # counted from the run's start (1: the first); None: every step checked agreed
    epoch: int | None = None
    step_in_epoch: int | None = None
    ratio: float | None = None  # the step's worst difference over what the one-step tolerance allows
    tensors: list[str] = field(default_factory=list)  # the parameters outside it after the step
    part: str = ""  # gradcheck's first failing part: "layer 2", "loss", "optimizer"; "" if none alone
    name: str = ""  # its class
    failing: list[str] = field(default_factory=list)  # its tensors that disagree
    signatures: list[str] = field(default_factory=list)  # what the mistake looks like
    text: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class Lockstep:
    """Call before(network, optimizer) before each scratch step and after(...) after it.
    optimizer: the scratch optimizer taking the steps; its twin is torch_optimizer's."""

    def __init__(self, network, optimizer, loss, dtype, device, batches_per_epoch: int, found_by="lockstep"):
        self.twin = torch_model(network, device=device)  # in the network's mode: training
        self.twin_optimizer = torch_optimizer(optimizer, self.twin)
        self.loss, self.lr, self.tolerance = as_loss(loss), optimizer.lr, tolerances.for_dtype(dtype)
        self.batches_per_epoch, self.found_by = batches_per_epoch, found_by
        self.checked = 0
        self.first: FirstDivergence | None = None
        self.new_epoch()
        self._optimizer = self._before = self._before_optimizer = self._before_generators = None

    def new_epoch(self):
        """Per-epoch counts for the epoch's record: steps checked, failed, worst ratio, and each step's ratio."""
        self.epoch_checked, self.epoch_failed, self.epoch_worst = 0, 0, 0.0
        self.epoch_ratios: list[float] = []

    def before(self, network, optimizer) -> None:
        self._optimizer = optimizer
        self._before = network.state_dict()
        self._before_optimizer = optimizer.state_dict()
        self._before_generators = generator_states(network.layers)

    def after(self, network, x, target, epoch: int, step_in_epoch: int) -> bool:
        """The twin's step from the state before the scratch step; True when the two agree."""
        device = model_device(self.twin)
        self.twin.load_state_dict({key: torch.from_numpy(value).to(device) for key, value in self._before.items()})
        self.twin_optimizer.load_state_dict(torch_state_dict(self._before_optimizer, self.twin_optimizer))
        set_generator_states(self.twin, self._before_generators)
        ours = network.state_dict()
        theirs = torch_step(self.twin, x, target, self.loss, self.lr, optimizer=self.twin_optimizer)
        ratio = worst_ratio(ours, theirs, self.tolerance)
        self.checked += 1
        self.epoch_checked += 1
        self.epoch_worst = max(self.epoch_worst, ratio)
        self.epoch_ratios.append(ratio)
        if ratio <= 1:
            return True
        self.epoch_failed += 1
        if self.first is None:
            failures = compare(ours, theirs, self.tolerance, network.layers).failures
            self.first = self._locate(network, x, target, epoch, step_in_epoch, ratio, [d.name for d in failures])
        return False

    def result(self) -> FirstDivergence:
        if self.first is not None:
            return replace(self.first, steps_checked=self.checked)
        return FirstDivergence(self.found_by, self.checked,
                               text=f"none: every one of the {self.checked} steps checked ({self.found_by}) agreed "
                                    f"within the one-step tolerance ({self.tolerance})")

    def _locate(self, network, x, target, epoch, step_in_epoch, ratio, tensors) -> FirstDivergence:
        """gradcheck on the state before the failing step, with its batch: every layer, the loss and
        the run's own optimizer (from its state then, over several steps)."""
        from reference.gradcheck import (
            check,  # imported here: gradcheck imports much that a run without a failure never needs
        )

        probe = copy.deepcopy(network)
        probe.load_state_dict(self._before)
        set_generator_states(probe.layers, self._before_generators)  # the masks of the failing step
        optimizer = optimizer_copy(self._optimizer, probe)
        optimizer.load_state_dict(self._before_optimizer)
        if hasattr(probe, "locate"):  # a network of the user's functions is checked whole (function_sequential.py)
            report = probe.locate(x, target, self.lr)
        else:
            report = check(probe, x, target, loss=copy.deepcopy(self.loss), lr=self.lr,  # a fresh loss: it caches
                           optimizer=optimizer)
        part = report.first_failure
        step = (epoch - 1) * self.batches_per_epoch + step_in_epoch
        where = f"step {step} (epoch {epoch}, step {step_in_epoch} of {self.batches_per_epoch})"
        found = FirstDivergence(self.found_by, self.checked, step, epoch, step_in_epoch, ratio, tensors)
        if part is None:
            found.text = (f"{where}: {', '.join(tensors)} differ after one step from identical weights, but every "
                          f"layer, the loss and the optimizer agree on their own on this batch: look at how the "
                          f"network puts them together")
            return found
        found.part, found.name, found.failing, found.signatures = part.label, part.name, part.failing, part.signatures
        looks = f"looks like the {' or the '.join(part.signatures)}" if part.signatures else "no known signature"
        found.text = f"{where}: {part.label} ({part.name}): {', '.join(part.failing) or part.error} disagrees; {looks}"
        return found


def worst_ratio(ours: dict, theirs: dict, tolerance) -> float:
    """max over every element of |ours - theirs| / (rtol |theirs| + atol max|theirs|): what
    reference.comparison.compare judges (<= 1 passes), in a few passes over the arrays, since
    lockstep judges every step; compare() itself describes a step that fails. inf where a shape
    differs or a value is not finite."""
    worst = 0.0
    for key, value in theirs.items():
        a, b = np.asarray(ours[key], dtype=np.float64), np.asarray(value, dtype=np.float64)
        if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
            return np.inf
        magnitude = np.abs(b)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 (both exactly 0) is agreement: fmax skips NaN
            ratio = np.fmax.reduce(np.abs(a - b) / (tolerance.rtol * magnitude + tolerance.atol * magnitude.max()),
                                   axis=None)
        worst = max(worst, 0.0 if np.isnan(ratio) else float(ratio))
    return worst


def replay(network, optimizer, shuffler_state: dict, epochs: range, config, loss, images,
           labels) -> FirstDivergence:
    """Retrain a copy of the scratch network over `epochs` from its state at their start, with a
    copy of its optimizer (over `network`) and the shuffler's state then, and the run's loss,
    checking every step in lockstep; stop at the first that fails."""
    network = copy.deepcopy(network).train()
    optimizer = optimizer_copy(optimizer, network)
    rng = np.random.default_rng()
    rng.bit_generator.state = shuffler_state
    side = ScratchSide(network, loss, optimizer, images, labels)
    batches_per_epoch = -(-len(labels) // config.batch_size)
    lockstep = Lockstep(network, optimizer, loss, config.dtype, "cpu", batches_per_epoch,
                        found_by="replay")
    for epoch in epochs:
        for step, index in enumerate(epoch_batches(len(labels), config.batch_size, rng), start=1):
            lockstep.before(network, optimizer)
            side.step(index)
            if not lockstep.after(network, images[index], labels[index], epoch, step):
                return lockstep.result()
    return lockstep.result()

