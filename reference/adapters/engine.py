"""The user's side of the engine check: the operations it runs (OPERATIONS), and a scalar autograd
engine (a micrograd-style Value class, and the MLP beside it) driven with plain numbers.

    side = LocalEngine(Value); side.require(); side.unsupported("tanh()")
    data, grads = side.run(expression, [x, y])       # forward and backward: out.data, each leaf's .grad
    mlp = LocalMLP(MLP); mlp.build(sizes); mlp.run(values, xs, ys)

reference.gradcheck.engine (and engine_mlp) check a side and nothing else of the class: for compare.py
check engine the side is this object, in the checker's process; when grading, it is a proxy whose
every call is a request to the sandboxed worker holding this object (reference.grading.remote_kinds),
the expression named by its text and its leaves' values the grader's. Nothing here needs torch: the
expressions run alike on the user's Values and on torch tensors.
"""

import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

ONCE, REUSE, ORDER = "once", "reuse", "order"  # every value used once; a value used twice; a node shared


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


EXPRESSIONS = {e.text: e for operation in OPERATIONS for e in operation.expressions}
OPERATION_NAMES = {operation.name: operation for operation in OPERATIONS}


class EngineSide:
    """What the engine check calls on a Value class: name, and LocalEngine's methods below."""

    name: str


class MLPSide:
    """What the MLP check calls on an MLP class: name, and LocalMLP's methods below."""

    name: str


class LocalEngine(EngineSide):
    """The user's Value class, run on the numbers the check chooses."""

    def __init__(self, Value):
        self.Value = Value
        self.name = getattr(Value, "__name__", repr(Value))

    def require(self) -> None:
        """ValueError where the class cannot be checked at all (not a class, no backward, no .data/.grad)."""
        Value = self.Value
        if not isinstance(Value, type):
            raise ValueError(f"{Value!r} is not a class; give the Value class (--engine FILE.py:Value)")
        if not callable(getattr(Value, "backward", None)):
            raise ValueError(f"{Value.__name__} has no backward() method; give the class whose instances hold "
                             f".data, .grad and backward() (micrograd's Value)")
        try:
            value = Value(1.0)
        except Exception as error:  # noqa: BLE001 - the user's constructor may raise anything
            raise ValueError(f"{Value.__name__}(1.0) raised {type(error).__name__}: {error}; the check builds each "
                             f"leaf as {Value.__name__}(number)") from None
        for attribute in ("data", "grad"):
            if not hasattr(value, attribute):
                raise ValueError(f"{Value.__name__}(1.0) has no .{attribute}; the check reads .data and .grad")

    def unsupported(self, name: str) -> str:
        """Why the class does not support the operation ("" where it does): a method it lacks, or for a
        reflected operation (2 - x) a method its forward needs that the class lacks, as Python's TypeError
        names it (2 - x where __rsub__ is other + (-self) and there is no __radd__). A method that exists
        and raises, whatever it raises, is a failure of the row instead (a typo self.dat in tanh)."""
        Value, operation = self.Value, OPERATION_NAMES[name]
        missing = [method for method in operation.needs if not hasattr(Value, method)]
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

    def run(self, text: str, values) -> tuple[np.float64, list[np.float64]]:
        """The expression forward and backward on Values of these numbers: the output's .data, each leaf's .grad."""
        leaves = [self.Value(float(v)) for v in values]
        out = EXPRESSIONS[text].f(*leaves)
        out.backward()
        return _number(out.data), [_number(leaf.grad) for leaf in leaves]

    def forward(self, text: str, values) -> float:
        """The expression's output alone (what finite differences take)."""
        return float(EXPRESSIONS[text].f(*[self.Value(float(v)) for v in values]).data)


def _number(value) -> np.float64:
    """A Value's .data or .grad as a float64; anything else (None, a str) a TypeError saying what it is."""
    if not isinstance(value, numbers.Real):
        raise TypeError(f"expected a number in .data and .grad; got {value!r}")
    return np.float64(value)


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


class LocalMLP(MLPSide):
    """The user's micrograd-style MLP(nin, nouts), built fresh, its parameters() set to the check's values,
    run on the check's examples: the loss users write (the sum of squared errors, with the user's own
    Value operations) and backward()."""

    def __init__(self, MLP):
        self.MLP, self.name = MLP, MLP.__name__

    def build(self, sizes) -> int:
        """The MLP for sizes, built; how many parameters() it lists (ValueError where it cannot be built or
        lists another number than sizes' weights and biases)."""
        try:
            self.mlp = self.MLP(sizes[0], list(sizes[1:]))
        except Exception as error:  # noqa: BLE001 - the user's constructor may raise anything
            raise ValueError(f"{self.name}({sizes[0]}, {list(sizes[1:])}) raised {type(error).__name__}: {error}; "
                             f"the check builds the MLP as micrograd's, MLP(nin, nouts), from --spec") from None
        params = list(self.mlp.parameters()) if callable(getattr(self.mlp, "parameters", None)) else None
        if params is None:
            raise ValueError(f"{self.name} has no parameters() method; the check reads and sets the weights "
                             f"through it, as micrograd's MLP.parameters()")
        expected = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))
        if len(params) != expected:
            raise ValueError(f"{self.name}({sizes[0]}, {list(sizes[1:])}).parameters() has {len(params)} values; "
                             f"--spec {'-'.join(map(str, sizes))} has {expected} weights and biases. parameters() "
                             f"must list every neuron's w and b, layer by layer")
        self.params = params
        return len(params)

    def run(self, values, xs, ys) -> dict:
        """parameters() set to values (grads 0), the outputs for the rows xs, the loss sum((output - y)**2)
        over them and its backward(): {"outputs", "loss", "output_grad", "grads" (parameters()' order)}."""
        for p, v in zip(self.params, values):
            p.data, p.grad = float(v), 0.0
        outputs = [_as_list(self.mlp([float(v) for v in x])) for x in xs]
        terms = [(o - float(y)) ** 2 for out, target in zip(outputs, ys) for o, y in zip(out, target)]
        loss = terms[0]
        for term in terms[1:]:  # not sum(): that starts from 0 and needs __radd__, which the operations' rows check
            loss = loss + term
        loss.backward()
        return {"outputs": np.array([[o.data for o in out] for out in outputs], dtype=np.float64),
                "loss": np.float64(loss.data),
                "output_grad": np.array([[o.grad for o in out] for out in outputs], dtype=np.float64),
                "grads": np.array([p.grad for p in self.params], dtype=np.float64)}


def _as_list(out) -> list:
    """micrograd returns the one output itself, and a list of several."""
    return list(out) if isinstance(out, (list, tuple)) else [out]
