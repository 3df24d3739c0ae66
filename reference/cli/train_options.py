"""The options of `compare.py train`, declared plainly: one add_argument each, with its help, its
default (the default preset's value) and what it accepts. Values are checked together, before
any data loads, by RunConfig.validate (reference.training.run_config); argparse only parses them.
"""

import argparse

import scratch_nn
from reference.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED, memory_size
from reference.training.data import DATASETS
from reference.training.presets import PRESETS
from reference.training.run_config import CONCURRENCY, DTYPES, option

DEFAULT = PRESETS["default"][1]

EXIT_AGREE = 0
EXIT_DISAGREE = 1  # the twins drifted past the tolerance, or one step from identical weights differs
EXIT_DIVERGED = 3  # a side's loss became NaN or Inf

EXIT_STATUS = f"""exit status:
  {EXIT_AGREE}    the twins agree (JSON status "finished")
  {EXIT_DISAGREE}    they drifted past the tolerance, or one step disagrees ("finished")
  {EXIT_BAD_INPUT}    bad options, settings, output paths, checkpoint or data; nothing was trained
  {EXIT_DIVERGED}    training diverged: a loss became NaN or Inf ("diverged")
  {EXIT_FAILED}    the run failed with an unexpected error ("failed", with the error),
       or a finished run's JSON, --save file or plot could not be written
  {EXIT_INTERRUPTED}  interrupted with Ctrl-C ("interrupted")
  {EXIT_TERMINATED}  terminated by SIGTERM ("terminated")
Whatever the status, the JSON, the plot and the --save file keep every epoch that finished."""


def add_arguments(parser, argv) -> None:
    """`compare.py train`'s options on its parser (reference.cli.main gives it the handler: the run)."""
    parser.epilog = EXIT_STATUS
    add_train_arguments(parser)


