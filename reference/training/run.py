"""Train the scratch network and its torch twin side by side, on the same batches.

Both sides start from the same weights (copied bit for bit), see the same batches in the same
order (one shuffler, below), and take the same optimizer's steps with the same hyperparameters
(the scratch optimizer and its torch.optim twin, reference.optimizers.torch_optimizer). After every
epoch each side is evaluated on its own, and the two are compared: how far apart their
parameters have drifted, how often they predict the same class, and how different their losses
are. A run that blows up stops at the step where it happened, saying which side and what to try.
The sides run concurrently (the scratch side in a process of its own) or in turn; with lockstep,
every step is also judged on its own (reference.training.lockstep). The networks train in training mode
and predict in evaluation mode, on both sides (reference.training.sides). What an epoch measured, and the
step check, are in reference.training.evaluation.
"""

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import scratch_nn
from reference.adapters import Adapted
from reference.loss_names import loss_class
from reference.optimizers import (
    optimizer_copy,
    scratch_state_dict,
    torch_optimizer,
    torch_state_dict,
)
from reference.regularization import generator_states, set_generator_states
from reference.training import implementation, summary
from reference.training.checkpoint import Checkpoint, CheckpointError
from reference.training.concurrent import ScratchProcess
from reference.training.data import Split, binary
from reference.training.evaluation import EpochRecord, evaluate
from reference.training.lockstep import FirstDivergence, Lockstep, replay
from reference.training.run_config import CONCURRENCY, ConfigError, RunConfig, check_last_batch
from reference.training.sides import (
    ScratchSide,
    TorchSide,
    epoch_batches,
    evaluation_chunks,
    join_chunks,
    predict_scratch,
    predict_torch,
    predict_torch_chunks,
    train_alone,
)
from reference.twin import numpy_state_dict, torch_model


@dataclass
class Run:
    config: RunConfig
    epochs: list[EpochRecord] = field(default_factory=list)
    concurrency: str = "process"
    lockstep: bool = False
    first_divergence: FirstDivergence | None = None

    # In a notebook or the REPL (reference.display): the verdict and a row per epoch; str, the whole report.
    def __repr__(self) -> str:
        return summary.view(self).text()

    def __str__(self) -> str:
        return summary.view(self).full_text

    def _repr_html_(self) -> str:
        return summary.view(self).html()


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


def build_networks(config: RunConfig, adapted: Adapted | None = None):
    """The scratch network from the config, and the torch model holding the same weights (and, for
    dropout, generators in the same state). With --implementation, the user's network: adapted
    (implementation.adapt_config(config), built here where not given)."""
    if config.implementation:  # the user's own code, adapted, from the same weights (reference.adapters.loader)
        return implementation.networks(adapted or implementation.adapt_config(config), config)
    network = scratch_nn.build_network(config.spec, config.activation, init=config.init, seed=config.seed,
                                       dtype=np.dtype(config.dtype), output_activation=config.output_activation,
                                       dropout=config.dropout, batch_norm=config.batch_norm)
    return network, torch_model(network, device=config.device)


def train_twins(config: RunConfig, data, progress=None):
    """Train both sides; an iterator over the EpochRecords, one after every epoch.

    The config is validated first (ConfigError). data: a reference.training.data.Dataset in config.dtype.
    progress: called as progress(epoch, batches), it returns an iterable over the batches (e.g. a
    tqdm bar); by default plain iteration. To save or continue a run, use TwinTraining.
    """
    return TwinTraining(config).epochs(data, progress)


