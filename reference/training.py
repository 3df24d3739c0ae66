"""Train the scratch network and its torch twin side by side, on the same batches.

Both sides start from the same weights (copied bit for bit), see the same batches in the same
order (one shuffler, below), and take plain SGD steps with the same learning rate. After every
epoch each side is evaluated on its own, and the two are compared: how far apart their
parameters have drifted, how often they predict the same class, and how different their losses
are. A run that blows up stops at the step where it happened, saying which side and what to try.
"""

import copy
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import scratch_nn

from . import implementation, tolerances
from .checkpoint import Checkpoint, CheckpointError
from .comparison import compare
from .data import Split
from .run_config import RunConfig
from .side_by_side import compare_step
from .twin import numpy_state_dict, torch_loss, torch_model, torch_target

EVAL_CHUNK = 10_000  # examples per forward pass when evaluating, to bound memory on deep networks


@dataclass
class SideMetrics:
    """One side's results for one epoch. Losses are means over the examples; accuracies fractions."""

    train_loss: float
    train_accuracy: float
    validation_accuracy: float
    test_accuracy: float
    seconds: float  # training time of this side alone, evaluation excluded


@dataclass
class Divergence:
    """How far apart the two sides are after an epoch."""

    parameters: dict  # per tensor: max_abs, max_rel, scaled_abs (max_abs / max|torch|), within_tolerance
    worst_tensor: str
    worst_scaled_abs: float
    prediction_agreement: float  # fraction of validation images on which the two predict the same class
    train_loss_difference: float  # scratch mean training loss - torch mean training loss
    within_tolerance: bool
    # One SGD step from identical weights (the scratch weights copied into a fresh twin), judged by
    # the one-step tolerance: tells amplified rounding (drift large, step fine) from a wrong step.
    step_check_ok: bool
    step_check_ratio: float  # worst |difference| / allowed over the step's tensors (<= 1 passes)


@dataclass
class EpochRecord:
    epoch: int
    scratch: SideMetrics
    torch: SideMetrics
    divergence: Divergence

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict) -> "EpochRecord":
        return cls(record["epoch"], SideMetrics(**record["scratch"]), SideMetrics(**record["torch"]),
                   Divergence(**record["divergence"]))


@dataclass
class Run:
    config: RunConfig
    epochs: list[EpochRecord] = field(default_factory=list)


class DivergedError(RuntimeError):
    """A side's loss became NaN or Inf; the message says where, on which side, and what to try."""

    def __init__(self, sides, epoch, step, config, detail=""):
        self.sides, self.epoch, self.step = sides, epoch, step
        who = " and ".join(sides)
        other = {"scratch": "torch", "torch": "scratch"}
        alone = (f" The {other[sides[0]]} side was still finite: the two sides disagree, which is itself a finding."
                 if len(sides) == 1 else "")
        super().__init__(
            f"training diverged: the {who} loss became NaN/Inf at epoch {epoch}, step {step} "
            f"(lr {config.lr}, {config.init} init, {config.dtype}).{alone}{' ' + detail if detail else ''}\n"
            f"Try a smaller learning rate (e.g. --lr {config.lr / 10:g}), the smaller torch initialisation "
            f"(--init torch), or --dtype float64 to see whether float32 range is the limit.")


