"""How long does checking someone's own code take? Discovering the conventions of a 784-128-10
network written in the textbook style (tests/implementations/textbook.py: weights (in, out),
stateless backward that updates the weights itself, per-example loss on one-hot targets), then
the full check of every layer, the loss and the update against torch and finite differences.

    python benchmarks/discovery.py [--repeats 5] [--threads 1]

Prints the best of --repeats for discovery, for the check, and for both (the goal: under 2 s),
and the same check of scratch_nn's own network of that size, which needs no adapter, for scale.
"""

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import scratch_nn
from reference.adapters import adapt_network
from reference.gradcheck import check
from reference.twin import configure_determinism

SIZES = (784, 128, 10)
TEXTBOOK = Path(__file__).resolve().parent.parent / "tests" / "implementations" / "textbook.py"


def load(path):
    """A module from its file: the tests' implementations are no package of the project."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best(function, repeats):
    """(the shortest time of repeats calls, the last result)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (default %(default)s)")
    args = parser.parse_args(argv)
    configure_determinism()
    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        layers, loss = load(TEXTBOOK).network(SIZES)
        discovery, adapted = best(lambda: adapt_network(layers, loss, loss_twin="cross_entropy",
                                                        in_features=SIZES[0]), args.repeats)
        checking, report = best(lambda: check(adapted), args.repeats)
        assert report.ok, report.table()
        own = scratch_nn.build_network("-".join(map(str, SIZES)), "relu", init="torch", dtype=np.float64)
        scratch_check, _ = best(lambda: check(own, loss="cross_entropy"), args.repeats)
    print(adapted.describe())
    print(f"\n{'-'.join(map(str, SIZES))}, textbook style, float64, best of {args.repeats}:")
    print(f"  discovery          {discovery * 1e3:8.1f} ms")
    print(f"  check              {checking * 1e3:8.1f} ms")
    print(f"  both               {(discovery + checking) * 1e3:8.1f} ms   (goal: under 2000 ms)")
    print(f"  scratch_nn's own network, check alone: {scratch_check * 1e3:.1f} ms "
          f"(the adapter's overhead on the check: {checking / scratch_check:.2f}x)")


if __name__ == "__main__":
    main()
