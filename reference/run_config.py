"""What defines a training run, and which values make sense: checked before any data loads.

RunConfig.validate() raises a ConfigError naming the setting (by its compare.py option), the
value and what is allowed. The allowed names come from the registries (scratch_nn.ACTIVATIONS,
LOSSES, INITIALIZERS, reference.data.DATASETS), so a new activation is allowed as soon as it is
registered. train_twins validates too, so the Python API refuses what the command line refuses.
"""

import math
import numbers
import re
from dataclasses import dataclass

import torch

import scratch_nn

from .data import DATASETS

# What every dataset in reference.data gives the network: 28x28 images flattened, ten classes.
INPUT_SIZE = 28 * 28
NUM_CLASSES = 10
DTYPES = ("float32", "float64")


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
    threads: int = 1  # CPU threads for each side's math (see TwinTraining.epochs)
    implementation: str | None = None  # "my_net.py:build": the user's own network on the scratch side
                                       # (reference.implementation); None: scratch_nn's

    def validate(self) -> "RunConfig":
        """Raise ConfigError for the first setting that cannot make a sensible run; return self."""
        sizes = _layer_sizes(self.spec)
        _check_activations(self.activation, hidden_layers=len(sizes) - 2)
        for name, registry in (("output_activation", scratch_nn.ACTIVATIONS), ("loss", scratch_nn.LOSSES),
                               ("init", scratch_nn.INITIALIZERS), ("dtype", DTYPES), ("dataset", DATASETS)):
            value = getattr(self, name)
            if not (value is None and name == "output_activation") and value not in registry:
                raise ConfigError(name, value, f"choose one of {', '.join(sorted(registry))}")
        if not (isinstance(self.lr, numbers.Real) and not isinstance(self.lr, bool)
                and math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError("lr", self.lr, "the learning rate must be a finite number above 0")
        for name, least in (("batch_size", 1), ("epochs", 1), ("seed", 0), ("threads", 1), ("train_limit", 1)):
            value = getattr(self, name)
            if not (value is None and name == "train_limit") and not _integer_at_least(value, least):
                raise ConfigError(name, value, f"must be a whole number of at least {least}")
        _check_device(self.device)
        if self.implementation is not None:
            from .implementation import check_target  # imports the user's file: only when one is named
            check_target(self.implementation)
        return self


def _integer_at_least(value, least: int) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= least


def _layer_sizes(spec) -> list[int]:
    if not isinstance(spec, str) or not re.fullmatch(r"\d+(-\d+)+", spec):
        raise ConfigError("spec", spec, f"layer sizes joined by '-', input first, e.g. {INPUT_SIZE}-128-{NUM_CLASSES}")
    sizes = [int(size) for size in spec.split("-")]
    if min(sizes) < 1:
        raise ConfigError("spec", spec, "every layer size must be a whole number of at least 1")
    if sizes[0] != INPUT_SIZE:
        raise ConfigError("spec", spec, f"the input size must be {INPUT_SIZE}, the pixels of one image")
    if sizes[-1] < NUM_CLASSES:
        raise ConfigError("spec", spec, f"the output size must be at least {NUM_CLASSES}, one per class")
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
