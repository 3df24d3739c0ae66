"""The user's side of the whole-network check: a whole network, its conventions found, called only
in canonical form with the arrays the check chooses.

    side = LocalWholeNetwork(net, conventions)     # a deep copy of net; its conventions discovered
    side.load(params); side.forward(X); side.gradients(X, targets); side.stepped(X, targets, lr)

reference.gradcheck.whole_network checks a side and nothing else of the network: here (compare.py
check whole-network) the side is this object, in the checker's process; when grading, the side is
a proxy whose every call is a request to the sandboxed worker that holds this object
(reference.grading.remote_kinds), so the check and its verdicts stay with the grader. Nothing here
needs torch.
"""

import copy
import inspect

import numpy as np

from reference.adapters import whole_network as wn
from reference.adapters.whole_network_discovery import discover


class NetworkSide:
    """What the check calls on a whole network: found (NetworkConventions), name, calls, functions (the
    words for a network of functions), and the methods of LocalWholeNetwork below."""

    found: wn.NetworkConventions
    name: str
    calls: dict | None = None
    functions: str = ""


class LocalWholeNetwork(NetworkSide):
    """A deep copy of net (the object given is never called or changed), with its conventions found
    (conventions: discover()'s keywords, stated instead of probed)."""

    def __init__(self, net, conventions: dict):
        self.work = copy.deepcopy(net)
        self.found = discover(self.work, **conventions)
        functions = getattr(net, "names", None) and net.describe()  # a network of functions (function_network.py)
        self.name = net.initializer if functions else type(net).__name__
        self.calls = net.calls() if functions else None   # the words for its calls, by method name
        self.functions = functions or ""

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every layer's (W (out, in), b (out,)) as the network holds them."""
        return wn.parameters(self.work, self.found)

    def load(self, params) -> None:
        wn.load_parameters(self.work, self.found, params)

    def forward(self, X) -> np.ndarray:
        return wn.forward(self.work, self.found, X)

    def gradients(self, X, targets) -> tuple[list, float | None]:
        return wn.gradients(self.work, self.found, X, targets)

    def stepped(self, X, targets, lr) -> list[tuple[np.ndarray, np.ndarray]]:
        """The parameters after one step of the network's update method, taken on a copy."""
        stepping = copy.deepcopy(self.work)
        step(stepping, self.found, X, targets, lr)
        return wn.parameters(stepping, self.found)


def step(net, found: wn.NetworkConventions, X, targets, lr) -> None:
    """The update called as its kind is: update_mini_batch(list of (x, y) columns, eta) as Nielsen's;
    train_step(X, y, learning_rate) with the batch; step(lr) after the gradients are computed.
    Nielsen's network2 regularisation arguments (lmbda, n) get 0 and the batch size."""
    method = getattr(net, found.update)
    parameters = [p for p in inspect.signature(method).parameters.values() if p.name != found.update_lr
                  and p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    extra = {p.name: (len(X) if p.name == "n" else 0.0) for p in parameters if p.name in ("lmbda", "reg", "n")}
    data = [p for p in parameters if p.name not in extra]
    if found.update == "update_mini_batch" or (len(data) == 1 and found.batching == "example"):
        batch = [(x.reshape(-1, 1), np.reshape(t, (-1, 1)) if np.ndim(t) else t) for x, t in zip(X, targets)]
        method(batch, **{found.update_lr: lr}, **extra)
    elif len(data) >= 2:
        method(X.T if found.batching == "columns" else X, targets, **{found.update_lr: lr}, **extra)
    else:
        wn.gradients(net, found, X, targets)
        method(**{found.update_lr: lr}, **extra)
