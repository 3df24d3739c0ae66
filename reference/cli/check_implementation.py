"""`compare.py check implementation FILE.py[:build]`: your own network of layers, as build() in your
file returns it (the contract: reference/adapters/loader.py), built for --spec and checked part by part."""

from reference.adapters.keywords import LAYER
from reference.cli.check_options import add_check_arguments, add_optimizer_arguments, add_spec_arguments, check_options
from reference.cli.check_own_code import add_convention_arguments, given_conventions


def add_arguments(parser) -> None:
    parser.add_argument("implementation", metavar="FILE.py[:build]",
                        help="build(sizes, activations, lr, seed, ...) in FILE.py returns its layers (and loss), in "
                             "your conventions; called with --spec's sizes, --activation, --lr and --seed")
    add_spec_arguments(parser, "what the loss build returns computes")
    add_check_arguments(parser)
    add_optimizer_arguments(parser)
    add_convention_arguments(parser)
    parser.set_defaults(check=check_implementation, keyword_flags=LAYER)


def check_implementation(args):
    """build from the user's file, called for --spec and --activation; its layers and loss adapted
    (the file's CONVENTIONS, then the flags) and started from --init's weights; every part checked."""
    import numpy as np

    from reference.adapters import loader
    from reference.gradcheck import check
    from scratch_nn.spec import Spec

    options = check_options(args)
    builder = loader.load_builder(args.implementation)
    module = loader.load_module(loader.split_target(args.implementation)[0])
    given = {**(getattr(module, "CONVENTIONS", None) or {}), **given_conventions(args)}
    spec = Spec.parse(args.spec, args.activation, args.output_activation)
    loss = "cross_entropy" if args.loss == "none" else args.loss
    adapted = loader.adapt_built(builder, spec, lr=options.get("lr", 0.1), seed=args.seed, init=args.init,
                                 dtype=np.dtype(args.dtype), loss=loss, conventions=given)
    if isinstance(adapted.loss, loader.UnreadableLoss) and adapted.loss.asks:  # a flag settles it: refused, exit 2
        raise loader.ImplementationError(f"the loss build returned cannot be read: {adapted.loss.reason}")
    if args.loss == "none":
        options["loss"] = None
    return check(adapted, **options)
