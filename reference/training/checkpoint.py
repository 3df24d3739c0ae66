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
"""

import json
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from reference.atomic_file import write_atomically
from reference.training.run_config import RunConfig

FORMAT = "scratch-nn checkpoint 2"  # 2: optimizer states and dropout generators
SIDES = ("scratch", "torch")


class CheckpointError(ValueError):
    """The file is not a checkpoint this version can continue from; the message says why."""


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
    write_atomically(path, lambda stream: np.savez(stream, **arrays))


def load(path) -> Checkpoint:
    """Read a checkpoint written by save; CheckpointError if the file is missing or not one."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise CheckpointError(f"cannot be read as a checkpoint: {error}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a single .npy array
        raise CheckpointError(f"not a checkpoint written by compare.py --save ({FORMAT})")
    with archive:
        contents = {name: archive[name] for name in archive.files}
    if "format" not in contents or json.loads(str(contents["format"])) != FORMAT:
        raise CheckpointError(f"not a checkpoint written by compare.py --save ({FORMAT})")
    text = {name: json.loads(str(contents[name]))
            for name in ("config", "epoch", "shuffler", "records", "optimizers", "generators")}
    known = {f.name for f in fields(RunConfig)}
    if set(text["config"]) != known:
        raise CheckpointError(f"saved with other run settings ({sorted(set(text['config']) ^ known)} "
                              f"differ from this version's): it cannot be continued here")
    sides = {side: {name.removeprefix(f"{side}/"): value for name, value in contents.items()
                    if name.startswith(f"{side}/")} for side in SIDES}
    optimizers = {}
    for side, saved in text["optimizers"].items():
        state = {int(index): dict(scalars) for index, scalars in saved["scalars"].items()}
        for name, value in contents.items():
            if name.startswith(f"optimizer/{side}/"):
                index, key = name.removeprefix(f"optimizer/{side}/").split("/")
                state.setdefault(int(index), {})[key] = value
        optimizers[side] = {"state": state, "param_groups": saved["param_groups"]}
    return Checkpoint(RunConfig(**text["config"]), text["epoch"], sides["scratch"], sides["torch"],
                      text["shuffler"], text["records"], optimizers, text["generators"])
