"""`compare.py check layer`: one layer class of your own (or a functional pair), loaded from a module
or a file and checked in its own conventions; the convention flags (one per keyword argument of
reference.adapters.adapt_layer), shared with `check implementation`."""

from reference.adapters.keywords import LAYER, PAIR
from reference.adapters.layer import (
    BACKWARD_CALLS,
    BATCHINGS,
    BIAS_SHAPES,
    GRADIENT_SOURCES,
    LAYOUTS,
    PARAM_GRADS,
)
from reference.adapters.methods import (
    BACKWARD_METHODS,
    DERIVATIVE_METHODS,
    FORWARD_METHODS,
)
from reference.choices import DEFAULT_SIZES, LAYER_TWINS, PAIR_SETTINGS
from reference.cli.check_options import (
    add_check_arguments,
    add_optimizer_arguments,
    attribute,
    check_options,
)
from reference.cli.common import non_negative_int, positive_int, probability

# The adapters' conventions of a layer as options: (flag, add_argument's settings, what it is). Each
# flag is the keyword argument of reference.adapters.adapt_layer (and LayerConventions' field) of the
# same name, --bias-shape for bias_shape; given only when given.
CONVENTION_FLAGS = [
    ("--layout", dict(choices=LAYOUTS), "how the weight is stored: out_in (out, in), used as x @ W.T, as torch; "
                                        "in_out (in, out), used as x @ W"),
    ("--bias-shape", dict(choices=BIAS_SHAPES), "the bias's shape: flat (out,), row (1, out), column (out, 1)"),
    ("--batching", dict(choices=BATCHINGS), "rows: forward takes a batch (n, in); columns: a batch as columns "
                                            "(in, m), as the deep-learning course's code; example: one example at "
                                            "a time, a column (in, 1)"),
    ("--param-grads", dict(choices=PARAM_GRADS), "for a batch as columns: mean, backward averages dW and db over the "
                                                 "batch (dW = dZ @ A_prev.T / m, the course's); sum, the 1/m is in "
                                                 "the loss's gradient (dW = dZ @ A_prev.T)"),
    ("--forward-method", dict(metavar="NAME"), f"the method that is forward (found among {', '.join(FORWARD_METHODS)}: "
                                               "the one that takes the probe); for a whole network, its forward (also "
                                               "spelled --forward)"),
    ("--backward-method", dict(metavar="NAME"), f"the method that is backward (found among "
                                                f"{', '.join(BACKWARD_METHODS)}; for an activation also "
                                                f"{', '.join(DERIVATIVE_METHODS)}, f'(x) times grad); a whole "
                                                f"network's is --gradient-method"),
    ("--backward", dict(choices=BACKWARD_CALLS, metavar="|".join(BACKWARD_CALLS)),
     "how backward is called: grad (it uses what forward cached); x,grad or grad,x (stateless); grad,cache (the "
     "cache forward returned); x or output: an activation's derivative method, f'(x) at the input or from the "
     "output, multiplied by grad"),
    ("--gradients", dict(choices=GRADIENT_SOURCES), "where the weight gradients land: attributes (or a dict entry); "
                                                    "returned by backward, as (dx, dW, db); update: backward "
                                                    "updates the weights itself with --lr (the gradient is "
                                                    "recovered from the update)"),
    ("--weight", dict(metavar="NAME"), "where the weight lives: an attribute (weights) or a dict entry (params.W)"),
    ("--bias", dict(metavar="NAME"), "where the bias lives, as --weight"),
    ("--weight-grad", dict(metavar="NAME"), "where the weight's gradient lands (dW, grads.W), or with --gradients "
                                            "returned its index in backward's tuple"),
    ("--bias-grad", dict(metavar="NAME"), "where the bias's gradient lands, as --weight-grad"),
    ("--input-grad", dict(metavar="NAME|INDEX"), "where dL/dx is: its index in backward's tuple, or the attribute "
                                                 "backward leaves it in (dinputs)"),
    ("--returns-cache", dict(action="store_true", default=None), "forward returns (output, cache)"),
    ("--output", dict(metavar="NAME"), "where forward leaves its output when it returns nothing (output)"),
    ("--factory", dict(metavar="MODULE:FUNCTION"), "builds the layer: FUNCTION(in, out) for a linear layer, "
                                                   "FUNCTION() otherwise (when no constructor the adapters try fits)"),
]


