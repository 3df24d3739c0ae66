"""Discovering a layer's conventions by experiment, and adapt_layer.

Probing runs on throw-away deep copies, on sizes chosen so that nothing can be confused:
in and out features differ (so (in, out) storage cannot pass for (out, in)), and the batch size
differs from both (so an input cache is never mistaken for a weight). Every finding can be given
instead (the keyword arguments of adapt_layer, the fields of LayerConventions); a probe that
cannot decide raises ConventionError naming the keyword argument that settles it.
"""

import copy
import itertools

import numpy as np

import scratch_nn
from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.functional import FunctionalLayer
from reference.adapters.layer import (
    BACKWARD_CALLS,
    LayerConventions,
    adapted_class,
    call_backward,
    columns,
    to_canonical,
)
from reference.adapters.layer_methods import (
    accepts,
    backward_call,
    find_backward,
    find_forward,
)
from reference.adapters.methods import require_method
from reference.adapters.probing import (
    BIAS_NAMES,
    FAILED,
    WEIGHT_NAMES,
    arrays,
    attempt,
    by_name,
    changed,
    get,
    learning_rate,
    looks_like_gradient,
    snapshot,
    works,
)

PROBE_SIZES = (6, 4)   # in and out features of a layer built to be probed: not square
PROBE_BATCH = 3        # neither 6 nor 4: a class built to be probed; an instance gets probe_batch(its sizes)
TWIN_WORDS = {"linear": ("linear", "dense", "affine", "fullyconnected", "fc"), "sigmoid": ("sigmoid", "logistic"),
              "relu": ("relu",), "tanh": ("tanh",), "softmax": ("softmax",)}
TWINS = tuple(TWIN_WORDS)
DERIVATIVE_CALLS = ("x", "output")  # BACKWARD_CALLS of an activation's derivative method only
INPUT_GRADIENT_NAMES = ("dinputs", "dinput", "dx", "grad_input", "dX", "delta")
OUTPUT_NAMES = ("output", "out", "outputs", "a", "y")


def adapt_layer(subject, twin=None, *, in_features=None, out_features=None, lr=None, factory=None,
                dtype=None, seed=0, **explicit):
    """A layer with scratch_nn's interface (an AdaptedLayer) around a user's layer.

    subject: an instance (deep-copied, never modified), a class, or a functional pair
        (forward_fn, backward_fn[, weight, bias]) as in affine_forward/affine_backward.
    twin: what it computes: "linear", "sigmoid", "relu", "tanh", "softmax"; default: the subject's
        torch_twin attribute, else the class name (Linear/Dense/Affine..., Sigmoid, ReLU, Tanh, Softmax).
    in_features, out_features: sizes to build a class with (default 6 and 4) or, for an
        instance, to tell its layout from its weight's shape.
    lr: the learning rate a constructor takes (cls(in, out, lr)) or backward applies.
    dtype: of the parameters: a built layer's (default float64); an instance keeps its own unless given.
    factory: builds the layer: factory(in_features, out_features) for a linear twin, factory() otherwise.
    explicit: any LayerConventions field (weight="weights", layout="in_out", backward="x,grad",
        bias_shape="row", batching="columns", param_grads="mean", weight_grad="dW", bias_grad="db", gradients="update",
        forward_method="__call__", backward_method="bprop", ...).
    A class is built, then its parameters are set from scratch_nn.torch_default with `seed`.
    """
    known = set(LayerConventions.__dataclass_fields__) - {"name", "twin", "built"}
    if set(explicit) - known:
        raise TypeError(f"adapt_layer got unknown conventions {sorted(set(explicit) - known)}; known: {sorted(known)}")
    built, dtype_given, dtype = "", dtype is not None, np.dtype(dtype or np.float64)
    if isinstance(subject, tuple):
        fresh = len(subject) == 2  # no arrays given: FunctionalLayer makes them, the seed fills them below
        subject = FunctionalLayer(*subject, in_features=in_features or PROBE_SIZES[0],
                                  out_features=out_features or PROBE_SIZES[1], dtype=dtype,
                                  **{key: explicit.get(key) for key in ("layout", "bias_shape", "batching")})
        if fresh and hasattr(subject, "w"):
            built = f"the pair {subject.forward_fn.__name__}/{subject.backward_fn.__name__}"
    twin = twin_of(subject, twin)
    for keyword in ("forward_method", "backward_method"):
        if keyword in explicit and factory is None:
            require_method(subject, explicit[keyword], keyword)
    if isinstance(subject, type) or factory is not None:
        subject, built = build(subject, twin, in_features or PROBE_SIZES[0], out_features or PROBE_SIZES[1],
                               lr, factory, dtype, explicit.get("forward_method"))
    else:
        subject = copy.deepcopy(subject)
    conventions = discover(subject, twin, in_features, lr, explicit)
    conventions.built = built
    if conventions.batching == "columns" and conventions.has_params and conventions.param_grads is None:
        raise ConventionError(f"{conventions.name} takes its batch as columns (in, m): whether its backward "
                              f"averages dW and db over the batch cannot be probed, only stated; give ",
                              Keyword("param_grads"), "'mean' (dW = dZ @ A_prev.T / m, the deep-learning course's) "
                              "or 'sum' (dW = dZ @ A_prev.T, the 1/m in the loss's gradient)")
    layer = adapted_class(conventions.name)(subject, conventions)
    if built and conventions.has_params:  # the values the checker and the torch twin start from
        weight, bias = scratch_nn.torch_default(np.random.default_rng(seed), *layer_sizes(layer))
        layer.params = {"weight": weight.astype(dtype), "bias": bias.astype(dtype)}
    elif dtype_given:
        layer.params = {name: value.astype(dtype) for name, value in layer.params.items()}
    return layer


