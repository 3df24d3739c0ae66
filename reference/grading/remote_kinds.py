"""The grader's side of --network and --engine submissions: the user sides the checks drive
(reference.adapters.whole_network_side, reference.adapters.engine), as proxies of the ones the
sandboxed worker holds.

    side = RemoteWholeNetwork(client, sizes, adapted, given)     # adapted: the worker's "adapt" answer
    report = check_whole_network(side, lr=lr, seed=seed)          # the checker, here, with torch

As with build's RemoteLayers (reference.grading.remote), the checks run here unchanged: every input,
weight and seed is the grader's, and every call of the side is one request carrying them; what comes
back is only numbers, each checked for kind and shape before the check sees it. An answer of the
wrong kind or shape is Malformed (an Exception: the check makes it that part's failure, or the
submission's problem); a late, oversized or unreadable one ends the submission (SubmissionGone).
Conventions found in the worker are checked to be ones that can be, and to be the flags the
teacher gave; a lie there only changes what the submission's numbers are compared with.
"""

import numpy as np

from reference.adapters.engine import EngineSide, MLPSide
from reference.adapters.whole_network import NetworkConventions
from reference.adapters.whole_network_side import NetworkSide
from reference.grading.remote import text


class Malformed(Exception):
    """The worker answered with something else than the numbers asked for."""


def numbers(values: dict, key: str, shape=None) -> np.ndarray:
    """values[key] as float64 (the wire admits arrays of numbers only), of that shape where given."""
    value = values.get(key)
    if not isinstance(value, np.ndarray):
        raise Malformed(f"its worker sent no {key}")
    if shape is not None and value.shape != tuple(shape):
        raise Malformed(f"its worker sent {key} of shape {value.shape}, where {tuple(shape)} was asked for")
    return value.astype(np.float64)


def number(values: dict, key: str) -> np.float64:
    value = numbers(values, key)
    if value.size != 1:
        raise Malformed(f"its worker sent {value.size} numbers as {key}, where one was asked for")
    return np.float64(value.reshape(()))


# The flags' keywords (discover()'s) and how the conventions found must read where a flag was given.
GIVEN = {"layout": lambda f: f.layout, "bias_shape": lambda f: f.bias_shape, "batching": lambda f: f.batching,
         "targets": lambda f: f.targets, "cost": lambda f: f.loss, "reduction": lambda f: f.reduction,
         "gradient_call": lambda f: f.gradients_call, "output_activation": lambda f: f.activations[-1],
         "activation": lambda f: f.activations[:-1], "weights": lambda f: f.weights, "biases": lambda f: f.biases}


def given_flags_kept(found: NetworkConventions, given: dict) -> None:
    """Malformed where the conventions the worker found differ from a flag the teacher gave."""
    for keyword, read in GIVEN.items():
        value = given.get(keyword)
        if value is None:
            continue
        expected = (value,) * len(read(found)) if keyword == "activation" and isinstance(value, str) else \
            tuple(value) if isinstance(value, list) else value
        if read(found) != expected:
            raise Malformed(f"its worker found {keyword} {read(found)!r}, where {value!r} was given")


