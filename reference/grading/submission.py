"""Grading one submission, part by part, for partial credit, through its sandboxed worker
(reference.grading.remote).

A submission is a file whose build function returns its network (the contract of
reference.adapters.loader: build(sizes, activations, lr, seed) -> layers or (layers, loss)). It is
graded on these parts, each pass or fail on its own:

    linear        every linear layer of every network below agrees with torch (the checker's verdict:
                  output, dL/dx, dL/dW, dL/db against torch and finite differences)
    <activation>  one column per activation graded (default sigmoid, relu): a 784-16-10 network with
                  it is built by build, loaded with torch's default initialisation, and checked
    loss          the submission's loss; n/a where build returns none (the rest then uses scratch_nn's); a
                  loss the adapters cannot read fails here, and the layers are still graded
    update        the update its layers make inside backward (n/a where they leave it to an optimizer)
    training      STEPS steps of SGD on synthetic MNIST-shaped data, beside the torch twin from the
                  same weights: fails as "dead" when every gradient was zero or the loss stayed near
                  ln(10), as "diverged" on NaN/Inf, and when the parameters end outside the whole-run
                  tolerance (tolerances.TRAINING_RUN_FLOAT64); skipped (n/a, saying why) where the loss
                  cannot be read: there is nothing to train with

Everything runs in float64. A part's `reason` names what failed in words (the tensors, the
checker's signature, the error raised) and never carries a number computed by torch, so it can be
shown to students; `detail` holds the checker's numbers, for the teacher.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from reference import tolerances
from reference.adapters.user_code import said
from reference.choices import GRADE_ACTIVATIONS, GRADE_LR, GRADE_SIZES
from reference.comparison import compare
from reference.gradcheck import check
from reference.grading.remote import Refused
from reference.side_by_side import torch_step
from reference.training.implementation import penalised
from reference.twin import numpy_state_dict, torch_model
from scratch_nn.spec import Spec

INPUTS, _, CLASSES = GRADE_SIZES
BATCH = 32
# A run is dead when the mean loss of its last 5 steps is at least this fraction of ln(10), the loss
# of a uniform guess. Measured (784-16-10, torch init, lr 0.2, 40 steps of 32, the data below,
# seeds 0-2): correct sigmoid, ReLU and tanh networks end at 0.01 to 0.43 of ln(10); with every
# gradient 32x too small (lr/32) at 0.86 to 1.01. 0.9 calls only the hopeless ones dead: a slow
# learner that still moves fails, if at all, on its disagreement with torch.
DEAD_FRACTION = 0.9


@dataclass(frozen=True)
class GradeSettings:
    """What every submission is graded on; reference.grading.folder's command line sets them."""

    activations: tuple[str, ...] = GRADE_ACTIVATIONS
    hidden: int = GRADE_SIZES[1]  # units of the one hidden layer
    lr: float = GRADE_LR
    steps: int = 40         # of the training run, batch 32
    seed: int = 0

    @property
    def parts(self) -> list[str]:
        return ["linear", *self.activations, "loss", "update", "training"]

    def spec(self, activation: str) -> Spec:
        return Spec.parse([INPUTS, self.hidden, CLASSES], activation)

    def describe(self) -> str:
        return f"activations {', '.join(self.activations)}; lr {self.lr:g}"

    def judge(self, client, emit) -> None:
        """Grade the submission whose worker client talks to (remote.Refused where build cannot be loaded)."""
        client.load(client.started.inside)
        grade(client, self, emit)


@dataclass
class PartResult:
    """One part's grade: ok True/False, or None where the part does not apply (n/a)."""

    ok: bool | None
    reason: str = ""   # for anyone: what failed, in words, without torch's numbers
    detail: str = ""   # for the teacher: the checker's summary, with the numbers

    def to_dict(self, safe: bool) -> dict:
        return {"ok": self.ok, "reason": self.reason, **({} if safe else {"detail": self.detail})}


@dataclass
class Checked:
    """The checker's reports of one submission, one per activation, and why a network could not be checked."""

    reports: dict = field(default_factory=dict)    # activation -> (Adapted, CheckReport)
    problems: dict = field(default_factory=dict)   # activation -> reason
    loss: PartResult | None = None                 # the loss's grade where the checker cannot give it: a loss
                                                   # the adapters cannot read, or none (the layers are checked
                                                   # with scratch_nn's)


def grade(client, settings: GradeSettings, emit) -> None:
    """Grade one submission through its worker (reference.grading.remote.Client); emit(part, PartResult) as
    each part is decided, emit("conventions", text) once. Every verdict is decided here, from the
    arrays the worker computed for this side's inputs and weights."""
    checked = Checked()
    for activation in settings.activations:
        try:
            adapted, checked.loss = build(client, settings, activation)
            checked.reports[activation] = adapted, check(adapted, seed=settings.seed)
        except (Exception, SystemExit) as error:  # the submission's code, whatever it does
            checked.problems[activation] = failure(error)
            emit(activation, PartResult(False, checked.problems[activation]))
            continue
        if len(checked.reports) == 1:
            emit("conventions", adapted.describe())
        emit(activation, judge([p for p in checked.reports[activation][1].parts if p.index == 1]))  # linear, it, linear
    emit("linear", judge_all(checked, lambda p: p.kind == "layer" and p.index != 1))
    emit("loss", checked.loss or judge_all(checked, lambda p: p.kind == "loss"))
    updates = [adapted for adapted, _ in checked.reports.values() if adapted.updates_in_backward]
    if checked.reports and not updates:
        emit("update", PartResult(None, "n/a: the layers leave the update to an optimizer"))
    else:
        emit("update", judge_all(checked, lambda p: p.kind == "optimizer"))
    try:
        emit("training", train(client, settings))
    except (Exception, SystemExit) as error:
        emit("training", PartResult(False, failure(error)))


