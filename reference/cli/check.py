"""The gradient checker's command line, for `python -m reference.gradcheck` and `compare.py check`.

    add_arguments(parser)   adds every option to a parser (or a subcommand's parser)
    run(args)               runs the check the parsed options ask for; returns the exit status
    main(argv, prog)        both, for a command line of its own

Exit status: 0 every part agrees, 1 something disagrees, 2 the check could not run (bad
options, a module that cannot be imported, a class that cannot be built), 130 interrupted.
"""

import argparse
import inspect
import json
import math
import re
import sys

import numpy as np

import scratch_nn
from reference import memory
from reference.atomic_file import write_atomically
from reference.cli.check_engine import DEFAULT_SPEC as ENGINE_SPEC
from reference.cli.check_engine import add_engine_arguments, check_engine_file
from reference.cli.check_own_code import (
    PAIR_FLAGS,
    add_convention_arguments,
    as_flags,
    attribute,
    check_implementation,
    given_conventions,
    load_layer,
)
from reference.cli.check_update_rule import (
    add_update_rule_arguments,
    check_update_rule_file,
)
from reference.cli.check_whole_network import (
    NETWORK_FLAGS,
    add_network_arguments,
    check_network_file,
    network_flags,
)
from reference.cli.common import memory_size
from reference.gradcheck import (
    DEFAULT_SIZES,
    FD_SAMPLES,
    OPTIMIZER_STEPS,
    check,
    check_network,
)
from reference.gradcheck.own_code import PAIR_SETTINGS
from reference.gradcheck.update_rule import TWINS as UPDATE_RULE_TWINS
from reference.outputs import output_problems
from reference.twin import LAYERS_BY_TWIN_NAME, configure_determinism

DEFAULT_SPEC = "784-32-10"
NETWORK_ONLY_OUTPUTS = ("none",)  # output activations a --network may state; a spec's network has none of them

EXIT_AGREE, EXIT_DISAGREE, EXIT_CANNOT_RUN, EXIT_OUTPUT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 4, 130

DESCRIPTION = ("Check every layer, the loss and several optimizer steps of a network (or one layer of your own) "
               "against PyTorch and finite differences, and name the first that disagrees.")
EPILOG = ("Exit status: 0 when everything agrees; 1 when something disagrees; 2 when the check cannot run: a bad "
          "option value (e.g. --lr 0), a --json path that cannot be written, a --layer module that cannot be "
          "imported (a SyntaxError, a NameError or any other exception, or sys.exit, at import), a class whose "
          "constructor raises, an --engine class without backward(), or code whose conventions probing cannot tell (the one line names the flag that "
          "settles it, e.g. --layout), or a check that needs more memory than there is (or --max-memory); 4 when the "
          "check ran (its table printed) but its --json could not be written, or the checker itself failed; 130 when interrupted (Ctrl-C); 143 when "
          "terminated (SIGTERM).")