def layer_sizes(layer):
    out_features, in_features = layer.params["weight"].shape
    return in_features, out_features


def twin_of(subject, twin) -> str:
    """The twin given, or the subject's torch_twin attribute, or the one its class name (or a base
    class's, or a functional pair's forward function's) names; else an error asking for it."""
    twin = twin or getattr(subject, "torch_twin", None)
    if twin is None:
        if isinstance(subject, (tuple, FunctionalLayer)):
            names = [subject[0].__name__ if isinstance(subject, tuple) else subject.name]
        else:
            names = [k.__name__ for k in (subject if isinstance(subject, type) else type(subject)).__mro__]
        found = [named for named in map(twin_named, names) if named is not None]
        if not found:
            raise ConventionError(f"cannot tell from the name {names[0]!r} what the layer computes; give ",
                                  Keyword("twin"), f" one of {TWINS}")
        twin = found[0]
    if twin not in TWINS:
        raise ValueError(f"unknown twin {twin!r}; choose from {TWINS}")
    return twin


def twin_named(name: str) -> str | None:
    """The twin a name says, if it says exactly one: "DenseLayer" -> "linear", "relu_forward" -> "relu"."""
    found = [twin for twin, words in TWIN_WORDS.items() if any(word in name.lower() for word in words)]
    return found[0] if len(found) == 1 else None


def build(cls, twin, in_features, out_features, lr, factory, dtype, forward_method=None):
    """An instance of cls, and how it was built: factory, cls(weight, bias), cls(in, out), cls(in, out, lr)."""
    if factory is not None:
        args = (in_features, out_features) if twin == "linear" else ()
        layer = factory(*args)
        if forward_method is not None:
            require_method(layer, forward_method, "forward_method")
        return layer, f"factory{args}"
    name = cls.__name__
    if twin != "linear":
        attempts = [((), "()")]
    else:
        rng = np.random.default_rng(0)
        weight, bias = rng.standard_normal((out_features, in_features)), rng.standard_normal(out_features)
        given = 0.1 if lr is None else lr
        attempts = [((weight.astype(dtype), bias.astype(dtype)), "(weight, bias)"),
                    ((in_features, out_features), f"({in_features}, {out_features})"),
                    ((in_features, out_features, given), f"({in_features}, {out_features}, {given:g})")]
    errors = []
    for args, words in attempts:
        try:
            layer = cls(*args)
        except Exception as error:  # not this constructor: try the next
            errors.append(f"{name}{words}: {type(error).__name__}: {error}")
            continue
        if accepts_input(layer, in_features, forward_method):
            return layer, name + words
        errors.append(f"{name}{words} built, but its forward refused a ({PROBE_BATCH}, {in_features}) batch "
                      f"and a ({in_features}, 1) column")
    raise ConventionError(f"could not build {name}: " + "; ".join(errors) + ". Pass an instance, or ",
                          Keyword("factory"), " (called as factory(in_features, out_features) for a linear layer)")


def accepts_input(layer, in_features, forward_method=None) -> bool:
    return accepts(layer, np.random.default_rng(1).standard_normal((PROBE_BATCH, in_features)), forward_method)


