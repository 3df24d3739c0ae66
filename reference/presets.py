"""The paper's experiments as named presets, run on both sides.

All use the paper's setting: batch size 32, weights and biases uniform in [-1, 1], plain SGD,
softmax cross-entropy. Any option given on the command line overrides the preset's value.
"""

from .training import RunConfig

PAPER = dict(batch_size=32, init="paper", loss="cross_entropy")

PRESETS = {
    "default": ("one hidden layer of 128 sigmoid units, lr 0.5, 5 epochs: a quick full run",
                RunConfig(spec="784-128-10", activation="sigmoid", lr=0.5, epochs=5, **PAPER)),
    "paper-512-20": ("784-512-10 sigmoid at lr 0.05 for 20 epochs",
                     RunConfig(spec="784-512-10", activation="sigmoid", lr=0.05, epochs=20, **PAPER)),
    "paper-512-50": ("784-512-10 sigmoid at lr 0.05 for 50 epochs",
                     RunConfig(spec="784-512-10", activation="sigmoid", lr=0.05, epochs=50, **PAPER)),
    "paper-512-20-relu": ("784-512-10 ReLU at lr 0.05 for 20 epochs",
                          RunConfig(spec="784-512-10", activation="relu", lr=0.05, epochs=20, **PAPER)),
    "paper-512-256": ("784-512-256-10 sigmoid at lr 0.05 for 20 epochs",
                      RunConfig(spec="784-512-256-10", activation="sigmoid", lr=0.05, epochs=20, **PAPER)),
    "paper-512-256-relu": ("784-512-256-10 ReLU at lr 0.05 for 20 epochs",
                           RunConfig(spec="784-512-256-10", activation="relu", lr=0.05, epochs=20, **PAPER)),
    "paper-512-256-128": ("784-512-256-128-10 sigmoid at lr 0.05 for 20 epochs",
                          RunConfig(spec="784-512-256-128-10", activation="sigmoid", lr=0.05, epochs=20, **PAPER)),
    "paper-512-256-128-lr0.2": ("784-512-256-128-10 sigmoid at lr 0.2 for 20 epochs",
                                RunConfig(spec="784-512-256-128-10", activation="sigmoid", lr=0.2, epochs=20,
                                          **PAPER)),
    "paper-128-lr1": ("784-128-10 sigmoid at lr 1.0 for 20 epochs",
                      RunConfig(spec="784-128-10", activation="sigmoid", lr=1.0, epochs=20, **PAPER)),
    "paper-128-lr1-75": ("784-128-10 sigmoid at lr 1.0 for 75 epochs: the paper's final run",
                         RunConfig(spec="784-128-10", activation="sigmoid", lr=1.0, epochs=75, **PAPER)),
}
