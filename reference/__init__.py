"""The PyTorch twin of the scratch network and the machinery that compares the two.

The handful a user needs, importable from here:

    torch_model(network)                          the torch.nn.Sequential twin, holding the same weights
    compare_pass(network, x=x, target=y, loss=loss)   one forward and backward pass, tensor by tensor
    compare_step(network, x=x, target=y, loss=loss, lr=0.1)   one SGD step, parameter by parameter
    compare_trajectory(network, None, batches, loss, lr)      many steps, compared after each
    check(network_or_layer, loss="cross_entropy")  the gradient checker, part by part (reference.gradcheck)

Each is imported on first use, so that `import reference.tolerances` (say) stays light. They need
PyTorch, the `torch` extra of the scratch-nn distribution: without it, importing one says so in a line.
"""

import importlib

from scratch_nn._version import __version__ as __version__  # re-exported: reference.__version__

__all__ = ["torch_model", "compare_pass", "compare_step", "compare_trajectory", "check"]
# What `pip install scratch-nn` leaves out and the torch extra brings (pyproject.toml's optional-dependencies)
TORCH_EXTRA = {"torch", "torchvision", "scipy", "matplotlib", "tqdm", "threadpoolctl", "nbformat"}

_HOMES = {"torch_model": ".twin", "compare_pass": ".side_by_side", "compare_step": ".side_by_side",
          "compare_trajectory": ".side_by_side", "check": ".gradcheck"}


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        home = importlib.import_module(_HOMES[name], __name__)
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in TORCH_EXTRA:
            raise
        raise ModuleNotFoundError(f"reference.{name} needs {error.name}, which is not installed: "
                                  f"pip install 'scratch-nn[torch]'", name=error.name) from None
    return getattr(home, name)


def __dir__():
    return sorted([*globals(), *__all__])
