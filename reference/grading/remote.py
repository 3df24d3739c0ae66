"""The grader's side of a submission: its worker, started in the sandbox, seen as a network of layers.

    with open_submission(path, isolation, timeout) as client:
        adapted, loss_grade = client.build(spec, lr=0.2, seed=seed)   # reference.adapters.Adapted
        report = adapted.check(seed=seed)                              # the checker, here, with torch

client.build asks the worker to call the submission's build and find its conventions; what comes
back is a network of RemoteLayers (and a RemoteLoss): the scratch_nn interface the checker and the
training run drive, each call a request to the worker with the arrays it needs. The parameters
live here: every forward and backward sends them first, so the weights are the grader's, and an
optimizer or a finite difference that changes them here changes what the worker computes with.
Nothing the worker says is believed but its arrays, and those only as answers to be judged: the
structure it reports must be the spec's, its conventions are validated as they are read, and any
answer that is late, malformed, oversized or missing ends the submission (SubmissionGone) with the
reason, for the parts not yet graded.
"""

import contextlib
import copy
import signal
import subprocess
import tempfile
import time
from dataclasses import fields

import numpy as np

import scratch_nn
from reference.adapters import Adapted
from reference.adapters.layer import AdaptedLayer, LayerConventions
from reference.adapters.loss import TWIN_LOSSES, AdaptedLoss, LossConventions
from reference.grading import sandbox, wire
from reference.loss_names import loss_class

TEXT_LIMIT = 2000  # characters of any text from the worker kept


class SubmissionGone(BaseException):
    """The worker cannot answer any more (ended, killed, late, or unreadable). A BaseException: the
    checker turns an Exception raised by the code under check into that part's failure, and this is
    not one part's failure but the end of the submission."""


class Refused(Exception):
    """The worker refused a request with a reason (the submission's build raised, ...): a failed part."""


class RemoteError(Exception):
    """The submission's code raised in the worker; the subclass is named after the exception it raised."""


def text(value) -> str:
    return str(value)[:TEXT_LIMIT]


def named(base: type, name, fallback: str, cache: dict = {}) -> type:  # noqa: B006 (a cache on purpose)
    """A subclass of base named after the submission's class or exception (an identifier, else fallback)."""
    name = name if isinstance(name, str) and name.isidentifier() and len(name) <= 60 else fallback
    if (base, name) not in cache:
        cache[base, name] = type(name, base if isinstance(base, tuple) else (base,), {"__module__": __name__})
    return cache[base, name]


