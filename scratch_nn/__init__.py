"""A multilayer perceptron written from scratch in NumPy: layers, losses, SGD, and networks
built from a short spec. NumPy only; the PyTorch twin lives in the ``reference`` package."""

from .init import INITIALIZERS, paper_uniform, torch_default
from .layers import Layer, Linear, ReLU, Sigmoid, Tanh
from .losses import LOSSES, QuadraticLoss, SoftmaxCrossEntropy
from .network import ACTIVATIONS, Sequential, Spec, build_network
from .optim import SGD
from .regularization import BatchNorm1d, Dropout

__all__ = [
    "ACTIVATIONS", "BatchNorm1d", "Dropout", "INITIALIZERS", "LOSSES", "Layer", "Linear", "QuadraticLoss", "ReLU",
    "SGD", "Sequential", "Sigmoid", "SoftmaxCrossEntropy", "Spec", "Tanh", "build_network", "paper_uniform",
    "torch_default",
]
