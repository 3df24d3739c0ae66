"""Finding a whole network's conventions by experiment (NetworkConventions), with NumPy alone: it
runs where the graded code runs, which has no torch (the checker's torch twin is
reference.gradcheck.network_twin's).

Each finding can be given instead, as discover()'s keyword argument of the same name; a probe
that cannot decide raises ConventionError naming it. In order:

  weights, biases   lists `weights`/`biases`, a dict `params` with W1, b1, ..., or attributes W1, b1, ...
  layout            the weight shapes chained with the bias sizes: W_i (out, in) or (in, out); where
                    both fit (square layers), the forward experiment below decides
  bias_shape        the bias's own shape
  forward, batching the first of FORWARD_NAMES, fed a batch of rows (m, in), else a batch of columns
                    (in, m) (m differs from every layer's size), else one column (in, 1); a network that
                    takes a batch of columns but whose gradients for it are not the parameters' shapes is
                    written for one example at a time only where its update takes a list of examples
                    (Nielsen's update_mini_batch); else it is refused, naming batching=
  activation, output_activation
                    every candidate twin (hidden: sigmoid, relu, tanh; output: also none, softmax) is
                    run on the same weights and inputs; the one whose output equals the user's
  gradient_method, gradient_call
                    the first of GRADIENT_NAMES; called with (x, y), or after forward with (y) or ()
                    by how many arguments it takes
  targets           one-hot columns for one example at a time (Nielsen's vectorized_result);
                    for a batch, labels unless the call with labels raises
  cost, reduction   from the loss value the gradient method returns (every candidate's mean and
                    sum at the user's output); else the cost's name (a `cost` attribute, Nielsen's
                    cost_derivative) or a softmax output (cross-entropy), the mean. Never from the
                    gradients: that would explain a mistake away (a quadratic cost's gradient without
                    sigmoid' at the output is cross-entropy's)
  update, update_lr the first of UPDATE_NAMES with a learning-rate argument
"""

import copy
import inspect
import itertools
import re

import numpy as np
from scipy.special import expit, logsumexp, softmax

from reference.adapters import whole_network as wn
from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.methods import require_method
from reference.adapters.probing import FAILED, LR_NAMES, attempt
from reference.choices import GRADIENT_CALLS

FORWARD_NAMES = ("feedforward", "forward", "loss", "scores", "predict_proba", "__call__")  # net(X) last
GRADIENT_NAMES = ("backprop", "loss", "backward", "gradients", "compute_gradients")
UPDATE_NAMES = ("update_mini_batch", "train_step", "step", "update_parameters", "update")
EXTRA_LR_NAMES = ("eta",)
NUMBERED = re.compile(r"([A-Za-z]+)(\d+)$")
# The twins discovery compares with, in NumPy (discovery runs where the graded code runs, without torch;
# the checker's twin is reference.gradcheck.network_twin's, in torch)
ACTIVATIONS = {"none": lambda z: z, "sigmoid": expit, "relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh,
               "softmax": lambda z: softmax(z, axis=1)}