def given_conventions(args) -> dict:
    """The conventions given as flags, as the adapters' keyword arguments."""
    given = {attribute(flag): getattr(args, attribute(flag)) for flag, _, _ in CONVENTION_FLAGS
             if getattr(args, attribute(flag)) is not None}
    if "input_grad" in given and given["input_grad"].isdigit():
        given["input_grad"] = int(given["input_grad"])
    if "factory" in given:
        from reference.adapters.loader import load_object

        given["factory"] = load_object(given["factory"], "--factory", callable, "function")
    return given


ALIASES = {"--forward-method": ("--forward",)}  # --forward: a whole network's name for it before layers had one


def add_arguments(parser) -> None:
    parser.add_argument("layer", metavar="MODULE:CLASS",
                        help="e.g. my_layers:MyLinear (importable), path/to/my_layers.py:MyLinear, or a functional "
                             "pair path/to/layers.py:affine_forward,affine_backward; built as scratch_nn builds its "
                             "layers (CLASS(weight, bias), CLASS()) or else as the adapters find: CLASS(in, out), "
                             "CLASS(in, out, lr), --factory")
    parser.add_argument("--twin", choices=LAYER_TWINS,
                        help="what the layer computes, when it does not subclass a scratch_nn layer (default: from "
                             "its class, or its torch_twin attribute)")
    parser.add_argument("--in", dest="in_features", type=positive_int, metavar="N",
                        help=f"input features (default {DEFAULT_SIZES[0]})")
    parser.add_argument("--out", dest="out_features", type=positive_int, metavar="N",
                        help=f"output features of a linear layer (default {DEFAULT_SIZES[1]})")
    pair = parser.add_argument_group(
        "a functional pair with a settings dict, as CS231n's layers.py (conv_forward_naive, max_pool_forward_naive, "
        "batchnorm_forward, dropout_forward): the dict is made from these; what the pair computes is found from "
        "its conv_param/pool_param/bn_param/dropout_param argument (or --twin conv2d|maxpool2d|batchnorm1d|dropout); "
        "--out is a conv's F, --in batch norm's and dropout's D")
    pair.add_argument("--in-shape", type=positive_int, nargs=3, metavar=("C", "H", "W"),
                      help="the input images of a conv or max-pool pair (default 3 8 6)")
    pair.add_argument("--kernel", type=positive_int, metavar="K", help="a conv's HH = WW (default 3)")
    pair.add_argument("--stride", type=positive_int, metavar="S",
                      help="conv_param's or pool_param's stride (default 1 for a conv, the pool size for a max-pool)")
    pair.add_argument("--pad", type=non_negative_int, metavar="P", help="conv_param's pad (default 1)")
    pair.add_argument("--pool", type=positive_int, metavar="K", help="pool_height = pool_width (default 2)")
    pair.add_argument("--dropout-p", dest="p", type=probability, metavar="P",
                      help="dropout_param's p, as your dropout_forward reads it (the probability of keeping a unit, "
                           "CS231n's, or of dropping one: found by experiment; default 0.7)")
    add_check_arguments(parser)
    add_optimizer_arguments(parser)
    add_convention_arguments(parser)
    parser.set_defaults(check=check_layer_file, keyword_flags=LAYER | PAIR)


def check_layer_file(args):
    """The report of one layer class (or functional pair) of your own, in its conventions."""
    from reference.gradcheck import check

    settings = {key: getattr(args, key) for key in PAIR_SETTINGS if getattr(args, key) is not None}
    return check(load_layer(args.layer), twin=args.twin, in_features=args.in_features,
                 out_features=args.out_features, **given_conventions(args), **settings, **check_options(args))


def add_convention_arguments(parser) -> None:
    own = parser.add_argument_group(
        "conventions of your own code",
        "Found by probing and printed before the table; give one where probing cannot tell (the error names it) "
        "or to state it. Each is reference.adapters' keyword argument of the same name.")
    for flag, kind, words in CONVENTION_FLAGS:
        own.add_argument(flag, *ALIASES.get(flag, ()), **kind, help=words)


def load_layer(target: str):
    """MODULE:CLASS, or MODULE:FORWARD,BACKWARD for a functional pair (forward_fn, backward_fn)."""
    from reference.adapters.loader import load_object

    module_name, _, names = target.rpartition(":")
    if "," not in names:
        return load_object(target, "check layer", lambda value: isinstance(value, type), "class",
                           hint="; a functional pair is given as MODULE:FORWARD,BACKWARD")
    functions = names.split(",")
    if len(functions) != 2:
        raise ValueError(f"check layer takes a pair as MODULE:FORWARD,BACKWARD, e.g. layers.py:affine_forward,"
                         f"affine_backward; got {target!r}")
    return tuple(load_object(f"{module_name}:{name.strip()}", "check layer", callable, "function")
                 for name in functions)
