"""A checkpoint's contents checked whole before a run trusts them: every problem is a CheckpointError
naming the field ("epoch", "torch/0.weight", "records[2].divergence.worst_scaled_abs", ...).

What is checked here, from the file alone: each array is numeric (never an object: the file is read
with allow_pickle=False), floating-point arrays are finite and in the run's dtype, both sides hold the
same tensors with the same shapes; the text fields are JSON of the right types; the settings are valid
(RunConfig.validate); epoch >= 0 and the records are epochs 1..epoch, each with the fields and types an
EpochRecord has; the shuffler's state is one NumPy takes. And both sides agree as the run saw them: the
largest difference between the two sides' copies of each tensor, computed again from the file, must be
the one the last record measured. The file's own arithmetic is exact (the same float64 subtraction of
the same numbers), so any excess means that the weights were changed after the run saved them: a damaged
file, not a finding. What only the network can tell (the optimizers' states and the dropout generators
fit its parameters) is checked when the run is built from the file (TwinTraining), still before any data.
"""

import dataclasses
import numbers
import typing

import numpy as np

from reference.training.evaluation import EpochRecord
from reference.training.run_config import ConfigError, RunConfig

SIDES = ("scratch", "torch")

# A difference between the sides' tensors found again from the file may exceed the recorded one by
# float64 rounding only: both are max|s - t| of the same numbers in float64 (reference.comparison).
DRIFT_SLACK = 1e-12


class CheckpointError(ValueError):
    """The file is not a checkpoint this version can continue from; the message says why."""


def check_arrays(arrays: dict[str, np.ndarray]) -> None:
    """Every weight and optimizer array: numeric and, if floating-point, finite."""
    for name, value in arrays.items():
        if value.dtype.kind not in "fiu":
            raise CheckpointError(f"{name}: holds {value.dtype} values; a checkpoint holds numbers only")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise CheckpointError(f"{name}: holds NaN or Inf; a run is saved only after a finite epoch")


def check_sides(sides: dict[str, dict[str, np.ndarray]], dtype: str) -> None:
    """Both sides hold the same tensors, of the same shapes, floating-point ones in the run's dtype."""
    scratch, torch = sides["scratch"], sides["torch"]
    if not scratch:
        raise CheckpointError("scratch: no weights saved")
    if scratch.keys() != torch.keys():
        raise CheckpointError(f"torch: holds {sorted(torch)}, the scratch side {sorted(scratch)}; both sides "
                              f"are saved with the same tensors")
    for key in scratch:
        for side in SIDES:
            value = sides[side][key]
            if value.dtype.kind == "f" and value.dtype != np.dtype(dtype):
                raise CheckpointError(f"{side}/{key}: is {value.dtype}, the run's --dtype is {dtype}")
        if scratch[key].shape != torch[key].shape:
            raise CheckpointError(f"torch/{key}: has shape {torch[key].shape}, the scratch side's {scratch[key].shape}")


def check_config(saved) -> RunConfig:
    if not isinstance(saved, dict):
        raise CheckpointError("config: not a dictionary of run settings")
    known = {field.name for field in dataclasses.fields(RunConfig)}
    if set(saved) != known:
        raise CheckpointError(f"config: saved with other run settings ({sorted(set(saved) ^ known)} differ from "
                              f"this version's): it cannot be continued here")
    try:
        return RunConfig(**saved).validate()
    except (ConfigError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"config: {error}") from None


def check_epochs(epoch, records) -> list[EpochRecord]:
    """epoch is a whole number >= 0 and records are the epochs 1..epoch, each a whole EpochRecord."""
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise CheckpointError(f"epoch: {epoch!r}, expected a whole number of epochs done, at least 0")
    if not isinstance(records, list):
        raise CheckpointError("records: not a list of epoch records")
    if len(records) != epoch:
        raise CheckpointError(f"records: {len(records)} epoch record(s), but epoch says {epoch} epoch(s) were done")
    parsed = []
    for index, record in enumerate(records):
        where = f"records[{index}]"
        check_fields(record, EpochRecord, where)
        if record["epoch"] != index + 1:
            raise CheckpointError(f"{where}.epoch: {record['epoch']!r}, expected {index + 1} "
                                  f"(epochs 1..{epoch} in order)")
        for side in SIDES:
            for name in ("train_accuracy", "validation_accuracy", "test_accuracy"):
                if not 0 <= record[side][name] <= 1:
                    raise CheckpointError(f"{where}.{side}.{name}: {record[side][name]!r}, a fraction in [0, 1]")
        parsed.append(EpochRecord.from_dict(record))
    return parsed


def check_fields(value, kind, where: str) -> None:
    """value is the dict asdict() makes of the dataclass `kind`: every field there, of its type."""
    if not isinstance(value, dict):
        raise CheckpointError(f"{where}: not a dictionary")
    hints = typing.get_type_hints(kind)
    required = {field.name for field in dataclasses.fields(kind)
                if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING}
    missing, unknown = required - set(value), set(value) - set(hints)
    if missing or unknown:
        raise CheckpointError(f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    for name, item in value.items():
        check_type(item, hints[name], f"{where}.{name}")


def check_type(value, hint, where: str) -> None:
    if dataclasses.is_dataclass(hint):
        check_fields(value, hint, where)
        return
    if hint is list:  # a side's loss at every step (EpochRecord.step_losses): numbers, none of them bool
        if not isinstance(value, list) or not all(isinstance(number, numbers.Real) and not isinstance(number, bool)
                                                  for number in value):
            raise CheckpointError(f"{where}: not a list of numbers")
        return
    expected = {float: numbers.Real, int: numbers.Integral, bool: bool, str: str, dict: dict}[hint]
    if not isinstance(value, expected) or (hint in (int, float) and isinstance(value, bool)):
        raise CheckpointError(f"{where}: {value!r}, expected {hint.__name__}")
    if hint is dict:
        for name, entry in value.items():  # Divergence.parameters: tensor name -> its numbers
            if not isinstance(entry, dict) or not all(isinstance(number, (numbers.Real, bool))
                                                      for number in entry.values()):
                raise CheckpointError(f"{where}.{name}: not a dictionary of numbers")


def check_shuffler(state) -> None:
    try:
        np.random.default_rng().bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(f"shuffler: not a state of NumPy's default generator ({error})") from None


def check_drift(sides: dict[str, dict[str, np.ndarray]], records: list[EpochRecord]) -> None:
    """The two sides differ, tensor by tensor, as much as the last epoch recorded and no more; with no
    epoch done, not at all (both sides start from the same weights)."""
    measured = records[-1].divergence.parameters if records else {}
    for key, scratch in sides["scratch"].items():
        if scratch.dtype.kind != "f":
            continue
        found = float(np.max(np.abs(scratch.astype(np.float64) - sides["torch"][key].astype(np.float64)),
                             initial=0.0))
        recorded = measured.get(key, {}).get("max_abs", 0.0) if key in measured or not records else None
        if recorded is None:
            continue  # a buffer (batch norm's running statistics) the drift is not measured on
        if found > recorded * (1 + DRIFT_SLACK):
            raise CheckpointError(f"torch/{key}: differs from the scratch side's by up to {found:.3g}, but the run "
                                  f"measured {recorded:.3g} when it saved them: the weights were changed since")

