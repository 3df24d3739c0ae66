"""A user's layer, in the user's conventions, presented with scratch_nn's interface.

AdaptedLayer holds the parameters the way scratch_nn.Linear does (``params["weight"]`` (out, in),
``params["bias"]`` (out,), ``grads`` under the same names, ``forward(x)`` on a batch of rows,
``backward(grad_output) -> dL/dx``), so the gradient checker, the side-by-side comparisons and the
training loop run on it unchanged. Underneath it calls the user's own object (a deep copy: the
user's object is never touched) in the user's own conventions, which discovery.py finds:

- ``params`` is the truth. Before every call into the user's code it is put into the user's
  storage, in the user's layout ((in, out) as a transposed view, a (1, out) bias as a reshaped
  view), so a checker or an optimizer that writes ``params`` writes the user's weights.
- backward is called as the user's code wants it: ``backward(grad)``, ``backward(x, grad)``,
  ``backward(grad, x)`` or ``backward(grad, cache)`` (x and the cache are remembered from forward).
- gradients are read where they land (attributes, a dict, a returned tuple) and brought to
  (out, in). Where backward updates the parameters itself, W <- W - lr dW, the gradient is
  recovered as (W_before - W_after) / lr and the parameters are put back: ``grads`` then holds
  the gradient and ``params`` the weights forward used, as scratch_nn's contract says; the update
  is taken by InBackwardUpdate (network.py), which applies the same W - lr dW.
- a layer taking its batch as columns (in, m) (the deep-learning course's linear_forward) is given
  the batch transposed. Where its backward (on rows or columns) averages dW and db over the batch itself (param_grads
  "mean", the course's dW = dZ @ A_prev.T / m, with dA_prev = W.T @ dZ not averaged), it is given
  m times the upstream gradient and its dA_prev divided by m, so that it keeps scratch_nn's contract
  (every gradient of the objective whose gradient at the output is grad_output); a missing or
  doubled 1/m then shows as dW m times too big or too small.
- a layer written for one example at a time (x a column (in, 1)) is run column by column, and its
  per-example gradients are summed over the batch.
"""

from dataclasses import dataclass

import numpy as np

from reference.adapters.probing import check_choices, get, put

LAYOUTS = ("out_in", "in_out")
BIAS_SHAPES = ("flat", "row", "column")
BATCHINGS = ("rows", "columns", "example")
PARAM_GRADS = ("sum", "mean")
BACKWARD_CALLS = ("grad", "x,grad", "grad,x", "grad,cache", "x", "output")
GRADIENT_SOURCES = ("attributes", "returned", "update")
USED_AS = {("out_in", "rows"): "(out, in), used as x @ W.T", ("in_out", "rows"): "(in, out), used as x @ W",
           ("out_in", "columns"): "(out, in), used as W @ A", ("in_out", "columns"): "(in, out), used as W.T @ A",
           ("out_in", "example"): "(out, in), used as W @ x", ("in_out", "example"): "(in, out), used as W.T @ x"}


