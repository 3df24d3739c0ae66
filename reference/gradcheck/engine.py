"""Checking a scalar autograd engine (a micrograd-style Value class), one operation at a time.

    report = check_engine(Value)                    # every operation the class has
    report = check_engine(Value, mlp=MLP, sizes=(3, 4, 4, 1))   # and a whole MLP (engine_mlp.py)

Each operation is a row: small expressions on random float64 scalars (a value used once, then
the same operation on a value used twice, x*x, x+x), each run forward and backward with the
user's Value and with torch autograd on float64 scalars. The output's .data and every leaf's
.grad are compared with torch, and the grads also with central finite differences of the user's
own forward, so a misconception shared by the backward and the way torch is driven still shows.
An operation the class lacks (no sigmoid; no __radd__) is "not supported": listed, not checked,
and no failure; so is a reflected one whose forward needs a method the class lacks (2 - x as
other + (-self) without __radd__). A method that exists and raises fails its row. Two rows cross
operations: a composite (x*y + x).tanh(), and a shared node (a = x*y; a*z + a*y) whose gradient is right only when
backward() calls every _backward in topological order.

Mistakes are named where recognisable: a derivative of a known wrong shape (tanh's t or 1 - t,
pow's exponent left out or not lowered, exp's at the input, the divisor's term, relu unmasked) by
predicting what the mistaken backward gives; overwritten gradients (= where += belongs) by a
value used twice failing while the same operations on values used once agree; the order of
backward() by the shared node failing while its operations agree.

The user's class is only ever run through its side (reference.adapters.engine: the OPERATIONS
table, and LocalEngine, which builds the leaves and reads .data and .grad); torch, the comparisons
and the names of mistakes are here, so a grader can run this check on a proxy of a class that runs
in a sandbox.
"""

import math

import numpy as np
import torch

from reference import tolerances
from reference.adapters.engine import (
    ONCE,
    OPERATIONS,
    ORDER,
    REUSE,
    EngineSide,
    Expression,
    LocalEngine,
    LocalMLP,
    MLPSide,
    Operation,
)
from reference.comparison import compare
from reference.finite_differences import (
    FINITE_DIFFERENCES_JUDGE,
    numerical_gradient_and_error,
    widened_tolerance,
)
from reference.gradcheck.engine_mlp import check_mlp
from reference.gradcheck.report import CheckReport, PartCheck
from reference.gradcheck.signatures import Case, Match, Signature, match_signatures

LOW, HIGH = 0.5, 1.5  # leaves' magnitudes: away from 0 (relu's kink, a divisor) and from saturation


def _grad(text, leaf, derivative):
    """A prediction: the leaf's grad in expression text as derivative(leaves' values) (the root's grad is 1)."""
    key = f"{text}: {leaf}.grad"
    return lambda case: {key: derivative(**case.params[text])} if text in case.params else {}


MISTAKES = [
    Signature("tanh derivative as t", "tanh's backward multiplies by t, its output; d tanh/dx = 1 - t**2: "
              "self.grad += (1 - t**2) * out.grad.", ("operation",), _grad("x.tanh()", "x", lambda x: math.tanh(x))),
    Signature("tanh derivative 1 - t", "tanh's backward multiplies by 1 - t; d tanh/dx = 1 - t**2, t squared.",
              ("operation",), _grad("x.tanh()", "x", lambda x: 1 - math.tanh(x))),
    Signature("exponent left out", "__pow__'s backward leaves the exponent out: d x**n/dx = n * x**(n - 1), "
              "self.grad += other * self.data**(other - 1) * out.grad.", ("operation",),
              lambda case: {**_grad("x**3", "x", lambda x: x ** 2)(case),
                            **_grad("x**-1.5", "x", lambda x: x ** -2.5)(case)}),
    Signature("exponent not lowered", "__pow__'s backward uses other * self.data**other; the power is "
              "other - 1: d x**n/dx = n * x**(n - 1).", ("operation",),
              lambda case: {**_grad("x**3", "x", lambda x: 3 * x ** 3)(case),
                            **_grad("x**-1.5", "x", lambda x: -1.5 * x ** -1.5)(case)}),
    Signature("exp derivative at the input", "exp's backward multiplies by self.data, the input; d e^x/dx is "
              "e^x, the output: self.grad += out.data * out.grad.", ("operation",),
              _grad("x.exp()", "x", lambda x: x)),
    Signature("divisor gradient missing", "The backward of a / b gives b no gradient; d(a/b)/db = -a/b**2 "
              "(or write a / b as a * b**-1, whose backward has it).", ("operation",),
              _grad("x/y", "y", lambda x, y: 0.0)),
    Signature("divisor gradient sign", "The backward of a / b gives b +a/b**2; d(a/b)/db = -a/b**2.",
              ("operation",), _grad("x/y", "y", lambda x, y: x / y ** 2)),
    Signature("relu gradient not masked", "relu's backward lets the gradient through where the input is "
              "negative: self.grad += (out.data > 0) * out.grad.", ("operation",),
              _grad("y.relu()", "y", lambda y: 1.0)),
    Signature("relu derivative 1 at 0", "relu's backward lets the gradient through at exactly 0 (a mask "
              "self.data >= 0); PyTorch takes relu'(0) = 0, the mask out.data > 0: self.grad += (out.data > 0) * "
              "out.grad.", ("operation",), _grad("z.relu() at z = 0", "z", lambda z: 1.0)),
    Signature("sigmoid derivative as s", "sigmoid's backward multiplies by s, its output; d s/dx = s * (1 - s).",
              ("operation",), _grad("x.sigmoid()", "x", lambda x: 1 / (1 + math.exp(-x)))),
]

