"""The adapters' keyword arguments as the command lines spell them, for errors worded as flags.

An adapter's error names the keyword that settles it ("give layout= one of them"); a command
line says the flag instead ("give --layout one of them"). Each keyword's flag is its name with
dashes (bias_shape: --bias-shape), except where the tables below spell it otherwise.
"""

import re

# A layer's conventions (reference.adapters.LayerConventions, adapt_layer's keywords), what it computes and its size.
LAYER = {keyword: "--" + keyword.replace("_", "-") for keyword in (
    "layout", "bias_shape", "batching", "forward_method", "backward_method", "backward", "gradients", "weight",
    "bias", "weight_grad", "bias_grad", "input_grad", "returns_cache", "output", "factory", "lr", "twin",
    "param_grads")} | {
    "in_features": "--in"}
# A functional pair's settings dict (CS231n's): only for a layer ("stride=" elsewhere is a Conv2d's repr).
PAIR = {"in_shape": "--in-shape", "kernel": "--kernel", "stride": "--stride", "pad": "--pad", "pool": "--pool",
        "p": "--dropout-p", "out_features": "--out"}
# A whole network's conventions (reference.adapters.whole_network_discovery.discover's keywords).
WHOLE_NETWORK = {keyword: "--" + keyword.replace("_", "-") for keyword in (
    "weights", "biases", "gradient_method", "gradient_call", "targets", "cost", "reduction", "update", "layout",
    "bias_shape", "batching", "activation", "output_activation", "cost_function")} | {"forward": "--forward-method"}


def as_flags(message: str, flags: dict) -> str:
    """An error's "give layout='in_out'" as the command line says it: "give --layout 'in_out'",
    for the keywords in flags (keyword -> flag)."""
    return re.sub(r"\b([a-z_]+)=(?!=)", lambda m: f"{flags[m[1]]} " if m[1] in flags else m[0], message)
