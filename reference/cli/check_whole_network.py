"""The command line's side of a whole network (`compare.py check --network FILE.py:NAME`): NAME
built for --spec, its conventions' flags (one per keyword argument of
reference.adapters.whole_network_discovery.discover), and check_whole_network run on it.

--layout, --bias-shape, --batching and --forward-method are the layer conventions' flags (the same
values mean the same here; --forward-method is discover()'s forward, also spelled --forward);
--activation and --output-activation are the spec's, which here state what the network computes
instead of building it.
"""

import inspect
from pathlib import Path

from reference.adapters.function_network import INITIALIZER_NAMES, function_network, is_parameters_dict
from reference.adapters.whole_network import LOSSES, REDUCTIONS, TARGETS
from reference.adapters.whole_network_discovery import CALLS
from reference.cli.check_own_code import attribute, import_module, load, refuse_options_not_for
from reference.gradcheck.whole_network import check_whole_network

NETWORK_FLAGS = [
    ("--weights", dict(metavar="LOC,LOC,..."), "where each layer's weight lives: weights[0],weights[1] (list "
                                               "entries), params.W1,params.W2 (dict entries) or W1,W2 (attributes)"),
    ("--biases", dict(metavar="LOC,LOC,..."), "where each layer's bias lives, as --weights"),
    ("--gradient-method", dict(metavar="METHOD"), "the method giving the gradients (backprop, loss, backward)"),
    ("--gradient-call", dict(choices=CALLS), "data: METHOD(x, y); targets: forward(X), then METHOD(y); "
                                                      "none: forward(X), then METHOD()"),
    ("--targets", dict(choices=TARGETS), "labels (n,), or one-hot rows (one-hot columns one example at a time)"),
    ("--cost", dict(choices=LOSSES), "the cost the gradients are of: quadratic ||a - y||^2 / 2, softmax "
                                     "cross_entropy, binary_cross_entropy (network2's CrossEntropyCost)"),
    ("--reduction", dict(choices=REDUCTIONS), "the cost over the batch: its mean (default) or sum"),
    ("--update", dict(metavar="METHOD|none"), "the method taking one step (update_mini_batch, train_step), or none; "
                                              "for a module of functions, its update function (update_parameters)"),
    ("--cost-function", dict(metavar="FUNCTION"), "a module of functions only: its cost function (compute_cost)"),
]
# For a module of functions (NAME an initializer returning a parameters dict, function_network.py), these
# flags name its functions instead of methods: discover()'s keyword -> the function's role.
FUNCTION_ROLES = {"forward": "forward", "gradient_method": "backward", "update": "update", "cost_function": "cost"}
# The layer conventions' flags, reused: the same values mean the same here; discover()'s keyword where it differs.
SHARED = ("--layout", "--bias-shape", "--batching", "--forward-method")
KEYWORDS = {"forward_method": "forward"}
# The options a --network's check takes; any other given is refused in one line (--loss, --optimizer and
# --backward-method first with a word on what a --network has instead).
OPTIONS = ("--spec", "--init", "--activation", "--output-activation", "--batch-size", "--seed", "--lr",
           "--fd-samples", "--json")
APPLY = ("network", "loss", "optimizer", "backward_method",
         *map(attribute, [*OPTIONS, *(flag for flag, _, _ in NETWORK_FLAGS), *SHARED]))
TAKES = f"{', '.join(OPTIONS)} and its conventions' flags ({', '.join([*SHARED, *(f for f, _, _ in NETWORK_FLAGS)])})"


def add_network_arguments(parser) -> None:
    group = parser.add_argument_group(
        "a whole network of your own, with no layer objects (--network)",
        "Nielsen's network.py, CS231n's TwoLayerNet, or a class with W1, b1, ... and forward/backward. Its "
        "conventions are found by probing and printed before the table; --layout, --bias-shape, --batching, "
        "--activation and --output-activation state them too.")
    group.add_argument("--network", metavar="FILE.py:NAME",
                       help="NAME a class built for --spec's sizes as NAME([784, 30, 10]) or NAME(784, 30, 10), or a "
                            "function returning the network (called the same ways, or with no arguments)")
    add_convention_flags(group)


def add_convention_flags(group) -> None:
    """NETWORK_FLAGS, on the check's parser and on the grader's."""
    for flag, kind, words in NETWORK_FLAGS:
        group.add_argument(flag, **kind, help=words)


