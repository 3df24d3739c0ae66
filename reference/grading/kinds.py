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

Both are judged as build's layers are (reference.grading.submission): the check runs here, in the
grader, with torch, and the submission's code runs in its sandboxed worker, which torch is hidden
from. The worker finds the conventions (--network) or the class (--engine) and answers array-in,
array-out requests for the inputs, weights and leaves the grader chose (reference.grading.remote_kinds:
proxies of the checks' user sides); every comparison and verdict is made here.
"""

from dataclasses import dataclass, field

from reference.adapters.keywords import LAYER, WHOLE_NETWORK
from reference.choices import ENGINE_SIZES, GRADE_LR, GRADE_SIZES
from reference.gradcheck.engine import OPERATIONS, check_engine
from reference.gradcheck.engine_mlp import check_mlp
from reference.gradcheck.whole_network import check_whole_network
from reference.grading.remote import text
from reference.grading.remote_kinds import RemoteEngine, RemoteMLP, RemoteWholeNetwork
from reference.grading.submission import PartResult, failure, judge

NETWORK_SIZES = GRADE_SIZES  # small, as build's networks are graded


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

    def judge(self, client, emit) -> None:
        """The whole network built and adapted in the worker; the check run here on its proxy."""
        client.doing = "building the network and finding its conventions"
        adapted, _ = client.request({"op": "network", "method": "adapt", "path": client.started.inside,
                                     "name": self.network, "sizes": list(self.sizes), "conventions": self.conventions})
        if "problem" in adapted:
            emit("problem", text(adapted["problem"]))
            return
        try:
            side = RemoteWholeNetwork(client, self.sizes, adapted, self.conventions)
            report = check_whole_network(side, lr=self.lr, seed=self.seed)
        except (Exception, SystemExit) as error:  # the submission's code raised, or its worker answered amiss
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

    def judge(self, client, emit) -> None:
        """The Value class (and MLP) found in the worker; the check run here on their proxies."""
        client.doing = "importing the submission"
        loaded, _ = client.request({"op": "engine", "method": "load", "path": client.started.inside,
                                    "name": self.engine})
        if "problem" in loaded:
            emit("problem", text(loaded["problem"]))
            return
        engine = RemoteEngine(client, loaded.get("name"))
        try:
            report = check_engine(engine, seed=self.seed)
        except (Exception, SystemExit) as error:  # no backward(), Value(1.0) raises, ...
            emit("problem", failure(error))
            return
        for part in report.parts:
            emit(part.name, judge([part]))
        for reason in report.settings["not_supported"]:  # "sigmoid() (Value has no sigmoid)"
            emit(reason.partition(" ")[0], PartResult(None, f"n/a: not supported: {reason}"))
        if loaded.get("mlp") is None:
            emit("MLP", PartResult(None, f"n/a: no class MLP beside {engine.name}"))
            return
        try:
            emit("MLP", judge(check_mlp(RemoteMLP(engine, loaded["mlp"]), self.sizes, self.seed)[0]))
        except (Exception, SystemExit) as error:
            emit("MLP", PartResult(False, failure(error)))
