"""The torch twin of a whole network (reference.adapters.whole_network's canonical form): torch.nn.Linear
layers holding its parameters, each followed by its activation, and the cost of its output.

The checker (whole_network.py, network_signatures.py) computes torch's answers with them; discovery
(reference.adapters.whole_network_discovery) finds the conventions with NumPy alone, so that it can run
where the graded code runs, without torch.
"""

import numpy as np
import torch

ACTIVATION_TWINS = {"none": torch.nn.Identity, "sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU,
                    "tanh": torch.nn.Tanh, "softmax": lambda: torch.nn.Softmax(dim=1)}


def twin_model(params, activations) -> torch.nn.Sequential:
    """torch.nn.Linear layers holding params (float64), each followed by its activation's module."""
    modules = []
    for (w, b), name in zip(params, activations):
        linear = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        linear.load_state_dict({"weight": torch.from_numpy(np.array(w, dtype=np.float64)),
                                "bias": torch.from_numpy(np.array(b, dtype=np.float64))})
        modules += [linear, ACTIVATION_TWINS[name]()]
    return torch.nn.Sequential(*modules)


def twin_loss(output: torch.Tensor, labels: np.ndarray, loss: str, reduction: str, output_activation: str):
    """The cost of the network's output a (n, classes) for the labels, summed over the batch or its
    mean: quadratic ||a - y||^2 / 2, binary cross-entropy -sum(y ln a + (1 - y) ln(1 - a)), or
    softmax cross-entropy -log softmax(z)_y of the scores z (-log a_y where a is already softmax)."""
    y = torch.from_numpy(np.eye(output.shape[1])[labels] if output.shape[1] > 1
                         else np.asarray(labels, dtype=np.float64).reshape(-1, 1))  # one unit: labels 0/1
    if loss == "quadratic":
        per_example = 0.5 * ((output - y) ** 2).sum(dim=1)
    elif loss == "binary_cross_entropy":
        per_example = -(y * torch.log(output) + (1 - y) * torch.log(1 - output)).sum(dim=1)
    elif output_activation == "softmax":
        per_example = -torch.log(output[torch.arange(len(labels)), torch.from_numpy(labels)])
    else:
        per_example = torch.nn.functional.cross_entropy(output, torch.from_numpy(labels), reduction="none")
    return per_example.sum() if reduction == "sum" else per_example.mean()
