"""The only process where a submission's code runs: it answers the grader's requests with arrays.

    python -I -c "...; from reference.grading.worker import main; main()"   (reference.grading.sandbox starts it)

It takes requests on its stdin and answers on its stdout (reference.grading.wire: JSON headers and
raw arrays, never pickle); what the submission prints goes to stderr, which the grader caps and
keeps. It imports numpy, scratch_nn and reference.adapters, never torch: it finds the
submission's conventions and runs its code on the inputs and weights the grader sends, and the
grader alone compares what comes back with torch and decides every mark. Lying here gains
nothing: an answer is judged against what torch computes for the grader's inputs.

The requests (the header's "op"):
    start   the limits, then the modules hidden, the uid to run as: applied before any submission code
    load    import the submission, find build (and CONVENTIONS)
    build   call build for these sizes and activation, adapt the layers and the loss; answer each
            layer's id, class, conventions and parameter shapes, the loss's id and conventions
    call    an object's forward or backward on the arrays sent, with its parameters set to those
            sent first; answer the result, and the layer's parameters, gradients and `updated` after
    copy    a deep copy of an object under a new id (no answer: an error is kept for the next call)
    network --network: adapt the submission's whole network (its conventions found here), then calls
            of it in canonical form (reference.adapters.whole_network_side) on the arrays sent
    engine  --engine: find the Value class (and MLP), then evaluations of them on the numbers sent
            (reference.adapters.engine)
Every request may carry "free": ids the grader no longer holds.
"""

import copy
import importlib.abc
import os
import resource
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from reference.grading import wire

TEXT_LIMIT = 2000  # characters of an error's text sent back


class Hidden(importlib.abc.MetaPathFinder):
    """Refuses the modules a course forbids (torch, jax, ...), as far as Python's import goes; the
    sandbox also leaves their files out of the worker's view of the disk."""

    def __init__(self, names):
        self.names = frozenset(names)

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r} (graded code may not use it)", name=name)


def start(request: dict) -> None:
    """Limits, hidden modules and the unprivileged uid: the process the submission will run in."""
    for name, value in request["limits"].items():
        limit = getattr(resource, name)
        resource.setrlimit(limit, (value, value))
    sys.meta_path.insert(0, Hidden(request["hidden"]))
    uid = request.get("uid")
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)


