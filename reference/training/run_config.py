"""What defines a training run, and which values make sense: checked before any data loads.

RunConfig.validate() raises a ConfigError naming the setting (by its compare.py option), the
value and what is allowed. The allowed names come from the registries (scratch_nn.ACTIVATIONS,
LOSSES, INITIALIZERS, OPTIMIZERS, reference.training.data.DATASETS), so a new activation is allowed as soon
as it is registered. train_twins validates too, so the Python API refuses what the command line refuses.

An optimizer's hyperparameters (momentum, betas, ...) are None unless given: None is the
optimizer's own default (torch's). A hyperparameter the chosen optimizer does not have is
refused (OPTIMIZER_SETTINGS), and a value is checked by the optimizer's own constructor, so the
range it accepts is the one scratch_nn and torch.optim accept.
"""

import math
import numbers
import re
from dataclasses import dataclass

import numpy as np

import scratch_nn
import scratch_nn.spec
from reference import memory
from reference.training.data import DATASETS, VALIDATION_SIZE
from scratch_nn.regularization import check_drop_probability

# What every dataset in reference.training.data gives the network: 28x28 images flattened, ten classes.
INPUT_SIZE = 28 * 28
IMAGE_SHAPE = (1, 28, 28)  # the same pixels as a CNN reads them: channels x height x width
NUM_CLASSES = 10
TRAIN_IMAGES = 50_000  # every dataset's training images after the validation split (reference.training.data)
DTYPES = ("float32", "float64")
CONCURRENCY = ("process", "sequential")  # how the two sides run (reference.training.run)

# The hyperparameters (RunConfig fields, compare.py options) that each optimizer in
# scratch_nn.OPTIMIZERS takes beside lr. "sgd" is plain SGD: momentum is what "momentum" and
# "nesterov" add (Nesterov's update needs dampening 0, so it takes none).
OPTIMIZER_SETTINGS = {
    "sgd": ("weight_decay",),
    "momentum": ("momentum", "dampening", "weight_decay"),
    "nesterov": ("momentum", "weight_decay"),
    "adam": ("betas", "eps", "weight_decay", "amsgrad"),
    "adamw": ("betas", "eps", "weight_decay", "amsgrad"),
    "rmsprop": ("alpha", "eps", "momentum", "centered", "weight_decay"),
}

# Why batch norm is refused with these (docs/train.md, "Optimizers, dropout and batch norm"): the bias
# of a Linear before a batch norm has a gradient of exactly 0 in exact arithmetic (the batch norm
# subtracts the batch mean), so each side computes its own rounding noise, ~1e-17. SGD moves the
# bias by lr times that, nothing; Adam and RMSprop divide the gradient by its own running size,
# turning the noise into steps of up to ~lr, different on each side: the twins' copies of that
# bias (and the running mean that follows it) walk apart though neither changes the loss.
SCALE_FREE_OPTIMIZERS = ("adam", "adamw", "rmsprop")
SCALE_FREE_WITH_BATCH_NORM = (
    "cannot be compared with --batch-norm: the bias before each batch norm has a gradient of 0 (the batch norm "
    "cancels it) and each side's rounding noise, which this optimizer scales up to steps of ~lr, moves it "
    "differently; use --optimizer sgd, momentum or nesterov with --batch-norm")


class ConfigError(ValueError):
    """A setting that cannot make a sensible run; the message names it, its value and what is allowed."""

    def __init__(self, name: str, value, allowed: str):
        self.name, self.value = name, value
        super().__init__(f"{option(name)} {value!r}: {allowed}")