OVERWRITTEN = ("gradient overwritten, not accumulated",
               "A value used twice gets the gradient of one use only: a _backward sets its input's grad (self.grad "
               "= ...) where it must add (self.grad += ...), so the second use overwrites the first. The same "
               "operations on values used once agree.")
UNORDERED = ("backward not in topological order",
             "A node's _backward ran before every use of it had added its gradient: backward() must sort the graph "
             "topologically (each node after all the nodes that use it) and call _backward in that order, "
             "reversed, once per node. Its operations agree on their own.")


def check_operation(side: EngineSide, operation: Operation, rng) -> PartCheck:
    """One row: every expression of the operation, forward and backward, against torch and finite differences."""
    part = PartCheck("operation", None, ", ".join(e.text for e in operation.expressions), operation.name)
    scratch, reference, numerical, fd_tolerance, leaves = {}, {}, {}, {}, {}
    for e in operation.expressions:
        values = {leaf: float(operation.signs.get(leaf, rng.choice([-1, 1])) * rng.uniform(LOW, HIGH))
                  for leaf in e.leaves}
        values.update(zip(e.leaves, e.at))
        leaves[e.text] = values
        try:
            data, grads = side.run(e.text, list(values.values()))
            ours = {e.text: data, **{f"{e.text}: {name}.grad": grad for name, grad in zip(values, grads)}}
            gradients, error = ([], []) if e.at else numerical_gradient_and_error(
                lambda at, e=e: side.forward(e.text, at), np.array(list(values.values())))
        except Exception as exception:  # noqa: BLE001 - whatever the user's code raises is the row's finding
            part.error = f"{e.text} raised {type(exception).__name__}: {exception}"
            return part
        scratch.update(ours)
        reference.update(_torch_pass(e, values))
        for leaf, g, err in zip(values, gradients, error):
            key = f"{e.text}: {leaf}.grad"
            numerical[key], fd_tolerance[key] = g, widened_tolerance(np.array([g]), np.array([err]))
    part.torch = compare(scratch, reference, tolerances.FLOAT64)
    part.finite_differences = compare({key: scratch[key] for key in numerical}, numerical, fd_tolerance.get,
                                      judge=FINITE_DIFFERENCES_JUDGE)
    case = Case("operation", scratch, reference, batch_size=1, params=leaves)
    part.matches = match_signatures(case, part.failing, tolerances.FLOAT64, MISTAKES)
    return part


def _torch_pass(e: Expression, values: dict) -> dict:
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values.values()]
    out = e.f(*leaves)
    out.backward()
    return {e.text: out.detach().numpy(), **{f"{e.text}: {name}.grad": leaf.grad.numpy()
                                             for name, leaf in zip(values, leaves)}}


def check_engine(Value, *, mlp=None, sizes=(3, 4, 4, 1), seed: int = 0, subject: str = "") -> CheckReport:
    """Every operation Value has, and with mlp (a class built as MLP(nin, nouts)) a whole MLP of
    sizes, checked against torch. Raises ValueError where Value cannot be checked at all. Value and mlp
    may be an EngineSide and an MLPSide (reference.adapters.engine: classes run elsewhere, by request)."""
    side = Value if isinstance(Value, EngineSide) else LocalEngine(Value)
    side.require()
    rng = np.random.default_rng(seed)
    parts, not_supported = [], []
    for operation in OPERATIONS:
        unsupported = side.unsupported(operation.name)
        if unsupported:
            not_supported.append(f"{operation.name} ({unsupported})")
        else:
            parts.append(check_operation(side, operation, rng))
    _name_structural(parts)
    settings = {"subject": f"{subject or side.name}, {len(parts)} operations", "dtype": "float64",
                "seed": seed, "not_supported": not_supported,
                "reading": "Each operation on random scalars, forward and backward, against torch autograd.",
                "finite_differences": "Finite differences: float64, of your own forward.",
                "also": "Also disagreeing (a row can fail through an operation that fails on its own row)"}
    if mlp is not None:
        mlp_parts, found = check_mlp(mlp if isinstance(mlp, MLPSide) else LocalMLP(mlp), sizes, seed)
        parts += mlp_parts
        settings["subject"] += f"; {found}"
        settings["reading"] += (" The MLP against torch only: its loss, then its layers in the order backward "
                                "reaches them, each neuron's gradient as [w..., b].")
    return CheckReport(parts, settings)


def _name_structural(parts: list[PartCheck]) -> None:
    """Name the failures no single derivative explains: a value used twice (overwritten gradients),
    the shared node (backward's order), from which rows agree."""
    rows = {part.name: part for part in parts}
    once_ok = {name: not part.error and all(_expression_ok(part, e) for e in _operation(name).expressions
                                            if e.role == ONCE) for name, part in rows.items()}
    for part in parts:
        for e in _operation(part.name).expressions:
            if e.role == ONCE or part.error or _expression_ok(part, e):
                continue
            uses = [part.name, *e.uses] if e.role == REUSE else list(e.uses)
            if e.role == ORDER and all(u in rows and rows[u].ok for u in uses):
                name, words = UNORDERED
            elif all(once_ok.get(u) for u in uses):
                name, words = OVERWRITTEN
            else:
                continue
            part.matches += [Match(key, name, words) for key in part.failing if _of(key, e)]


def _operation(name) -> Operation:
    return next(operation for operation in OPERATIONS if operation.name == name)


def _expression_ok(part: PartCheck, e: Expression) -> bool:
    return not any(_of(key, e) for key in part.failing)


def _of(key: str, e: Expression) -> bool:
    """The key is e's output ("x*y") or one of its leaves' grads ("x*y: x.grad")."""
    return key == e.text or key.startswith(f"{e.text}: ")
