"""Train the scratch network and its torch twin side by side, on the same batches.

Both sides start from the same weights (copied bit for bit), see the same batches in the same
order (one shuffler, below), and take plain SGD steps with the same learning rate. After every
epoch each side is evaluated on its own, and the two are compared: how far apart their
parameters have drifted, how often they predict the same class, and how different their losses
are. A run that blows up stops at the step where it happened, saying which side and what to try.
The sides run concurrently (the scratch side in a process of its own) or in turn; with lockstep,
every step is also judged on its own (reference.lockstep).
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
from .concurrent import ScratchProcess
from .data import Split
from .lockstep import FirstDivergence, Lockstep, replay
from .run_config import ConfigError, RunConfig
from .side_by_side import compare_step
from .sides import ScratchSide, TorchSide, epoch_batches, predict_scratch, predict_torch, train_alone
from .twin import numpy_state_dict, torch_model

CONCURRENCY = ("process", "sequential")


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
    # With --lockstep, every step of the epoch judged the same way (0 steps: not run in lockstep).
    lockstep_steps: int = 0
    lockstep_failed_steps: int = 0
    lockstep_worst_ratio: float = 0.0


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


@dataclass
class Run:
    config: RunConfig
    epochs: list[EpochRecord] = field(default_factory=list)
    concurrency: str = "process"
    lockstep: bool = False
    first_divergence: FirstDivergence | None = None


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

    concurrency: how the sides run. "process" (the default): the scratch side in a process of its
    own (reference.concurrent), training and evaluating beside the torch side, so a comparison
    takes about as long as the torch side alone. "sequential": in this process, the two taking
    turns every step. Both give the same numbers, bit for bit; only the wall time differs.
    lockstep: after every step, the twin's step from the scratch side's weights before it, judged
    by the one-step tolerance (reference.lockstep); needs "sequential" (the default with it).
    """

    def __init__(self, config: RunConfig, resume: Checkpoint | None = None, *, concurrency: str | None = None,
                 lockstep: bool = False):
        self.config = config.validate()
        self.concurrency = concurrency or ("sequential" if lockstep else "process")
        if self.concurrency not in CONCURRENCY:
            raise ConfigError("concurrency", concurrency, f"choose one of {', '.join(CONCURRENCY)}")
        if lockstep and self.concurrency != "sequential":
            raise ConfigError("concurrency", concurrency, "--lockstep checks every scratch step beside a twin in this "
                                                          "process: give --concurrency sequential, or leave it out")
        self.lockstep = lockstep
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
        self._start = None  # (scratch network, shuffler state, epoch) where training began here: a replay's start
        self._lockstep: Lockstep | None = None

    def checkpoint(self, records=()) -> Checkpoint:
        """A copy of the state now (after self.epoch epochs), with the given EpochRecords."""
        return Checkpoint(self.config, self.epoch, {k: v.copy() for k, v in self.network.state_dict().items()},
                          numpy_state_dict(self.model), self.rng.bit_generator.state,
                          [record.to_dict() for record in records])

    def epochs(self, data, progress=None):
        """Train the remaining epochs; yield an EpochRecord after each.

        Each side computes with config.threads CPU threads (NumPy's BLAS through threadpoolctl,
        torch through set_num_threads). In sequential mode the sides take turns every step, and two
        thread pools that spin while waiting steal each other's cores: measured on 2 cores at batch
        32, torch's step took 25 ms beside a multi-threaded OpenBLAS and 1.8 ms with one thread each.
        """
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.config.threads)
        try:
            with threadpool_limits(limits=self.config.threads, user_api="blas"):
                yield from self._train(data, progress)
        finally:
            torch.set_num_threads(previous_threads)

    def first_divergence(self, data) -> FirstDivergence:
        """The first step whose single step disagrees from identical weights, its layer and signature;
        or that every step agreed. In lockstep, what the run found; otherwise a replay of the scratch
        side, with the lockstep check, from where this TwinTraining began training to its last epoch."""
        if self._lockstep is not None:
            return self._lockstep.result()
        network, shuffler, first = self._start or (self.network, self.rng.bit_generator.state, self.epoch)
        train = limited(data.train, self.config.train_limit)
        with threadpool_limits(limits=self.config.threads, user_api="blas"):
            return replay(network, shuffler, range(first + 1, self.epoch + 1), self.config, train.images, train.labels)

    def _train(self, data, progress):
        config = self.config
        train = limited(data.train, config.train_limit)
        splits = {"train": train, "validation": data.validation, "test": data.test}
        if self._start is None:
            self._start = (copy.deepcopy(self.network), copy.deepcopy(self.rng.bit_generator.state), self.epoch)
        loss = implementation.build_loss  # the user's own with --implementation, else scratch_nn's: config.loss
        scratch = ScratchSide(self.network, loss(config), config.lr, train.images, train.labels)
        twin = TorchSide(self.model, loss(config), config.lr, train.images, train.labels, config.device)
        if self.lockstep:
            self._lockstep = Lockstep(self.network, loss(config), config.lr, config.dtype, config.device,
                                      -(-len(train.labels) // config.batch_size))
        start = time.perf_counter()  # the first epoch's wall time includes starting the scratch process
        worker = (ScratchProcess(scratch, {name: split.images for name, split in splits.items()}, config.threads)
                  if self.concurrency == "process" else None)
        try:
            for epoch in range(self.epoch + 1, config.epochs + 1):
                batches = epoch_batches(len(train.labels), config.batch_size, self.rng)
                steps = progress(epoch, batches) if progress else batches
                scratch.new_epoch()
                twin.new_epoch()
                if worker:
                    predictions = self._concurrent_epoch(worker, scratch, twin, batches, steps, epoch, splits)
                else:
                    self._sequential_epoch(scratch, twin, steps, epoch)
                    predictions = {"scratch": {name: predict_scratch(self.network, split.images)
                                               for name, split in splits.items()},
                                   "torch": {name: predict_torch(self.model, split.images, config.device)
                                             for name, split in splits.items()}}
                record = evaluate(epoch, self.network, self.model, config, splits, predictions,
                                  {side.name: side for side in (scratch, twin)}, self._lockstep)
                record.wall_seconds = time.perf_counter() - start
                self.epoch = epoch
                yield record
                start = time.perf_counter()
        finally:
            if worker:
                worker.close()

    def _sequential_epoch(self, scratch, twin, steps, epoch):
        lockstep = self._lockstep
        if lockstep:
            lockstep.new_epoch()
        for step, index in enumerate(steps, start=1):
            if lockstep:
                lockstep.before(self.network)
            scratch_value = scratch.step(index)
            if lockstep and np.isfinite(scratch_value):
                lockstep.after(self.network, scratch.images[index], scratch.labels[index], epoch, step)
            torch_value = twin.step(index)
            broken = [side for side, value in (("scratch", scratch_value), ("torch", torch_value))
                      if not np.isfinite(value)]
            if broken:
                raise DivergedError(broken, epoch, step, self.config, scratch.detail if "scratch" in broken else "")

    def _concurrent_epoch(self, worker, scratch, twin, batches, steps, epoch, splits) -> dict:
        """The scratch side trains and evaluates in its process while the torch side does here; then
        the parent's copy of the scratch network becomes the child's."""
        worker.start_epoch(batches)
        torch_bad = train_alone(twin, steps)
        torch_predictions = {} if torch_bad else {name: predict_torch(self.model, split.images, self.config.device)
                                                  for name, split in splits.items()}
        result = worker.finish_epoch()
        # The child's network, everything in it (parameters and any other state a layer keeps), in
        # place of this copy's, which stays the same object for whoever holds it.
        vars(self.network).update(vars(result.network))
        scratch.seconds, scratch.loss_sum = result.seconds, result.loss_sum
        bad = {side: step for side, step in (("scratch", result.bad_step), ("torch", torch_bad)) if step}
        if bad:  # the first non-finite step, on whichever side(s) reached it: what a sequential run reports
            first = min(bad.values())
            broken = [side for side in ("scratch", "torch") if bad.get(side) == first]
            raise DivergedError(broken, epoch, first, self.config, result.detail if "scratch" in broken else "")
        return {"scratch": result.predictions, "torch": torch_predictions}


def limited(split: Split, limit: int | None) -> Split:
    """The first `limit` examples of a split (all with None)."""
    return Split(split.images[:limit], split.labels[:limit]) if limit else split


def evaluate(epoch, network, model, config, splits, predictions, sides, lockstep) -> EpochRecord:
    """Both sides' accuracies on every split from their predictions, and the divergence between them."""
    train = splits["train"]

    def metrics(side):
        accuracy = {name: float((predictions[side][name] == split.labels).mean()) for name, split in splits.items()}
        return SideMetrics(sides[side].loss_sum / len(train.labels), accuracy["train"], accuracy["validation"],
                           accuracy["test"], sides[side].seconds)

    comparison = compare(network.state_dict(), numpy_state_dict(model),
                         tolerances.training_run(config.dtype), network.layers)
    worst = max(comparison.diffs, key=lambda d: d.scaled_abs)
    probe = copy.deepcopy(network)
    step = compare_step(probe, torch_model(probe, device=config.device), train.images[:config.batch_size],
                        train.labels[:config.batch_size], implementation.build_loss(config), config.lr)
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
                                        "lockstep_worst_ratio": lockstep.epoch_worst}),
    )
    return EpochRecord(epoch, scratch_metrics, torch_metrics, divergence)
