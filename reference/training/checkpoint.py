"""A run's state between epochs, saved as a NumPy .npz without pickles, so a run can go on later.

One file holds both sides' weights, each under its own prefix with the keys load_state_dict
takes on either side ("scratch/0.weight", "torch/0.weight", ...), and, as JSON text, the run
config, the shuffler's random state, the epochs done and their records. np.load(path,
allow_pickle=False) reads it; nothing in it can run code.

A run also needs what its layers and optimizers keep besides the weights to continue step for
step: batch norm's running statistics are in the state dicts already; each side's optimizer state
(torch.optim's layout, reference.optimizers.scratch_state_dict for the torch side) is saved with
its arrays under "optimizer/<side>/<parameter index>/<name>" and the rest ("step", the param
groups) as JSON text under "optimizers"; each side's dropout generators' states under "generators".

A file is checked whole when it is read (reference.training.checkpoint_check), and "checksum" holds
the SHA-256 of every other member (its name, dtype, shape and bytes, in name order), written at save
time: a file changed or damaged since fails it, naming no field but the checksum. Files of format 2,
written before the checksum, are read without it: every other check still applies to them.
"""

import hashlib
import json
import zipfile
from dataclasses import asdict, dataclass, field

import numpy as np

from reference.atomic_file import write_atomically
from reference.training import checkpoint_check as checks
from reference.training.checkpoint_check import SIDES, CheckpointError
from reference.training.run_config import RunConfig

FORMAT = "scratch-nn checkpoint 3"  # 2: optimizer states and dropout generators; 3: the checksum
UNCHECKED_FORMATS = ("scratch-nn checkpoint 2",)  # read without a checksum (module docstring)
TEXT = ("format", "config", "epoch", "shuffler", "records", "optimizers", "generators")


@dataclass
class Checkpoint:
    config: RunConfig
    epoch: int  # epochs finished
    scratch: dict[str, np.ndarray]  # scratch network.state_dict()
    torch: dict[str, np.ndarray]  # the torch model's state, as NumPy arrays
    shuffler: dict  # numpy Generator.bit_generator.state after `epoch` epochs
    records: list[dict] = field(default_factory=list)  # EpochRecord.to_dict() of every epoch so far
    optimizers: dict = field(default_factory=dict)  # side -> its optimizer's state dict (NumPy arrays)
    generators: dict = field(default_factory=dict)  # side -> {layer index: dropout generator state}


def save(checkpoint: Checkpoint, path) -> None:
    """Write the checkpoint to path atomically (see atomic_file)."""
    arrays = {f"{side}/{key}": value for side in SIDES for key, value in getattr(checkpoint, side).items()}
    optimizers = {}
    for side, state_dict in checkpoint.optimizers.items():
        scalars = {}
        for index, entry in state_dict["state"].items():
            for name, value in entry.items():
                if isinstance(value, np.ndarray):
                    arrays[f"optimizer/{side}/{index}/{name}"] = value
                else:
                    scalars.setdefault(str(index), {})[name] = value
        optimizers[side] = {"scalars": scalars, "param_groups": state_dict["param_groups"]}
    text = {"format": FORMAT, "config": asdict(checkpoint.config), "epoch": checkpoint.epoch,
            "shuffler": checkpoint.shuffler, "records": checkpoint.records, "optimizers": optimizers,
            "generators": checkpoint.generators}
    arrays.update({name: np.array(json.dumps(value)) for name, value in text.items()})
    arrays["checksum"] = np.array(checksum(arrays))
    write_atomically(path, lambda stream: np.savez(stream, **arrays))