def build(client, settings, activation):
    """(the submission's network with that activation, adapted, holding this side's weights, with its loss
    or else scratch_nn's; the loss's grade where the checker cannot give it, else None): a loss the
    adapters cannot read fails the loss, not every layer; a submission without a loss gets n/a for it."""
    build_seed = int(np.random.default_rng([settings.seed, 11]).integers(2**31))  # its own init, replaced
    adapted, loss = client.build(settings.spec(activation), lr=settings.lr, seed=settings.seed, build_seed=build_seed)
    return adapted, None if loss is None else PartResult(*loss)


def failure(error: BaseException, flags: dict | None = None) -> str:
    """What stopped the submission, in one line; a ConventionError's keywords worded as flags
    (keyword -> flag) say which of the grader's flags settles it."""
    return str(error) if isinstance(error, Refused) else said(error, flags)


def judge_all(checked: Checked, chosen) -> PartResult:
    """The parts chosen from every report; with no report, the reason no network could be checked."""
    if not checked.reports:
        return PartResult(False, "no network could be checked: " + "; ".join(checked.problems.values()))
    return judge([part for _, report in checked.reports.values() for part in report.parts if chosen(part)])


def judge(parts) -> PartResult:
    """Passes when every part checked passes; the first failure gives the reason."""
    failed = [part for part in parts if not part.ok]
    if not failed:
        return PartResult(True)
    first = failed[0]
    what = first.label if first.label == first.name else f"{first.label} ({first.name})"  # an engine's operation
    if first.error:
        reason = f"{what}: {first.error}"
    else:
        reason = f"{what}: {', '.join(first.failing)} disagree{'s' if len(first.failing) == 1 else ''} with torch"
        if first.signatures:
            reason += f"; looks like: {', '.join(first.signatures)}"
    return PartResult(False, reason, "\n".join(dict.fromkeys(part.summary() for part in failed)))


def training_data(settings: GradeSettings):
    """Balanced, learnable MNIST-shaped batches: one random binary prototype image per class, plus noise."""
    rng = np.random.default_rng([settings.seed, 7])
    prototypes = (rng.random((CLASSES, INPUTS)) < 0.5).astype(np.float64)
    labels = rng.integers(0, CLASSES, settings.steps * BATCH)
    images = 0.9 * prototypes[labels] + 0.1 * rng.random((len(labels), INPUTS))
    return [(images[i:i + BATCH], labels[i:i + BATCH]) for i in range(0, len(labels), BATCH)]


def train(client, settings) -> PartResult:
    """The training run: the submission's network (first activation) and its torch twin, the same batches."""
    adapted, loss_grade = build(client, settings, settings.activations[0])
    if loss_grade is not None and loss_grade.ok is False:  # no loss to train with: skipped, the loss part failed
        return PartResult(None, f"skipped: {loss_grade.reason}")
    if penalised(adapted):
        return PartResult(None, f"skipped: {penalised(adapted)}")
    network, loss = adapted.network, adapted.loss
    # A loss summed over the batch (one example at a time, say) as a mean, and, unless the layers hold
    # their own lr, the step the same size as with the mean: lr 0.2 on a sum of 32 saturates a sigmoid.
    per_example = 1 if loss.reduction == "mean" else BATCH
    lr = adapted.lr or settings.lr / per_example
    model = torch_model(network)
    optimizer = adapted.optimizer(network, lr)
    losses, moved = [], False
    for step, (x, y) in enumerate(training_data(settings), start=1):
        with np.errstate(all="ignore"):
            losses.append(float(loss.forward(network.forward(x), y)) / per_example)
            network.backward(loss.backward())
        if not math.isfinite(losses[-1]):
            return PartResult(False, f"diverged: the loss became {losses[-1]} at step {step}")
        moved = moved or any(np.any(layer.grads[name] != 0) for _, layer, name in network.named_parameters())
        optimizer.step()
        torch_step(model, x, y, loss, lr)
    if not moved:
        return PartResult(False, f"dead: every gradient was zero in all {len(losses)} steps")
    if np.mean(losses[-5:]) >= DEAD_FRACTION * math.log(CLASSES):
        return PartResult(False, f"dead: the loss stayed near ln({CLASSES}), a uniform guess, "
                                 f"over {len(losses)} steps")
    comparison = compare(network.state_dict(), numpy_state_dict(model), tolerances.TRAINING_RUN_FLOAT64,
                         network.layers, context=f"after {len(losses)} steps")
    if not comparison.ok:
        names = ", ".join(d.name for d in comparison.failures)
        return PartResult(False, f"after {len(losses)} steps the parameters {names} differ from torch's",
                          comparison.failure_message())
    return PartResult(True)
