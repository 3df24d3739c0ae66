"""Train the scratch NumPy network and its PyTorch twin side by side and report how they compare.

    python compare.py                          # MNIST, 784-128-10 sigmoid, 5 epochs
    python compare.py --preset paper-128-lr1   # one of the paper's experiments (--list-presets)
    python compare.py --dtype float64 --json run.json --plot run.png
    python compare.py check --help             # the gradient checker for your own layers

The data root (torchvision layout: <root>/MNIST/raw/...) comes from --data-root, else
$SCRATCH_NN_DATA_ROOT, else ./data.
"""

import argparse
import dataclasses
import sys

import numpy as np
import torch
from tqdm import tqdm

from reference import report
from reference.data import DataError, load_dataset, resolve_data_root
from reference.presets import PRESETS
from reference.training import DivergedError, Run, RunConfig, train_twins
from reference.twin import configure_determinism

EXIT_DISAGREE, EXIT_DATA, EXIT_DIVERGED = 1, 2, 3


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Exit status: 0 the twins agree, 1 they drifted past the tolerance, "
                                            "2 bad data or options, 3 training diverged.")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS), help="start from a named run")
    parser.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    run = parser.add_argument_group("run settings (override the preset)")
    for field in dataclasses.fields(RunConfig):
        option = "--" + field.name.replace("_", "-")
        kind = {int: int, float: float, int | None: int}.get(field.type, str)
        choices = {"dtype": ["float32", "float64"], "loss": ["cross_entropy", "mse"], "init": ["paper", "torch"],
                   "dataset": ["mnist", "fashion"]}.get(field.name)
        run.add_argument(option, type=kind, choices=choices, default=None, help=FIELD_HELP.get(field.name))
    data = parser.add_argument_group("data and output")
    data.add_argument("--data-root", help="torchvision-layout data root (default: $SCRATCH_NN_DATA_ROOT, else ./data)")
    data.add_argument("--download", action="store_true", help="let torchvision download the data (needs a network)")
    data.add_argument("--json", metavar="PATH", help="write the whole run (config, every epoch, verdict) as JSON")
    data.add_argument("--plot", metavar="PATH", help="write a PNG of the accuracy, loss and drift curves")
    data.add_argument("--no-progress", action="store_true", help="no progress bars (e.g. in logs)")
    return parser.parse_args(argv)


FIELD_HELP = {
    "spec": "layer sizes, e.g. 784-512-256-10",
    "activation": "hidden activation(s): sigmoid, relu, tanh, or one per hidden layer: relu,sigmoid",
    "output_activation": "activation on the output layer (e.g. sigmoid with --loss mse, as in the paper)",
    "loss": "softmax cross-entropy, or the paper's squared error 1/(2n) sum ||y - a||^2",
    "init": "paper: uniform in [-1, 1]; torch: torch.nn.Linear's default",
    "dtype": "float32 (default) or float64, on both sides",
    "device": "where the torch side runs: cpu, cuda, cuda:1 ...",
    "train_limit": "train on the first N training images only",
    "threads": "CPU threads for each side (default 1: see the README)",
}


def config_from(args) -> RunConfig:
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig)
                 if getattr(args, f.name) is not None}
    return dataclasses.replace(PRESETS[args.preset][1], **overrides)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:
        from reference.gradcheck import main as check_main
        return check_main(argv[1:], prog="python compare.py check")
    args = parse_args(argv)
    if args.list_presets:
        for name, (description, config) in PRESETS.items():
            print(f"{name:<26} {description}")
        return 0
    config = config_from(args)

    configure_determinism()
    if config.device != "cpu" and not torch.cuda.is_available():
        print(f"error: --device {config.device} asked for a GPU, but torch sees none here; use --device cpu",
              file=sys.stderr)
        return EXIT_DATA
    try:
        data = load_dataset(config.dataset, resolve_data_root(args.data_root), np.dtype(config.dtype), args.download)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_DATA

    def progress(epoch, batches):
        return tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False,
                    disable=args.no_progress, file=sys.stderr)

    print(report.describe_run(config))
    print(report.HEADER)
    run = Run(config)
    status, message = "finished", ""
    try:
        for record in train_twins(config, data, progress):
            run.epochs.append(record)
            tqdm.write(report.format_epoch(record), file=sys.stdout)
    except DivergedError as error:
        status, message = "diverged", str(error)
    except KeyboardInterrupt:
        status, message = "interrupted", "interrupted by the user"
    finally:  # whatever happened, what was measured is kept
        if args.json:
            report.write_json(run, args.json, status, message)
        if args.plot and run.epochs:
            report.plot(run, args.plot)
    if status != "finished":
        print(f"\n{message}", file=sys.stderr)
        return EXIT_DIVERGED if status == "diverged" else 130
    ok, text = report.verdict(run)
    print("\n" + text)
    for path, what in ((args.json, "JSON"), (args.plot, "plot")):
        if path:
            print(f"{what} written to {path}")
    return 0 if ok else EXIT_DISAGREE


if __name__ == "__main__":
    sys.exit(main())
