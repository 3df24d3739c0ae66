"""A module of functions (function_network.py: the course's initialize_parameters_deep, L_model_forward,
compute_cost, L_model_backward) trained as a scratch network, so that `compare.py train
--implementation FILE.py:initialize_parameters_deep` runs it beside its torch twin.

FunctionSequential is a scratch_nn.Sequential whose Linear layers hold the parameters (the truth:
the optimizer, the twin, the checkpoints and the drift read them, as for any scratch network) and
whose activation layers only name the twin's. forward(X) hands them to the user's forward as the
user's dict (W_l (n_l, n_{l-1}) and b_l (n_l, 1), views of the same arrays) with X as columns;
backward calls the user's backward with the labels the run's loss saw (FunctionCost, the user's
compute_cost in forward, whose gradient carries them), and reads dW_l and db_l into the Linear
layers' grads. The step is
the run's optimizer's (the user's update_parameters is checked by `check --network`).

A step that disagrees is located by check_whole_network on the user's functions (locate()).
"""

import copy
from dataclasses import dataclass

import numpy as np

import scratch_nn
from reference.adapters.function_network import FunctionNetwork, call
from reference.gradcheck import check_whole_network


class FunctionSequential(scratch_nn.Sequential):
    def __init__(self, user: FunctionNetwork, reference: scratch_nn.Sequential):
        """user: the module's functions; reference: the scratch network of the run's spec, whose layers
        (Linear and activations) hold the run's initial weights and name the twin."""
        super().__init__(*reference.layers)
        self.user = user

    @property
    def linears(self) -> list:
        return [layer for layer in self.layers if "weight" in layer.params]

    def user_parameters(self) -> dict:
        """The parameters as the user's dict: W_l and b_l as a column, views of the layers' arrays."""
        parameters = {}
        for number, layer in enumerate(self.linears, start=1):
            parameters[f"W{number}"] = layer.params["weight"]
            parameters[f"b{number}"] = layer.params["bias"].reshape(-1, 1)
        return parameters

    def forward(self, x):
        self.x = x
        self.AL, self.caches = call(self.user.functions["forward"], {"X": x.T, "parameters": self.user_parameters()},
                                    ("X", "parameters"))
        return np.asarray(self.AL).T

    def backward(self, grad_output, input_grad=True):
        """The user's backward for the last forward and the labels the loss saw, which FunctionCost's
        gradient carries (the gradient itself is not used: the user's backward computes its own from AL, Y)."""
        labels = getattr(grad_output, "labels", None)
        if labels is None:
            raise TypeError("a network of the user's functions takes the gradient of FunctionCost, which carries "
                            "the labels its backward needs")
        values = {"AL": self.AL, "Y": targets(labels, self.AL), "caches": self.caches, "X": self.x.T,
                  "parameters": self.user_parameters()}
        grads = call(self.user.functions["backward"], values, ("AL", "Y", "caches"))
        for number, layer in enumerate(self.linears, start=1):
            layer.grads = {"weight": np.asarray(grads[f"dW{number}"], dtype=layer.params["weight"].dtype),
                           "bias": np.asarray(grads[f"db{number}"], dtype=layer.params["bias"].dtype).reshape(-1)}
        return None

    def locate(self, x, target, lr):
        """check_whole_network of the user's functions at these weights, on this batch (rows, labels): where a
        step that disagrees goes wrong, as the lockstep reports it (reference.training.lockstep)."""
        user = copy.deepcopy(self.user)
        user.parameters = {key: value.copy() for key, value in self.user_parameters().items()}
        return check_whole_network(user, x, target, lr=lr, init=None)


def targets(labels, AL) -> np.ndarray:
    """The user's Y for these labels: a row (1, m) of 0/1 for one output unit, one-hot columns otherwise."""
    if AL.shape[0] == 1:
        return np.asarray(labels, dtype=AL.dtype).reshape(1, -1)
    return np.eye(AL.shape[0], dtype=AL.dtype)[labels].T


class Labelled(np.ndarray):
    """A gradient that carries the labels of its batch (.labels): what the user's backward takes."""


class FunctionCost(scratch_nn.BinaryCrossEntropy):
    """The user's cost, compute_cost(AL, Y), as the run's loss (its twin: torch's BCELoss). Its gradient
    carries the labels to FunctionSequential.backward, which hands them to the user's backward."""

    def __init__(self, user: FunctionNetwork):
        super().__init__()
        self.user = user

    def forward(self, output, target):
        super().forward(output, target)  # checks the output, as every loss of a run does
        self.labels = target
        cost = call(self.user.functions["cost"], {"AL": output.T, "Y": targets(target, output.T)}, ("AL", "Y"))
        return np.asarray(cost, dtype=output.dtype).reshape(())

    def backward(self):
        gradient = super().backward().view(Labelled)
        gradient.labels = self.labels
        return gradient


@dataclass
class FunctionRun:
    """What a run needs of an implementation (reference.training.implementation), for a module of functions."""

    network: FunctionSequential
    loss: FunctionCost
    lr = None  # no update inside backward: the run's optimizer steps

    @property
    def twins(self):
        return None  # the network's own layers are scratch_nn's: the twin is built from them

    def describe(self) -> str:
        user = self.network.user
        calls = user.calls()
        return ("Conventions found (each can be given explicitly):\n"
                f"  a module of functions: {user.initializer_call} -> parameters dict; {calls['forward']} on a "
                f"batch as columns (in, m); then {calls['backward'].partition(', then ')[2]}; the step is the run's "
                f"optimizer's ({user.names.update or 'no update function'} is checked by compare.py check --network)")


def function_run(user: FunctionNetwork, reference: scratch_nn.Sequential) -> FunctionRun:
    """The run's network of the user's functions, from the reference's initial weights; refused (a ValueError
    saying so) where the user's forward does not compute the reference's network."""
    network = FunctionSequential(user, reference)
    probe = np.random.default_rng(0).random((3, network.linears[0].params["weight"].shape[1])).astype(
        network.linears[0].params["weight"].dtype)
    theirs, ours = network.forward(probe), scratch_nn.Sequential(*reference.layers).forward(probe)
    if theirs.shape != ours.shape or not np.allclose(theirs, ours, rtol=1e-6, atol=1e-9):
        raise ValueError(f"{user.names.forward} does not compute the run's network (output {theirs.shape} against "
                         f"{ours.shape}, or other values): give --spec, --activation and --output-activation as "
                         f"the network has them")
    return FunctionRun(network, FunctionCost(user))
