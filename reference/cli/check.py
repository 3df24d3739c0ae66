"""`compare.py check KIND`: the gradient checker's command line, one sub-command per kind of code.

    compare.py check network [--spec 784-32-10] [--optimizer adam]   scratch_nn's network from a spec
    compare.py check layer my_layers.py:MyLinear [--layout in_out]    one layer class (or functional pair)
    compare.py check implementation my_net.py:build                   your own network of layers, from build()
    compare.py check whole-network network.py:Network                 a whole network in one object
    compare.py check engine micrograd.py:Value                        a scalar autograd engine
    compare.py check update-rule optim.py:adam                        an optimizer as update rules

Each sub-command's parser holds only the options that apply to it, so an option that does not fit
is argparse's one-line error. Only the chosen sub-command's options are declared, and the modules
that check (and torch) are imported in its handler, so --help answers without loading torch.

Exit status: 0 every part agrees, 1 something disagrees, 2 the check could not run (bad options, a
module that cannot be imported, a class that cannot be built, conventions probing cannot tell: the
one line names the flag that settles it), 130 interrupted.
"""

import importlib
import json
import sys
from pathlib import Path

from reference.cli.common import EXIT_BAD_INPUT, HelpFormatter, unwritable

EXIT_AGREE, EXIT_DISAGREE, EXIT_CANNOT_RUN, EXIT_INTERRUPTED = 0, 1, EXIT_BAD_INPUT, 130

# Sub-command -> (the module declaring its options and running it, what it checks).
KINDS = {
    "network": ("reference.cli.check_network", "scratch_nn's network built from --spec: every layer, the loss and "
                                               "several optimizer steps"),
    "layer": ("reference.cli.check_own_code", "one layer class of your own, or a functional pair, in its own "
                                              "conventions (found by probing)"),
    "implementation": ("reference.cli.check_implementation", "your own network of layers, as build() in your file "
                                                              "returns it"),
    "whole-network": ("reference.cli.check_whole_network", "a whole network in one object, with no layer objects "
                                                           "(Nielsen's network.py, CS231n's TwoLayerNet)"),
    "engine": ("reference.cli.check_engine", "a scalar autograd engine (micrograd's Value) and the MLP beside it"),
    "update-rule": ("reference.cli.check_update_rule", "an optimizer of your own as update rules (CS231n's optim.py)"),
}
HELP = "check your code (or scratch_nn's) against PyTorch and finite differences (check --help)"
EPILOG = """exit status:
  0    every part agrees
  1    something disagrees (the table says what, and where it is likely to come from)
  2    the check cannot run: a bad option value, a --json path that cannot be written, a module
       that cannot be imported, a class whose constructor raises, or code whose conventions
       probing cannot tell (the one line names the flag that settles it)
  130  interrupted (Ctrl-C)"""


def add_arguments(parser, argv) -> None:
    """check's sub-commands on parser; only argv's (the one chosen, if any) gets its options."""
    parser.description = ("Check code against PyTorch and finite differences, part by part, and name the first "
                          "part that disagrees. One sub-command per kind of code (KIND --help: its options):\n\n"
                          + __doc__.split("\n\n")[1])
    parser.epilog = EPILOG
    kinds = parser.add_subparsers(dest="kind", title="what to check", metavar="{" + ",".join(KINDS) + "}",
                                  required=True)
    for name, (module, words) in KINDS.items():
        kind = kinds.add_parser(name, help=words, description=words[0].upper() + words[1:] + ".", epilog=EPILOG,
                                formatter_class=HelpFormatter)
        if argv[:1] == [name]:
            importlib.import_module(module).add_arguments(kind)
            kind.set_defaults(handler=run)


def run(args) -> int:
    """Run the check the sub-command asks for (args.check) and print its table; return the exit status.
    Every failure to run is one line on stderr, never a traceback."""
    from reference.adapters.keywords import as_flags  # here: the checker imports torch
    from reference.twin import configure_determinism

    prog = f"{args.prog} check {args.kind}"
    if args.watch:
        from reference.cli.watch import watch

        return watch(args, run)
    try:
        configure_determinism()
        if args.json and (problem := unwritable(args.json)):
            raise ValueError(f"--json {args.json}: {problem}")
        report = args.check(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exit:  # the code under check called sys.exit
        return _cannot_run(prog, f"the code under check called sys.exit({exit.code!r})")
    except Exception as error:  # noqa: BLE001 - whatever stops the check is said in one line, exit 2
        worded = as_flags(str(error), args.keyword_flags)
        return _cannot_run(prog, worded if isinstance(error, (ValueError, TypeError)) else
                           f"{type(error).__name__}: {error}")
    print(report.table())
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        except OSError as error:
            return _cannot_run(prog, f"could not write --json {args.json}: {error.strerror or error}")
        print(f"\nThe report is in {args.json}.")
    return EXIT_AGREE if report.ok else EXIT_DISAGREE


def _cannot_run(prog, message) -> int:
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)  # one line, whatever the message holds
    return EXIT_CANNOT_RUN
