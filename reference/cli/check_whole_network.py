"""`compare.py check whole-network FILE.py:NAME`: a whole network in one object, NAME built for --spec,
its conventions' flags (one per keyword argument of reference.adapters.whole_network_discovery.discover),
and check_whole_network run on it.

--layout, --bias-shape, --batching and --forward-method are the layer conventions' flags (the same
values mean the same here; --forward-method is discover()'s forward, also spelled --forward);
--activation and --output-activation state what the network computes instead of building it.
"""

import scratch_nn
from reference.adapters.keywords import LAYER, WHOLE_NETWORK
from reference.adapters.whole_network import LOSSES, REDUCTIONS, TARGETS
from reference.choices import GRADIENT_CALLS
from reference.cli.check_options import DEFAULT_SPEC, add_check_arguments, attribute
from reference.cli.check_own_code import ALIASES, CONVENTION_FLAGS

NETWORK_FLAGS = [
    ("--weights", dict(metavar="LOC,LOC,..."), "where each layer's weight lives: weights[0],weights[1] (list "
                                               "entries), params.W1,params.W2 (dict entries) or W1,W2 (attributes)"),
    ("--biases", dict(metavar="LOC,LOC,..."), "where each layer's bias lives, as --weights"),
    ("--gradient-method", dict(metavar="METHOD"), "the method giving the gradients (backprop, loss, backward)"),
    ("--gradient-call", dict(choices=GRADIENT_CALLS), "data: METHOD(x, y); targets: forward(X), then METHOD(y); "
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


def add_arguments(parser) -> None:
    parser.description = (
        "Nielsen's network.py, CS231n's TwoLayerNet, or a class with W1, b1, ... and forward/backward, checked whole "
        "against torch and finite differences, with its update method against torch.optim.SGD. Its conventions are "
        "found by probing and printed before the table; the flags below state them.")
    parser.add_argument("network", metavar="FILE.py[:NAME]",
                        help="NAME a class built for --spec's sizes as NAME([784, 30, 10]) or NAME(784, 30, 10), or a "
                             "function returning the network (called the same ways, or with no arguments); FILE.py "
                             "alone: a module of functions, found by its initializer (initialize_parameters_deep)")
    network = parser.add_argument_group("what the network computes")
    network.add_argument("--spec", default=DEFAULT_SPEC, help="layer sizes it is built for (default %(default)s)")
    network.add_argument("--activation", help="hidden activation(s), one or one per hidden layer: "
                                              f"{', '.join(scratch_nn.ACTIVATIONS)} (default: found)")
    network.add_argument("--output-activation", choices=[*sorted(scratch_nn.ACTIVATIONS), "none"],
                         help="activation on the output (default: found)")
    network.add_argument("--init", choices=[*sorted(scratch_nn.INITIALIZERS), "own"], default="torch",
                         help="initial weights (default %(default)s; own: the network's own weights)")
    add_check_arguments(parser, dtype=False, lr_help="learning rate of the checked update (default 0.1, or the "
                                                     "network's own)")
    conventions = parser.add_argument_group(
        "conventions of the network", "Found by probing and printed before the table; give one where probing "
                                      "cannot tell (the error names it) or to state it.")
    add_convention_flags(conventions)
    for flag, kind, words in CONVENTION_FLAGS:
        if flag in SHARED:
            conventions.add_argument(flag, *ALIASES.get(flag, ()), **kind, help=words)
    parser.set_defaults(check=check_network_file, keyword_flags=LAYER | WHOLE_NETWORK)


def add_convention_flags(group) -> None:
    """NETWORK_FLAGS, on the check's parser and on the grader's."""
    for flag, kind, words in NETWORK_FLAGS:
        group.add_argument(flag, **kind, help=words)


def conventions_from(args, flags) -> dict:
    """discover()'s keywords from the flags given among those named (weights and biases as lists)."""
    conventions = {KEYWORDS.get(attribute(flag), attribute(flag)): getattr(args, attribute(flag)) for flag in flags}
    conventions = {key: value for key, value in conventions.items() if value is not None}
    for key in ("weights", "biases"):
        if key in conventions:
            conventions[key] = [location.strip() for location in conventions[key].split(",")]
    return conventions


def check_network_file(args):
    """The report of a whole network: built, its flags as conventions, the check's options."""
    from reference.adapters.loader import build_whole_network, load_object, whole_network_target
    from reference.gradcheck.whole_network import check_whole_network

    options = dict(batch_size=args.batch_size, seed=args.seed, fd_samples=args.fd_samples)
    if args.lr is not None:
        options["lr"] = args.lr
    conventions = conventions_from(args, [*(flag for flag, _, _ in NETWORK_FLAGS), *SHARED])
    if args.activation:
        names = args.activation.split(",")
        conventions["activation"] = names[0] if len(names) == 1 else names
    if args.output_activation:
        conventions["output_activation"] = args.output_activation
    maker = load_object(whole_network_target(args.network), "check whole-network", callable, "class or function")
    network = build_whole_network(maker, [int(size) for size in args.spec.split("-")], conventions)
    init = None if args.init == "own" else args.init
    return check_whole_network(network, init=init, **options, **conventions)