def discover(net, *, weights=None, biases=None, layout=None, bias_shape=None, batching=None, forward=None,
             activation=None, output_activation=None, gradient_method=None, gradient_call=None, targets=None,
             cost=None, reduction=None, update=None) -> wn.NetworkConventions:
    """The conventions of net, probed on deep copies (net itself is never called), each keyword given
    instead of probed. activation: one name for every hidden layer, or a list; update="none": no step."""
    given = dict(layout=(layout, wn.LAYOUTS), bias_shape=(bias_shape, wn.BIAS_SHAPES),
                 batching=(batching, wn.BATCHINGS),
                 output_activation=(output_activation, wn.OUTPUT_ACTIVATIONS), targets=(targets, wn.TARGETS),
                 cost=(cost, wn.LOSSES), reduction=(reduction, wn.REDUCTIONS), gradient_call=(gradient_call,
                                                                                              GRADIENT_CALLS),
                 activation=(activation, (None, *wn.HIDDEN_ACTIVATIONS)))
    for keyword, (value, allowed) in given.items():
        for one in [value] if value is None or isinstance(value, str) else value:
            if one is not None and one not in allowed:
                raise ConventionError(Keyword(keyword), f"{one!r} is not one of {tuple(a for a in allowed if a)}")
    probe = copy.deepcopy(net)
    weights, biases = _parameter_locations(probe, weights, biases)
    arrays = [np.asarray(wn.get(probe, at)) for at in weights], [np.asarray(wn.get(probe, at)) for at in biases]
    layouts = [layout] if layout else _layouts(*arrays)
    sizes = [b.size for b in arrays[1]]
    n_in = arrays[0][0].shape[1 if layouts[0] == "out_in" else 0]
    batch = next(n for n in itertools.count(3) if n not in (n_in, *sizes))
    rng = np.random.default_rng(0)
    X, labels = rng.standard_normal((batch, n_in)), np.arange(batch) % max(2, sizes[-1])  # one unit: labels 0/1
    params = [(rng.standard_normal((n_out, fan_in)) / np.sqrt(fan_in), rng.standard_normal(n_out) / 2)
              for fan_in, n_out in zip((n_in, *sizes), sizes)]  # pre-activations O(1): every activation shows
    forward = require_method(probe, forward, "forward") if forward else _first_method(probe, FORWARD_NAMES, "forward",
                                                                                        "forward")
    found = dict(weights=tuple(weights), biases=tuple(biases), bias_shape=bias_shape or _bias_shape(arrays[1][0]),
                 forward=forward)
    wn.load_parameters(probe, _partial(found, layout=layouts[0]), params)
    found["batching"] = batching or _batching(probe, forward, X, sizes[-1])
    outputs = {}
    for candidate in layouts:
        wn.load_parameters(probe, _partial(found, layout=candidate), params)
        outputs[candidate] = wn.forward(probe, _partial(found, layout=candidate), X)
    layout, activations = _twin_of_forward(outputs, X, params, len(sizes), activation, output_activation)
    found.update(layout=layout, activations=activations)
    wn.load_parameters(probe, _partial(found), params)
    gradients = (require_method(probe, gradient_method, "gradient_method") if gradient_method
                 else _first_method(probe, GRADIENT_NAMES, "gradient", "gradient_method"))
    call = gradient_call or _gradients_call(probe, gradients, forward, found["batching"])
    found.update(gradients=gradients, gradients_call=call)
    if found["batching"] == "columns" and not batching:
        found["batching"] = _columns_or_examples(probe, found, X, labels, sizes[-1], update)
    targets = targets or _targets(probe, found, X, labels, sizes[-1])
    found["targets"] = targets
    loss, reduction = _loss(probe, found, X, labels, params, cost, reduction)
    update, update_lr = (None, None) if update == "none" else _update(probe, update)
    return wn.NetworkConventions(**found, loss=loss, reduction=reduction, update=update, update_lr=update_lr)


def _twin_output(params, activations, X) -> np.ndarray:
    """What the twin with these activations computes from the rows X: h_i = f_i(h_{i-1} W_i^T + b_i)."""
    h = X
    for (w, b), name in zip(params, activations):
        h = ACTIVATIONS[name](h @ w.T + b)
    return h


def _twin_cost(output, labels, loss: str, reduction: str, output_activation: str) -> float:
    """reference.gradcheck.network_twin.twin_loss's value, in NumPy: the candidate cost of the user's output."""
    y = np.eye(output.shape[1])[labels] if output.shape[1] > 1 else np.asarray(labels, dtype=np.float64).reshape(-1, 1)
    with np.errstate(all="ignore"):  # a log of 0 is an infinite cost: no candidate's value, not an error
        if loss == "quadratic":
            per_example = 0.5 * ((output - y) ** 2).sum(axis=1)
        elif loss == "binary_cross_entropy":
            per_example = -(y * np.log(output) + (1 - y) * np.log(1 - output)).sum(axis=1)
        elif output_activation == "softmax":
            per_example = -np.log(output[np.arange(len(labels)), labels])
        else:
            per_example = logsumexp(output, axis=1) - output[np.arange(len(labels)), labels]
    return float(per_example.sum() if reduction == "sum" else per_example.mean())


def _partial(found, **more) -> wn.NetworkConventions:
    """Conventions with what is known so far, the rest blank, for the calls probing makes."""
    blank = dict(weights=(), biases=(), layout="out_in", bias_shape="flat", batching="rows", forward="", gradients="",
                 gradients_call="data", targets="labels", activations=(), loss="quadratic", reduction="mean",
                 update=None, update_lr=None)
    return wn.NetworkConventions(**{**blank, **found, **more})


def _parameter_locations(net, weights, biases):
    if weights and biases:
        if len(weights) != len(biases):
            raise ValueError(f"give one bias per weight: {len(weights)} weights, {len(biases)} biases")
        return list(weights), list(biases)
    if isinstance(getattr(net, "weights", None), list) and isinstance(getattr(net, "biases", None), list):
        return [f"weights[{i}]" for i in range(len(net.weights))], [f"biases[{i}]" for i in range(len(net.biases))]
    dicts = [(f"{name}.", value) for name, value in vars(net).items() if isinstance(value, dict)]  # params first
    for where, names in sorted(dicts, key=lambda pair: pair[0] != "params.") + [("", vars(net))]:
        if not isinstance(names, dict):
            continue
        numbered = {m.groups(): key for key in names if isinstance(key, str) and (m := NUMBERED.match(key))
                    and isinstance(names[key], np.ndarray)}
        ws = sorted((int(n), key) for (letter, n), key in numbered.items() if letter in ("W", "w"))
        bs = sorted((int(n), key) for (letter, n), key in numbered.items() if letter == "b")
        if ws and [n for n, _ in ws] == [n for n, _ in bs]:
            return [where + key for _, key in ws], [where + key for _, key in bs]
    raise ConventionError(f"{type(net).__name__} keeps its parameters in none of the usual places (lists weights and "
                          f"biases, a dict such as params with W1, b1, ..., attributes W1, b1, ...); give ",
                          Keyword("weights"), " and ", Keyword("biases"), " (locations such as params.W1)")


