"""How much memory a piece of work needs, estimated before it starts, and how much there is.

A spec that asks for more memory than the machine has would otherwise fail after the data loaded (a
MemoryError traceback) or be killed by the kernel's out-of-memory killer after taking every page.
The estimate is refused with its number when it exceeds the memory this process may use: the
machine's physical memory, or less where a control group (a container, a CI job) sets a limit, or
less again where the user gives --max-memory.

The estimates are upper bounds built from measured counts, not exact figures:
- a training run keeps many copies of the parameters: both sides' weights and gradients, up to
  three optimizer buffers a side (Adam with amsgrad), the step check's copies, the replay's start,
  the checkpoint and the scratch process's own. Measured (784-20000-10, Adam, --save, peak
  resident memory above a 784-10 run): 61 copies; RUN_PARAMETER_COPIES allows 64.
- evaluation runs EVAL_CHUNK examples at a time; each layer's output is kept on each side, with
  the activation's and the gradient's (ACTIVATION_COPIES per element of every layer's output).
- the images: every split in the run's dtype, and the bytes they are read from.
- a gradient check keeps fewer: the layer's weights and the batch's inputs and outputs, each on both
  sides, in finite differences' copies and in the optimizer steps checked. Measured (a Linear of
  100,000 x 100, float64, peak resident memory above a 10 x 10 one): 17 copies; CHECK_COPIES allows 24.
- every process holds the interpreter, NumPy and torch: BASE_BYTES (measured peak of the smallest run
  and the smallest check: 1.1 GiB).
"""

import math
import os
import re
from pathlib import Path

import numpy as np

from scratch_nn.conv import (  # scratch_nn's shape rules, not copies of them
    Conv2d,
    MaxPool2d,
)
from scratch_nn.spec import Pool

RUN_PARAMETER_COPIES = 64
ACTIVATION_COPIES = 8
CHECK_COPIES = 24
BASE_BYTES = 1 << 30
UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def machine_memory() -> int:
    """Bytes this process may use: physical memory, or a control group's lower limit."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def parse_size(text: str) -> int:
    """--max-memory 512M, 4G, 4GiB, 1.5g or a number of bytes -> bytes (argparse's type)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r}: give a size such as 512M, 4G or a number of bytes")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def memory_problem(needed: int, max_memory: int | None = None) -> str | None:
    """Why work needing `needed` bytes cannot start here, with both numbers; None if it can."""
    machine = machine_memory()
    limit = min(machine, max_memory) if max_memory else machine
    if needed <= limit:
        return None
    where = f"--max-memory {human(max_memory)}" if max_memory and max_memory < machine else \
        f"this machine's {human(machine)}"
    return f"needs about {human(needed)} of memory, more than {where}: use smaller layers"


def layer_shapes(spec) -> tuple[int, list[int]]:
    """A scratch_nn.Spec's parameter count and each layer's output size per example, found from the
    shapes alone (no weight is made), with scratch_nn's own layers computing every output shape."""
    shape, parameters, sizes = spec.input_shape, 0, []
    for layer in spec.layers:
        if isinstance(layer, Pool):
            shape = MaxPool2d(layer.kernel_size, layer.stride).output_shape(shape)
        elif isinstance(layer, int):
            parameters += math.prod(shape) * layer + layer
            shape = (layer,)
        else:
            weight = np.broadcast_to(np.zeros((), np.float32), (layer.out_channels, shape[0], *layer.kernel_size))
            parameters += weight.size + layer.out_channels
            shape = Conv2d(weight, np.zeros(layer.out_channels, np.float32), layer.stride,
                           layer.padding).output_shape(shape)
        sizes.append(math.prod(shape))
    return parameters, sizes


def training_bytes(spec, itemsize: int, examples: int, chunk: int) -> int:
    """Upper bound of a training run's memory (module docstring): the parameters' copies, the
    evaluation's activations on `chunk` examples, and `examples` images read and converted."""
    parameters, sizes = layer_shapes(spec)
    return BASE_BYTES + itemsize * (RUN_PARAMETER_COPIES * parameters + ACTIVATION_COPIES * chunk * sum(sizes)
                                    + examples * math.prod(spec.input_shape)) + examples * math.prod(spec.input_shape)


def check_bytes(parameters: int, activations: int, itemsize: int) -> int:
    """Upper bound of a gradient check's memory: `parameters` weights, `activations` elements of the
    batch's inputs and outputs (module docstring)."""
    return BASE_BYTES + itemsize * CHECK_COPIES * (parameters + activations)