@dataclass
class LayerConventions:
    """How one user layer class works. Every field can be given explicitly to adapt_layer under the
    same name (a command line maps each to a flag: --weight, --layout, --backward, ...)."""

    name: str                        # the user's class (or function) name
    twin: str                        # "linear", "sigmoid", "relu", "tanh", "softmax"
    built: str = ""                  # how the object was built, e.g. "Linear(6, 4, 0.1)"; "" for an instance
    weight: str | None = None        # where the weight lives, e.g. "weights" or "params.W"
    bias: str | None = None
    layout: str = "out_in"           # "out_in": stored (out, in) as torch does; "in_out": (in, out), used as x @ W
    bias_shape: str = "flat"         # "flat" (out,), "row" (1, out), "column" (out, 1)
    batching: str = "rows"           # "rows": x is (n, in); "columns": a batch as columns (in, m);
                                     # "example": one example at a time, x is (in, 1)
    param_grads: str | None = None   # a batch's dW and db: the "sum" over it (the 1/m is in the upstream
                                     # gradient), or the "mean" (backward divides by m, the course's);
                                     # None: "sum" for rows, to be given for columns
    output: str | None = None        # where forward leaves its output when it returns nothing, e.g. "output"
    forward_method: str = "forward"  # the method that is forward: forward, __call__, fprop, ... (methods.py)
    backward_method: str = "backward"  # backward, backprop, bprop, grad, ...; or an activation's derivative
    returns_cache: bool = False      # forward returns (output, cache)
    backward: str = "grad"           # one of BACKWARD_CALLS: the arguments backward takes; "x" and "output":
                                     # it is f'(x) at the input, or f' from the output, times grad here
    gradients: str = "attributes"    # one of GRADIENT_SOURCES: where the parameter gradients land
    weight_grad: str | None = None   # a location (attributes), or the index in backward's tuple (returned)
    bias_grad: str | None = None
    input_grad: int | str | None = None  # dL/dx: its index in backward's tuple, or where backward stores it
                                         # (e.g. "dinputs"); None: backward returns it alone
    lr: float | None = None          # update: the learning rate backward applies
    lr_from: str = ""                # update: the attribute it was read from; "" when given

    def __post_init__(self):
        check_choices(self, {"layout": LAYOUTS, "bias_shape": BIAS_SHAPES, "batching": BATCHINGS,
                             "param_grads": (None, *PARAM_GRADS),
                             "backward": BACKWARD_CALLS, "gradients": GRADIENT_SOURCES})

    @property
    def has_params(self) -> bool:
        return self.weight is not None

    def describe(self) -> str:
        """One line: what was found, in the words the user's code would use."""
        parts = [f"built as {self.built}"] if self.built else []
        if self.has_params:
            stored = USED_AS[self.layout, self.batching]
            parts.append(f"weights in `.{self.weight}`, stored {stored}; bias in `.{self.bias}`, shape "
                         f"{ {'flat': '(out,)', 'row': '(1, out)', 'column': '(out, 1)'}[self.bias_shape]}")
        if self.batching == "rows" and self.param_grads == "mean":
            parts.append("dW and db averaged over the batch in backward (divided by n), dL/dx not")
        if self.batching == "columns":
            parts.append("a batch as columns (in, m)" + (
                "; dW and db averaged over the batch in backward (dW = dZ @ A_prev.T / m), dA_prev not"
                if self.param_grads == "mean" else "; dW and db summed over the batch (the 1/m in the upstream "
                                                   "gradient)" if self.has_params else ""))
        if self.batching == "example":
            parts.append("one example at a time as a column (in, 1): run column by column, gradients summed")
        if self.returns_cache:
            parts.append("forward returns (output, cache)")
        if self.output is not None:
            parts.append(f"forward leaves its output in `.{self.output}`")
        if self.forward_method != "forward":
            parts.append(f"forward is {self.forward_method}(x)")
        call = {"grad": "{}(grad) uses what forward cached", "x,grad": "{}(x, grad) is stateless",
                "grad,x": "{}(grad, x) is stateless", "grad,cache": "{}(grad, cache) takes the cache forward returned",
                "x": "{}(x) is the derivative at the input, times grad", "output": "{}(output) is the derivative "
                "from the output, times grad"}[self.backward].format(self.backward_method)
        if self.gradients == "update":
            source = f"(`.{self.lr_from}`)" if self.lr_from else "(given)"
            call += (f" and updates `.{self.weight}`/`.{self.bias}` with lr {self.lr:g} {source}; "
                     f"gradients recovered from the update")
        if isinstance(self.input_grad, str):
            call += f", leaving dL/dx in `.{self.input_grad}`"
        parts.append(call)
        if self.has_params and self.gradients == "attributes":
            parts.append(f"gradients in `.{self.weight_grad}`, `.{self.bias_grad}`")
        elif self.has_params and self.gradients == "returned":
            parts.append(f"backward returns (dx, dW, db) at positions {self.input_grad}, {self.weight_grad}, "
                         f"{self.bias_grad}")
        return f"{self.name} ({self.twin}): " + "; ".join(parts)


