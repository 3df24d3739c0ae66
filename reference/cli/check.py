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
import re
import sys

from reference.choices import DEFAULT_SIZES
from reference.cli.common import EXIT_BAD_INPUT, HelpFormatter

EXIT_AGREE, EXIT_DISAGREE, EXIT_CANNOT_RUN, EXIT_OUTPUT_FAILED, EXIT_INTERRUPTED = 0, 1, EXIT_BAD_INPUT, 4, 130

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
       probing cannot tell (the one line names the flag that settles it), or a check that needs
       more memory than there is (or than --max-memory)
  4    the check ran (its table printed) but its --json could not be written, or the checker
       itself failed
  130  interrupted (Ctrl-C)
  143  terminated (SIGTERM)"""


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
    from reference import memory
    from reference.adapters.errors import KeywordError
    from reference.atomic_file import write_atomically
    from reference.outputs import output_problems
    from reference.twin import configure_determinism

    prog = f"{args.prog} check {args.kind}"
    if args.watch:
        from reference.cli.watch import watch

        return watch(args, run)
    try:
        configure_determinism()
        for problem in output_problems({"json": args.json}):  # reference.outputs, as train's and grade's
            raise ValueError(f"--json {problem.path}: {problem.problem}")
        if problem := memory.memory_problem(_memory_needed(args), args.max_memory):
            raise ValueError(f"the check {problem}")
        report = args.check(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exit:  # the code under check called sys.exit
        return _cannot_run(prog, f"the code under check called sys.exit({exit.code!r})")
    except Exception as error:  # noqa: BLE001 - whatever stops the check is said in one line, exit 2
        if isinstance(error, KeywordError):  # the keywords it names, as this command's flags
            return _cannot_run(prog, error.worded(args.keyword_flags))
        return _cannot_run(prog, str(error) if isinstance(error, (ValueError, TypeError)) else
                           f"{type(error).__name__}: {error}")
    print(report.table())
    if args.json:
        text = json.dumps(report.to_dict(), indent=2) + "\n"
        try:
            write_atomically(args.json, lambda stream: stream.write(text.encode()))
        except OSError as error:
            print(f"{prog}: error: could not write --json {args.json}: {error.strerror or error}", file=sys.stderr)
            return EXIT_OUTPUT_FAILED
        print(f"\nThe report is in {args.json}.")
    return EXIT_AGREE if report.ok else EXIT_DISAGREE


def _cannot_run(prog, message) -> int:
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)  # one line, whatever the message holds
    return EXIT_CANNOT_RUN


def _memory_needed(args) -> int:
    """An upper bound of the check's memory (reference.memory) from the sizes the options give: a
    layer's --in and --out (or a pair's --in-shape, --out and --kernel), or a network's --spec."""
    import numpy as np

    import scratch_nn
    from reference import memory

    itemsize = np.dtype(getattr(args, "dtype", "float64")).itemsize
    batch = getattr(args, "batch_size", 8)
    in_shape, in_features, out_features = (getattr(args, name, None) for name in ("in_shape", "in_features",
                                                                                   "out_features"))
    if in_shape:  # a conv or max-pool pair: at most F x C x K x K weights, F x padded image outputs
        channels, height, width = in_shape
        filters, kernel, pad = out_features or 1, args.kernel or 3, args.pad or 1
        padded = (height + 2 * pad) * (width + 2 * pad)
        return memory.check_bytes(filters * (channels * kernel * kernel + 1),
                                  batch * (channels * height * width + filters * padded), itemsize)
    if args.kind == "layer":
        features_in, features_out = in_features or DEFAULT_SIZES[0], out_features or DEFAULT_SIZES[1]
        return memory.check_bytes(features_in * features_out + features_out, batch * (features_in + features_out),
                                  itemsize)
    spec = getattr(args, "spec", None)
    if args.kind not in ("network", "implementation") or not isinstance(spec, str) or \
            not re.fullmatch(r"\d+(-\d+)+", spec):
        return memory.BASE_BYTES  # sizes found from the user's object, or a spec refused later as it is
    sizes = [int(size) for size in spec.split("-")]
    parameters, outputs = memory.layer_shapes(scratch_nn.Spec((sizes[0],), tuple(sizes[1:]), ()))
    return memory.check_bytes(parameters, batch * (sizes[0] + sum(outputs)), itemsize)