class RemoteWholeNetwork(NetworkSide):
    """A whole network in the worker, called in canonical form with the grader's parameters and arrays."""

    def __init__(self, client, sizes, adapted: dict, given: dict):
        self.client, self.params = client, None
        self.shapes = [((n_out, n_in), (n_out,)) for n_in, n_out in zip(sizes, sizes[1:])]
        try:
            self.found = NetworkConventions.from_dict(adapted.get("conventions"), len(self.shapes))
        except ValueError as error:
            raise Malformed(f"its worker sent {error}") from None
        given_flags_kept(self.found, given)
        calls = adapted.get("calls")
        if calls is not None and not (isinstance(calls, dict) and all(isinstance(v, str) for v in calls.values())):
            raise Malformed("its worker described the network's calls as something other than words")
        self.calls = {text(key): text(value) for key, value in calls.items()} if calls else None
        self.name, self.functions = text(adapted.get("name")), text(adapted.get("functions") or "")

    def request(self, method: str, lr=None, **arrays) -> dict:
        sending = {}
        if self.params is not None:  # what the worker's copy must hold: the parameters that changed since
            flat = {f"{i}.{name}": value for i, pair in enumerate(self.params)
                    for name, value in zip(("weight", "bias"), pair)}
            sending = {f"params.{key}": value for key, value in self.client.changed(0, flat).items()}
        self.client.doing = f"running the network's {method}"
        return self.client.request({"op": "network", "method": method, "lr": lr}, {**sending, **arrays})[1]

    def pairs(self, values: dict, exact: bool) -> list:
        """[(W, b), ...] of every layer, of the network's shapes where exact (else as sent, for the comparison
        to name a wrong one)."""
        return [tuple(numbers(values, f"{i}.{name}", shape if exact else None)
                      for name, shape in zip(("weight", "bias"), shapes)) for i, shapes in enumerate(self.shapes)]

    def parameters(self) -> list:
        return self.pairs(self.request("parameters"), exact=True)

    def load(self, params) -> None:
        self.params = params  # sent with the next call: the check perturbs them in place between calls

    def forward(self, X) -> np.ndarray:
        return numbers(self.request("forward", X=X), "result")

    def gradients(self, X, targets) -> tuple[list, float | None]:
        values = self.request("gradients", X=X, targets=targets)
        return self.pairs(values, exact=False), None if values.get("value") is None else float(number(values, "value"))

    def stepped(self, X, targets, lr) -> list:
        return self.pairs(self.request("stepped", lr=float(lr), X=X, targets=targets), exact=False)


class RemoteEngine(EngineSide):
    """A Value class in the worker: each evaluation names its expression by its text and carries the leaves."""

    def __init__(self, client, name):
        self.client, self.name = client, text(name)

    def request(self, method: str, values=None, **header) -> tuple[dict, dict]:
        self.client.doing = f"running {header.get('expression') or method}"
        arrays = None if values is None else {"values": np.asarray(values, dtype=np.float64)}
        return self.client.request({"op": "engine", "method": method, **header}, arrays)

    def require(self) -> None:
        self.request("require")

    def unsupported(self, name: str) -> str:
        reason = self.request("unsupported", operation=name)[0].get("reason")
        if not isinstance(reason, str):
            raise Malformed("its worker said whether an operation is supported with something other than words")
        return text(reason)

    def run(self, expression: str, values) -> tuple[np.float64, list]:
        answer = self.request("run", values, expression=expression)[1]
        return number(answer, "data"), list(numbers(answer, "grads", (len(values),)))

    def forward(self, expression: str, values) -> float:
        return float(number(self.request("forward", values, expression=expression)[1], "data"))


class RemoteMLP(MLPSide):
    """The MLP class beside the Value class in the worker."""

    def __init__(self, engine: RemoteEngine, name):
        self.engine, self.name, self.count = engine, text(name), 0

    def build(self, sizes) -> int:
        count = self.engine.request("mlp_build", sizes=list(sizes))[0].get("count")
        expected = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))
        if count != expected or isinstance(count, bool):
            raise Malformed(f"its worker counted {str(count)[:20]} parameters, where the MLP has {expected}")
        self.count = count
        return count

    def run(self, values, xs, ys) -> dict:
        answer = self.engine.client.request({"op": "engine", "method": "mlp_run"},
                                            {"values": values, "xs": xs, "ys": ys})[1]
        outputs = numbers(answer, "outputs")
        if outputs.ndim != 2 or len(outputs) != len(xs):
            raise Malformed(f"its worker sent outputs of shape {outputs.shape} for {len(xs)} examples")
        return {"outputs": outputs, "loss": number(answer, "loss"),
                "output_grad": numbers(answer, "output_grad", outputs.shape),
                "grads": numbers(answer, "grads", (self.count,))}
