"""How fast is the scratch CNN next to PyTorch? One training step (forward, loss, backward, SGD
update) of the small MNIST CNN on both sides, in the same process, same weights and batches.

    python benchmarks/conv.py [--threads 1] [--repeats 5] [--batch 32]

Prints milliseconds per step for each side and the ratio scratch / torch (above 1: scratch is
slower), and the same for the forward pass alone. Each measurement is the best of --repeats
rounds of --steps steps, the two sides alternating round by round.
"""

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from reference.twin import configure_determinism, torch_loss, torch_model
from scratch_nn import SGD, SoftmaxCrossEntropy, build_network

SPEC = "1x28x28-conv8k5-pool2-conv16k5-pool2-120-10"


def scratch_round(network, optimizer, loss, batches):
    for x, y in batches:
        loss.forward(network.forward(x), y)
        network.backward(loss.backward())
        optimizer.step()


def torch_round(model, optimizer, loss, batches):
    for x, y in batches:
        optimizer.zero_grad(set_to_none=True)
        loss(model(x), y).backward()
        optimizer.step()


def ms_per_step(run, steps):
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) / steps * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for each side")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--spec", default=SPEC)
    parser.add_argument("--steps", type=int, default=50, help="steps per round (default %(default)s)")
    args = parser.parse_args()
    configure_determinism()
    torch.set_num_threads(args.threads)
    print(f"{args.spec} relu, torch init, batch {args.batch}; NumPy {np.__version__} vs torch {torch.__version__} "
          f"(CPU, {args.threads} thread(s) each); ms, best of {args.repeats} x {args.steps} steps")
    print(f"{'dtype':<8} {'pass':<14} {'scratch':>9} {'torch':>9} {'scratch/torch':>14}")
    rng = np.random.default_rng(0)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for dtype in ("float32", "float64"):
            network = build_network(args.spec, "relu", init="torch", dtype=np.dtype(dtype))
            model = torch_model(network)
            loss = SoftmaxCrossEntropy()
            batches = [(rng.random((args.batch, 784)).astype(dtype), rng.integers(0, 10, args.batch))
                       for _ in range(args.steps)]
            torch_batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
            optimizer, twin_optimizer = SGD(network, 0.01), torch.optim.SGD(model.parameters(), lr=0.01)
            cases = {  # each run within this iteration, so the closures see this dtype's objects
                "training step": (lambda: scratch_round(network, optimizer, loss, batches),  # noqa: B023
                                  lambda: torch_round(model, twin_optimizer, torch_loss(loss), torch_batches)),  # noqa: B023
                "forward only": (lambda: [network.forward(x) for x, _ in batches],  # noqa: B023
                                 torch.no_grad()(lambda: [model(x) for x, _ in torch_batches])),  # noqa: B023
            }
            for name, (ours, theirs) in cases.items():
                ours(), theirs()  # warm-up
                scratch_ms, torch_ms = zip(*[(ms_per_step(ours, args.steps), ms_per_step(theirs, args.steps))
                                             for _ in range(args.repeats)])
                print(f"{dtype:<8} {name:<14} {min(scratch_ms):>9.3f} {min(torch_ms):>9.3f} "
                      f"{min(scratch_ms) / min(torch_ms):>14.2f}")


if __name__ == "__main__":
    main()