class Worker:
    def __init__(self):
        self.objects, self.builder, self.conventions, self.next_id = {}, None, None, 0
        self.side, self.mlp, self.params = None, None, {}  # --network's or --engine's user side

    def handle(self, request: dict, arrays: dict) -> tuple[dict, dict] | None:
        for number in request.get("free", []):
            self.objects.pop(number, None)
        op = request.get("op")
        if op == "copy":
            try:
                self.objects[request["new"]] = copy.deepcopy(self.objects[request["id"]])
            except (Exception, SystemExit) as error:
                self.objects[request["new"]] = failure(error)
            return None
        try:
            return getattr(self, op)(request, arrays)
        except SystemExit as error:
            return {"error": failure(error), "exit": error.code if isinstance(error.code, (int, str)) else None}, {}
        except Exception as error:  # the submission's code, whatever it raises
            raised = {"type": type(error).__name__, "message": str(error)[:TEXT_LIMIT]} \
                if op in ("call", "network", "engine") else {}
            return {"error": failure(error), **raised}, {}

    def load(self, request, arrays):
        from reference.adapters.loader import load_builder, load_module
        self.builder = load_builder(f"{request['path']}:build")
        self.conventions = getattr(load_module(Path(request["path"])), "CONVENTIONS", None)
        return {}, {}

    def build(self, request, arrays):
        from reference.adapters import UnreadableLoss
        from reference.adapters.loader import adapt_layers, adapt_user_loss
        from scratch_nn.spec import Spec
        spec = Spec.parse(request["sizes"], request["activation"])
        adapted, user_loss = adapt_layers(self.builder, spec, lr=request["lr"], seed=request["seed"], init="torch",
                                          dtype=np.float64, conventions=self.conventions)
        layers = [{"id": self.keep(layer), "conventions": asdict(layer.conventions),
                   "params": {name: list(value.shape) for name, value in layer.params.items()}}
                  for layer in adapted.network.layers]
        answer = {"layers": layers, "loss": None, "loss_error": None}
        if user_loss is not None:  # one that cannot be read fails the loss part alone, with the reason
            loss = adapt_user_loss(user_loss, request["loss"], self.conventions, model=adapted.source)
            if isinstance(loss, UnreadableLoss):
                answer["loss_error"] = f"the loss build returned cannot be read: {loss.reason}"[:TEXT_LIMIT]
            else:
                answer["loss"] = {"id": self.keep(loss), "conventions": asdict(loss.conventions)}
        return answer, {}

    def call(self, request, arrays):
        target = self.objects.get(request["id"], "the grader asked for an object that does not exist")
        if isinstance(target, str):
            raise RuntimeError(target)
        if request["method"] not in ("forward", "backward"):
            raise RuntimeError(f"no such method {request['method']!r}")
        for key, value in arrays.items():
            if key.startswith("params."):
                target.params[key[len("params."):]] = value
        arguments = [arrays[f"argument.{i}"] for i in range(request["arguments"])]
        with np.errstate(all="ignore"):
            result = getattr(target, request["method"])(*arguments)
        answer = {"result": as_numbers(result, f"{request['method']} returned")}
        for store in ("params", "grads", "updated"):
            for name, value in (getattr(target, store, None) or {}).items():
                answer[f"{store}.{name}"] = as_numbers(value, f"{store}[{name!r}]")
        return {}, answer

    def network(self, request, arrays):
        """--network: "adapt" builds the submission's whole network and finds its conventions; then each
        request sets the parameters sent (canonical (W, b) per layer) and calls one method on the arrays sent."""
        if request["method"] == "adapt":
            return self.adapt(request), {}
        side, method = self.side, request["method"]
        if method not in ("parameters", "forward", "gradients", "stepped"):
            raise RuntimeError(f"no such method {method!r}")
        for key, value in arrays.items():
            if key.startswith("params."):
                index, _, name = key[len("params."):].partition(".")
                self.params.setdefault(int(index), {})[name] = value
        if self.params:
            side.load([(self.params[i]["weight"], self.params[i]["bias"]) for i in sorted(self.params)])
        with np.errstate(all="ignore"):
            if method == "parameters":
                return {}, pairs(side.parameters(), "parameters")
            if method == "forward":
                return {}, {"result": as_numbers(side.forward(arrays["X"]), "forward returned")}
            if method == "stepped":
                return {}, pairs(side.stepped(arrays["X"], arrays["targets"], request["lr"]), "the parameters")
            grads, value = side.gradients(arrays["X"], arrays["targets"])
        return {}, {**pairs(grads, "the gradients"), "value": as_numbers(value, "the loss value")}

    def adapt(self, request) -> dict:
        from reference.adapters.keywords import LAYER, WHOLE_NETWORK
        from reference.adapters.loader import ImplementationError, build_whole_network
        from reference.adapters.whole_network_side import LocalWholeNetwork
        try:
            maker = defined(request["path"], request["name"], callable, "class or function")
        except ImplementationError as error:
            return {"problem": f"not loaded: {error}"[:TEXT_LIMIT]}
        try:
            conventions = dict(request["conventions"])  # a module of functions' names are taken out of them
            self.side = LocalWholeNetwork(build_whole_network(maker, list(request["sizes"]), conventions),
                                          conventions)
        except (Exception, SystemExit) as error:  # the submission's code, or conventions not found
            return {"problem": failure(error, LAYER | WHOLE_NETWORK)}
        self.params = {}
        return {"conventions": self.side.found.to_dict(), "name": self.side.name, "calls": self.side.calls,
                "functions": self.side.functions}

    def engine(self, request, arrays):
        """--engine: "load" finds the Value class NAME and the MLP beside it; then each request runs one
        evaluation of reference.adapters.engine's LocalEngine or LocalMLP on the numbers sent."""
        from reference.adapters.engine import LocalEngine, LocalMLP
        from reference.adapters.loader import ImplementationError, load_module
        method = request["method"]
        if method == "load":
            import inspect
            try:
                self.side = LocalEngine(defined(request["path"], request["name"], inspect.isclass, "class"))
            except ImplementationError as error:
                return {"problem": f"not loaded: {error}"[:TEXT_LIMIT]}, {}
            mlp = getattr(load_module(Path(request["path"])), "MLP", None)
            self.mlp = LocalMLP(mlp) if inspect.isclass(mlp) else None
            return {"name": self.side.name, "mlp": self.mlp and self.mlp.name}, {}
        with np.errstate(all="ignore"):
            if method == "require":
                self.side.require()
            elif method == "unsupported":
                return {"reason": self.side.unsupported(request["operation"])}, {}
            elif method == "run":
                data, grads = self.side.run(request["expression"], arrays["values"])
                return {}, {"data": data, "grads": np.array(grads, dtype=np.float64)}
            elif method == "forward":
                return {}, {"data": np.float64(self.side.forward(request["expression"], arrays["values"]))}
            elif method == "mlp_build":
                return {"count": self.mlp.build(request["sizes"])}, {}
            elif method == "mlp_run":
                return {}, self.mlp.run(arrays["values"], arrays["xs"], arrays["ys"])
            else:
                raise RuntimeError(f"no such method {method!r}")
        return {}, {}

    def keep(self, thing) -> int:
        self.next_id -= 1  # the worker's own ids are negative: the grader's copies count up
        self.objects[self.next_id] = thing
        return self.next_id


