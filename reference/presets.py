"""The paper's experiments as named presets, run on both sides.

All use the paper's setting: batch size 32, weights and biases uniform in [-1, 1], plain SGD,
softmax cross-entropy. Any option given on the command line overrides the preset's value.
"""

from .run_config import RunConfig


def paper(spec, lr, epochs, activation="sigmoid", note=""):
    """(description, config) for one of the paper's runs."""
    config = RunConfig(spec=spec, activation=activation, lr=lr, epochs=epochs, batch_size=32, init="paper",
                       loss="cross_entropy")
    return f"{spec} {activation}, lr {lr}, {epochs} epochs{note}", config


PRESETS = {
    "default": paper("784-128-10", 0.5, 5, note=": the quick full run compare.py makes with no options"),
    "paper-512-20": paper("784-512-10", 0.05, 20),
    "paper-512-50": paper("784-512-10", 0.05, 50),
    "paper-512-20-relu": paper("784-512-10", 0.05, 20, "relu"),
    "paper-512-256": paper("784-512-256-10", 0.05, 20),
    "paper-512-256-relu": paper("784-512-256-10", 0.05, 20, "relu"),
    "paper-512-256-128": paper("784-512-256-128-10", 0.05, 20),
    "paper-512-256-128-lr0.2": paper("784-512-256-128-10", 0.2, 20),
    "paper-128-lr1": paper("784-128-10", 1.0, 20),
    "paper-128-lr1-75": paper("784-128-10", 1.0, 75, note=": the paper's final run"),
}
