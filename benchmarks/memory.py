"""Peak resident memory of one side's training epoch, in a process of its own.

    python benchmarks/memory.py scratch --batch 512 --dtype float32

Prints one JSON line: the data's size, and how far the process's peak resident set rose above
what it held once the data and the network existed (Linux: VmHWM, reset through
/proc/self/clear_refs). benchmarks/speed.py runs this once per side.
"""

import argparse
import json

from epochs import SIDES, epoch_order, synthetic_mnist
from threadpoolctl import threadpool_limits

MIB = 2**20


def status_bytes(field: str) -> int:
    """A 'kB' line of /proc/self/status, in bytes."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("side", choices=sorted(SIDES))
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--examples", type=int, default=50_000)
    args = parser.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):
        run = SIDES[args.side](args.dtype)
        if args.side == "torch":
            import torch  # already loaded by the torch side; one thread, as in speed.py
            torch.set_num_threads(1)
        images, labels = synthetic_mnist(args.examples, args.dtype)
        batches = epoch_order(args.examples, args.batch)
        before = status_bytes("VmRSS")
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # resets VmHWM, the peak, to the current resident set
        run(images, labels, batches)
        peak = status_bytes("VmHWM")
    print(json.dumps({"side": args.side, "data_mib": (images.nbytes + labels.nbytes) / MIB,
                      "increase_mib": (peak - before) / MIB}))


if __name__ == "__main__":
    main()