class TwinTraining:
    """Both sides, their optimizers and the one shuffler: the whole state of a run between epochs.

    TwinTraining(config) starts a run; TwinTraining(checkpoint.config, resume=checkpoint)
    continues one where checkpoint() left it, step for step as if it had never stopped.

    concurrency: how the sides run. "process" (the default): the scratch side in a process of its
    own (reference.training.concurrent), training and evaluating beside the torch side, so a comparison
    takes about as long as the torch side alone. "sequential": in this process, the two taking
    turns every step. Both give the same numbers, bit for bit; only the wall time differs.
    lockstep: after every step, the twin's step from the scratch side's weights before it, judged
    by the one-step tolerance (reference.training.lockstep); needs "sequential" (the default with it).
    """

    def __init__(self, config: RunConfig, resume: Checkpoint | None = None, *, concurrency: str | None = None,
                 lockstep: bool = False):
        self.config = config.validate()
        if config.implementation:
            implementation.check_target(self.config)
        self.concurrency = concurrency or ("sequential" if lockstep else "process")
        if self.concurrency not in CONCURRENCY:
            raise ConfigError("concurrency", concurrency, f"choose one of {', '.join(CONCURRENCY)}")
        if lockstep and self.concurrency != "sequential":
            raise ConfigError("concurrency", concurrency, "--lockstep checks every scratch step beside a twin in this "
                                                          "process: give --concurrency sequential, or leave it out")
        self.lockstep = lockstep
        # The user's build() and the probes run once a run: the network and the loss every part of it uses.
        self.adapted = implementation.adapt_config(self.config) if config.implementation else None
        self.network, self.model = build_networks(config, self.adapted)
        # the user's own loss with --implementation (scratch_nn's of --loss where build returns none)
        self.loss = self.adapted.loss if self.adapted else loss_class(config.loss)()
        self.optimizer = config.build_optimizer(self.network)
        self.rng = np.random.default_rng(config.seed)
        self.epoch = 0
        if resume is not None:
            self._resume(resume)
        # The torch side's optimizer: the scratch one's twin, same hyperparameters and (at the start) state.
        self.twin_optimizer = torch_optimizer(self.optimizer, self.model)
        if resume is not None:
            self.twin_optimizer.load_state_dict(torch_state_dict(resume.optimizers["torch"], self.twin_optimizer))
        # (scratch network, its optimizer, shuffler state, epoch) where training began here: a replay's start
        self._start = None
        self._lockstep: Lockstep | None = None

    def _resume(self, resume: Checkpoint) -> None:
        """Put both sides, their optimizers, the dropout generators and the shuffler in the saved state,
        every part checked against this network first (CheckpointError naming the part). The torch side's
        optimizer state is saved in scratch_nn's layout, so a scratch optimizer checks it as well; the
        hyperparameters are the run's settings', on both sides."""
        def fit(part, load, saved):
            try:
                load(saved)
            except (ValueError, RuntimeError, TypeError, KeyError, AttributeError) as error:  # RuntimeError: torch's
                problems = str(error).replace(":\n  ", ": ").replace("\n  ", "; ")  # one line
                raise CheckpointError(f"{part}: the saved state does not fit a {self.config.spec} network: "
                                      f"{problems}") from None

        fit("scratch", self.network.load_state_dict, resume.scratch)
        fit("torch", self.model.load_state_dict, {key: torch.from_numpy(value) for key, value in resume.torch.items()})
        settings = {name: getattr(self.optimizer, name) for name in self.optimizer.hyperparameters}
        for side in ("torch", "scratch"):  # the scratch one last: it is the one kept
            fit(f"optimizers.{side}", self.optimizer.load_state_dict, resume.optimizers[side])
            saved = {name: getattr(self.optimizer, name) for name in self.optimizer.hyperparameters}
            if saved != settings:
                raise CheckpointError(f"optimizers.{side}.param_groups: {saved}, but the run's settings give "
                                      f"{settings}")
        for side, layers in (("scratch", self.network.layers), ("torch", self.model)):
            fit(f"generators.{side}", lambda states, layers=layers: set_generator_states(layers, states),
                resume.generators[side])
        self.rng.bit_generator.state = resume.shuffler
        self.epoch = resume.epoch

    def checkpoint(self, records=()) -> Checkpoint:
        """A copy of the state now (after self.epoch epochs), with the given EpochRecords: both sides'
        weights (and buffers), optimizer states and dropout generators, and the shuffler."""
        return Checkpoint(self.config, self.epoch, self.network.state_dict(), numpy_state_dict(self.model),
                          copy.deepcopy(self.rng.bit_generator.state), [record.to_dict() for record in records],
                          optimizers={"scratch": self.optimizer.state_dict(),
                                      "torch": scratch_state_dict(self.twin_optimizer)},
                          generators={"scratch": generator_states(self.network.layers),
                                      "torch": generator_states(self.model)})

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
        network, optimizer, shuffler, first = self._start or (
            self.network, self.optimizer, self.rng.bit_generator.state, self.epoch)
        train = limited(labelled(data, self.config).train, self.config.train_limit)
        with threadpool_limits(limits=self.config.threads, user_api="blas"):
            return replay(network, optimizer, shuffler, range(first + 1, self.epoch + 1), self.config, self.loss,
                          train.images, train.labels)

    def _train(self, data, progress):
        config = self.config
        data = labelled(data, config)
        train = limited(data.train, config.train_limit)
        splits = {"train": train, "validation": data.validation, "test": data.test}
        check_last_batch(config, len(train.labels))  # validate() assumed the full dataset's size
        if self._start is None:
            start_network = copy.deepcopy(self.network)
            self._start = (start_network, optimizer_copy(self.optimizer, start_network),
                           copy.deepcopy(self.rng.bit_generator.state), self.epoch)
        scratch = ScratchSide(self.network, self.loss, self.optimizer, train.images, train.labels)
        twin = TorchSide(self.model, self.loss, self.twin_optimizer, train.images, train.labels, config.device)
        if self.lockstep:
            self._lockstep = Lockstep(self.network, self.optimizer, self.loss, config.dtype, config.device,
                                      -(-len(train.labels) // config.batch_size))
        start = time.perf_counter()  # the first epoch's wall time includes starting the scratch process
        shares_evaluation = torch.device(config.device).type == "cpu"  # a forked process cannot use CUDA
        worker = (ScratchProcess(scratch, {name: split.images for name, split in splits.items()}, config.threads,
                                 self.model if shares_evaluation else None)
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
                record = evaluate(epoch, self.network, self.model, self.optimizer, self.loss, config, splits,
                                  predictions, {side.name: side for side in (scratch, twin)}, self._lockstep)
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
                lockstep.before(self.network, self.optimizer)
            scratch_value = scratch.step(index)
            if lockstep and np.isfinite(scratch_value):
                lockstep.after(self.network, scratch.images[index], scratch.labels[index], epoch, step)
            torch_value = twin.step(index)
            broken = [side for side, value in (("scratch", scratch_value), ("torch", torch_value))
                      if not np.isfinite(value)]
            if broken:
                raise DivergedError(broken, epoch, step, self.config, scratch.detail if "scratch" in broken else "")

    def _concurrent_epoch(self, worker, scratch, twin, batches, steps, epoch, splits) -> dict:
        """The scratch side trains and evaluates in its process while the torch side trains here; the
        torch side's evaluation is shared between the two (reference.training.concurrent). Then the parent's
        copies of the scratch network and its optimizer's state become the child's."""
        worker.start_epoch(batches)
        torch_bad = train_alone(twin, steps)
        result = worker.finish_epoch()  # first: until it is read, the process is busy sending it
        torch_predictions = {} if torch_bad else self._shared_torch_predictions(worker, splits)
        # The child's network, everything in it (parameters and any other state a layer keeps), in
        # place of this copy's, which stays the same object for whoever holds it.
        vars(self.network).update(vars(result.network))
        self.optimizer.load_state_dict(result.optimizer_state)  # over this copy, which now holds the child's layers
        scratch.seconds, scratch.loss_sum, scratch.losses = result.seconds, result.loss_sum, result.losses
        bad = {side: step for side, step in (("scratch", result.bad_step), ("torch", torch_bad)) if step}
        if bad:  # the first non-finite step, on whichever side(s) reached it: what a sequential run reports
            first = min(bad.values())
            broken = [side for side in ("scratch", "torch") if bad.get(side) == first]
            raise DivergedError(broken, epoch, first, self.config, result.detail if "scratch" in broken else "")
        return {"scratch": result.predictions, "torch": torch_predictions}

    def _shared_torch_predictions(self, worker, splits) -> dict:
        """The torch model's predictions on the splits, the scratch process (when it shares the
        evaluation) predicting on every other piece while this one predicts on the rest."""
        images = {name: split.images for name, split in splits.items()}
        chunks = evaluation_chunks(images)
        theirs, mine = (chunks[0::2], chunks[1::2]) if worker.shares_evaluation else ([], chunks)
        if theirs:
            worker.start_torch_predictions(self.model, theirs)
        predicted = dict(zip(mine, predict_torch_chunks(self.model, images, mine, self.config.device)))
        if theirs:
            predicted.update(zip(theirs, worker.finish_torch_predictions()))
        return join_chunks(chunks, predicted)


def labelled(data, config: RunConfig):
    """The data with the labels the run's loss takes: one class against the rest for --positive-class."""
    return data if config.positive_class is None else binary(data, config.positive_class)


def limited(split: Split, limit: int | None) -> Split:
    """The first `limit` examples of a split (all with None)."""
    return Split(split.images[:limit], split.labels[:limit]) if limit else split
