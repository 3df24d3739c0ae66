"""Optimizers that take the steps torch.optim takes, with state_dict()s in torch.optim's layout.

OPTIMIZERS maps the command line's names to constructors called as OPTIMIZERS[name](network, lr=...,
**hyperparameters); "momentum" and "nesterov" are SGD with momentum 0.9 (and Nesterov's update).
"""

from functools import partial

from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

OPTIMIZERS = {
    "sgd": SGD,
    "momentum": partial(SGD, momentum=0.9),
    "nesterov": partial(SGD, momentum=0.9, nesterov=True),
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
}

__all__ = ["OPTIMIZERS", "SGD", "Adam", "AdamW", "Optimizer", "RMSprop"]