# The output activation each loss is taken after, where --output-activation is not given.
OUTPUT_FOR_LOSS = {"mse": "sigmoid", "probability_cross_entropy": "softmax"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every option of the check to parser (a parser of its own, or compare.py's subcommand)."""
    parser.description = parser.description or DESCRIPTION
    parser.epilog = parser.epilog or EPILOG
    parser.set_defaults(gradcheck_prog=parser.prog)
    network = parser.add_argument_group("a network built from a spec (the default)")
    network.add_argument("--spec", help=f"layer sizes (default {DEFAULT_SPEC}; with --engine {ENGINE_SPEC})")
    network.add_argument("--activation",
                         help="hidden activation(s), one or one per hidden layer, e.g. relu,tanh: "
                              f"{', '.join(scratch_nn.ACTIVATIONS)} (default sigmoid; with --network: found)")
    network.add_argument("--output-activation", choices=[*sorted(scratch_nn.ACTIVATIONS), *NETWORK_ONLY_OUTPUTS],
                         help="activation on the output (default: sigmoid with --loss mse, softmax with --loss "
                              "probability_cross_entropy, none otherwise; with --network: found, and none may be "
                              "given)")
    network.add_argument("--init", choices=[*sorted(scratch_nn.INITIALIZERS), "own"], default="torch",
                         help="initial weights (default %(default)s: keeps pre-activations O(1), so derivatives "
                              "are not all ~0; own: a --network's own weights)")
    network.add_argument("--loss", choices=[*scratch_nn.LOSSES, "none"],
                         help="loss to check on the network's output; with --implementation, what the loss build "
                              "returns computes (default cross_entropy; --network: see --cost)")
    network.add_argument("--implementation", metavar="FILE.py[:build]",
                         help="your own network instead of scratch_nn's: build(sizes, activations, lr, seed, ...) "
                              "in FILE.py returns its layers (and loss), in your conventions; called with --spec's "
                              "sizes, --activation, --lr and --seed (the contract: reference/adapters/loader.py)")
    layer = parser.add_argument_group("one layer class of your own (instead of a network)")
    layer.add_argument("--layer", metavar="MODULE:CLASS",
                       help="e.g. my_layers:MyLinear (importable), path/to/my_layers.py:MyLinear, or a functional "
                            "pair path/to/layers.py:affine_forward,affine_backward; built as scratch_nn builds its "
                            "layers (CLASS(weight, bias), CLASS()) or else as the adapters find: CLASS(in, out), "
                            "CLASS(in, out, lr), --factory (default: none, check a network)")
    layer.add_argument("--twin", choices=[*LAYERS_BY_TWIN_NAME, *UPDATE_RULE_TWINS],
                       help="what the layer computes, when it does not subclass a scratch_nn layer (default: "
                            "from its class, or its torch_twin attribute); for --update-rule, its torch.optim twin "
                            f"({', '.join(UPDATE_RULE_TWINS)})")
    layer.add_argument("--in", dest="in_features", type=_positive_int, metavar="N",
                       help=f"input features (default {DEFAULT_SIZES[0]})")
    layer.add_argument("--out", dest="out_features", type=_positive_int, metavar="N",
                       help=f"output features of a linear layer (default {DEFAULT_SIZES[1]})")
    pair = parser.add_argument_group(
        "a functional pair with a settings dict, as CS231n's layers.py (conv_forward_naive, max_pool_forward_naive, "
        "batchnorm_forward, dropout_forward): the dict is made from these; what the pair computes is found from "
        "its conv_param/pool_param/bn_param/dropout_param argument (or --twin conv2d|maxpool2d|batchnorm1d|dropout); "
        "--out is a conv's F, --in batch norm's and dropout's D")
    pair.add_argument("--in-shape", type=_positive_int, nargs=3, metavar=("C", "H", "W"),
                      help="the input images of a conv or max-pool pair (default 3 8 6)")
    pair.add_argument("--kernel", type=_positive_int, metavar="K", help="a conv's HH = WW (default 3)")
    pair.add_argument("--stride", type=_positive_int, metavar="S",
                      help="conv_param's or pool_param's stride (default 1 for a conv, the pool size for a max-pool)")
    pair.add_argument("--pad", type=_non_negative_int, metavar="P", help="conv_param's pad (default 1)")
    pair.add_argument("--pool", type=_positive_int, metavar="K", help="pool_height = pool_width (default 2)")
    pair.add_argument("--dropout-p", dest="p", type=_probability, metavar="P",
                      help="dropout_param's p, as your dropout_forward reads it (the probability of keeping a unit, "
                           "CS231n's, or of dropping one: found by experiment; default 0.7)")
    common = parser.add_argument_group("the check")
    common.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                        help="what the check builds in (default %(default)s)")
    common.add_argument("--batch-size", type=_positive_int, default=8, metavar="N",
                        help="rows of the checked batch (default %(default)s)")
    common.add_argument("--seed", type=int, default=0,
                        help="seed of the weights, inputs and samples (default %(default)s)")
    common.add_argument("--lr", type=_positive_float,
                        help="learning rate of the checked optimizer steps, a positive number; for your own layers "
                             "also the lr they are built with (CLASS(in, out, lr)) and, where backward updates the "
                             "weights itself, the lr it applies: the checked update is that one, so the two are one "
                             "number (default 0.1, or the lr the layers hold)")
    common.add_argument("--fd-samples", type=_positive_int, default=FD_SAMPLES, metavar="N",
                        help="entries of each tensor checked by finite differences (default %(default)s)")
    common.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH (default: none)")
    common.add_argument("--max-memory", type=memory_size, metavar="SIZE", help="refuse a check whose estimated "
                        "memory exceeds SIZE (512M, 4G), before it starts (default: the machine's memory)")
    optimizer = parser.add_argument_group("the optimizer, checked over several steps against its torch.optim twin")
    optimizer.add_argument("--optimizer", choices=[*scratch_nn.OPTIMIZERS, "none"],
                           help="scratch_nn's optimizer to check (default sgd, or the update your layers make inside "
                                "backward; none: no step)")
    optimizer.add_argument("--optimizer-steps", type=_positive_int, default=OPTIMIZER_STEPS, metavar="N",
                           help="consecutive steps checked, from identical weights and gradients (default "
                                "%(default)s): state (momentum, Adam's moments) shows only after the first")
    for flag, kind, words in HYPERPARAMETERS:
        optimizer.add_argument(flag, **kind, help=f"{words} (default: the optimizer's; for {_applying(flag)})")
    add_convention_arguments(parser)
    add_network_arguments(parser)
    add_engine_arguments(parser)
    add_update_rule_arguments(parser)
    parser.set_defaults(option_defaults=vars(parser.parse_args([])))  # --engine, --network refuse the options given


def run(args: argparse.Namespace) -> int:
    """Run the check the parsed options ask for and print its table; return the exit status.
    Every failure to run is one line on stderr, never a traceback."""
    prog = getattr(args, "gradcheck_prog", "gradcheck")
    try:
        configure_determinism()
        for problem in output_problems({"json": args.json}):  # reference.outputs, as train's and grade's
            raise ValueError(f"--json {problem.path}: {problem.problem}")
        problem = memory.memory_problem(_memory_needed(args), args.max_memory)
        if problem:
            raise ValueError(f"the check {problem}")
        report = _check_from(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exit:  # the code under check called sys.exit
        return _cannot_run(prog, f"the code under check called sys.exit({exit.code!r})")
    except Exception as error:  # noqa: BLE001 - whatever stops the check is said in one line, exit 2
        more = network_flags() if args.network else PAIR_FLAGS if args.layer else None  # their keywords' flags
        worded = as_flags(str(error), more)
        return _cannot_run(prog, worded if isinstance(error, (ValueError, TypeError)) else
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


def main(argv=None, prog="python -m reference.gradcheck") -> int:
    """The command line of its own: parse argv (default sys.argv[1:]), run, return the exit status."""
    parser = argparse.ArgumentParser(prog=prog)
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # argparse has printed the usage and the problem (or the help)
        return int(exit.code or 0)
    return run(args)


def _cannot_run(prog, message) -> int:
    print(f"{prog}: error: {' '.join(message.split())}", file=sys.stderr)  # one line, whatever the message holds
    return EXIT_CANNOT_RUN


def _check_from(args):
    """The report the options ask for: of one layer of your own (--layer), of your own network
    (--implementation), or of scratch_nn's network from a spec."""
    if sum(map(bool, (args.layer, args.implementation, args.network, args.engine, args.update_rule))) > 1:
        raise ValueError("--layer checks one layer, --implementation a network of layers, --network a whole "
                         "network object, --engine a scalar autograd engine and --update-rule an optimizer of "
                         "your own; give one of them")
    if args.engine:
        return check_engine_file(args, args.option_defaults)
    if args.update_rule:
        return check_update_rule_file(args, args.option_defaults)
    if args.twin in UPDATE_RULE_TWINS:
        raise ValueError(f"--twin {args.twin} is the torch.optim twin of an optimizer given with --update-rule")
    if args.mlp:
        raise ValueError("--mlp is the MLP of a scalar autograd engine given with --engine")
    args.spec = args.spec or DEFAULT_SPEC
    if args.network:
        return check_network_file(args, args.option_defaults)
    options = dict(dtype=np.dtype(args.dtype), batch_size=args.batch_size, seed=args.seed,
                   fd_samples=args.fd_samples, **_optimizer_options(args))
    if args.lr is not None:
        options["lr"] = args.lr
    given = [flag for flag, _, _ in NETWORK_FLAGS if getattr(args, attribute(flag)) is not None]
    if given or args.init == "own" or args.output_activation in NETWORK_ONLY_OUTPUTS:
        raise ValueError(f"{given[0] if given else '--init own, --output-activation none'} describe(s) a "
                         f"whole network given with --network")
    args.activation, args.loss = args.activation or "sigmoid", args.loss or "cross_entropy"
    conventions = given_conventions(args)
    settings = {key: getattr(args, key) for key in PAIR_SETTINGS if getattr(args, key) is not None}
    if args.layer:
        return check(load_layer(args.layer), twin=args.twin, in_features=args.in_features,
                     out_features=args.out_features, **conventions, **settings, **options)
    if settings:
        raise ValueError(f"{PAIR_FLAGS[next(iter(settings))]} sets up a functional pair given with --layer")
    if args.in_features or args.out_features or args.twin:
        raise ValueError("--in, --out and --twin describe a layer given with --layer; "
                         "a network's sizes come from --spec")
    if args.implementation:
        return check_implementation(args, conventions, options)
    if conventions:
        raise ValueError(f"--{next(iter(conventions)).replace('_', '-')} describes your own code, given with --layer "
                         f"or --implementation; scratch_nn's network has its conventions")
    output_activation = args.output_activation or OUTPUT_FOR_LOSS.get(args.loss)
    network = scratch_nn.build_network(args.spec, args.activation, init=args.init, seed=args.seed,
                                       dtype=np.dtype(args.dtype), output_activation=output_activation)
    return check_network(network, loss=None if args.loss == "none" else args.loss, **options)


# The optimizers' hyperparameters as options: (flag, add_argument's settings, what it is). Each is
# passed only when given, and only to an optimizer whose constructor takes it.
HYPERPARAMETERS = [
    ("--momentum", dict(type=float), "momentum factor"),
    ("--dampening", dict(type=float), "dampening of the momentum"),
    ("--nesterov", dict(action="store_true", default=None), "Nesterov momentum"),
    ("--weight-decay", dict(type=float), "weight decay (L2 penalty; decoupled for adamw)"),
    ("--betas", dict(type=float, nargs=2, metavar=("BETA1", "BETA2")), "Adam's moment decays"),
    ("--eps", dict(type=float), "epsilon of the denominator"),
    ("--amsgrad", dict(action="store_true", default=None), "AMSGrad's maximum of v"),
    ("--alpha", dict(type=float), "RMSprop's decay of the squared gradients"),
    ("--centered", dict(action="store_true", default=None), "centered RMSprop"),
]


def _applying(flag) -> str:
    """The optimizers whose constructor takes this option, e.g. "adam, adamw"."""
    return ", ".join(name for name, build in scratch_nn.OPTIMIZERS.items()
                     if attribute(flag) in inspect.signature(build).parameters)


def _optimizer_options(args) -> dict:
    """check()'s optimizer, optimizer_steps and optimizer_options from the options; an option the
    optimizer does not take is refused in one line."""
    given = {attribute(flag): getattr(args, attribute(flag)) for flag, _, _ in HYPERPARAMETERS
             if getattr(args, attribute(flag)) is not None}
    if args.optimizer == "none":
        if given:
            raise ValueError(f"--{next(iter(given)).replace('_', '-')} is a setting of an optimizer; --optimizer none "
                             f"checks no step")
        return {"optimizer": None}
    name = args.optimizer or "sgd"
    for option in given:
        applies = _applying(f"--{option.replace('_', '-')}")
        if option not in inspect.signature(scratch_nn.OPTIMIZERS[name]).parameters:
            raise ValueError(f"--{option.replace('_', '-')} does not apply to --optimizer {name}; it is a "
                             f"setting of {applies}")
    if "betas" in given:
        given["betas"] = tuple(given["betas"])
    chosen = {"optimizer": name} if args.optimizer or given else {}  # none given: sgd, or the update in backward
    return {**chosen, "optimizer_steps": args.optimizer_steps, "optimizer_options": given}


def _memory_needed(args) -> int:
    """An upper bound of the check's memory (reference.memory) from the sizes the options give: a
    layer's --in and --out (or a pair's --in-shape, --out and --kernel), or a network's --spec."""
    itemsize, batch = np.dtype(args.dtype).itemsize, args.batch_size
    if args.in_shape:  # a conv or max-pool pair: at most F x C x K x K weights, F x padded image outputs
        channels, height, width = args.in_shape
        filters, kernel, pad = args.out_features or 1, args.kernel or 3, args.pad or 1
        padded = (height + 2 * pad) * (width + 2 * pad)
        return memory.check_bytes(filters * (channels * kernel * kernel + 1),
                                  batch * (channels * height * width + filters * padded), itemsize)
    if args.layer or args.in_features or args.out_features:
        features_in, features_out = args.in_features or DEFAULT_SIZES[0], args.out_features or DEFAULT_SIZES[1]
        return memory.check_bytes(features_in * features_out + features_out, batch * (features_in + features_out),
                                  itemsize)
    spec = args.spec or DEFAULT_SPEC
    if args.network or args.engine or args.update_rule or not isinstance(spec, str) or \
            not re.fullmatch(r"\d+(-\d+)+", spec):
        return memory.BASE_BYTES  # sizes found from the user's object, or a spec refused later as it is
    sizes = [int(size) for size in spec.split("-")]
    parameters, outputs = memory.layer_shapes(scratch_nn.Spec((sizes[0],), tuple(sizes[1:]), ()))
    return memory.check_bytes(parameters, batch * (sizes[0] + sum(outputs)), itemsize)


def _whole_number(least: int, what: str):
    """An argparse type: an int of at least `least`, else "must be <what>; got ..."."""
    def parse(text) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text}")
        return value
    return parse


_positive_int = _whole_number(1, "a positive integer")
_non_negative_int = _whole_number(0, "a whole number, 0 or more")


def _probability(text) -> float:
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a probability in (0, 1]; got {text!r}")
    return value


def _positive_float(text) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number; got {text!r}")
    return value