def conventions_from(args, flags) -> dict:
    """discover()'s keywords from the flags given among those named (weights and biases as lists)."""
    conventions = {_keyword(flag): getattr(args, attribute(flag)) for flag in flags}
    conventions = {key: value for key, value in conventions.items() if value is not None}
    for key in ("weights", "biases"):
        if key in conventions:
            conventions[key] = [location.strip() for location in conventions[key].split(",")]
    return conventions


def network_flags() -> dict:
    """discover()'s keyword -> its flag, for errors worded as flags."""
    flags = {_keyword(flag): flag for flag in [*(flag for flag, _, _ in NETWORK_FLAGS), *SHARED]}
    return {**flags, "activation": "--activation", "output_activation": "--output-activation"}


def check_network_file(args, defaults: dict):
    """The report of --network: the network built, its flags as conventions, the check's options;
    defaults: every option's default, to refuse those given that do not apply."""
    if args.loss or args.optimizer:
        raise ValueError("--network checks the network's own cost (--cost) and update (--update) against "
                         "torch.optim.SGD; --loss and --optimizer describe a spec's network")
    if args.backward_method:
        raise ValueError("--backward-method names a layer's backward; a --network's is --gradient-method")
    refuse_options_not_for(args, defaults, APPLY, "--network", TAKES)
    options = dict(batch_size=args.batch_size, seed=args.seed, fd_samples=args.fd_samples)
    if args.lr is not None:
        options["lr"] = args.lr
    conventions = conventions_from(args, [*(flag for flag, _, _ in NETWORK_FLAGS), *SHARED])
    if args.activation:
        names = args.activation.split(",")
        conventions["activation"] = names[0] if len(names) == 1 else names
    if args.output_activation:
        conventions["output_activation"] = args.output_activation
    network = build(load(_target(args.network), "--network", callable, "class or function"),
                    [int(size) for size in args.spec.split("-")], conventions)
    init = None if args.init == "own" else args.init
    return check_whole_network(network, init=init, **options, **conventions)


def _target(network: str) -> str:
    """--network FILE.py alone names a module of functions: its initializer, found by its usual name."""
    if not network.endswith(".py"):
        return network
    module = import_module(network) if Path(network).is_file() else None
    found = next((name for name in INITIALIZER_NAMES if callable(getattr(module, name, None))), None)
    if found is None:
        raise ValueError(f"--network {network} names no class or function: give FILE.py:NAME (a network class, or "
                         f"the initializer of a module of functions, e.g. {INITIALIZER_NAMES[0]})")
    return f"{network}:{found}"


def build(maker, sizes, conventions=None):
    """maker(sizes), maker(*sizes), or maker() for a function of no arguments: the first the signature takes.
    An initializer returning a parameters dict stands for its module's functions (function_network.py):
    their names are taken out of conventions (the flags), where given, and the rest found."""
    built = _call_maker(maker, sizes)
    if not is_parameters_dict(built):
        if isinstance(conventions, dict):
            conventions.pop("cost_function", None)
        return built
    given = {role: conventions.pop(keyword, None) for keyword, role in FUNCTION_ROLES.items()} if conventions else {}
    if given.get("update") == "none":
        conventions["update"] = "none"
    return function_network(maker, built, given)


def _call_maker(maker, sizes):
    try:
        signature = inspect.signature(maker)
    except (TypeError, ValueError):
        signature = None
    failure = None
    for arguments in ((sizes,), tuple(sizes), ()):
        if signature is not None and not _binds(signature, arguments):
            continue
        try:
            return maker(*arguments)
        except Exception as error:  # noqa: BLE001 - the user's constructor may raise anything
            failure = failure or error
    name = getattr(maker, "__name__", repr(maker))
    if failure is not None:
        raise ValueError(f"building {name} for --spec {'-'.join(map(str, sizes))} raised "
                         f"{type(failure).__name__}: {failure}")
    raise ValueError(f"{name} takes neither the sizes as a list, nor as numbers, nor nothing; give a function that "
                     f"builds the network (--network FILE.py:FUNCTION)")


def _binds(signature, arguments) -> bool:
    try:
        signature.bind(*arguments)
    except TypeError:
        return False
    return True


def _keyword(flag) -> str:
    """discover()'s keyword for a flag."""
    return KEYWORDS.get(attribute(flag), attribute(flag))
