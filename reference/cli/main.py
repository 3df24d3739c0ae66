"""Train the scratch NumPy network and its PyTorch twin side by side and report how they compare.

    python compare.py                          # train: MNIST, 784-128-10 sigmoid, 5 epochs
    python compare.py --preset paper-128-lr1   # one of the paper's experiments (--list-presets)
    python compare.py --preset adam-128        # Adam (--optimizer; --dropout, --batch-norm: train --help)
    python compare.py --dtype float64 --json run.json --plot run.png --save run.npz
    python compare.py --resume run.npz --json run.json   # go on from the saved epoch
    python compare.py check --help             # the gradient checker for your own layers
    python compare.py --implementation my_net.py:build --dtype float64   # your own network against torch
    python compare.py grade submissions/ --student-safe                  # grade a folder, part by part

With no command, or with train options only, compare.py runs `train`. The data root
(torchvision layout: <root>/MNIST/raw/...) comes from --data-root, else $SCRATCH_NN_DATA_ROOT,
else ./data.
"""

import sys
import traceback

from reference.cli import check as gradcheck_cli
from reference.cli.common import (
    HelpFormatter,
    Parser,
    Terminated,
    sigterm_raises_terminated,
)
from reference.cli.grade import add_grade_command
from reference.cli.train import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_STATUS,
    EXIT_TERMINATED,
    add_train_command,
)


def build_parser() -> Parser:
    parser = Parser(prog="compare.py", description=__doc__, formatter_class=HelpFormatter, epilog=EXIT_STATUS)
    commands = parser.add_subparsers(dest="command", title="commands", metavar="{train,check,grade}")
    add_train_command(commands, __doc__.split("\n\n")[0])
    add_check_command(commands)
    add_grade_command(commands)
    return parser


def add_check_command(commands) -> None:
    """`check`: the gradient checker, with reference.gradcheck's own options and exit statuses."""
    check = commands.add_parser("check", help="check every layer, the loss and the SGD step against PyTorch and "
                                              "finite differences (check --help)", formatter_class=HelpFormatter)
    gradcheck_cli.add_arguments(check)
    check.set_defaults(handler=gradcheck_cli.run)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] not in (["train"], ["check"], ["grade"], ["-h"], ["--help"]):
        argv = ["train", *argv]  # train is the default command
    args = build_parser().parse_args(argv)
    with sigterm_raises_terminated():
        try:
            return args.handler(args)
        except (KeyboardInterrupt, Terminated) as stop:  # before training started, or while stopping
            interrupted = isinstance(stop, KeyboardInterrupt)
            print(f"\n{'interrupted' if interrupted else 'terminated'}", file=sys.stderr)
            return EXIT_INTERRUPTED if interrupted else EXIT_TERMINATED
        except Exception:  # a bug of this tool: never the exit status 1, which says the code compared disagrees
            traceback.print_exc()
            print(f"{argv[0]}: error: stopped by the unexpected error above (exit status {EXIT_FAILED})",
                  file=sys.stderr)
            return EXIT_FAILED
