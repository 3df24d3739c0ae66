"""A multilayer perceptron written from scratch in NumPy: layers, losses, SGD, and networks
built from a short spec. NumPy only; the PyTorch twin lives in the ``reference`` package."""

from .conv import Conv2d, Flatten, MaxPool2d, Unflatten
from .init import INITIALIZERS, paper_uniform, torch_default
from .layers import Layer, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from .losses import LOSSES, QuadraticLoss, SoftmaxCrossEntropy
from .network import ACTIVATIONS, Sequential, Spec, build_network
from .optim import SGD

__all__ = [
    "ACTIVATIONS", "INITIALIZERS", "LOSSES", "Layer", "Linear", "QuadraticLoss", "ReLU", "SGD",
    "Sequential", "Sigmoid", "SoftmaxCrossEntropy", "Spec", "Tanh", "build_network", "paper_uniform",
    "torch_default",
    "Conv2d", "Flatten", "LeakyReLU", "MaxPool2d", "Unflatten",
]