def add_train_arguments(parser) -> None:
    """Every option of `compare.py train`, declared one by one, each with its help and default."""
    parser.add_argument("--preset", choices=sorted(PRESETS), metavar="NAME",
                        help="start from a named run (see --list-presets); options below override it "
                             "(default: default)")
    parser.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    run = parser.add_argument_group("run settings", "Each overrides the preset's value; the default shown is the "
                                                    "default preset's.")

    def setting(name, help, group=run, default=None, **kwargs):
        default = default or getattr(DEFAULT, name)
        group.add_argument(option(name), default=None,
                           help=f"{help} (default: {'none' if default is None else default})",
                           **kwargs)

    setting("spec", "layer sizes from input to output, e.g. 784-512-256-10, or a CNN: "
                    "1x28x28-conv8k5-pool2-conv16k5-pool2-120-10", metavar="SPEC")
    setting("activation", f"hidden activation, one of {', '.join(scratch_nn.ACTIVATIONS)}, or one per hidden "
                          f"layer: relu,sigmoid", metavar="NAMES")
    setting("output_activation", "activation on the output layer (e.g. sigmoid with --loss mse, as in the paper)",
            choices=sorted(scratch_nn.ACTIVATIONS))
    setting("loss", "softmax cross-entropy, the paper's squared error 1/(2n) sum ||y - a||^2, or binary "
                    "cross-entropy on one sigmoid unit (with --positive-class)",
            choices=sorted(scratch_nn.LOSSES))
    setting("init", "paper: uniform in [-1, 1]; torch: torch.nn.Linear's default",
            choices=sorted(scratch_nn.INITIALIZERS))
    setting("dtype", "floating-point type on both sides", choices=DTYPES)
    setting("batch_size", "examples per optimizer step", type=int, metavar="N")
    setting("lr", "learning rate of the optimizer", type=float)
    setting("epochs", "passes over the training images (with --resume: the total, counting those done)",
            type=int, metavar="N")
    setting("seed", "seeds the initial weights and the shuffler", type=int, metavar="N")
    setting("dataset", "which images", choices=DATASETS)
    setting("device", "where the torch side runs: cpu, cuda, cuda:1 ...")
    setting("train_limit", "train on the first N training images only; none: all 50,000", type=int,
            metavar="N")
    setting("positive_class", "one class against the rest: its images labelled 1, every other's 0 (for --loss "
                              "binary_cross_entropy)", type=int, metavar="CLASS")
    setting("threads", "CPU threads for each side (1: two thread pools on few cores slow each other)",
            type=int, metavar="N")
    setting("implementation", "your own network on the scratch side: a file and the function in it that builds "
                              "it, my_net.py:build (the contract: docs/train.md, 'Training your own implementation')",
            metavar="FILE.py:build")

    optimizer = parser.add_argument_group(
        "optimizer and regularization",
        "Both sides use the same optimizer (torch.optim's twin of scratch_nn's) with the "
        "same hyperparameters. A hyperparameter the optimizer does not have is refused; one not given is the "
        "optimizer's own default, torch's.")
    setting("optimizer", "sgd (plain), momentum or nesterov (SGD with momentum 0.9), adam, adamw, rmsprop",
            optimizer, choices=sorted(scratch_nn.OPTIMIZERS))
    torch_default = "the optimizer's, as torch's"
    setting("momentum", "momentum (momentum, nesterov: 0.9; rmsprop: 0)", optimizer, torch_default, type=float)
    setting("dampening", "dampening of the momentum buffer (momentum)", optimizer, torch_default, type=float)
    setting("weight_decay", "L2 penalty added to the gradient (adamw: decoupled, applied to the weights)", optimizer,
            "0; adamw 0.01", type=float)
    setting("betas", "Adam's decay rates of the moments, beta1,beta2 (adam, adamw)", optimizer, "0.9,0.999",
            type=betas, metavar="B1,B2")
    setting("eps", "added to the denominator, after the square root (adam, adamw, rmsprop)", optimizer, "1e-8",
            type=float)
    setting("alpha", "decay rate of the squared-gradient average (rmsprop)", optimizer, "0.99", type=float)
    setting("amsgrad", "use the maximum of the second moments (adam, adamw)", optimizer, "off",
            action="store_const", const=True)
    setting("centered", "divide by the gradient's estimated variance instead of its second moment (rmsprop)",
            optimizer, "off", action="store_const", const=True)
    setting("dropout", "drop probability P of a Dropout after every hidden activation (0: none); the same masks on "
            "both sides", optimizer, type=float, metavar="P")
    setting("batch_norm", "a BatchNorm1d after every hidden Linear (every batch then needs 2 examples or more)",
            optimizer, "off", action="store_const", const=True)

    how = parser.add_argument_group("how the sides run", "These change the time a run takes, never its numbers.")
    how.add_argument("--max-memory", type=memory_size, metavar="SIZE", help="refuse a run whose estimated memory "
                     "exceeds SIZE (512M, 4G), before any work (default: the machine's memory, or its control "
                     "group's limit)")
    how.add_argument("--concurrency", choices=CONCURRENCY, help="process: the scratch side in a process of its own, "
                     "training beside the torch side; sequential: the two in turn in one process "
                     "(default: process; sequential with --lockstep)")
    how.add_argument("--lockstep", action="store_true", help="after every step, the twin's step from the scratch "
                     "side's weights, judged by the one-step tolerance: the verdict proven over every step, and the "
                     "first step that disagrees located (about 2.2x the time of a sequential run; default: off)")

    files = parser.add_argument_group("data and output")
    files.add_argument("--data-root", metavar="PATH",
                       help="torchvision-layout data root (default: $SCRATCH_NN_DATA_ROOT, else ./data)")
    files.add_argument("--download", action="store_true", help="let torchvision download the data (needs a network)")
    files.add_argument("--json", metavar="PATH", help="the run's record (config, every epoch, status, verdict), "
                                                      "rewritten after every epoch (default: none)")
    files.add_argument("--plot", metavar="PATH.png", help="the figure of the accuracy, per-step loss and the sides' "
                                                          "differences, with the verdict: PNG, SVG or PDF by the "
                                                          "suffix; written when the run ends however it ends "
                                                          "(default: none)")
    files.add_argument("--save", metavar="PATH.npz", help="both sides' weights and the shuffler after the last "
                                                          "finished epoch, to --resume from (default: none)")
    files.add_argument("--save-every", type=int, metavar="N", help="also --save every N epochs during the run "
                                                                   "(default: only at the end)")
    files.add_argument("--resume", metavar="PATH.npz", help="continue the run saved in PATH.npz with the same "
                                                            "settings (default: start afresh)")
    files.add_argument("--no-progress", action="store_true", help="no progress bars, e.g. in logs (default: bars)")


def betas(text: str) -> tuple[float, float]:
    """--betas 0.9,0.999 -> (0.9, 0.999); the values are checked with the rest of the run's settings."""
    try:
        beta1, beta2 = (float(value) for value in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give two numbers separated by a comma, e.g. 0.9,0.999") from None
    return beta1, beta2
