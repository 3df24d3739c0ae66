"""Train the scratch NumPy network and its PyTorch twin side by side and report how they compare.

    python compare.py                          # train: MNIST, 784-128-10 sigmoid, 5 epochs
    python compare.py --preset paper-128-lr1   # one of the paper's experiments (--list-presets)
    python compare.py --preset adam-128        # Adam (--optimizer; --dropout, --batch-norm: train --help)
    python compare.py --dtype float64 --json run.json --plot run.png --save run.npz
    python compare.py --resume run.npz --json run.json   # go on from the saved epoch
    python compare.py --implementation my_net.py:build --dtype float64   # your own network against torch
    python compare.py check layer my_layers.py:MyLinear   # one layer of your own (check --help: what else)
    python compare.py grade submissions/ --student-safe   # grade a folder, part by part

With no command, or with train options only, compare.py runs `train`. The data root
(torchvision layout: <root>/MNIST/raw/...) comes from --data-root, else $SCRATCH_NN_DATA_ROOT,
else ./data.
"""

# Only the command given has its options declared, and each command imports what does the work
# (torch among it) in its handler, so that --help answers without loading torch.

import argparse
import importlib
import signal
import sys
import traceback
from pathlib import Path

from reference.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    HelpFormatter,
    Parser,
    Terminated,
)
from reference.stop_signals import stop_signals_raise

COMMAND_NAMES = ("compare.py", "scratch-nn")  # the repository's script, and the installed console script
# Command -> (the module declaring its options, what it does).
COMMANDS = {
    "train": ("reference.cli.train_options", "train both sides side by side and report (the default)"),
    "check": ("reference.cli.check", "check your code (or scratch_nn's) against PyTorch and finite differences, "
                                     "part by part (check --help)"),
    "grade": ("reference.cli.grade", "grade a folder of submissions part by part, each isolated (grade --help)"),
}


def build_parser(argv) -> Parser:
    """compare.py's parser, with the options of argv's command (argv[0]) declared."""
    invoked = Path(sys.argv[0]).name  # usage and errors name the command the user typed
    prog = invoked if invoked in COMMAND_NAMES else COMMAND_NAMES[0]
    parser = Parser(prog=prog, description=__doc__, formatter_class=HelpFormatter)
    parser.set_defaults(prog=prog)
    if argv[:1] in (["-h"], ["--help"]):
        from reference.cli.train_options import EXIT_STATUS

        parser.epilog = EXIT_STATUS  # the default command's
    commands = parser.add_subparsers(dest="command", title="commands", metavar="{" + ",".join(COMMANDS) + "}")
    for name, (module, words) in COMMANDS.items():
        command = commands.add_parser(name, help=words, formatter_class=HelpFormatter,
                                      description=__doc__.split("\n\n")[0] if name == "train" else None)
        if argv[:1] == [name]:
            importlib.import_module(module).add_arguments(command, argv[1:])
    commands.choices["train"].set_defaults(handler=_train)  # check and grade give their own
    return parser


def _train(args) -> int:
    from reference.cli.train import train_command  # here: the run imports torch

    return train_command(args)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] not in ([name] for name in (*COMMANDS, "-h", "--help")):
        argv = ["train", *argv]  # train is the default command
    parser = build_parser(argv)
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # said by the (sub-)command's parser, whose --help lists what it takes
            _chosen(parser, argv).error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exit:  # argparse has printed the help, or the problem in one line
        return exit.code
    with stop_signals_raise(Terminated, (signal.SIGTERM,)):  # SIGTERM stops a run as Ctrl-C does
        try:
            return args.handler(args)
        except (KeyboardInterrupt, Terminated) as stop:  # before training started, or while stopping
            interrupted = isinstance(stop, KeyboardInterrupt)
            print(f"\n{'interrupted' if interrupted else 'terminated'}", file=sys.stderr)
            return EXIT_INTERRUPTED if interrupted else EXIT_TERMINATED
        except Exception:  # a bug of this tool: never the exit status 1, which says the code compared disagrees
            traceback.print_exc()
            print(f"{args.prog}: error: stopped by the unexpected error above (exit status {EXIT_FAILED})",
                  file=sys.stderr)
            return EXIT_FAILED


def _chosen(parser, argv):
    """The parser of the (sub-)command argv names: compare.py check layer ... -> check layer's."""
    for word in argv:
        commands = next((action for action in parser._actions if isinstance(action, argparse._SubParsersAction)),
                        None)
        if commands is None or word not in commands.choices:
            return parser
        parser = commands.choices[word]
    return parser