def option(name: str) -> str:
    """The compare.py option for a RunConfig field: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; both sides use all of it."""

    spec: str = "784-128-10"
    activation: str = "sigmoid"
    output_activation: str | None = None
    loss: str = "cross_entropy"
    init: str = "paper"
    dtype: str = "float32"
    batch_size: int = 32
    lr: float = 0.5
    epochs: int = 5
    seed: int = 0
    dataset: str = "mnist"
    device: str = "cpu"
    train_limit: int | None = None  # train on the first N training images only (quick runs)
    positive_class: int | None = None  # binary: this class's images are labelled 1, every other's 0
    threads: int = 1  # CPU threads for each side's math (see TwinTraining.epochs)
    optimizer: str = "sgd"  # a name in scratch_nn.OPTIMIZERS; both sides take the same steps
    momentum: float | None = None  # None: the optimizer's default, for each hyperparameter below
    dampening: float | None = None
    weight_decay: float | None = None
    betas: tuple[float, float] | None = None
    eps: float | None = None
    alpha: float | None = None
    amsgrad: bool | None = None
    centered: bool | None = None
    dropout: float = 0.0  # drop probability after every hidden activation (0: no Dropout layers)
    batch_norm: bool = False  # BatchNorm1d after every hidden Linear

    def __post_init__(self):
        if isinstance(self.betas, list):  # from JSON (a checkpoint, a record): the tuple it was
            object.__setattr__(self, "betas", tuple(self.betas))

    def optimizer_settings(self) -> dict:
        """The hyperparameters given for the optimizer, besides lr: {name: value} for those not None."""
        return {name: getattr(self, name) for name in OPTIMIZER_SETTINGS.get(self.optimizer, ())
                if getattr(self, name) is not None}

    def build_optimizer(self, network) -> scratch_nn.Optimizer:
        """The scratch optimizer over the network's parameters (reference.optimizers.torch_optimizer
        makes its torch twin, with the same hyperparameters and state)."""
        return scratch_nn.OPTIMIZERS[self.optimizer](network, lr=self.lr, **self.optimizer_settings())
    implementation: str | None = None  # "my_net.py:build": the user's own network on the scratch side
                                       # (reference.adapters.loader); None: scratch_nn's

    def _check_binary(self) -> None:
        """Binary cross-entropy takes one sigmoid unit and labels 0/1, which --positive-class makes; and only it."""
        binary = self.loss == "binary_cross_entropy"
        if binary and self.output_activation != "sigmoid":
            raise ConfigError("output_activation", self.output_activation, "--loss binary_cross_entropy takes a "
                              "probability: give --output-activation sigmoid")
        if binary and not self.spec.endswith("-1"):
            raise ConfigError("spec", self.spec, "--loss binary_cross_entropy takes one output unit: end the spec "
                                                 "in -1")
        if binary != (self.positive_class is not None):
            raise ConfigError("positive_class", self.positive_class,
                              "--loss binary_cross_entropy takes --positive-class (its images 1, the rest 0), and "
                              "--positive-class that loss" if binary or self.positive_class is not None else "")
        if self.positive_class is not None and not (_integer_at_least(self.positive_class, 0)
                                                     and self.positive_class <= 9):
            raise ConfigError("positive_class", self.positive_class, "must be a class of the dataset, 0 to 9")

    def validate(self, max_memory: int | None = None) -> "RunConfig":
        """Raise ConfigError for the first setting that cannot make a sensible run; return self.
        max_memory: bytes the run may use (--max-memory), besides the machine's own limit."""
        outputs = 1 if self.loss == "binary_cross_entropy" else NUM_CLASSES  # one unit: class 1's probability
        _check_memory(self.spec, self.dtype, max_memory, outputs)
        _check_activations(self.activation, hidden_layers=_hidden_layers(self.spec, outputs))
        for name, registry in (("output_activation", scratch_nn.ACTIVATIONS), ("loss", scratch_nn.LOSSES),
                               ("init", scratch_nn.INITIALIZERS), ("dtype", DTYPES), ("dataset", DATASETS),
                               ("optimizer", scratch_nn.OPTIMIZERS)):
            value = getattr(self, name)
            if not (value is None and name == "output_activation") and value not in registry:
                raise ConfigError(name, value, f"choose one of {', '.join(sorted(registry))}")
        self._check_binary()
        if self.loss == "probability_cross_entropy" and self.output_activation != "softmax":
            raise ConfigError("output_activation", self.output_activation, "--loss probability_cross_entropy takes "
                              "probabilities: give --output-activation softmax (or use --loss cross_entropy on logits)")
        if not (isinstance(self.lr, numbers.Real) and not isinstance(self.lr, bool)
                and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError("lr", self.lr, "the learning rate must be a finite number above 0")
        for name, least in (("batch_size", 1), ("epochs", 1), ("seed", 0), ("threads", 1), ("train_limit", 1)):
            value = getattr(self, name)
            if not (value is None and name == "train_limit") and not _integer_at_least(value, least):
                raise ConfigError(name, value, f"must be a whole number of at least {least}")
        _check_device(self.device)
        if self.implementation is not None:
            self._check_implementation()
        self._check_optimizer()
        self._check_regularization()
        if self.implementation is None:
            self._check_builds()
        return self

    def _check_builds(self) -> None:
        """The spec makes a network on both sides, and two examples go through both: a layer that
        cannot be built or run (conv0k5, a kernel of 0) is refused here, before any data loads."""
        import torch  # here, so that the options' --help does not load torch

        from reference.twin import torch_model

        try:
            network = scratch_nn.build_network(self.spec, self.activation, init=self.init, seed=self.seed,
                                               dtype=np.dtype(self.dtype), output_activation=self.output_activation,
                                               dropout=self.dropout, batch_norm=self.batch_norm).eval()
            model = torch_model(network).eval()
            images = np.zeros((2, INPUT_SIZE), dtype=self.dtype)
            with torch.no_grad():
                for output in (network.forward(images), model(torch.from_numpy(images)).numpy()):
                    if output.shape != (2, _output_size(self.spec)):
                        raise ValueError(f"it gives outputs of shape {output.shape[1:]} per example")
        except (ValueError, RuntimeError, TypeError) as error:
            first_line = (str(error).strip() or type(error).__name__).splitlines()[0]
            raise ConfigError("spec", self.spec, f"cannot be built and run on both sides: {first_line}") from None

    def _check_implementation(self) -> None:
        """An implementation trains with plain SGD (its layers may update themselves in backward) and
        builds its own layers, so neither another optimizer nor added layers can be asked of it."""
        for name in ("optimizer", *sorted({name for names in OPTIMIZER_SETTINGS.values() for name in names}),
                     "dropout", "batch_norm"):
            if getattr(self, name) not in (None, False, 0, "sgd"):
                raise ConfigError(name, getattr(self, name), "--implementation trains your own network as it is, "
                                                             "with plain SGD: leave this option out")
        # Whether the file can be used is reference.training.implementation.check_target's (TwinTraining calls it).

    def _check_optimizer(self) -> None:
        """Each hyperparameter given must be one the optimizer has, and the optimizer must take its value
        (checked one at a time, so that the error names the option at fault)."""
        allowed = OPTIMIZER_SETTINGS[self.optimizer]
        for name in sorted({name for names in OPTIMIZER_SETTINGS.values() for name in names}):
            value = getattr(self, name)
            if value is None:
                continue
            if name not in allowed:
                takers = [optimizer for optimizer, names in OPTIMIZER_SETTINGS.items() if name in names]
                raise ConfigError(name, value, f"does not apply to --optimizer {self.optimizer}; it is a setting of "
                                               f"--optimizer {', '.join(takers)}")
            try:
                scratch_nn.OPTIMIZERS[self.optimizer](scratch_nn.Sequential(), lr=self.lr, **{name: value})
            except (TypeError, ValueError) as error:
                raise ConfigError(name, value, str(error)) from None

    def _check_regularization(self) -> None:
        try:
            check_drop_probability(self.dropout)
        except ValueError:
            raise ConfigError("dropout", self.dropout,
                              "the drop probability p must be a number with 0 <= p < 1") from None
        if not isinstance(self.batch_norm, bool):
            raise ConfigError("batch_norm", self.batch_norm, "True or False")
        if self.batch_norm:
            check_last_batch(self, min(self.train_limit or TRAIN_IMAGES, TRAIN_IMAGES))
            if self.optimizer in SCALE_FREE_OPTIMIZERS:
                raise ConfigError("optimizer", self.optimizer, SCALE_FREE_WITH_BATCH_NORM)


def check_last_batch(config: RunConfig, num_examples: int) -> None:
    """Batch norm in training mode needs 2 examples per batch (a variance); a last batch of 1
    would make both sides raise mid-epoch, so such a run is refused before it starts."""
    last = num_examples % config.batch_size or config.batch_size
    if config.batch_norm and min(last, num_examples) < 2:
        raise ConfigError("batch_size", config.batch_size,
                          f"with --batch-norm every batch needs at least 2 examples, but {num_examples} training "
                          f"images in batches of {config.batch_size} leave a last batch of 1: choose another "
                          f"--batch-size (or --train-limit)")


def _check_memory(spec, dtype, max_memory: int | None, outputs: int = NUM_CLASSES) -> None:
    """A spec whose run needs more memory than there is (reference.memory) is refused with the number,
    before any weight is made; so is one with a layer that gives no output."""
    if isinstance(spec, str) and re.fullmatch(r"\d+(-\d+)+", spec):
        _layer_sizes(spec, outputs)  # its own problems first: sizes of 0, the input size
    elif not (isinstance(spec, str) and re.fullmatch(r"\d+x\d+x\d+(-\w+)+", spec)):
        return  # not a spec: _hidden_layers says what is wrong with it
    from reference.training.sides import EVAL_CHUNK  # (with torch: here, not for --help)

    first, *tokens = spec.split("-")
    try:
        shapes = scratch_nn.Spec(tuple(int(size) for size in first.split("x")),
                                 tuple(scratch_nn.spec.parse_layer(token) for token in tokens), ())
        sizes = memory.layer_shapes(shapes)[1]
        itemsize = np.dtype(dtype if dtype in DTYPES else "float64").itemsize
        needed = memory.training_bytes(shapes, itemsize, TRAIN_IMAGES + 2 * VALIDATION_SIZE, EVAL_CHUNK)
    except ValueError as error:
        raise ConfigError("spec", spec, str(error)) from None
    empty = [token for token, size in zip(tokens, sizes, strict=True) if size < 1]
    if empty:
        raise ConfigError("spec", spec, f"the layer {empty[0]} gives no output: every layer needs at least 1")
    windowless = [token for token, layer in zip(tokens, shapes.layers, strict=True)
                  if isinstance(layer, scratch_nn.spec.Conv) and min(layer.kernel_size) < 1]
    if windowless:
        raise ConfigError("spec", spec, f"the layer {windowless[0]} has a kernel of 0: a kernel is at least 1x1")
    problem = memory.memory_problem(needed, max_memory)
    if problem:
        raise ConfigError("spec", spec, problem)


def _output_size(spec: str) -> int:
    return int(spec.rsplit("-", 1)[1])


def _integer_at_least(value, least: int) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= least


def _hidden_layers(spec, outputs=NUM_CLASSES) -> int:
    """How many hidden layers (each taking an activation) the spec has, after checking that it reads
    MNIST's images and gives one output per class: an MLP (784-128-10) or a CNN, whose spec starts
    with the image shape (1x28x28-conv8k5-pool2-conv16k5-pool2-120-10; scratch_nn.Spec)."""
    if isinstance(spec, str) and re.fullmatch(r"\d+x\d+x\d+(-\w+)+", spec):
        try:
            parsed = scratch_nn.Spec.parse(spec, "relu")  # the activations are checked on their own
        except ValueError as error:
            raise ConfigError("spec", spec, str(error)) from None
        if parsed.input_shape != IMAGE_SHAPE:
            raise ConfigError("spec", spec, f"a CNN's input must be {'x'.join(map(str, IMAGE_SHAPE))}, one "
                                            f"grayscale image (channels x height x width)")
        if parsed.layers[-1] < outputs:
            raise ConfigError("spec", spec, f"the output size must be at least {outputs}, one per class")
        return len(parsed.activations)
    return len(_layer_sizes(spec, outputs)) - 2


def _layer_sizes(spec, outputs=NUM_CLASSES) -> list[int]:
    if not isinstance(spec, str) or not re.fullmatch(r"\d+(-\d+)+", spec):
        raise ConfigError("spec", spec, f"layer sizes joined by '-', input first, e.g. {INPUT_SIZE}-128-{NUM_CLASSES}, "
                                        f"or a CNN's, the image shape first: "
                                        f"1x28x28-conv8k5-pool2-conv16k5-pool2-120-10")
    sizes = [int(size) for size in spec.split("-")]
    if min(sizes) < 1:
        raise ConfigError("spec", spec, "every layer size must be a whole number of at least 1")
    if sizes[0] != INPUT_SIZE:
        raise ConfigError("spec", spec, f"the input size must be {INPUT_SIZE}, the pixels of one image")
    if sizes[-1] < outputs:
        raise ConfigError("spec", spec, f"the output size must be at least {outputs}, one per class")
    return sizes


def _check_activations(activation, hidden_layers: int) -> None:
    names = activation.split(",") if isinstance(activation, str) else [activation]
    unknown = [name for name in names if name not in scratch_nn.ACTIVATIONS]
    if unknown:
        raise ConfigError("activation", activation, f"choose from {', '.join(sorted(scratch_nn.ACTIVATIONS))}, "
                                                    f"one for all hidden layers or one per hidden layer")
    if len(names) not in (1, hidden_layers):
        raise ConfigError("activation", activation, f"give one activation for all {hidden_layers} hidden "
                                                    f"layer(s), or exactly {hidden_layers} separated by commas")


def _check_device(device) -> None:
    import torch  # here, so that the options' --help does not load torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise ConfigError("device", device, "cpu, cuda, or cuda:N for the N-th GPU")
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError("device", device, "torch sees no GPU here; use --device cpu")
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError("device", device, f"torch sees {count} GPU(s): cuda:0 to cuda:{count - 1}")
