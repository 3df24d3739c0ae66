"""What capturing the torch side's step as a CUDA graph gains on a GPU (reference.training.cuda_graph).

    python benchmarks/cuda_graph.py [--examples 50000] [--rounds 3]

One epoch of the torch side as compare.py trains it (reference.training.sides.TorchSide: 784-128-10
sigmoid, softmax cross-entropy, SGD, synthetic data of MNIST's shape on the GPU), at batch 32,
128 and 512 in float32 and float64, every step eager or replayed from the graph; the best of
--rounds epochs, the two alternating. Prints both times and eager / graphed. Without a GPU it
says so and stops.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from epochs import LR, SPEC, synthetic_mnist  # noqa: E402

from reference.optimizers import torch_optimizer  # noqa: E402
from reference.training.sides import TorchSide, epoch_batches  # noqa: E402
from reference.twin import configure_determinism, torch_model  # noqa: E402
from scratch_nn import SGD, build_network  # noqa: E402


def torch_side(images, labels, dtype, cuda_graph) -> TorchSide:
    network = build_network(SPEC, "sigmoid", init="torch", dtype=np.dtype(dtype))
    model = torch_model(network, device="cuda")
    return TorchSide(model, "cross_entropy", torch_optimizer(SGD(network, LR), model), images, labels, "cuda",
                     cuda_graph=cuda_graph)


def epoch_seconds(side, batches) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    for index in batches:
        side.step(index)  # .item() on the loss waits for the step, as a run does
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50_000, help="examples per epoch (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="epochs per way; the best counts (default: %(default)s)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no GPU here (torch.cuda.is_available() is False): nothing to measure")
        return
    configure_determinism()
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}; one epoch of {args.examples:,} examples, "
          f"{SPEC} sigmoid, softmax cross-entropy, SGD; best of {args.rounds}.")
    print(f"{'dtype':<8} {'batch':>5} {'eager s':>8} {'graphed s':>10} {'eager/graphed':>14}")
    for dtype in ("float32", "float64"):
        images, labels = synthetic_mnist(args.examples, dtype)
        for batch in (32, 128, 512):
            batches = epoch_batches(args.examples, batch, np.random.default_rng(0))
            sides = {graph: torch_side(images, labels, dtype, graph) for graph in (False, True)}
            times = {graph: [] for graph in sides}
            for _ in range(args.rounds):
                for graph, side in sides.items():
                    times[graph].append(epoch_seconds(side, batches))
            best = {graph: min(seconds) for graph, seconds in times.items()}
            assert sides[True].graph is not None, "the step was not captured"
            print(f"{dtype:<8} {batch:>5} {best[False]:>8.3f} {best[True]:>10.3f} {best[False] / best[True]:>14.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
