"""How fast is the scratch network next to PyTorch? Whole training epochs of both sides in the
same process, one thread each, as compare.py trains them; the goals beside them.

    python benchmarks/speed.py [--examples 50000] [--rounds 3] [--no-memory]

One epoch: 784-128-10 sigmoid, softmax cross-entropy, SGD over synthetic data of MNIST's shape,
at batch 32, 128 and 512 in float32 and float64. Each time is the best of --rounds epochs, the
two sides alternating epoch by epoch so that machine noise falls on both alike. Every ratio is
scratch / torch (below 1: scratch is faster).

Two floors beside each ratio, over the same torch epoch. Bare NumPy: the same epoch written as
bare NumPy calls (benchmarks/epochs.py: no layers, checks or optimizer objects), timed with the
sides; what any NumPy network costs. Products alone: NumPy's time for the epoch's matrix
products by themselves (forward, weight gradients, and input gradients of every layer but the
first, at the epoch's shapes, on operands kept in cache); what NumPy's BLAS costs.

GEMM bound (batch 512, float32): the same FLOPs divided by the best one-thread matrix-multiply
rate (1024x1024x1024, NumPy's BLAS or torch's) measured in this run; the scratch epoch's time
over that is how near the hardware it runs.

Also the cost of the scratch side's guard against in-place changes to an input batch after
forward: the copy the first layer keeps of a writeable batch (read-only batches are kept as
they are, as the timings above pass them).

Memory: each side trains one epoch in a process of its own (benchmarks/memory.py); the rise of
its peak resident memory over what it held with the data loaded.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from epochs import SIDES, SPEC, bare_numpy_side, epoch_order, synthetic_mnist
from threadpoolctl import threadpool_limits

GOALS = {32: 0.5, 128: 0.75, 512: 0.9}  # scratch/torch time per epoch
GEMM_BOUND_GOAL = 0.6
GEMM_SIZE = 1024


def seconds(run, *args) -> float:
    start = time.perf_counter()
    run(*args)
    return time.perf_counter() - start


def epoch_times(dtype, batch, examples, rounds) -> dict[str, float]:
    """Best epoch time of each side and of bare NumPy, the three alternating."""
    images, labels = synthetic_mnist(examples, dtype)
    batches = epoch_order(examples, batch)
    runs = {side: make(dtype) for side, make in {**SIDES, "bare": bare_numpy_side}.items()}
    times = {side: [] for side in runs}
    for _ in range(rounds):
        for side, run in runs.items():
            times[side].append(seconds(run, images, labels, batches))
    return {side: min(t) for side, t in times.items()}


def input_copy_cost(dtype, batch, examples, rounds) -> float:
    """Scratch epoch time with writeable batches (which the first layer copies, so that a later
    in-place change cannot alter backward) over that with read-only batches (kept as they are)."""
    images, labels = synthetic_mnist(examples, dtype)
    batches = epoch_order(examples, batch)
    runs = [SIDES["scratch"](dtype, read_only_batches=False), SIDES["scratch"](dtype)]
    times = [[seconds(run, images, labels, batches) for run in runs] for _ in range(rounds)]
    copied, kept = (min(t) for t in zip(*times))
    return copied / kept


def layer_sizes() -> list[tuple[int, int]]:
    sizes = [int(s) for s in SPEC.split("-")]
    return list(zip(sizes, sizes[1:]))


def matmul_flops(examples: int) -> int:
    """2 m n k for every product in an epoch: forward (x W^T) and weight gradient (G^T x) of each
    layer, input gradient (G W) of every layer but the first."""
    per_example = sum(2 * 2 * n_in * n_out for n_in, n_out in layer_sizes())
    per_example += sum(2 * n_in * n_out for n_in, n_out in layer_sizes()[1:])
    return per_example * examples


def matmul_seconds(dtype, batch, examples, rounds) -> float:
    """NumPy's best time for the matrix products of one epoch alone (those matmul_flops counts), as
    the scratch layers write them, with the epoch's batches."""
    rng = np.random.default_rng(0)

    def products(n):
        for first, (n_in, n_out) in enumerate(layer_sizes()):
            x, weight, grad = (rng.random(shape, dtype=np.dtype(dtype).type)
                               for shape in ((n, n_in), (n_out, n_in), (n, n_out)))
            yield x, weight.T
            yield grad.T, x
            if first:
                yield grad, weight

    full, last = divmod(examples, batch)
    epoch = [(list(products(batch)), full), (list(products(last)), 1 if last else 0)]

    def run():
        for pairs, steps in epoch:
            for _ in range(steps):
                for a, b in pairs:
                    a @ b

    return min(seconds(run) for _ in range(rounds))


