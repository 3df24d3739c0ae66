"""The checkers' keyword arguments as the command lines spell them, for errors worded as flags.

A ConventionError names the keywords that settle it as data (reference.adapters.probing.Keyword):
"give layout= one of them" to a caller of the library; a command line words it with the flags
instead, ConventionError.worded(LAYER): "give --layout one of them". Each keyword's flag is its
name with dashes (bias_shape: --bias-shape), except where the tables below spell it otherwise.
"""

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

# An update rule's (reference.gradcheck.update_rule.check_update_rule's keywords).
UPDATE_RULE = {keyword: "--" + keyword for keyword in ("twin", "lr", "momentum", "alpha", "eps", "betas")}
