"""How fast is the scratch network next to PyTorch? One training step (forward, loss, backward,
SGD update) on both sides, in the same process, with the same weights and batches.

    python benchmarks/speed.py [--threads 1] [--repeats 5] [--device cpu]

Prints milliseconds per step for each side and the ratio scratch / torch (above 1: scratch is
slower). Each measurement is the best of --repeats rounds of 50 steps, the two sides alternating
round by round so that machine noise falls on both alike.
"""

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from reference.twin import configure_determinism, torch_loss, torch_model
from scratch_nn import SGD, SoftmaxCrossEntropy, build_network

CASES = [(spec, dtype, batch) for spec in ("784-128-10", "784-512-10", "784-512-256-128-10")
         for dtype in ("float32", "float64") for batch in (32, 256)]
STEPS = 50


def scratch_round(network, optimizer, loss, batches):
    for x, y in batches:
        loss.forward(network.forward(x), y)
        network.backward(loss.backward())
        optimizer.step()


def torch_round(model, optimizer, loss, batches, device):
    for x, y in batches:
        optimizer.zero_grad(set_to_none=True)
        loss(model(x), y).backward()
        optimizer.step()
    if device != "cpu":
        torch.cuda.synchronize()


def ms_per_step(run):
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) / STEPS * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for each side")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="where the torch side runs")
    args = parser.parse_args()
    configure_determinism()
    torch.set_num_threads(args.threads)
    print(f"NumPy {np.__version__} (CPU, {args.threads} thread(s)) vs torch {torch.__version__} ({args.device}); "
          f"ms per training step, best of {args.repeats} x {STEPS} steps")
    print(f"{'network':<20} {'dtype':<8} {'batch':>5} {'scratch':>9} {'torch':>9} {'scratch/torch':>14}")
    rng = np.random.default_rng(0)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for spec, dtype, batch in CASES:
            network = build_network(spec, "sigmoid", dtype=np.dtype(dtype))
            model = torch_model(network, device=args.device)
            loss = SoftmaxCrossEntropy()
            batches = [(rng.random((batch, 784)).astype(dtype), rng.integers(0, 10, batch)) for _ in range(STEPS)]
            torch_batches = [(torch.from_numpy(x).to(args.device), torch.from_numpy(y).to(args.device))
                             for x, y in batches]
            optimizer, twin_optimizer = SGD(network, 0.01), torch.optim.SGD(model.parameters(), lr=0.01)
            ours = lambda: scratch_round(network, optimizer, loss, batches)  # noqa: E731
            theirs = lambda: torch_round(model, twin_optimizer, torch_loss(loss), torch_batches, args.device)  # noqa: E731
            ours(), theirs()  # warm-up
            scratch_ms, torch_ms = zip(*[(ms_per_step(ours), ms_per_step(theirs)) for _ in range(args.repeats)])
            print(f"{spec:<20} {dtype:<8} {batch:>5} {min(scratch_ms):>9.3f} {min(torch_ms):>9.3f} "
                  f"{min(scratch_ms) / min(torch_ms):>14.2f}")


if __name__ == "__main__":
    main()
