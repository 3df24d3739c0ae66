"""A loss's name, as the commands and the libraries take it ("cross_entropy", "mse", ...), made the
scratch loss it names: the one place that happens, so an unknown name is refused alike everywhere.
Torch-free: the adapters and the grader's client side use it without loading torch.
"""

import scratch_nn


def loss_class(name: str, names=tuple(scratch_nn.LOSSES), what: str | None = None) -> type:
    """The scratch loss class named name, one of names (scratch_nn.LOSSES's, or fewer where fewer
    apply). For any other name, one line listing them: "unknown loss 'hinge'; choose from
    cross_entropy, mse, ..." (what: the name in its setting, for "unknown {what}; ...")."""
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"unknown {what or f'loss {name!r}'}; choose from {', '.join(names)}")
    return scratch_nn.LOSSES[name]


def as_loss(loss):
    """A loss object: the one given (scratch_nn's, or a user's adapted), or a new one of its name."""
    return loss_class(loss)() if isinstance(loss, str) else loss