def defined(path, name: str, accept, what: str):
    """The submission's module's NAME, where accept() takes it (ImplementationError otherwise)."""
    from reference.adapters.loader import ImplementationError, load_module
    value = getattr(load_module(Path(path)), name, None)
    if not accept(value):
        raise ImplementationError(f"{path} defines no {what} {name}")
    return value


def pairs(params, what: str) -> dict:
    """Canonical [(W, b), ...] as arrays "i.weight", "i.bias"."""
    return {f"{i}.{name}": as_numbers(value, f"{what}[{i}]") for i, pair in enumerate(params)
            for name, value in zip(("weight", "bias"), pair)}


def as_numbers(value, what: str):
    """An array of numbers (None stays None), or TypeError saying what it was: the judges measure
    nothing else (reference.comparison.numbers), so nothing else is sent."""
    from reference.comparison import describe_value, numbers
    if value is None:
        return None
    array = numbers(value)
    if array is None:
        raise TypeError(f"{what} {describe_value(value)}, not an array of numbers")
    return array


def failure(error: BaseException, flags: dict | None = None) -> str:
    from reference.adapters.user_code import said
    return said(error, flags)[:TEXT_LIMIT]


def main() -> None:
    requests, answers = os.dup(0), os.dup(1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # input() gets EOF instead of waiting forever
    os.dup2(2, 1)                                   # print() goes where the grader keeps output
    worker = Worker()
    while (message := wire.read_blocking(requests)) is not None:
        request, arrays = message
        if request.get("op") == "start":
            start(request)
            continue
        answer = worker.handle(request, arrays)
        if answer is not None:
            header, values = answer
            try:
                message = wire.encode(header, values)
            except (TypeError, ValueError) as error:
                message = wire.encode({"error": f"raised {type(error).__name__}: {error}"[:TEXT_LIMIT]})
            sys.stdout.flush()
            wire.write_blocking(answers, message)


if __name__ == "__main__":
    main()
