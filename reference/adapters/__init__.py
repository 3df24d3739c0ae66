"""Adapters: anyone's from-scratch layers and losses, in their own conventions, presented with
scratch_nn's interface, so that the gradient checker, the side-by-side comparisons and the
training loop run on them unchanged.

    adapt_layer(obj_or_class, twin="linear", ...)  -> AdaptedLayer  (params/grads/forward/backward)
    adapt_loss(obj_or_function, twin="cross_entropy", ...) -> AdaptedLoss (a scratch_nn loss)
    adapt_network(layers_or_network, loss=..., ...) -> Adapted (.network, .loss, .optimizer, .lr,
        .twins, .describe()), checked by reference.gradcheck.check(adapted)

How each convention is found, and the keyword argument that states it instead: discovery.py
(layers), loss_discovery.py (losses), functional.py (affine_forward/affine_backward pairs),
functional_params.py (CS231n's pairs with a settings dict: conv, max-pool, batch norm, dropout);
layer.py and loss.py hold the adapted objects, network.py the network, the update and the block.
"""

import importlib

# Each name's module, imported on first use: `import reference.adapters.layer` (a command's --help
# reads its tables) then loads that module alone, not every adapter and SciPy with them.
_HOMES = {"adapt_layer": ".discovery", "FunctionalLayer": ".functional", "AdaptedLayer": ".layer",
          "LayerConventions": ".layer", "AdaptedLoss": ".loss", "LossConventions": ".loss",
          "UnreadableLoss": ".loss", "adapt_loss": ".loss_discovery", "read_loss": ".loss_discovery",
           "Adapted": ".network", "InBackwardUpdate": ".network",
          "adapt_network": ".network", "ConventionError": ".errors"}
__all__ = sorted(_HOMES)


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)


def __dir__():
    return sorted([*globals(), *__all__])