def _layouts(weights, biases) -> list[str]:
    """The layouts the shapes allow: out_in where W_i is (out_i, in_i) with in_i = out_{i-1}."""
    def fits(out_axis):
        return all(w.ndim == 2 and w.shape[out_axis] == b.size for w, b in zip(weights, biases)) and all(
            w.shape[1 - out_axis] == previous.size for w, previous in zip(weights[1:], biases))
    found = [layout for layout, axis in (("out_in", 0), ("in_out", 1)) if fits(axis)]
    if not found:
        raise ConventionError(f"the weights' shapes {[w.shape for w in weights]} do not chain with the biases' "
                              f"{[b.shape for b in biases]} either way; give ", Keyword("layout"),
                              " ('out_in' or 'in_out')")
    return found


def _bias_shape(bias) -> str:
    return "flat" if bias.ndim == 1 else "column" if bias.shape[1] == 1 and bias.shape[0] != 1 else "row"


def _first_method(net, names, what, keyword):
    found = next((name for name in names if callable(getattr(net, name, None))), None)
    if found is None:
        raise ConventionError(f"{type(net).__name__} has no {what} method (looked for {', '.join(names)}); give ",
                              Keyword(keyword), " its name")
    return found


def _batching(net, forward, X, out) -> str:
    """rows, columns or example: the first form of the batch X that forward takes to an output of that form."""
    method = getattr(net, forward)
    for batching, x, shape in (("rows", X, (len(X), out)), ("columns", X.T, (out, len(X))),
                               ("example", X[:1].T, (out, 1))):
        result = attempt(method, x)
        if result is not FAILED and np.shape(result) == shape:
            return batching
    raise ConventionError(f"{forward} took neither a batch of rows {X.shape}, nor of columns {X.T.shape}, nor one "
                          f"column {X[:1].T.shape} to an output of {out}; give ", Keyword("batching"),
                          " ('rows', 'columns' or 'example') or ", Keyword("forward"), " another method")


def _columns_or_examples(net, found, X, labels, classes, update) -> str:
    """columns where the gradient method, given the batch as columns, returns gradients of the parameters'
    shapes. Code written for one example at a time also takes a batch of columns in forward, and its
    bias gradient is then (out, m): told from a batch gradient not summed over the batch only by an
    update that takes a list of examples (update_mini_batch); else refused."""
    biases = [np.shape(wn.get(net, at)) for at in found["biases"]]
    errors = []
    for targets in (("labels",) if classes == 1 else wn.TARGETS):
        conventions = _partial(found, batching="columns", targets=targets)
        result = attempt(wn.gradients, net, conventions, X, wn.targets_for(labels, classes, conventions))
        if result is FAILED:
            errors.append(f"with {targets} it raised")
            continue
        shapes = [np.shape(b) for _, b in result[0]]
        if all(int(np.prod(got)) == int(np.prod(shape)) for got, shape in zip(shapes, biases)):
            return "columns"
        errors.append(f"with {targets} its bias gradients have the shapes {shapes}, the biases {biases}")
    if (update or next((n for n in UPDATE_NAMES if callable(getattr(net, n, None))), None)) == "update_mini_batch":
        return "example"
    raise ConventionError(f"{found['forward']} takes a batch as columns {X.T.shape}, but {found['gradients']} given "
                          f"it does not give a gradient per parameter ({'; '.join(errors)}): written for one example "
                          "at a time, give ", Keyword("batching"), "'example'; for a batch, sum each gradient over "
                          "it (db = np.sum(dZ, axis=1, keepdims=True) / m), or give ", Keyword("batching"), " and ",
                          Keyword("targets"))