def epoch_batches(num_examples: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The one shuffler: a fresh permutation each epoch, cut into batches (the last may be smaller).
    Both sides consume exactly these index arrays."""
    order = rng.permutation(num_examples)
    return [order[i:i + batch_size] for i in range(0, num_examples, batch_size)]


def build_networks(config: RunConfig):
    """The scratch network from the config, and the torch model holding the same weights."""
    if config.implementation:  # the user's own code, adapted, from the same weights (reference.implementation)
        return implementation.build_networks(config)
    network = scratch_nn.build_network(config.spec, config.activation, init=config.init, seed=config.seed,
                                       dtype=np.dtype(config.dtype), output_activation=config.output_activation)
    return network, torch_model(network, device=config.device)


def train_twins(config: RunConfig, data, progress=None):
    """Train both sides; an iterator over the EpochRecords, one after every epoch.

    The config is validated first (ConfigError). data: a reference.data.Dataset in config.dtype.
    progress: called as progress(epoch, batches), it returns an iterable over the batches (e.g. a
    tqdm bar); by default plain iteration. To save or continue a run, use TwinTraining.
    """
    return TwinTraining(config).epochs(data, progress)


class TwinTraining:
    """Both sides, their optimizers and the one shuffler: the whole state of a run between epochs.

    TwinTraining(config) starts a run; TwinTraining(checkpoint.config, resume=checkpoint)
    continues one where checkpoint() left it, step for step as if it had never stopped.
    """

    def __init__(self, config: RunConfig, resume: Checkpoint | None = None):
        self.config = config.validate()
        self.network, self.model = build_networks(config)
        self.rng = np.random.default_rng(config.seed)
        self.epoch = 0
        if resume is not None:
            try:
                self.network.load_state_dict(resume.scratch)
                self.model.load_state_dict({key: torch.from_numpy(value) for key, value in resume.torch.items()})
                self.rng.bit_generator.state = resume.shuffler
            except (ValueError, RuntimeError, TypeError) as error:  # RuntimeError: torch's load_state_dict
                raise CheckpointError(f"the saved state does not fit a {config.spec} network: {error}") from None
            self.epoch = resume.epoch

    def checkpoint(self, records=()) -> Checkpoint:
        """A copy of the state now (after self.epoch epochs), with the given EpochRecords."""
        return Checkpoint(self.config, self.epoch, {k: v.copy() for k, v in self.network.state_dict().items()},
                          numpy_state_dict(self.model), self.rng.bit_generator.state,
                          [record.to_dict() for record in records])

    def epochs(self, data, progress=None):
        """Train the remaining epochs; yield an EpochRecord after each.

        Each side computes with config.threads CPU threads (NumPy's BLAS through threadpoolctl,
        torch through set_num_threads). The sides take turns every step, and two thread pools that
        spin while waiting steal each other's cores: measured on 2 cores at batch 32, torch's step
        took 25 ms beside a multi-threaded OpenBLAS and 1.8 ms with one thread each.
        """
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.config.threads)
        try:
            with threadpool_limits(limits=self.config.threads, user_api="blas"):
                yield from self._train(data, progress)
        finally:
            torch.set_num_threads(previous_threads)

    def _train(self, data, progress):
        config, network, model = self.config, self.network, self.model
        scratch_loss = implementation.build_loss(config)
        optimizer = scratch_nn.SGD(network, config.lr)
        twin_loss = torch_loss(scratch_loss)
        twin_optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)

        train = data.train
        if config.train_limit:
            train = Split(train.images[:config.train_limit], train.labels[:config.train_limit])
        # The torch side gets its own copy of the data on its device once, not per batch.
        images_t = torch.from_numpy(train.images).to(config.device)
        labels_t = torch.from_numpy(train.labels).to(config.device)

        for epoch in range(self.epoch + 1, config.epochs + 1):
            batches = epoch_batches(len(train.labels), config.batch_size, self.rng)
            seconds = {"scratch": 0.0, "torch": 0.0}
            loss_sums = {"scratch": 0.0, "torch": 0.0}
            for step, index in enumerate(progress(epoch, batches) if progress else batches, start=1):
                detail = ""
                start = time.perf_counter()
                with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported below, once
                    try:
                        output = network.forward(train.images[index])
                        scratch_value = float(scratch_loss.forward(output, train.labels[index]))
                        network.backward(scratch_loss.backward())
                        optimizer.step()
                    except FloatingPointError as error:  # the loss refuses a non-finite output
                        scratch_value, detail = np.nan, f"(scratch: {error})"
                seconds["scratch"] += time.perf_counter() - start

                start = time.perf_counter()
                index_t = torch.from_numpy(index).to(config.device)
                twin_optimizer.zero_grad(set_to_none=True)
                output_t = model(images_t[index_t])
                value_t = twin_loss(output_t, torch_target(scratch_loss, labels_t[index_t], output_t))
                value_t.backward()
                twin_optimizer.step()
                torch_value = value_t.item()
                seconds["torch"] += time.perf_counter() - start

                broken = [side for side, value in (("scratch", scratch_value), ("torch", torch_value))
                          if not np.isfinite(value)]
                if broken:
                    raise DivergedError(broken, epoch, step, config, detail)
                loss_sums["scratch"] += scratch_value * len(index)
                loss_sums["torch"] += torch_value * len(index)

            record = evaluate(epoch, network, model, data, config, train,
                              {side: loss_sums[side] / len(train.labels) for side in loss_sums}, seconds)
            self.epoch = epoch
            yield record


def predict_scratch(network, images):
    return np.concatenate([network.forward(images[i:i + EVAL_CHUNK]).argmax(axis=1)
                           for i in range(0, len(images), EVAL_CHUNK)])


@torch.no_grad()
def predict_torch(model, images, device):
    return np.concatenate([model(torch.from_numpy(images[i:i + EVAL_CHUNK]).to(device)).argmax(dim=1).cpu().numpy()
                           for i in range(0, len(images), EVAL_CHUNK)])


def evaluate(epoch, network, model, data, config, train, train_losses, seconds) -> EpochRecord:
    """Both sides' accuracies on every split, and the divergence between them."""
    splits = {"train": train, "validation": data.validation, "test": data.test}
    predictions = {"scratch": {name: predict_scratch(network, split.images) for name, split in splits.items()},
                   "torch": {name: predict_torch(model, split.images, config.device) for name, split in splits.items()}}

    def metrics(side):
        accuracy = {name: float((predictions[side][name] == split.labels).mean()) for name, split in splits.items()}
        return SideMetrics(train_losses[side], accuracy["train"], accuracy["validation"], accuracy["test"],
                           seconds[side])

    comparison = compare(network.state_dict(), numpy_state_dict(model),
                         tolerances.training_run(config.dtype), network.layers)
    worst = max(comparison.diffs, key=lambda d: d.scaled_abs)
    probe = copy.deepcopy(network)
    step = compare_step(probe, torch_model(probe, device=config.device), train.images[:config.batch_size],
                        train.labels[:config.batch_size], implementation.build_loss(config), config.lr)
    agreement = float((predictions["scratch"]["validation"] == predictions["torch"]["validation"]).mean())
    divergence = Divergence(
        parameters={d.name: {"max_abs": d.max_abs, "max_rel": d.max_rel, "scaled_abs": d.scaled_abs,
                             "within_tolerance": d.ok} for d in comparison.diffs},
        worst_tensor=worst.name, worst_scaled_abs=worst.scaled_abs, prediction_agreement=agreement,
        train_loss_difference=train_losses["scratch"] - train_losses["torch"], within_tolerance=comparison.ok,
        step_check_ok=step.ok, step_check_ratio=max(d.ratio for d in step.diffs),
    )
    return EpochRecord(epoch, metrics("scratch"), metrics("torch"), divergence)
