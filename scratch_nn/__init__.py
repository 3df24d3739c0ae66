"""A multilayer perceptron written from scratch in NumPy: layers, losses, optimizers, and networks
built from a short spec. NumPy only; the PyTorch twin lives in the ``reference`` package."""

from ._version import __version__ as __version__  # re-exported: scratch_nn.__version__
from .conv import Conv2d, Flatten, MaxPool2d, Unflatten
from .init import INITIALIZERS, paper_uniform, torch_default
from .layers import Layer, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from .losses import LOSSES, BinaryCrossEntropy, ProbabilityCrossEntropy, QuadraticLoss, SoftmaxCrossEntropy
from .network import Sequential, build_network
from .optim import OPTIMIZERS, SGD, Adam, AdamW, Optimizer, RMSprop
from .regularization import BatchNorm1d, Dropout
from .spec import ACTIVATIONS, Spec

__all__ = [
    "ACTIVATIONS", "Adam", "AdamW", "BatchNorm1d", "BinaryCrossEntropy", "Conv2d", "Dropout", "Flatten",
    "INITIALIZERS", "LOSSES",
    "Layer", "LeakyReLU", "Linear", "MaxPool2d", "OPTIMIZERS", "Optimizer", "ProbabilityCrossEntropy",
    "QuadraticLoss", "RMSprop", "ReLU", "SGD", "Sequential", "Sigmoid", "Softmax", "SoftmaxCrossEntropy", "Spec",
    "Tanh", "Unflatten", "build_network",
    "paper_uniform", "torch_default",
]