class Client:
    """Requests to one worker, all before one deadline."""

    def __init__(self, started: sandbox.Started, deadline: float, timeout: float):
        self.started, self.deadline, self.timeout = started, deadline, timeout
        process = started.process
        self.channel = wire.Channel(process.stdout.fileno(), process.stdin.fileno())
        self.freed, self.copies, self.doing = [], 0, "starting"
        self.held = {}  # object -> the parameters it holds in the worker, as last sent or answered

    def changed(self, number: int, params: dict) -> dict:
        """The parameters to send: those that differ from what the object holds in the worker (a finite
        difference perturbs one tensor at a time; the others need not travel again)."""
        held = self.held.setdefault(number, {})
        send = {name: value for name, value in params.items()
                if name not in held or held[name].shape != value.shape or held[name].dtype != value.dtype
                or not np.array_equal(held[name], value)}
        held.update({name: value.copy() for name, value in send.items()})
        return send

    def request(self, header: dict, arrays=None, answer=True):
        """(header, arrays) of the worker's answer; SubmissionGone where there is none to read."""
        header, self.freed = {**header, "free": self.freed}, []
        try:
            self.channel.send(wire.encode(header, arrays), self.deadline)
            if not answer:
                return None
            reply, values = self.channel.receive(self.deadline)
        except wire.Late:
            raise SubmissionGone(f"timed out after {self.timeout:g} s (it hangs, or loops forever)") from None
        except wire.Gone:
            raise SubmissionGone(self.ended()) from None
        except wire.ProtocolError as error:
            raise SubmissionGone(f"its worker sent an answer that cannot be read: {error}") from None
        if "exit" in reply:
            raise SystemExit(reply["exit"] if isinstance(reply["exit"], (int, str)) else None)
        if "error" in reply:
            if "type" in reply:
                raise named(RemoteError, reply["type"], "RemoteError")(text(reply.get("message", reply["error"])))
            raise Refused(text(reply["error"]))
        return reply, values

    def ended(self) -> str:
        """Why the worker stopped answering, in words."""
        try:
            code = self.started.process.wait(timeout=2)
        except subprocess.TimeoutExpired:  # still running, its answers closed (by the submission's own code)
            return f"its process closed its answers while {self.doing}"
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else f"signal {number}"
            hint = {"SIGXCPU": " (its CPU time limit)", "SIGXFSZ": " (its output limit)"}.get(name, "")
            return f"the process was killed by {name}{hint} while {self.doing}"
        return (f"the process ended with exit status {code} while {self.doing}, before it answered "
                f"(os._exit, or a crash)")

    def load(self, path_inside: str) -> None:
        self.doing = "importing the submission"
        self.request({"op": "load", "path": path_inside})

    def call(self, number: int, method: str, params: dict, arguments) -> dict:
        self.doing = f"running {method}"
        values = {f"params.{name}": value for name, value in self.changed(number, params).items()}
        values.update({f"argument.{i}": value for i, value in enumerate(arguments)})
        return self.request({"op": "call", "id": number, "method": method, "arguments": len(arguments)}, values)[1]

    def copy(self, number: int) -> int:
        self.copies += 1
        self.request({"op": "copy", "id": number, "new": self.copies}, answer=False)
        self.held[self.copies] = dict(self.held.get(number, {}))
        return self.copies

    def build(self, spec, *, lr: float, seed: int, build_seed: int, loss: str = "cross_entropy"):
        """(the submission's network for spec, with the grader's weights (scratch_nn's torch-style
        initialisation from seed) and its loss or else scratch_nn's; the loss's grade as (ok, reason) where
        the checker cannot give it). Refused where build fails or returns another network than the spec's."""
        self.doing = f"building the {'-'.join(map(str, spec.sizes))} network"
        reply, _ = self.request({"op": "build", "sizes": list(spec.sizes), "activation": spec.activations[0],
                                 "lr": lr, "seed": build_seed, "loss": loss})
        reference = scratch_nn.build_network(spec, init="torch", seed=seed, dtype=np.float64)
        layers = [self.layer(entry, model) for entry, model in zip(listed(reply.get("layers")), reference.layers)]
        expected = [type(layer).__name__.lower() for layer in reference.layers]
        found = [layer.torch_twin for layer in layers]
        if len(listed(reply.get("layers"))) != len(reference.layers) or found != expected:
            raise Refused(f"build returned the layers {', '.join(found) or 'none'}; the run's network is "
                          f"{', '.join(expected)} ({spec})")
        adapted = Adapted(scratch_nn.Sequential(*layers), None)
        if reply.get("loss") is None:
            adapted.loss = loss_class(loss, TWIN_LOSSES)()
            why = reply.get("loss_error")
            return adapted, (False, text(why)) if why else (None, "n/a: build returns no loss")
        entry = reply["loss"]
        conventions = read_conventions(LossConventions, entry.get("conventions") if isinstance(entry, dict) else None)
        adapted.loss = named((RemoteLoss, loss_class(conventions.twin, TWIN_LOSSES)), conventions.name, "Loss")(
            self, number_of(entry), conventions)
        return adapted, None

    def layer(self, entry, model):
        """A RemoteLayer for one entry of build's answer, holding the grader's parameters (model's)."""
        if not isinstance(entry, dict):
            raise SubmissionGone("its worker described a layer as something other than an object")
        conventions = read_conventions(LayerConventions, entry.get("conventions"))
        shapes = {name: tuple(value.shape) for name, value in model.params.items()}
        given = entry.get("params")
        if not isinstance(given, dict) or {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()} \
                != shapes:
            raise Refused(f"the layer {conventions.name} ({conventions.twin}) does not have the parameters "
                          f"{shapes or 'none'} of the run's {type(model).__name__}")
        params = {name: value.copy() for name, value in model.params.items()}
        return named(RemoteLayer, conventions.name, "Layer")(self, number_of(entry), conventions, params)