def discover(user, twin, in_features, lr, explicit) -> LayerConventions:
    """The conventions of one layer instance, found by experiment where not given."""
    name = user.name if isinstance(user, FunctionalLayer) else type(user).__name__
    c = LayerConventions(name=name, twin=twin, **explicit)
    if twin == "linear" and c.backward in DERIVATIVE_CALLS:
        raise ConventionError(Keyword("backward"), f"{c.backward!r} calls an activation's derivative (f'(x) at the "
                              f"input, or f' from the output), times grad; it applies to "
                              f"{', '.join(t for t in TWINS if t != 'linear')} layers, not to {name}, a linear "
                              f"layer: give ", Keyword("backward"), " one of "
                              f"{', '.join(b for b in BACKWARD_CALLS if b not in DERIVATIVE_CALLS)}")
    if twin == "linear":
        find_parameters(user, c, in_features, explicit)
    sizes = get(user, c.weight).shape if c.has_params else (in_features or PROBE_SIZES[0],)
    width = weight_sizes(get(user, c.weight), c.layout)[0] if c.has_params else sizes[0]
    x = np.random.default_rng(2).standard_normal((probe_batch(sizes), width))
    if "forward_method" not in explicit:
        c.forward_method = find_forward(user, x)
    if "batching" not in explicit:
        c.batching = batching_of(user, c, x, explicit)
    sample = {"rows": x, "columns": x.T, "example": columns(x)[0]}[c.batching]
    probe = copy.deepcopy(user)
    before = snapshot(probe)
    forward = getattr(probe, c.forward_method)
    result = attempt(forward, sample)
    if result is FAILED:
        forward(sample)  # let the user's own error say why
    if result is None and "output" not in explicit:  # forward keeps its output, e.g. in self.output
        c.output = one_of(changed(before, probe), OUTPUT_NAMES, "the output (forward returned nothing)", "output")
    if c.output is not None:
        result = get(probe, c.output)
    if "returns_cache" not in explicit:
        c.returns_cache = isinstance(result, tuple) and len(result) == 2
    output = result[0] if c.returns_cache else result
    cache = result[1] if c.returns_cache else output
    if "backward_method" not in explicit:
        c.backward_method = find_backward(probe, c, "backward" in explicit, sample, cache, output)
    if "backward" not in explicit:
        c.backward = backward_call(probe, c)
    find_gradients(probe, c, sample, cache, output, lr, explicit)
    return c


def probe_batch(sizes) -> int:
    """A batch size m > 1 that is none of the layer's sizes: a batch of rows (m, in) then never passes for
    one of columns (in, m), nor a weight (out, in) for an input."""
    return next(m for m in itertools.count(PROBE_BATCH) if m not in sizes)


def batching_of(user, c, x, explicit) -> str:
    """rows where forward takes the batch x (m, in) as rows; else columns where it takes x.T (in, m) and
    backward gives a gradient per parameter for it; else example (one column at a time), said in the
    conventions block. m (probe_batch) differs from every other size, so no form passes for another."""
    if works(getattr(copy.deepcopy(user), c.forward_method), x):
        return "rows"
    if works(getattr(copy.deepcopy(user), c.forward_method), x.T) and fits_columns(user, c, x, explicit):
        return "columns"
    return "example"


def fits_columns(user, c, x, explicit) -> bool:
    """Whether the layer, run on the batch as columns, gives gradients of its parameters' shapes."""
    given = {**explicit, "batching": "columns", "param_grads": explicit.get("param_grads") or "sum"}
    try:
        conventions = discover(copy.deepcopy(user), c.twin, x.shape[1], None, given)
        layer = adapted_class(c.name)(copy.deepcopy(user), conventions)
        output = layer.forward(x)
        layer.backward(np.ones_like(output))
    except Exception:  # noqa: BLE001 - any failure: not a layer of column batches
        return False
    return all(np.shape(layer.grads.get(name)) == np.shape(value) for name, value in layer.params.items())


def find_parameters(user, c, in_features, explicit):
    found = arrays(user)
    if c.weight is None:
        c.weight = one_of([loc for loc, v in found.items() if v.ndim == 2 and not looks_like_gradient(loc)],
                          WEIGHT_NAMES, "the weight", "weight")
    weight = get(user, c.weight)
    if "layout" not in explicit:
        c.layout = layout_of(user, weight.shape, in_features, explicit.get("forward_method"))
    out_features = weight_sizes(weight, c.layout)[1]
    if c.bias is None:
        c.bias = one_of([loc for loc, v in found.items() if loc != c.weight and not looks_like_gradient(loc)
                         and v.size == out_features and v.ndim <= 2 and (v.ndim == 1 or 1 in v.shape)],
                        BIAS_NAMES, "the bias", "bias")
    if "bias_shape" not in explicit:
        shape = get(user, c.bias).shape
        c.bias_shape = "flat" if len(shape) == 1 else "row" if shape[0] == 1 else "column"


