"""`compare.py check network`: scratch_nn's own network, built from --spec, checked part by part."""

from reference.cli.check_options import add_check_arguments, add_optimizer_arguments, add_spec_arguments, check_options

# The output activation each loss is taken after, where --output-activation is not given.
OUTPUT_FOR_LOSS = {"mse": "sigmoid", "probability_cross_entropy": "softmax"}


def add_arguments(parser) -> None:
    add_spec_arguments(parser, "loss to check on the network's output")
    add_check_arguments(parser)
    add_optimizer_arguments(parser)
    parser.set_defaults(check=check_spec_network, keyword_flags={})


def check_spec_network(args):
    import numpy as np

    import scratch_nn
    from reference.gradcheck import check_network

    options = check_options(args)
    output_activation = args.output_activation or OUTPUT_FOR_LOSS.get(args.loss)
    network = scratch_nn.build_network(args.spec, args.activation, init=args.init, seed=args.seed,
                                       dtype=np.dtype(args.dtype), output_activation=output_activation)
    return check_network(network, loss=None if args.loss == "none" else args.loss, **options)
