"""The PyTorch twin of the scratch network and the machinery that compares the two.

The handful a user needs, importable from here:

    torch_model(network)                          the torch.nn.Sequential twin, holding the same weights
    compare_pass(network, x=x, target=y, loss=loss)   one forward and backward pass, tensor by tensor
    compare_step(network, x=x, target=y, loss=loss, lr=0.1)   one SGD step, parameter by parameter
    compare_trajectory(network, None, batches, loss, lr)      many steps, compared after each
    check(network_or_layer, loss="cross_entropy")  the gradient checker, part by part (reference.gradcheck)

Each is imported on first use, so that `import reference.tolerances` (say) stays light.
"""

import importlib

__all__ = ["torch_model", "compare_pass", "compare_step", "compare_trajectory", "check"]

_HOMES = {"torch_model": ".twin", "compare_pass": ".side_by_side", "compare_step": ".side_by_side",
          "compare_trajectory": ".side_by_side", "check": ".gradcheck"}


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)


def __dir__():
    return sorted([*globals(), *__all__])
