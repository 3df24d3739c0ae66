"""Grading submissions of the other two kinds: a whole network in one object, and a scalar autograd engine.

    python compare.py grade SUBMISSIONS_DIR --network Network [--spec 784-16-10] [--cost quadratic ...]
    python compare.py grade SUBMISSIONS_DIR --engine Value

--network NAME: each submission's NAME (Nielsen's Network, CS231n's TwoLayerNet, ...) is built for --spec
as `compare.py check whole-network` builds it and checked by check_whole_network; its parts are the check's:
`forward`, then `layer i` for every layer in backprop's order (its weight and bias gradients), then
`optimizer` (one step of its update method; n/a where it has none). The conventions flags (--cost,
--layout, ...: compare.py check's) apply to every submission; one whose conventions cannot be found
is a row that failed, with the reason (naming the flag that settles it).

--engine NAME: each submission's class NAME (micrograd's Value) is checked by check_engine; a part per
operation row of the check (`__add__` ... `log()`, `composite`, `backward()`), an operation the class
lacks n/a, and `MLP`, the MLP class beside it (micrograd's MLP(nin, nouts)) checked as the check does,
n/a where there is none.

Each part's verdict is grading.judge's on the check's own parts: its reason names tensors and mistakes,
never torch's numbers.

These two kinds are judged inside the worker (the sandbox shows them torch and the whole project):
the worker runs the check and sends each part's verdict back as plain JSON. The sandbox still keeps
the submission from the grader, the other submissions and the network, but a submission can forge
its own verdicts here; build's layers (reference.grading.submission) are judged by the grader.
"""

import inspect
from dataclasses import asdict, dataclass, field

from reference.adapters.keywords import LAYER, WHOLE_NETWORK
from reference.adapters.loader import ImplementationError, build_whole_network, load_module
from reference.choices import ENGINE_SIZES, GRADE_LR, GRADE_SIZES
from reference.gradcheck.engine import OPERATIONS, check_engine
from reference.gradcheck.engine_mlp import check_mlp
from reference.gradcheck.whole_network import check_whole_network
from reference.grading.submission import (
    PartResult,
    failure,
    judge,
)

NETWORK_SIZES = GRADE_SIZES  # small, as build's networks are graded

def defined(path, name: str, accept, what: str):
    """The submission's module's NAME, where accept() takes it (ImplementationError otherwise)."""
    value = getattr(load_module(path), name, None)
    if not accept(value):
        raise ImplementationError(f"{path} defines no {what} {name}")
    return value


@dataclass(frozen=True)
class NetworkGradeSettings:
    """Every submission's NAME graded as a whole network of these sizes, with these conventions."""

    network: str
    sizes: tuple[int, ...] = NETWORK_SIZES
    conventions: dict = field(default_factory=dict)   # check_whole_network's keywords, from the flags
    lr: float = GRADE_LR
    seed: int = 0

    @property
    def parts(self) -> list[str]:
        return ["forward", *(f"layer {i}" for i in reversed(range(len(self.sizes) - 1))), "optimizer"]

    def describe(self) -> str:
        given = "".join(f"; {key} {value}" for key, value in self.conventions.items())
        return f"--network {self.network} for {'-'.join(map(str, self.sizes))}{given}; lr {self.lr:g}"

    verdicts_in_worker = True

    def load(self, path):
        return defined(path, self.network, callable, "class or function")

    def judge(self, client, emit) -> None:
        judge_in_worker(self, "network", client, emit)

    def run(self, maker, emit) -> None:
        try:
            conventions = dict(self.conventions)  # a module of functions' names are taken out of them
            report = check_whole_network(build_whole_network(maker, list(self.sizes), conventions), lr=self.lr,
                                         seed=self.seed, **conventions)
        except (Exception, SystemExit) as error:  # the submission's code, or conventions not found
            emit("problem", failure(error, LAYER | WHOLE_NETWORK))
            return
        emit("conventions", report.conventions["summary"])
        for part in report.parts:
            emit(part.label, judge([part]))
        if not any(part.kind == "optimizer" for part in report.parts):
            emit("optimizer", PartResult(None, "n/a: no update method (update_mini_batch, train_step, step)"))


@dataclass(frozen=True)
class EngineGradeSettings:
    """Every submission's class NAME graded as a scalar autograd engine, and the MLP beside it."""

    engine: str = "Value"
    sizes: tuple[int, ...] = ENGINE_SIZES
    seed: int = 0

    @property
    def parts(self) -> list[str]:
        return [operation.name for operation in OPERATIONS] + ["MLP"]

    def describe(self) -> str:
        return f"--engine {self.engine}, its MLP for {'-'.join(map(str, self.sizes))}"

    verdicts_in_worker = True

    def judge(self, client, emit) -> None:
        judge_in_worker(self, "engine", client, emit)

    def load(self, path):
        mlp = getattr(load_module(path), "MLP", None)
        return defined(path, self.engine, inspect.isclass, "class"), mlp if inspect.isclass(mlp) else None

    def run(self, loaded, emit) -> None:
        Value, mlp = loaded
        try:
            report = check_engine(Value, seed=self.seed)
        except (Exception, SystemExit) as error:  # no backward(), Value(1.0) raises, ...
            emit("problem", failure(error))
            return
        for part in report.parts:
            emit(part.name, judge([part]))
        for reason in report.settings["not_supported"]:  # "sigmoid() (Value has no sigmoid)"
            emit(reason.partition(" ")[0], PartResult(None, f"n/a: not supported: {reason}"))
        if mlp is None:
            emit("MLP", PartResult(None, f"n/a: no class MLP beside {Value.__name__}"))
            return
        try:
            emit("MLP", judge(check_mlp(mlp, self.sizes, self.seed)[0]))
        except (Exception, SystemExit) as error:
            emit("MLP", PartResult(False, failure(error)))


KINDS = {"network": NetworkGradeSettings, "engine": EngineGradeSettings}


def judge_in_worker(settings, kind: str, client, emit) -> None:
    """The worker runs settings.run on the submission; its verdicts come back as plain JSON, checked for shape."""
    from reference.grading.remote import text
    client.doing = "grading"
    reply, _ = client.request({"op": "kind", "kind": kind, "settings": asdict(settings),
                               "path": client.started.inside})
    for entry in reply.get("parts", []) if isinstance(reply.get("parts"), list) else []:
        if not (isinstance(entry, list) and len(entry) == 4 and entry[0] in (*settings.parts, "problem", "conventions")
                and entry[1] in (True, False, None)):
            continue
        part, ok, reason, detail = entry
        emit(part, text(reason) if part in ("problem", "conventions") else PartResult(ok, text(reason), text(detail)))


def run_in_worker(kind: str, values: dict, path) -> list:
    """In the worker: the kind's settings rebuilt from JSON, run on the submission; [part, ok, reason, detail]."""
    settings = KINDS[kind](**{key: tuple(value) if key == "sizes" else value for key, value in values.items()})
    parts = []

    def emit(part, result):
        parts.append([part, None, result, ""] if isinstance(result, str) else
                     [part, result.ok, result.reason, result.detail])
    try:
        loaded = settings.load(path)
    except ImplementationError as error:
        return [["problem", None, f"not loaded: {error}", ""]]
    settings.run(loaded, emit)
    return parts
