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

from reference.adapters.discovery import adapt_layer
from reference.adapters.functional import FunctionalLayer
from reference.adapters.layer import AdaptedLayer, LayerConventions
from reference.adapters.loss import AdaptedLoss, LossConventions
from reference.adapters.loss_discovery import adapt_loss
from reference.adapters.network import Adapted, InBackwardUpdate, adapt_network
from reference.adapters.probing import ConventionError

__all__ = ["Adapted", "AdaptedLayer", "AdaptedLoss", "ConventionError", "FunctionalLayer", "InBackwardUpdate",
           "LayerConventions", "LossConventions", "adapt_layer", "adapt_loss", "adapt_network"]