def gemm_rate(dtype="float32", repeats=20) -> dict[str, float]:
    """FLOP/s of one square GEMM, best of repeats, for NumPy and for torch (one thread each)."""
    a, b = (np.random.default_rng(i).random((GEMM_SIZE, GEMM_SIZE), dtype=np.dtype(dtype).type) for i in (1, 2))
    a_t, b_t = torch.from_numpy(a), torch.from_numpy(b)
    flops = 2 * GEMM_SIZE**3
    return {"NumPy": flops / min(seconds(np.matmul, a, b) for _ in range(repeats)),
            "torch": flops / min(seconds(torch.mm, a_t, b_t) for _ in range(repeats))}


def peak_memory(side, batch, dtype, examples) -> dict:
    script = Path(__file__).with_name("memory.py")
    command = [sys.executable, str(script), side, "--batch", str(batch), "--dtype", dtype, "--examples", str(examples)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50_000, help="examples per epoch (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="epochs per side; the best counts (default: %(default)s)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory processes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"NumPy {np.__version__} vs torch {torch.__version__}, CPU, one thread each. One epoch of "
          f"{args.examples:,} examples, {SPEC} sigmoid, softmax cross-entropy, SGD; best of {args.rounds}.")
    print(f"{'dtype':<8} {'batch':>5} {'scratch s':>10} {'torch s':>8} {'scratch/torch':>14} {'goal':>7}"
          f"          floors over torch: {'bare NumPy':>10} {'products alone':>14}")
    scratch_seconds = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for dtype in ("float32", "float64"):
            for batch, goal in GOALS.items():
                t = epoch_times(dtype, batch, args.examples, args.rounds)
                ratio = t["scratch"] / t["torch"]
                verdict = "met" if ratio <= goal else "missed"
                products = matmul_seconds(dtype, batch, args.examples, args.rounds)
                print(f"{dtype:<8} {batch:>5} {t['scratch']:>10.3f} {t['torch']:>8.3f} {ratio:>14.2f} "
                      f"{'<= ' + str(goal):>7} {verdict:<8} {'':>18} {t['bare'] / t['torch']:>10.2f} "
                      f"{products / t['torch']:>14.2f}")
                scratch_seconds[dtype, batch] = t["scratch"]
        rates = gemm_rate()
        copy_costs = {batch: input_copy_cost("float32", batch, args.examples, args.rounds) for batch in (32, 512)}
    flops = matmul_flops(args.examples)
    best = max(rates.values())
    bound_epoch = scratch_seconds["float32", 512]
    fraction = flops / best / bound_epoch
    print(f"\nGEMM bound, batch 512 float32: {flops / 1e9:.2f} GFLOP of matrix products per epoch; one-thread "
          f"{GEMM_SIZE}^3 GEMM " + ", ".join(f"{name} {rate / 1e9:.0f}" for name, rate in rates.items())
          + f" GFLOP/s, so at best {flops / best:.3f} s; scratch took {bound_epoch:.3f} s = "
          f"{fraction:.0%} of the bound (goal >= {GEMM_BOUND_GOAL:.0%}: "
          f"{'met' if fraction >= GEMM_BOUND_GOAL else 'missed'})")
    print("\nCost of copying writeable input batches (scratch epoch time, writeable / read-only): "
          + ", ".join(f"batch {batch} float32 {cost:.3f}" for batch, cost in copy_costs.items()))
    if args.no_memory:
        return
    print("\nPeak resident memory of one training epoch, each side in its own process, batch 512:")
    for dtype in ("float32", "float64"):
        rise = {side: peak_memory(side, 512, dtype, args.examples) for side in SIDES}
        data = rise["scratch"]["data_mib"]
        print(f"{dtype:<8} data {data:6.1f} MiB; rise above it: " + ", ".join(
            f"{side} {r['increase_mib']:.1f} MiB" for side, r in rise.items())
            + f"; scratch/torch {rise['scratch']['increase_mib'] / rise['torch']['increase_mib']:.2f}")


if __name__ == "__main__":
    main()