def one_of(candidates, names, what, option):
    """The one candidate location, or the one among several with a usual name; else an error."""
    if len(candidates) == 1:
        return candidates[0]
    named = by_name(candidates, names)
    if len(named) == 1:
        return named[0]
    if not candidates:
        raise ConventionError(f"found no array that could be {what}; give its location with ", Keyword(option),
                              " (an attribute name, or 'dict.key')")
    raise ConventionError(f"{what} could be any of {', '.join(candidates)}; give ", Keyword(option), " one of them")


def layout_of(user, shape, in_features, forward_method=None) -> str:
    """(out, in) or (in, out), from the input width the layer is known to take or accepts."""
    if shape[0] == shape[1]:
        raise ConventionError(f"the weight is square {shape}: its shape cannot tell (out, in) from (in, out); "
                              "give ", Keyword("layout"), "'out_in' (x @ W.T) or 'in_out' (x @ W)")
    if in_features is None:
        x = np.random.default_rng(3).standard_normal((PROBE_BATCH, shape[1]))
        in_features = shape[1] if accepts(user, x, forward_method) else shape[0]
    if in_features not in shape:
        raise ConventionError(f"the weight's shape {shape} does not fit {in_features} input features")
    return "out_in" if shape[1] == in_features else "in_out"


def weight_sizes(weight, layout):
    """(in_features, out_features) of a weight stored in layout."""
    out_features, in_features = to_canonical(weight, layout).shape
    return in_features, out_features


def find_gradients(probe, c, x, cache, output, lr, explicit):
    """Run backward once and see what it returns and what it changes."""
    grad = np.random.default_rng(4).standard_normal(np.shape(output))
    before = snapshot(probe)
    returned = call_backward(probe, c, x, cache, grad)
    returned_tuple = isinstance(returned, tuple)
    moved = changed(before, probe)
    if "input_grad" not in explicit and returned_tuple:
        c.input_grad = next((i for i, v in enumerate(returned) if np.shape(v) == np.shape(x)), 0)
    elif "input_grad" not in explicit and returned is None:  # backward stores dL/dx, e.g. in self.dinputs
        c.input_grad = one_of([loc for loc in moved if np.shape(get(probe, loc)) == np.shape(x)],
                              INPUT_GRADIENT_NAMES, "dL/dx (backward returned nothing)", "input_grad")
    if not c.has_params:
        return
    if "gradients" not in explicit:
        c.gradients = ("update" if c.weight in moved or c.bias in moved
                       else "returned" if returned_tuple and len(returned) >= 3 else "attributes")
    if c.gradients == "update":
        if c.batching == "example":
            raise ConventionError(f"{c.name} updates its weights after every single example: the gradient of a "
                                  f"batch cannot be recovered from that; store the gradient, or update per batch")
        held, given = learning_rate(probe), c.lr if c.lr is not None else lr
        if held is None and given is None:
            raise ConventionError(f"{c.name}.backward changes the weights itself, but no learning rate was found "
                                  "in .learning_rate, .lr or .eta; give ", Keyword("lr"))
        if held is not None and given is not None and not np.isclose(held[1], given, rtol=1e-12, atol=0):
            raise ConventionError(f"{c.name} holds lr {held[1]:g} in .{held[0]}, but ", Keyword("lr"),
                                  f"{given:g} was given: backward applies its own; give the same value or none")
        c.lr, c.lr_from = (held[1], held[0]) if held is not None else (given, "")
        return
    weight_shape = get(probe, c.weight).shape
    if c.gradients == "returned":
        shapes = [np.shape(v) for v in returned]
        c.weight_grad = c.weight_grad or str(next((i for i, s in enumerate(shapes) if i != c.input_grad
                                                   and sorted(s) == sorted(weight_shape)), 1))
        c.bias_grad = c.bias_grad or str(next((i for i, s in enumerate(shapes) if i not in (c.input_grad,
                                              int(c.weight_grad))), 2))
        return
    new = [loc for loc in moved if loc not in (c.weight, c.bias, c.input_grad)]
    if c.weight_grad is None:
        c.weight_grad = one_of([loc for loc in new if sorted(np.shape(get(probe, loc))) == sorted(weight_shape)],
                               [f"d{n}" for n in WEIGHT_NAMES] + [f"grad_{n}" for n in WEIGHT_NAMES],
                               "the weight gradient (after backward)", "weight_grad")
    if c.bias_grad is None:
        size = get(probe, c.bias).size
        c.bias_grad = one_of([loc for loc in new if loc != c.weight_grad and np.size(get(probe, loc)) == size],
                             [f"d{n}" for n in BIAS_NAMES] + [f"grad_{n}" for n in BIAS_NAMES],
                             "the bias gradient (after backward)", "bias_grad")