def listed(value) -> list:
    return value if isinstance(value, list) else []


def number_of(entry) -> int:
    number = entry.get("id") if isinstance(entry, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        raise SubmissionGone("its worker named an object by something other than a number")
    return number


def read_conventions(cls, data):
    """cls (LayerConventions, LossConventions) from the worker's JSON: its fields only, each a plain
    value, validated as the dataclass validates them."""
    if not isinstance(data, dict):
        raise SubmissionGone("its worker sent conventions that are not an object")
    names = {field.name for field in fields(cls)}
    kept = {key: value for key, value in data.items() if key in names}
    if not all(value is None or isinstance(value, (str, int, float, bool)) for value in kept.values()):
        raise SubmissionGone("its worker sent conventions holding something other than plain values")
    try:
        return cls(**{key: text(value) if isinstance(value, str) else value for key, value in kept.items()})
    except (TypeError, ValueError, KeyError) as error:
        raise SubmissionGone(f"its worker sent conventions that cannot be: {error}") from None


class Remote:
    """What RemoteLayer and RemoteLoss share: an object in the worker, copied there when copied here."""

    def __deepcopy__(self, memo):
        new = object.__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update({key: copy.deepcopy(value, memo) if key in ("params", "grads", "updated") else value
                             for key, value in self.__dict__.items()})
        new.number = self.client.copy(self.number)
        return new

    def __del__(self):
        if getattr(self, "number", -1) > 0:  # a copy of the grader's: the worker may forget it
            self.client.freed.append(self.number)
            self.client.held.pop(self.number, None)

    def __reduce__(self):
        raise TypeError("a remote object lives in its worker; it cannot be pickled")


class RemoteLayer(Remote, AdaptedLayer):
    """scratch_nn's layer interface over a layer in the worker (AdaptedLayer's, so the checker and
    InBackwardUpdate read its conventions as they read an adapted layer's)."""

    def __init__(self, client: Client, number: int, conventions: LayerConventions, params: dict):
        self.client, self.number, self.conventions = client, number, conventions
        self.torch_twin = conventions.twin
        self.params, self.grads, self.updated = params, {}, {}

    def forward(self, x):
        return self.client.call(self.number, "forward", self.params, [x])["result"]

    def backward(self, grad_output):
        values = self.client.call(self.number, "backward", self.params, [grad_output])
        for name, value in self.params.items():  # what backward left in them, as an in-process layer would
            after = values.get(f"params.{name}")
            if not isinstance(after, np.ndarray) or after.shape != value.shape:
                raise RuntimeError(f"backward left params[{name!r}] of another shape than {value.shape}")
            value[...] = after
        self.client.held[self.number] = {name: value.copy() for name, value in self.params.items()}
        self.grads = gathered(values, "grads")
        self.updated = gathered(values, "updated")
        return values.get("result")


def gathered(values: dict, store: str) -> dict:
    return {key.partition(".")[2]: value for key, value in values.items() if key.startswith(store + ".")}


class RemoteLoss(Remote, AdaptedLoss):
    """scratch_nn's loss interface over the submission's loss in the worker."""

    def __init__(self, client: Client, number: int, conventions: LossConventions):
        AdaptedLoss.__init__(self, None, conventions)
        self.client, self.number = client, number

    def forward(self, output, target):
        return self.client.call(self.number, "forward", {}, [output, target])["result"]

    def backward(self):
        return self.client.call(self.number, "backward", {}, [])["result"]


@contextlib.contextmanager
def open_submission(path, isolation: sandbox.Isolation, timeout: float):
    """A Client of a worker started on path, its submission imported; every process of it ended at the
    exit. Yields (client, output): output is the file of what the submission printed."""
    with tempfile.TemporaryFile() as output:
        started = sandbox.start(path, isolation, output)
        try:
            client = Client(started, time.monotonic() + timeout, timeout)
            uid = started.uid
            client.request({"op": "start", "limits": isolation.limits(uid), "hidden": list(isolation.hidden),
                            "uid": uid}, answer=False)
            yield client, output
        finally:
            sandbox.stop(started)