class AdaptedLayer:
    """scratch_nn's layer interface over a user's layer (see the module docstring).

    torch_twin names the torch module it is compared with. The user's object is ``.user``. Where
    backward updates the parameters, ``updated`` holds them as it left them, (out, in), before they
    were put back (a checker can tell from it that dL/dx was computed with the updated weights).
    """

    def __init__(self, user, conventions: LayerConventions):
        self.user, self.conventions = user, conventions
        self.torch_twin = conventions.twin
        self.params = {}
        if conventions.has_params:
            self.params = {"weight": to_canonical(get(user, conventions.weight), conventions.layout).copy(),
                           "bias": np.reshape(get(user, conventions.bias), -1).copy()}
        self.grads: dict[str, np.ndarray] = {}
        self.updated: dict[str, np.ndarray] = {}
        self._cache = None

    def forward(self, x):
        self._push()
        if self.conventions.batching == "columns":
            output, cache = self._forward(x.T)
            self._cache = (x, cache)
            return output.T
        if self.conventions.batching == "example":
            results = [self._forward(column) for column in columns(x)]
            self._cache = (x, None)
            return np.concatenate([output for output, _ in results], axis=1).T
        output, cache = self._forward(x)
        self._cache = (x, cache)
        return output

    def backward(self, grad_output):
        if self._cache is None:
            raise RuntimeError(f"{self!r}.backward was called before forward: there is nothing to differentiate")
        x, cache = self._cache
        self._push()
        if self.conventions.batching in ("rows", "columns"):
            scale = len(x) if self.conventions.param_grads == "mean" else 1  # see the module's doc
            if self.conventions.batching == "rows":
                grad_input, self.grads = self._backward(x, cache, grad_output * scale)
                return grad_input / scale
            grad_input, self.grads = self._backward(x.T, cache, grad_output.T * scale)
            return grad_input.T / scale
        grad_inputs, total = [], {}
        for column, grad in zip(columns(x), columns(grad_output)):
            _, cache = self._forward(column)  # the user's layer remembers one example: run it again
            self._zero_gradients()            # so that "+=" accumulation and plain assignment both read right
            grad_input, grads = self._backward(column, cache, grad)
            grad_inputs.append(grad_input)
            total = {name: total.get(name, 0) + value for name, value in grads.items()}
        self.grads = total
        return np.concatenate(grad_inputs, axis=1).T

    def _forward(self, x):
        """(output, cache): the cache forward returned, or else the output (what backward(output) takes)."""
        result = getattr(self.user, self.conventions.forward_method)(x)
        if self.conventions.output is not None:
            result = get(self.user, self.conventions.output)
        return result if self.conventions.returns_cache else (result, result)

    def _backward(self, x, cache, grad):
        """The user's backward, called in its convention: (dL/dx, {"weight": dW, "bias": db} in (out, in))."""
        c = self.conventions
        before = {name: value.copy() for name, value in self.params.items()} if c.gradients == "update" else None
        result = call_backward(self.user, c, x, cache, grad)
        grad_input = (result if c.input_grad is None else result[c.input_grad] if isinstance(c.input_grad, int)
                      else get(self.user, c.input_grad))
        if not c.has_params:
            return grad_input, {}
        if c.gradients == "update":
            self.updated = {"weight": self._read(c.weight, c.layout).copy(), "bias": self._read(c.bias).copy()}
            grads = {name: (before[name] - self.updated[name]) / c.lr for name in before}
            for name, value in before.items():  # forward's weights back: the step is the optimizer's
                self.params[name][...] = value
            self._push()
            return grad_input, grads
        if c.gradients == "returned":
            weight_grad, bias_grad = result[int(c.weight_grad)], result[int(c.bias_grad)]
        else:
            weight_grad, bias_grad = get(self.user, c.weight_grad), get(self.user, c.bias_grad)
        return grad_input, {"weight": to_canonical(np.asarray(weight_grad), c.layout).copy(),
                            "bias": flat_bias(np.asarray(bias_grad)).copy()}

    def _read(self, location, layout=None):
        value = np.asarray(get(self.user, location))
        return to_canonical(value, layout) if layout else flat_bias(value)

    def _push(self):
        """params into the user's storage, as views in the user's layout (writes go through to params)."""
        c = self.conventions
        if c.has_params:
            put(self.user, c.weight, to_canonical(self.params["weight"], c.layout))
            shape = {"flat": (-1,), "row": (1, -1), "column": (-1, 1)}[c.bias_shape]
            put(self.user, c.bias, self.params["bias"].reshape(shape))

    def _zero_gradients(self):
        c = self.conventions
        if c.gradients == "attributes":
            for location in (c.weight_grad, c.bias_grad):
                value = get_or_none(self.user, location)
                if isinstance(value, np.ndarray):
                    put(self.user, location, np.zeros_like(value))

    def __reduce__(self):
        """Pickled by the user's class name: the class is made by adapted_class, and no module holds it by
        that name (a run that trains the scratch side in a process of its own sends the network back)."""
        return unpickle_layer, (self.conventions.name, self.__dict__)

    def __repr__(self):
        weight = self.params.get("weight")
        sizes = f"({weight.shape[1]}->{weight.shape[0]})" if weight is not None else ""
        return f"{self.conventions.name}{sizes}"


def call_backward(user, c: LayerConventions, x, cache, grad):
    """The user's backward method called in its convention c.backward; cache: what forward returned
    besides the output, or else the output. A derivative's result is multiplied by grad here."""
    method = getattr(user, c.backward_method)
    if c.backward in ("x", "output"):
        return grad * method(x if c.backward == "x" else cache)
    arguments = {"grad": (grad,), "x,grad": (x, grad), "grad,x": (grad, x), "grad,cache": (grad, cache)}
    return method(*arguments[c.backward])


def to_canonical(weight, layout):
    """A weight (or its gradient) in the user's layout as (out, in); the same transpose goes back."""
    return weight.T if layout == "in_out" else weight


def flat_bias(value):
    """A (1, out) or (out, 1) bias (or its gradient) as (out,); any other shape is left for the checker to show."""
    return value.reshape(-1) if value.ndim == 2 and 1 in value.shape else value


def columns(batch):
    """The rows of a batch (n, features) as columns (features, 1), one example each."""
    return [row.reshape(-1, 1) for row in batch]


def get_or_none(obj, location):
    try:
        return get(obj, location)
    except (AttributeError, KeyError, TypeError):
        return None


_CLASSES: dict[str, type] = {}


def adapted_class(name: str) -> type:
    """A subclass of AdaptedLayer named after the user's class, so that reports name the user's class."""
    if name not in _CLASSES:
        _CLASSES[name] = type(name, (AdaptedLayer,), {"__module__": __name__})
    return _CLASSES[name]


def unpickle_layer(name: str, state: dict) -> AdaptedLayer:
    cls = adapted_class(name)
    layer = cls.__new__(cls)
    layer.__dict__.update(state)
    return layer
