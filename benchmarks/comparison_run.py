"""What a comparison run costs against the torch side training alone, measured in one process.

    python benchmarks/comparison_run.py                      # the default run (5 epochs of 50,000)
    python benchmarks/comparison_run.py --epochs 1 --train-limit 10000 --lockstep

For the default run's settings (compare.py with no options), in this order, each timed with the
wall clock: the torch side training alone (its SGD steps over the same batches, one thread, no
evaluation); the same with its evaluation on the three splits after every epoch; the whole
comparison with the sides in two processes (compare.py's default: training, evaluation, drift
and step check of both sides); the same in turn in one process (--concurrency sequential); and,
with --lockstep, the sequential run checking every step.
Prints each time and the ratios against torch alone; the goal is a comparison of at
most 1.15x torch alone. Times on a shared machine vary: --rounds N repeats the list and keeps
each one's best. Where other work holds the cores, the two processes cannot run at once and the
wall time says little; the CPU seconds of the busier process (this one, or the scratch process)
say what the wall time would be with a free core each, and are printed beside it.
"""

import argparse
import dataclasses
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference.optimizers import torch_optimizer  # noqa: E402
from reference.training.data import load_dataset, resolve_data_root  # noqa: E402
from reference.training.presets import PRESETS  # noqa: E402
from reference.training.run import TwinTraining, build_networks, limited  # noqa: E402
from reference.training.sides import TorchSide, epoch_batches, predict_torch, train_alone  # noqa: E402
from reference.twin import configure_determinism  # noqa: E402


def cpu_seconds(who=resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Clock:
    """Wall time, and CPU time of this process and of its finished children, over a `with` block."""

    def __enter__(self):
        self.start = (time.perf_counter(), cpu_seconds(), cpu_seconds(resource.RUSAGE_CHILDREN))
        return self

    def __exit__(self, *exc):
        wall, own, children = self.start
        self.wall = time.perf_counter() - wall
        self.cpu = cpu_seconds() - own
        self.children_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - children


def torch_alone(config, data, evaluate=False) -> float:
    """The torch side's training steps over the batches the comparison uses; with evaluate, also
    its predictions on the three splits after every epoch (what a torch-only compare.py would do)."""
    network, model = build_networks(config)
    train = limited(data.train, config.train_limit)
    optimizer = torch_optimizer(config.build_optimizer(network), model)
    side = TorchSide(model, config.loss, optimizer, train.images, train.labels, config.device)
    rng = np.random.default_rng(config.seed)
    for _ in range(config.epochs):
        train_alone(side, epoch_batches(len(train.labels), config.batch_size, rng))
        if evaluate:
            for split in (train, data.validation, data.test):
                predict_torch(model, split.images, config.device)


def comparison(config, data, **how) -> None:
    records = list(TwinTraining(config, **how).epochs(data))
    assert all(r.divergence.step_check_ok for r in records)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, help="default: the default run's 5")
    parser.add_argument("--train-limit", type=int, help="first N training images (default: all 50,000)")
    parser.add_argument("--lockstep", action="store_true", help="also time a --lockstep run")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--data-root")
    args = parser.parse_args()
    config = PRESETS["default"][1]
    config = dataclasses.replace(config, **{k: v for k, v in (("epochs", args.epochs),
                                                               ("train_limit", args.train_limit)) if v})
    configure_determinism()
    torch.set_num_threads(config.threads)
    data = load_dataset(config.dataset, resolve_data_root(args.data_root), np.dtype(config.dtype))
    runs = {"torch alone": lambda: torch_alone(config, data),
            "torch alone + evaluation": lambda: torch_alone(config, data, evaluate=True),
            "comparison, process": lambda: comparison(config, data, concurrency="process"),
            "comparison, sequential": lambda: comparison(config, data, concurrency="sequential")}
    if args.lockstep:
        runs["comparison, lockstep"] = lambda: comparison(config, data, lockstep=True)
    best = {name: float("inf") for name in runs}
    busiest = {name: float("inf") for name in runs}  # CPU seconds of the busier process: the wall time on free cores
    for round_ in range(args.rounds):
        for name, run in runs.items():
            with Clock() as clock:
                run()
            best[name] = min(best[name], clock.wall)
            busiest[name] = min(busiest[name], max(clock.cpu, clock.children_cpu))
            print(f"round {round_ + 1}: {name:<24} {clock.wall:7.2f} s wall, CPU {clock.cpu:6.2f} s here and "
                  f"{clock.children_cpu:6.2f} s in the scratch process", flush=True)
    print(f"\n{config.spec} {config.activation}, {config.dtype}, batch {config.batch_size}, {config.epochs} epoch(s) "
          f"of {config.train_limit or 50_000}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print("busiest CPU: the CPU seconds of the busier process, what the wall time would be with a free core each")
    alone, alone_cpu = best["torch alone"], busiest["torch alone"]
    for name, seconds in best.items():
        print(f"{name:<24} {seconds:7.2f} s wall  / torch alone = {seconds / alone:.2f}   busiest CPU "
              f"{busiest[name]:6.2f} s  / torch alone's = {busiest[name] / alone_cpu:.2f}")
    if args.lockstep:
        print(f"lockstep cost: {best['comparison, lockstep'] / best['comparison, process']:.2f}x the default "
              f"(process) run, {best['comparison, lockstep'] / best['comparison, sequential']:.2f}x a sequential run")


if __name__ == "__main__":
    main()
