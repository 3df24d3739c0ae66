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
"""

import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from reference import tolerances
from reference.comparison import compare
from reference.finite_differences import (
    FINITE_DIFFERENCES_JUDGE,
    numerical_gradient_and_error,
    widened_tolerance,
)
from reference.gradcheck.engine_mlp import check_mlp
from reference.gradcheck.report import CheckReport, PartCheck
from reference.gradcheck.signatures import Case, Match, Signature, match_signatures

ONCE, REUSE, ORDER = "once", "reuse", "order"  # every value used once; a value used twice; a node shared
LOW, HIGH = 0.5, 1.5  # leaves' magnitudes: away from 0 (relu's kink, a divisor) and from saturation


@dataclass(frozen=True)
class Expression:
    text: str          # as the table shows it
    f: Callable        # the expression, on the user's Values or on torch tensors alike
    role: str = ONCE
    uses: tuple = ()   # the other operations it goes through, for naming what a failure comes from
    at: tuple = ()     # the leaves' values where fixed: at a kink, where the derivative is a convention

    @property
    def leaves(self) -> list[str]:
        return list(self.f.__code__.co_varnames[:self.f.__code__.co_argcount])


@dataclass(frozen=True)
class Operation:
    name: str                       # the method, as a row names it: "__mul__", "tanh()", "backward()"
    expressions: tuple
    signs: dict = field(default_factory=dict)  # leaf -> +1 or -1 where its sign matters (log, relu); else either

    @property
    def needs(self) -> list[str]:
        """The methods the class must have for the row to be checked ("composite" is none: its uses are)."""
        names = dict.fromkeys([self.name, *(u for e in self.expressions for u in e.uses)])
        return [name.removesuffix("()") for name in names if name.startswith("__") or name.endswith("()")]


def _shared_node(x, y, z):
    a = x * y
    return a * z + a * y


OPERATIONS = [
    Operation("__add__", (Expression("x+y", lambda x, y: x + y), Expression("x+x", lambda x: x + x, REUSE))),
    Operation("__mul__", (Expression("x*y", lambda x, y: x * y), Expression("x*x", lambda x: x * x, REUSE))),
    Operation("__pow__", (Expression("x**3", lambda x: x ** 3), Expression("x**-1.5", lambda x: x ** -1.5)),
              {"x": 1}),
    Operation("__neg__", (Expression("-x", lambda x: -x),)),
    # y used twice, not x - x or x / x: their gradient is 0, where rounding (x * x**-1) is no agreement
    Operation("__sub__", (Expression("x-y", lambda x, y: x - y), Expression("x-y-y", lambda x, y: x - y - y, REUSE))),
    Operation("__truediv__", (Expression("x/y", lambda x, y: x / y),
                              Expression("x/y/y", lambda x, y: x / y / y, REUSE))),
    Operation("__radd__", (Expression("2+x", lambda x: 2.0 + x),
                           Expression("sum([x, y])", lambda x, y: sum([x, y]), uses=("__add__",)))),
    Operation("__rmul__", (Expression("2*x", lambda x: 2.0 * x),)),
    Operation("__rsub__", (Expression("2-x", lambda x: 2.0 - x),)),
    Operation("__rtruediv__", (Expression("2/x", lambda x: 2.0 / x),)),
    Operation("tanh()", (Expression("x.tanh()", lambda x: x.tanh()),)),
    Operation("exp()", (Expression("x.exp()", lambda x: x.exp()),)),
    # and at its kink, 0: torch takes relu'(0) = 0 (no finite difference there: the two sides' slopes differ)
    Operation("relu()", (Expression("x.relu()", lambda x: x.relu()), Expression("y.relu()", lambda y: y.relu()),
                         Expression("z.relu() at z = 0", lambda z: z.relu(), at=(0.0,))), {"x": 1, "y": -1}),
    Operation("sigmoid()", (Expression("x.sigmoid()", lambda x: x.sigmoid()),)),
    Operation("log()", (Expression("x.log()", lambda x: x.log()),), {"x": 1}),
    Operation("composite", (Expression("(x*y + x).tanh()", lambda x, y: (x * y + x).tanh(), REUSE,
                                       ("__add__", "__mul__", "tanh()")),), {"y": 1}),  # x(y + 1) away from 0
    Operation("backward()", (Expression("a=x*y; a*z + a*y", _shared_node, ORDER, ("__add__", "__mul__")),)),
]


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


def check_operation(Value, operation: Operation, rng) -> PartCheck:
    """One row: every expression of the operation, forward and backward, against torch and finite differences."""
    part = PartCheck("operation", None, ", ".join(e.text for e in operation.expressions), operation.name)
    scratch, reference, numerical, fd_tolerance, leaves = {}, {}, {}, {}, {}
    for e in operation.expressions:
        values = {leaf: float(operation.signs.get(leaf, rng.choice([-1, 1])) * rng.uniform(LOW, HIGH))
                  for leaf in e.leaves}
        values.update(zip(e.leaves, e.at))
        leaves[e.text] = values
        try:
            ours = _user_pass(Value, e, values)
            gradients, error = ([], []) if e.at else numerical_gradient_and_error(
                lambda at, e=e: _user_forward(Value, e, at), np.array(list(values.values())))
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


def _user_pass(Value, e: Expression, values: dict) -> dict:
    """The user's forward and backward: the output's .data and each leaf's .grad, under the row's keys."""
    leaves = [Value(v) for v in values.values()]
    out = e.f(*leaves)
    out.backward()
    return {e.text: _number(out.data), **{f"{e.text}: {name}.grad": _number(leaf.grad)
                                          for name, leaf in zip(values, leaves)}}


def _number(value) -> np.float64:
    """A Value's .data or .grad as a float64; anything else (None, a str) a TypeError saying what it is."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"expected a number in .data and .grad; got {value!r}")
    return np.float64(value)