def _twin_of_forward(outputs, X, params, layers, activation, output_activation):
    """The layout and activations whose twin computes the user's output (outputs: by layout) from X:
    the only one."""
    hidden = [activation] * (layers - 1) if isinstance(activation, str) else activation
    if hidden and len(hidden) != layers - 1:
        raise ValueError(f"give one activation, or one per hidden layer ({layers - 1}); got {list(hidden)}")
    hidden_choices = [tuple(hidden)] if hidden else list(itertools.product(wn.HIDDEN_ACTIVATIONS, repeat=layers - 1))
    last_choices = [output_activation] if output_activation else wn.OUTPUT_ACTIVATIONS
    matches = []
    for choice in hidden_choices:
        for last in last_choices:
            twin = _twin_output(params, (*choice, last), X)
            matches += [(layout, (*choice, last)) for layout, output in outputs.items()
                        if twin.shape == output.shape and np.allclose(twin, output, rtol=1e-9, atol=1e-12)]
    if len(matches) != 1:
        what = "matches no" if not matches else f"matches {len(matches)}"
        keywords = ["activation", "output_activation", *(["layout"] if len(outputs) > 1 else [])]
        raise ConventionError(f"the forward output {what} candidate twin (hidden {'/'.join(wn.HIDDEN_ACTIVATIONS)}, "
                              f"output {'/'.join(wn.OUTPUT_ACTIVATIONS)}); give ",
                              *[part for keyword in keywords for part in (" and ", Keyword(keyword))][1:])
    return matches[0]


def _gradients_call(net, gradients, forward, batching) -> str:
    if batching == "example" or gradients == forward:
        return "data"
    try:
        count = len([p for p in inspect.signature(getattr(net, gradients)).parameters.values()
                     if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    except (TypeError, ValueError):
        count = 2
    return "data" if count >= 2 else "targets" if count == 1 else "none"


def _targets(net, found, X, labels, classes) -> str:
    if classes == 1:  # one unit: its labels 0/1 are its targets
        return "labels"
    if found["batching"] == "example":
        return "one_hot"
    conventions = _partial(found)
    return "labels" if attempt(wn.gradients, net, conventions, X, labels) is not FAILED else "one_hot"


def _loss(net, found, X, labels, params, loss, reduction):
    """(loss, reduction): the value the gradient method returns says both; else the cost's name or a
    softmax output says the loss, and the reduction is the mean."""
    conventions = _partial(found)
    output_activation = found["activations"][-1]
    value = attempt(wn.gradients, net, conventions, X, wn.targets_for(labels, params[-1][0].shape[0], conventions))
    value = None if value is FAILED else value[1]
    output = wn.forward(net, conventions, X)
    candidates = [loss] if loss else _possible_losses(output_activation)
    if value is not None:
        reductions = [reduction] if reduction else wn.REDUCTIONS
        fits = [(c, r) for c in candidates for r in reductions
                if np.isclose(_twin_cost(output, labels, c, r, output_activation), value, rtol=1e-9)]
        if len(fits) == 1:
            return fits[0]
        raise ConventionError(f"the loss value {value:g} is {'none' if not fits else 'more than one'} of "
                              f"{'/'.join(candidates)} (mean or sum) at the network's output; give ", Keyword("cost"),
                              " and ", Keyword("reduction"))
    named = loss or _loss_by_name(net, output_activation) or (candidates[0] if len(candidates) == 1 else None)
    if named is None:
        raise ConventionError(f"nothing says which cost the gradients are of (no loss value returned, no cost "
                              f"named): {' or '.join(candidates)}; give ", Keyword("cost"),
                              " (the gradients cannot say: a quadratic cost without sigmoid' at the output has "
                              "cross-entropy's gradient)")
    return named, reduction or "mean"


def _possible_losses(output_activation) -> list[str]:
    """The costs a network with this output could have: cross-entropy on softmax; quadratic or
    network2's cross-entropy on sigmoid; quadratic or softmax cross-entropy on scores."""
    return {"softmax": ["cross_entropy"], "sigmoid": ["quadratic", "binary_cross_entropy"],
            "none": ["quadratic", "cross_entropy"]}.get(output_activation, ["quadratic"])


def _loss_by_name(net, output_activation) -> str | None:
    cost = type(getattr(net, "cost", None)).__name__.lower() if hasattr(net, "cost") else ""
    if "quadratic" in cost or (not cost and callable(getattr(net, "cost_derivative", None))):
        return "quadratic"
    if "crossentropy" in cost.replace("_", ""):
        return "binary_cross_entropy" if output_activation == "sigmoid" else "cross_entropy"
    return None


def _update(net, update):
    name = update or next((n for n in UPDATE_NAMES if callable(getattr(net, n, None))), None)
    if name is None:
        return None, None
    if not callable(getattr(net, name, None)):
        raise ConventionError(f"{type(net).__name__} has no method {name}; give ", Keyword("update"),
                              " an update method, or 'none'")
    parameters = inspect.signature(getattr(net, name)).parameters
    lr = next((p for p in parameters if p in (*LR_NAMES, *EXTRA_LR_NAMES)), None)
    if lr is None:
        if update:
            raise ConventionError(f"{name} takes no learning rate under a usual name ({', '.join(LR_NAMES)}, eta); "
                                  "give ", Keyword("update"), "'none'")
        return None, None
    return name, lr