def checksum(members: dict[str, np.ndarray]) -> str:
    """SHA-256 over every member but the checksum: name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(members):
        if name != "checksum":
            value = np.ascontiguousarray(members[name])
            digest.update(f"{name}\0{value.dtype.str}\0{value.shape}\0".encode())
            digest.update(value.tobytes())
    return digest.hexdigest()


def load(path) -> Checkpoint:
    """Read a checkpoint written by save, checked whole; CheckpointError naming the field at fault
    if the file is missing, damaged or not one."""
    contents = read_members(path)
    if "format" not in contents or text_field(contents, "format") not in (FORMAT, *UNCHECKED_FORMATS):
        raise CheckpointError(f"format: not a checkpoint written by compare.py --save ({FORMAT})")
    if text_field(contents, "format") == FORMAT:
        if "checksum" not in contents or contents["checksum"].dtype.kind != "U" or contents["checksum"].shape:
            raise CheckpointError("checksum: missing; every checkpoint of this format is written with one")
        if str(contents["checksum"]) != checksum(contents):
            raise CheckpointError("checksum: does not match the contents: the file was changed or damaged "
                                  "since it was saved")
    unknown = [name for name in contents if name not in (*TEXT, "checksum")
               and not name.startswith(tuple(f"{prefix}/" for prefix in (*SIDES, "optimizer")))]
    if unknown:
        raise CheckpointError(f"{unknown[0]}: not a member of a checkpoint")
    text = {name: text_field(contents, name) for name in TEXT}
    arrays = {name: value for name, value in contents.items() if name not in (*TEXT, "checksum")}
    checks.check_arrays(arrays)
    config = checks.check_config(text["config"])
    sides = {side: {name.removeprefix(f"{side}/"): value for name, value in arrays.items()
                    if name.startswith(f"{side}/")} for side in SIDES}
    checks.check_sides(sides, config.dtype)
    records = checks.check_epochs(text["epoch"], text["records"])
    checks.check_shuffler(text["shuffler"])
    checks.check_drift(sides, records)
    optimizers = {side: optimizer_state(side, text["optimizers"], arrays) for side in SIDES}
    generators = text["generators"]
    if not (isinstance(generators, dict) and set(generators) == set(SIDES)
            and all(isinstance(states, dict) for states in generators.values())):
        raise CheckpointError("generators: expected each side's dropout generator states, by layer")
    return Checkpoint(config, text["epoch"], sides["scratch"], sides["torch"], text["shuffler"], text["records"],
                      optimizers, generators)


def read_members(path) -> dict[str, np.ndarray]:
    """Every member of the .npz, read without pickles; a member that cannot be read is named."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"cannot be read as a checkpoint: {error}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a single .npy array
        raise CheckpointError(f"not a checkpoint written by compare.py --save ({FORMAT})")
    contents = {}
    with archive:
        for name in archive.files:
            try:
                contents[name] = archive[name]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
                raise CheckpointError(f"{name}: cannot be read ({error})") from None
    return contents


def text_field(contents: dict, name: str):
    """The JSON value saved as text under name."""
    value = contents.get(name)
    if value is None:
        raise CheckpointError(f"{name}: missing")
    if value.dtype.kind != "U" or value.shape != ():
        raise CheckpointError(f"{name}: is {value.dtype}{value.shape}, expected JSON text")
    try:
        return json.loads(str(value))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{name}: not valid JSON ({error})") from None


def optimizer_state(side: str, saved: dict, arrays: dict) -> dict:
    """One side's optimizer state dict, its arrays and its scalars joined again (the network checks
    that it fits: TwinTraining)."""
    where = f"optimizers.{side}"
    entry = saved.get(side) if isinstance(saved, dict) else None
    if not (isinstance(entry, dict) and isinstance(entry.get("scalars"), dict)
            and isinstance(entry.get("param_groups"), list)
            and all(isinstance(group, dict) for group in entry["param_groups"])):
        raise CheckpointError(f"{where}: expected its scalars and param_groups")
    state = {}
    for index, scalars in entry["scalars"].items():
        if not (index.isdigit() and isinstance(scalars, dict)):
            raise CheckpointError(f"{where}.scalars.{index}: expected a parameter's index and its numbers")
        state[int(index)] = dict(scalars)
    for name, value in arrays.items():
        if name.startswith(f"optimizer/{side}/"):
            index, _, key = name.removeprefix(f"optimizer/{side}/").partition("/")
            if not index.isdigit() or not key or "/" in key:
                raise CheckpointError(f"{name}: not optimizer/<side>/<parameter index>/<name>")
            state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": entry["param_groups"]}