def _user_forward(Value, e: Expression, at: np.ndarray) -> float:
    return float(e.f(*[Value(float(v)) for v in at]).data)


def _torch_pass(e: Expression, values: dict) -> dict:
    leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values.values()]
    out = e.f(*leaves)
    out.backward()
    return {e.text: out.detach().numpy(), **{f"{e.text}: {name}.grad": leaf.grad.numpy()
                                             for name, leaf in zip(values, leaves)}}


def check_engine(Value, *, mlp=None, sizes=(3, 4, 4, 1), seed: int = 0, subject: str = "") -> CheckReport:
    """Every operation Value has, and with mlp (a class built as MLP(nin, nouts)) a whole MLP of
    sizes, checked against torch. Raises ValueError where Value cannot be checked at all."""
    _require_engine(Value)
    rng = np.random.default_rng(seed)
    parts, not_supported = [], []
    for operation in OPERATIONS:
        unsupported = _unsupported(Value, operation)
        if unsupported:
            not_supported.append(f"{operation.name} ({unsupported})")
        else:
            parts.append(check_operation(Value, operation, rng))
    _name_structural(parts)
    settings = {"subject": f"{subject or Value.__name__}, {len(parts)} operations", "dtype": "float64",
                "seed": seed, "not_supported": not_supported,
                "reading": "Each operation on random scalars, forward and backward, against torch autograd.",
                "finite_differences": "Finite differences: float64, of your own forward.",
                "also": "Also disagreeing (a row can fail through an operation that fails on its own row)"}
    if mlp is not None:
        mlp_parts, found = check_mlp(mlp, sizes, seed)
        parts += mlp_parts
        settings["subject"] += f"; {found}"
        settings["reading"] += (" The MLP against torch only: its loss, then its layers in the order backward "
                                "reaches them, each neuron's gradient as [w..., b].")
    return CheckReport(parts, settings)


def _unsupported(Value, operation: Operation) -> str:
    """Why the class does not support the operation ("" where it does): a method it lacks, or for a
    reflected operation (2 - x) a method its forward needs that the class lacks, as Python's TypeError
    names it (2 - x where __rsub__ is other + (-self) and there is no __radd__). A method that exists
    and raises, whatever it raises, is a failure of the row instead (a typo self.dat in tanh)."""
    missing = [name for name in operation.needs if not hasattr(Value, name)]
    if missing:
        return f"{Value.__name__} has no {', '.join(missing)}"
    if operation.name not in REFLECTED.values():
        return ""
    e = operation.expressions[0]
    try:
        e.f(*[Value(float(operation.signs.get(leaf, 1))) for leaf in e.leaves])
    except TypeError as error:
        lacking = _lacking(Value, error)
        if lacking:
            return f"{e.text} needs {', '.join(lacking)}, which {Value.__name__} has not ({e.text} raised " \
                   f"TypeError: {error})"
    except Exception:  # noqa: BLE001 - supported, and wrong: the row's check reports it
        pass
    return ""


# An operator's methods, as Python's "unsupported operand type(s) for -" names the operator.
FORWARD = {"+": "__add__", "-": "__sub__", "*": "__mul__", "/": "__truediv__", "** or pow()": "__pow__"}
REFLECTED = {"+": "__radd__", "-": "__rsub__", "*": "__rmul__", "/": "__rtruediv__", "** or pow()": "__rpow__"}
UNARY = {"-": "__neg__", "+": "__pos__"}


def _lacking(Value, error: TypeError) -> list[str]:
    """The methods of Value whose absence the TypeError of Python's operator dispatch reports: for
    "unsupported operand type(s) for +: 'float' and 'Value'", __radd__ if Value has none; [] for any
    other TypeError, or one whose methods Value has (they returned NotImplemented, or raised it)."""
    name = re.escape(Value.__name__)
    binary = re.fullmatch(r"unsupported operand type\(s\) for (.+?): '([^']*)' and '([^']*)'", str(error))
    if binary and binary[1] in FORWARD:
        candidates = ([FORWARD[binary[1]]] if re.fullmatch(name, binary[2]) else []) + \
                     ([REFLECTED[binary[1]]] if re.fullmatch(name, binary[3]) else [])
    else:
        unary = re.fullmatch(r"bad operand type for unary (.): '([^']*)'", str(error))
        candidates = [UNARY[unary[1]]] if unary and unary[1] in UNARY and re.fullmatch(name, unary[2]) else []
    return [method for method in candidates if not hasattr(Value, method)]


def _require_engine(Value) -> None:
    if not isinstance(Value, type):
        raise ValueError(f"{Value!r} is not a class; give the Value class (--engine FILE.py:Value)")
    if not callable(getattr(Value, "backward", None)):
        raise ValueError(f"{Value.__name__} has no backward() method; give the class whose instances hold .data, "
                         f".grad and backward() (micrograd's Value)")
    try:
        value = Value(1.0)
    except Exception as error:  # noqa: BLE001 - the user's constructor may raise anything
        raise ValueError(f"{Value.__name__}(1.0) raised {type(error).__name__}: {error}; the check builds each "
                         f"leaf as {Value.__name__}(number)") from None
    for attribute in ("data", "grad"):
        if not hasattr(value, attribute):
            raise ValueError(f"{Value.__name__}(1.0) has no .{attribute}; the check reads .data and .grad")


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
