"""What an epoch of a run measured: each side's metrics, the divergence between them, and the
step check. evaluate() makes the EpochRecord from both sides' predictions and networks.

The step check takes one step of the run's own optimizer from identical state: a deep copy of
the scratch network in training mode (its dropout generators drawing the masks the network would
draw next, its batch statistics), its torch twin, and a copy of the scratch optimizer's state on
both sides (momentum buffers, Adam's moments and step count), so a stateful optimizer is judged
on the step it would take now, not on a first step from empty state.
"""

import copy
from dataclasses import asdict, dataclass, field

from reference import tolerances
from reference.comparison import compare
from reference.optimizers import optimizer_copy
from reference.side_by_side import compare_step
from reference.twin import numpy_state_dict, torch_model


@dataclass
class SideMetrics:
    """One side's results for one epoch. Losses are means over the examples; accuracies fractions."""

    train_loss: float
    train_accuracy: float
    validation_accuracy: float
    test_accuracy: float
    seconds: float  # training time of this side alone, evaluation excluded
    step_losses: list = field(default_factory=list)  # each training step's loss on its batch, in order


@dataclass
class Divergence:
    """How far apart the two sides are after an epoch."""

    parameters: dict  # per tensor: max_abs, max_rel, scaled_abs (max_abs / max|torch|), within_tolerance
    worst_tensor: str
    worst_scaled_abs: float
    prediction_agreement: float  # fraction of validation images on which the two predict the same class
    train_loss_difference: float  # scratch mean training loss - torch mean training loss
    within_tolerance: bool
    # One optimizer step from identical weights and optimizer state (module docstring), judged by
    # the one-step tolerance: tells amplified rounding (drift large, step fine) from a wrong step.
    step_check_ok: bool
    step_check_ratio: float  # worst |difference| / allowed over the step's tensors (<= 1 passes)
    # With --lockstep, every step of the epoch judged the same way (0 steps: not run in lockstep).
    lockstep_steps: int = 0
    lockstep_failed_steps: int = 0
    lockstep_worst_ratio: float = 0.0
    lockstep_step_ratios: list = field(default_factory=list)  # each step's worst difference / allowed, in order


@dataclass
class EpochRecord:
    epoch: int
    scratch: SideMetrics
    torch: SideMetrics
    divergence: Divergence
    # From the epoch's start to its record: training, evaluation, drift and step check (and the
    # lockstep checks); in process mode the sides' training and evaluation overlap.
    wall_seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict) -> "EpochRecord":
        return cls(record["epoch"], SideMetrics(**record["scratch"]), SideMetrics(**record["torch"]),
                   Divergence(**record["divergence"]), record.get("wall_seconds", 0.0))


def evaluate(epoch, network, model, optimizer, loss, config, splits, predictions, sides, lockstep) -> EpochRecord:
    """Both sides' accuracies on every split from their predictions, and the divergence between them.
    optimizer: the scratch side's, whose state the step check starts from (module docstring); loss:
    the run's (TwinTraining.loss), the step check's."""
    train = splits["train"]

    def metrics(side):
        accuracy = {name: float((predictions[side][name] == split.labels).mean()) for name, split in splits.items()}
        return SideMetrics(sides[side].loss_sum / len(train.labels), accuracy["train"], accuracy["validation"],
                           accuracy["test"], sides[side].seconds, list(sides[side].losses))

    comparison = compare(network.state_dict(), numpy_state_dict(model),
                         tolerances.training_run(config.dtype), network.layers)
    worst = max(comparison.diffs, key=lambda d: d.scaled_abs)
    probe = copy.deepcopy(network).train()
    step = compare_step(probe, torch_model(probe, device=config.device), train.images[:config.batch_size],
                        train.labels[:config.batch_size], loss, config.lr,
                        optimizer=optimizer_copy(optimizer, probe))
    agreement = float((predictions["scratch"]["validation"] == predictions["torch"]["validation"]).mean())
    scratch_metrics, torch_metrics = metrics("scratch"), metrics("torch")
    divergence = Divergence(
        parameters={d.name: {"max_abs": d.max_abs, "max_rel": d.max_rel, "scaled_abs": d.scaled_abs,
                             "within_tolerance": d.ok} for d in comparison.diffs},
        worst_tensor=worst.name, worst_scaled_abs=worst.scaled_abs, prediction_agreement=agreement,
        train_loss_difference=scratch_metrics.train_loss - torch_metrics.train_loss,
        within_tolerance=comparison.ok, step_check_ok=step.ok, step_check_ratio=max(d.ratio for d in step.diffs),
        **({} if lockstep is None else {"lockstep_steps": lockstep.epoch_checked,
                                        "lockstep_failed_steps": lockstep.epoch_failed,
                                        "lockstep_worst_ratio": lockstep.epoch_worst,
                                        "lockstep_step_ratios": list(lockstep.epoch_ratios)}),
    )
    return EpochRecord(epoch, scratch_metrics, torch_metrics, divergence)

