"""The command line's side of code in its own conventions: --layer (a class, or a functional pair)
and --factory loaded from a module or a file, the convention flags (one per keyword argument of
reference.adapters.adapt_layer), --implementation's network, and the adapters' errors worded as
flags ("give --layout", not "give layout=")."""

import importlib
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np

from reference.adapters import loader
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
from reference.gradcheck import check
from scratch_nn.spec import Spec

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
                                               "the one that takes the probe); with --network, the network's (also "
                                               "spelled --forward)"),
    ("--backward-method", dict(metavar="NAME"), f"the method that is backward (found among "
                                                f"{', '.join(BACKWARD_METHODS)}; for an activation also "
                                                f"{', '.join(DERIVATIVE_METHODS)}, f'(x) times grad); a --network's "
                                                f"is --gradient-method"),
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
        given["factory"] = load(given["factory"], "--factory", callable, "function")
    return given


def as_flags(message: str, more: dict | None = None) -> str:
    """An error's "give layout='in_out'" as the command line says it: "give --layout 'in_out'"
    (more: other keywords' flags, e.g. --network's)."""
    flags = {attribute(flag): flag for flag, _, _ in CONVENTION_FLAGS} | {"lr": "--lr", "twin": "--twin",
                                                                          "in_features": "--in"} | (more or {})
    return re.sub(r"\b([a-z_]+)=(?!=)", lambda m: f"{flags[m[1]]} " if m[1] in flags else m[0], message)



# check()'s keywords for a functional pair with a settings dict (CS231n's), as the command line spells them
# (as_flags' more= for --layer only: "stride=" elsewhere is a Conv2d's repr, not a keyword).
PAIR_FLAGS = {"in_shape": "--in-shape", "kernel": "--kernel", "stride": "--stride", "pad": "--pad", "pool": "--pool",
              "p": "--dropout-p", "out_features": "--out"}

ALIASES = {"--forward-method": ("--forward",)}  # --forward: --network's name for it before layers had one


def add_convention_arguments(parser) -> None:
    own = parser.add_argument_group(
        "conventions of your own code (--layer, --implementation; --forward-method also --network)",
        "Found by probing and printed before the table; give one where probing cannot tell (the error names it) "
        "or to state it. Each is reference.adapters' keyword argument of the same name.")
    for flag, kind, words in CONVENTION_FLAGS:
        own.add_argument(flag, *ALIASES.get(flag, ()), **kind, help=words)


def check_implementation(args, conventions, options):
    """build from the user's file, called for --spec and --activation; its layers and loss adapted
    (the file's CONVENTIONS, then the flags) and started from --init's weights; every part checked."""
    builder = loader.load_builder(args.implementation)
    module = loader.load_module(loader.split_target(args.implementation)[0])
    given = {**(getattr(module, "CONVENTIONS", None) or {}), **conventions}
    spec = Spec.parse(args.spec, args.activation, args.output_activation)
    loss = "cross_entropy" if args.loss == "none" else args.loss
    adapted = loader.adapt_built(builder, spec, lr=options.get("lr", 0.1), seed=args.seed, init=args.init,
                                         dtype=np.dtype(args.dtype), loss=loss, conventions=given)
    if args.loss == "none":
        options["loss"] = None
    return check(adapted, **options)


def attribute(flag) -> str:
    return flag.removeprefix("--").replace("-", "_")


def load_layer(reference: str):
    """--layer: MODULE:CLASS, or MODULE:FORWARD,BACKWARD for a functional pair (forward_fn, backward_fn)."""
    module_name, _, names = reference.rpartition(":")
    if "," not in names:
        return load(reference, "--layer", lambda value: isinstance(value, type), "class",
                    hint="; a functional pair is given as MODULE:FORWARD,BACKWARD")
    functions = names.split(",")
    if len(functions) != 2:
        raise ValueError(f"--layer takes a pair as MODULE:FORWARD,BACKWARD, e.g. layers.py:affine_forward,"
                         f"affine_backward; got {reference!r}")
    return tuple(load(f"{module_name}:{name.strip()}", "--layer", callable, "function") for name in functions)


def load(reference: str, option: str, accept, what: str, hint: str = ""):
    """MODULE:NAME, MODULE importable (e.g. my_layers, or a.b.c) or a path to a .py file, and NAME
    one that accept() takes. Whatever importing the module does (raise, or exit) becomes a
    ValueError saying so."""
    module_name, _, name = reference.rpartition(":")
    if not module_name or not name:
        raise ValueError(f"{option} takes MODULE:{what.upper()}, e.g. my_layers:MyLinear or "
                         f"path/to/my_layers.py:MyLinear; got {reference!r}")
    if module_name.endswith(".py") and not Path(module_name).is_file():
        raise ValueError(f"no file {module_name} (from {option} {reference})")
    try:
        module = import_module(module_name)
    except SystemExit as exit:
        raise ValueError(f"importing {module_name} called sys.exit({exit.code!r}); a module to check must not exit "
                         f"when imported (put its script part under if __name__ == '__main__':)") from None
    except ModuleNotFoundError as error:
        raise ValueError(f"could not import {module_name}: {error}") from None
    except Exception as error:  # noqa: BLE001 - the user's module may raise anything at import
        raise ValueError(f"importing {module_name} raised {type(error).__name__}: {error}") from None
    value = getattr(module, name, None)
    if not accept(value):
        raise ValueError(f"{module_name} has no {what} {name}" + (hint if callable(value) else ""))
    return value


def import_module(module_name: str):
    if not module_name.endswith(".py"):
        return importlib.import_module(module_name)
    path = Path(module_name)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: dataclasses and pickling look their module up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def refuse_options_not_for(args, defaults: dict, applying: tuple, option: str, takes: str) -> None:
    """A ValueError naming the first option given (not at its default) that `option`'s check does not
    take: applying lists the ones it does, takes says them to the user."""
    given = [key for key, value in vars(args).items() if key in defaults and key not in applying
             and value != defaults[key]]
    if given:
        flag = FLAGS_OF_DESTS.get(given[0], f"--{given[0].replace('_', '-')}")
        raise ValueError(f"{flag} does not apply to {option}, which takes {takes}")


FLAGS_OF_DESTS = {"in_features": "--in", "out_features": "--out", "p": "--dropout-p"}  # where dest is not the flag
