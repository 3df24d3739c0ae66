"""The option groups several `check` sub-commands share, and check()'s keywords read back from them:
the network a spec builds, the checked batch, the optimizer and its hyperparameters."""

import inspect

import scratch_nn
from reference.choices import FD_SAMPLES, OPTIMIZER_STEPS
from reference.cli.common import memory_size, positive_float, positive_int

DEFAULT_SPEC = "784-32-10"
LR_HELP = ("learning rate of the checked optimizer steps, a positive number; for your own layers also the lr they "
           "are built with (CLASS(in, out, lr)) and, where backward updates the weights itself, the lr it applies: "
           "the checked update is that one, so the two are one number (default 0.1, or the lr the layers hold)")

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


def attribute(flag) -> str:
    """The parsed option's name: --bias-shape -> bias_shape."""
    return flag.removeprefix("--").replace("-", "_")


def add_spec_arguments(parser, loss_help: str) -> None:
    """The network a spec describes: sizes, activations, initial weights, loss."""
    network = parser.add_argument_group("the network")
    network.add_argument("--spec", default=DEFAULT_SPEC, help="layer sizes (default %(default)s)")
    network.add_argument("--activation", default="sigmoid",
                         help="hidden activation(s), one or one per hidden layer, e.g. relu,tanh: "
                              f"{', '.join(scratch_nn.ACTIVATIONS)} (default %(default)s)")
    network.add_argument("--output-activation", choices=sorted(scratch_nn.ACTIVATIONS),
                         help="activation on the output (default: sigmoid with --loss mse, softmax with --loss "
                              "probability_cross_entropy, none otherwise)")
    network.add_argument("--init", choices=sorted(scratch_nn.INITIALIZERS), default="torch",
                         help="initial weights (default %(default)s: keeps pre-activations O(1), so derivatives "
                              "are not all ~0)")
    network.add_argument("--loss", choices=[*scratch_nn.LOSSES, "none"], default="cross_entropy",
                         help=f"{loss_help} (default %(default)s; none: no loss)")


def add_check_arguments(parser, dtype: bool = True, lr_help: str = LR_HELP):
    """The checked batch and where the report goes; returns the group, for a sub-command's own."""
    common = parser.add_argument_group("the check")
    if dtype:
        common.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                            help="what the check builds in (default %(default)s)")
    common.add_argument("--batch-size", type=positive_int, default=8, metavar="N",
                        help="rows of the checked batch (default %(default)s)")
    add_seed_and_json(common)
    common.add_argument("--lr", type=positive_float, help=lr_help)
    common.add_argument("--fd-samples", type=positive_int, default=FD_SAMPLES, metavar="N",
                        help="entries of each tensor checked by finite differences (default %(default)s)")
    return common


def add_seed_and_json(group) -> None:
    group.add_argument("--seed", type=int, default=0, help="seed of the weights, inputs and samples (default "
                                                           "%(default)s)")
    group.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH (default: none)")
    group.add_argument("--max-memory", type=memory_size, metavar="SIZE", help="refuse a check whose estimated "
                       "memory exceeds SIZE (512M, 4G), before it starts (default: the machine's memory)")
    group.add_argument("--watch", action="store_true", help="stay running and check again each time your file "
                                                            "is saved; Ctrl-C ends it (exit 130)")


def add_optimizer_arguments(parser) -> None:
    """scratch_nn's optimizer, checked over several steps, and its hyperparameters."""
    optimizer = parser.add_argument_group("the optimizer, checked over several steps against its torch.optim twin")
    optimizer.add_argument("--optimizer", choices=[*scratch_nn.OPTIMIZERS, "none"],
                           help="scratch_nn's optimizer to check (default sgd, or the update your layers make inside "
                                "backward; none: no step)")
    add_steps_argument(optimizer)
    for flag, kind, words in HYPERPARAMETERS:
        optimizer.add_argument(flag, **kind, help=f"{words} (default: the optimizer's; for {_applying(flag)})")


def add_steps_argument(group) -> None:
    group.add_argument("--optimizer-steps", type=positive_int, default=OPTIMIZER_STEPS, metavar="N",
                       help="consecutive steps checked, from identical weights and gradients (default %(default)s): "
                            "state (momentum, Adam's moments) shows only after the first")


def check_options(args) -> dict:
    """check()'s keywords of the checked batch and the optimizer, from the options given."""
    import numpy as np

    options = dict(dtype=np.dtype(args.dtype), batch_size=args.batch_size, seed=args.seed,
                   fd_samples=args.fd_samples, **_optimizer_options(args))
    if args.lr is not None:
        options["lr"] = args.lr
    return options


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
