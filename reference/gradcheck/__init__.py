"""Gradient checking that names the culprit: every layer, the loss and several optimizer steps of a
scratch network (or one layer written by hand) checked on its own, against its PyTorch twin and
(layers and loss) against central finite differences, with the error's signature in plain words
where it has one.

    report = check_network(network, loss="cross_entropy")   # or check(network, loss=...)
    report = check_layer_class(MyLinear, twin="linear", in_features=784, out_features=32)
    report = check_layer(my_layer, twin="linear")
    report = check_whole_network(Network([784, 30, 10]))   # one object, no layers: whole_network.py
    report = check_engine(Value, mlp=MLP)   # a micrograd-style scalar autograd engine: engine.py
    report = check_update_rule(adam, "adam")  # CS231n's optim.py rules, or a class: update_rule.py
    print(report.table()); report.ok; report.first_failure

    python compare.py check network --spec 784-32-10 --activation sigmoid --loss cross_entropy --optimizer adam
    python -m reference.gradcheck layer my_layers.py:MyLinear --twin linear --in 784 --out 32

Isolation. Layer i is checked alone, on the input that the torch twin of layers 0..i-1 computes
from the network input (the reference, not what the scratch layers computed), so a mistake in
one layer cannot smear into the next: the layers after a culprit still get correct inputs and
still pass, and the first part that disagrees is the one to fix. In every other row of a
layer's input one entry is set to exactly 0.0: an input computed by a Linear layer is
practically never exactly zero, and ReLU's derivative there is a convention (PyTorch: 0) that
an implementation using x >= 0 breaks nowhere else.

Read on in order: parts.py (how each layer and the loss are checked), optimizer.py (the optimizer's
steps), signatures.py and optimizer_signatures.py (the mistakes it names), report.py (the table and
the JSON), cli.py (the command line); finite-difference sampling is in
reference/finite_differences.py.
"""

import copy
import dataclasses
import math

import numpy as np
import torch

import scratch_nn
from reference import tolerances
from reference.adapters import Adapted, UnreadableLoss
from reference.adapters.errors import ConventionError, Keyword
from reference.choices import DEFAULT_SIZES, FD_SAMPLES, OPTIMIZER_STEPS
from reference.comparison import sized_name
from reference.finite_differences import EntrySampler
from reference.gradcheck import own_code
from reference.gradcheck.engine import check_engine
from reference.gradcheck.optimizer import check_optimizer_part, validate_optimizer
from reference.gradcheck.options import CheckOptions, Given, sort_keywords
from reference.gradcheck.parts import (
    check_layer_part,
    check_loss_part,
    torch_model_from_twins,
)
from reference.gradcheck.report import CheckReport, PartCheck
from reference.gradcheck.update_rule import check_update_rule
from reference.gradcheck.whole_network import check_whole_network
from reference.loss_names import as_loss

__all__ = ["check", "check_network", "check_layer", "check_layer_class", "check_whole_network", "check_engine",
           "check_update_rule", "CheckReport", "PartCheck"]


def check(subject, x=None, target=None, *, twin=None, in_features=None, out_features=None, **options) -> CheckReport:
    """Check a network, a layer class or a layer instance, written with scratch_nn's interface or in
    its author's own conventions: check_network, check_layer or check_layer_class, by what subject is.

    subject: a scratch_nn.Sequential; a list of layers (a functional pair counts as one layer) or
        an object holding them in a list attribute, with loss= the user's loss; what
        reference.adapters.adapt_network returns; a layer class; a layer instance; a functional
        pair (forward_fn, backward_fn[, weight, bias]).
    twin: the network's list of twins, or the layer's twin. in_features and out_features size a
        layer (a network's input width comes from x, or from in_features for a list of layers).
    options: the checker's (see check_network) and, for code in its own conventions, the adapters'
        (layout="in_out", backward="x,grad", weight="W", factory=..., loss_twin=..., see
        reference.adapters.LayerConventions); lr is both the learning rate of the checked step and
        the one a layer is built with or applies in backward (they must be the same).
    """
    if isinstance(subject, Adapted):
        return _check_adapted(subject, x, target, CheckOptions.of(**options))
    if isinstance(subject, scratch_nn.Sequential):
        if in_features is not None or out_features is not None:
            raise ValueError("in_features and out_features size one layer; a network's input size comes from its "
                             "first layer, or from x")
        return check_network(subject, x, target, twins=twin, **options)
    if own_code.holds_layers(subject):
        if out_features is not None:
            raise ValueError("out_features sizes one layer; a network's sizes are its layers'")
        return _check_layers(subject, x, target, twin, in_features, sort_keywords(options))
    if isinstance(subject, type):
        return check_layer_class(subject, x, target, twin=twin, in_features=in_features, out_features=out_features,
                                 **options)
    if out_features is not None and not own_code.is_pair(subject):
        raise ValueError("out_features sizes a layer class that the check builds; a layer instance has its own")
    return check_layer(subject, x, target, twin=twin, in_features=in_features, out_features=out_features, **options)


def check_network(network, x=None, target=None, *, twins=None, loss=None, optimizer=scratch_nn.SGD, lr=0.1,
                  dtype=np.float64, batch_size=8, seed=0, fd_samples=FD_SAMPLES, optimizer_steps=OPTIMIZER_STEPS,
                  optimizer_twin=None, optimizer_options=None, zero_grad=None) -> CheckReport:
    """Check a scratch_nn.Sequential part by part against its torch twin and finite differences.
    (A network in its author's own conventions: check(), which adapts it first.)

    x: the network's input (batch, features); by default standard normal, batch_size rows.
    target: class labels (or per-class targets) for the loss; by default random labels.
    twins: one torch twin per layer, as reference.twin.torch_module takes it (None: by class).
    loss: a scratch loss (or its name in scratch_nn.LOSSES) checked on the network's output; None: no loss.
    optimizer: checked over optimizer_steps consecutive steps against its torch.optim twin at the
        learning rate lr (see optimizer.py): a scratch_nn optimizer class, factory or instance, or
        its name in scratch_nn.OPTIMIZERS (hyperparameters besides lr in optimizer_options); or any
        object with step(), built as optimizer(network, lr) or given built, whose twin is then
        optimizer_twin: a name in scratch_nn.OPTIMIZERS (with optimizer_options) or a function
        (params, lr) -> torch.optim.Optimizer. None: no step is checked.
    zero_grad: for layers documented to accumulate their gradients, a function zero_grad(layer)
        that zeroes them, called before each backward; the check then tests that it does. None:
        backward must overwrite layer.grads (each layer's check runs backward twice to see).
    dtype: float64 or float32, for the input of a network without parameters (one with
        parameters computes in theirs). fd_samples: entries of each tensor finite differences check.
    """
    if not network.layers:
        raise ValueError("the network has no layers: there is nothing to check")
    if twins is not None and not isinstance(twins, (list, tuple)):
        raise TypeError("for a network, give the twins as a list with one entry per layer (None: found from the class)")
    twins = list(twins) if twins is not None else [None] * len(network.layers)
    return _check(network, twins, x, target, DEFAULT_SIZES[0], CheckOptions(
        loss=loss, optimizer=optimizer, lr=lr, dtype=dtype, batch_size=batch_size, seed=seed, fd_samples=fd_samples,
        optimizer_steps=optimizer_steps, optimizer_twin=optimizer_twin, optimizer_options=optimizer_options,
        zero_grad=zero_grad))


def check_layer(layer, x=None, target=None, *, twin=None, in_features=None, dtype=None, batch_size=8, seed=0,
                fd_samples=FD_SAMPLES, out_features=None, **options) -> CheckReport:
    """Check one layer object. One with the interface of scratch_nn.layers (forward(x) -> y,
    backward(G) -> dL/dx, dicts params and grads, a weight stored (out, in)) is checked as it is;
    any other (or any given with the adapters' conventions as options, e.g. layout="in_out") is
    adapted first (reference.adapters.adapt_layer: a copy, never the object itself), and the
    conventions found are in the report. A functional pair (forward_fn, backward_fn[, weight,
    bias]) is a layer too; out_features sizes one given without arrays.

    twin: its torch twin when it does not subclass a scratch layer: "linear", "sigmoid", "relu",
        "tanh" or a torch.nn.Module (None: by class, or the layer's torch_twin attribute, or, for
        code in its own conventions, its class name).
    in_features: the input's width for a layer without a weight (default 6); a weight fixes it.
    dtype: a layer without parameters is fed this dtype (default float64); an adapted layer is
        converted to it where given. The other arguments (options: loss, optimizer, lr,
        optimizer_steps, ...) are check_network's.
    """
    given = sort_keywords({**options, "dtype": dtype, "batch_size": batch_size, "seed": seed,
                           "fd_samples": fd_samples})
    return _check_layer(layer, x, target, twin, in_features, out_features, given)


def _check_layer(layer, x, target, twin, in_features, out_features, given: Given) -> CheckReport:
    """check_layer, its keywords sorted (options.sort_keywords)."""
    options, conventions, settings = given.options, given.conventions, given.settings
    kind = own_code.param_pair_kind(layer, twin)
    if kind is not None:
        dtype = np.dtype(options.dtype or np.float64)
        network, width, found = own_code.param_pair_network(
            layer, kind, in_features=in_features, out_features=out_features, settings=settings,
            conventions=conventions, dtype=dtype, seed=options.seed, default_width=DEFAULT_SIZES[0])
        if "optimizer" not in options.given:  # a pair has no update of its own
            options = options.but(optimizer=None)
        report = _check(network, [None] * len(network.layers), x, target, width, options.but(dtype=dtype))
        return dataclasses.replace(report, conventions=found)
    _refuse_settings(settings)
    if not own_code.is_pair(layer):
        own_code.require_layer(layer, conventions)
    if conventions or not own_code.has_scratch_interface(layer):
        adapted = own_code.adapt_one_layer(layer, twin, in_features=in_features, out_features=out_features,
                                           dtype=options.dtype, seed=options.seed, lr=options.get("lr"),
                                           conventions=conventions)
        return _check_adapted(adapted, x, target, options)
    if out_features is not None:
        raise ValueError("out_features sizes a layer class that the check builds; a layer instance has its own")
    return _check(scratch_nn.Sequential(layer), [twin], x, target, in_features or DEFAULT_SIZES[0], options)


def _refuse_settings(settings: dict) -> None:
    if settings:
        raise ConventionError(Keyword(next(iter(settings))), " sets up a functional pair with a settings dict "
                              "(conv_param, pool_param, bn_param, dropout_param); this layer takes none")


def check_layer_class(cls, x=None, target=None, *, twin=None, in_features=None, out_features=None, dtype=None,
                      seed=0, **options) -> CheckReport:
    """Build a layer class and check_layer it. First the way scratch_nn builds its own: cls(weight,
    bias) for a linear twin, weight (out_features, in_features) with torch's default initialisation
    from the seed (default sizes 6 and 4), and cls() for an activation, fed in_features wide inputs.
    Where that fails or gives no scratch_nn interface (or conventions are given as options), the
    adapters build it (cls(in, out), cls(in, out, lr), factory=...) and find its conventions."""
    given = sort_keywords({**options, "dtype": dtype, "seed": seed})
    conventions = given.conventions
    layer = None if conventions else own_code.build_as_scratch(cls, twin, in_features, out_features,
                                                               dtype or np.float64, seed, DEFAULT_SIZES)
    if layer is None:
        _refuse_settings(given.settings)
        own_code.require_layer(cls, conventions)
        adapted = own_code.adapt_one_layer(cls, twin, in_features=in_features, out_features=out_features,
                                           dtype=dtype, seed=seed, lr=given.options.get("lr"), conventions=conventions)
        return _check_adapted(adapted, x, target, given.options)
    return _check_layer(layer, x, target, twin, in_features or DEFAULT_SIZES[0], None, given)


def _check_layers(layers, x, target, twins, in_features, given: Given) -> CheckReport:
    """A user's list of layers (or an object holding them) and loss: all scratch_nn's, checked as a
    Sequential; otherwise adapted (adapt_network), the conventions found in the report."""
    if twins is not None and not isinstance(twins, (list, tuple)):
        raise TypeError("for a network, give the twins as a list with one entry per layer (None: found)")
    options, conventions = given.options, given.conventions
    _refuse_settings(given.settings)
    if isinstance(layers, (list, tuple)) and not conventions and not own_code.is_users_loss(options.get("loss")) \
            and all(own_code.has_scratch_interface(layer) for layer in layers):
        return check_network(scratch_nn.Sequential(*layers), x, target, twins=twins, **options.keywords())
    width = in_features or (x.shape[1] if isinstance(x, np.ndarray) and x.ndim == 2 else None)
    adapted = own_code.adapt_layers(layers, options.get("loss"), twins, in_features=width, dtype=options.dtype,
                                    seed=options.seed, lr=options.get("lr"), conventions=conventions)
    return _check_adapted(adapted, x, target, CheckOptions.of(**{name: getattr(options, name)
                                                                 for name in options.given - {"loss"}}))


def _check_adapted(adapted: Adapted, x, target, options: CheckOptions) -> CheckReport:
    """check_network on what the adapters made, with its loss, its update (the one inside backward,
    or SGD) and the learning rate its layers apply (else 0.1) where none is given; the report
    carries the conventions found."""
    defaults = {"optimizer": adapted.optimizer, "lr": adapted.lr or 0.1}
    options = options.defaulted(**defaults, **({"loss": adapted.loss} if adapted.loss is not None else {}))
    report = check_network(adapted.network, x, target, **options.keywords())
    return dataclasses.replace(report, conventions=own_code.conventions_of(adapted))


def _check(network, twins, x, target, width, options: CheckOptions) -> CheckReport:
    """The check itself: each layer on the twin's input to it, then the loss, then the steps."""
    loss, optimizer, lr, dtype = as_loss(options.loss), options.optimizer, options.lr, options.dtype or np.float64
    batch_size, seed, fd_samples, optimizer_steps = options.batch_size, options.seed, options.fd_samples, \
        options.optimizer_steps
    optimizer_twin, optimizer_options, zero_grad = options.optimizer_twin, options.optimizer_options, \
        options.zero_grad
    if optimizer is not None and not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, the learning rate of the checked step; got {lr!r}")
    if optimizer is not None:
        validate_optimizer(optimizer, optimizer_twin, optimizer_options)
    if zero_grad is not None and not callable(zero_grad):
        raise TypeError(f"zero_grad must be a function zero_grad(layer) that zeroes its gradients; got {zero_grad!r}")
    for name, value in (("batch_size", batch_size), ("fd_samples", fd_samples), ("optimizer_steps", optimizer_steps)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    model = torch_model_from_twins(network, twins)
    dtype = _network_dtype(network, x, dtype)
    rng = np.random.default_rng(seed)
    x = _network_input(network, x, dtype, batch_size, width, rng)
    decoy = rng.standard_normal(x.shape).astype(dtype)
    inputs, decoys = _twin_inputs(model, x), _twin_inputs(model, decoy)
    sampler = EntrySampler(fd_samples, np.random.default_rng([seed, 1]))
    parts = []
    for i, (layer, module) in enumerate(zip(network.layers, model)):
        upstream = rng.standard_normal(inputs[i + 1].shape).astype(dtype)
        x_i = _with_zeros(inputs[i], rng)
        parts.append(check_layer_part(i, layer, module, x_i, decoys[i], upstream, sampler, zero_grad))
        if getattr(layer, "training", False) and getattr(layer, "checked_in_evaluation", True):
            # dropout, batch norm: evaluation mode is another computation
            evaluating = copy.deepcopy(layer)
            evaluating.training = False
            parts.append(check_layer_part(i, evaluating, copy.deepcopy(module).eval(), x_i, decoys[i], upstream,
                                          sampler, zero_grad, mode=" in evaluation mode"))
    if isinstance(loss, UnreadableLoss):  # the layers were checked on their own; the loss fails alone
        parts.append(PartCheck("loss", None, loss.name, loss.name, error=f"cannot be read: {loss.reason}"))
    elif loss is not None:
        output = inputs[-1]
        if target is None:
            target = rng.integers(0, max(2, output.shape[1]), len(output))  # one unit: labels 0 and 1
        parts.append(check_loss_part(loss, output, decoys[-1], np.asarray(target), sampler))
    if not network.param_dict():
        optimizer = None  # nothing to step
    if optimizer is not None:
        parts.append(check_optimizer_part(network, twins, optimizer, lr, seed, optimizer_steps, optimizer_twin,
                                          optimizer_options))
    stepped = next((part.name for part in parts if part.kind == "optimizer"), None)
    settings = {"subject": _subject_summary(network, loss, stepped), "dtype": str(dtype), "batch_size": len(x),
                "seed": seed, "lr": lr, "fd_samples": fd_samples, "optimizer_steps": optimizer_steps}
    return CheckReport(parts, settings)


def _network_dtype(network, x, dtype) -> np.dtype:
    """The parameters' dtype; for a network without parameters, x's, or else the one asked for."""
    params = list(network.param_dict().values())
    found = np.dtype(params[0].dtype if params else x.dtype if x is not None else dtype)
    tolerances.for_dtype(found)  # float32 or float64, or a clear error
    return found


def _network_input(network, x, dtype, batch_size, width, rng) -> np.ndarray:
    """x as given (after checking it fits), or a standard normal batch: both signs for the activations."""
    first = network.layers[0]
    weight = first.params.get("weight")
    # a Linear's input width is its weight's; an Unflatten's (a CNN's first layer) the image's size
    features = (weight.shape[1] if getattr(weight, "ndim", 0) == 2 else
                math.prod(first.unflattened_size) if hasattr(first, "unflattened_size") else width)
    if x is None:
        return rng.standard_normal((batch_size, features)).astype(dtype)
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.shape[1] != features:
        raise ValueError(f"x must be a 2-D array (batch, {features}); got {getattr(x, 'shape', type(x).__name__)}")
    if x.dtype != dtype:
        raise TypeError(f"x is {x.dtype} but the network computes in {dtype}; pass x.astype(np.{dtype})")
    return x


def _twin_inputs(model, x) -> list[np.ndarray]:
    """What each torch layer receives from x, and last, what the whole twin outputs (from a copy of
    the twin, whose dropout generators and batch-norm statistics are left as they were)."""
    model = copy.deepcopy(model)
    values, h = [x], torch.from_numpy(x)
    with torch.no_grad():
        for module in model:
            h = module(h)
            values.append(h.numpy())
    return values


def _with_zeros(x, rng) -> np.ndarray:
    """x with one entry in every other example set to exactly 0.0, where ReLU's derivative is a
    convention: one entry, whatever the example's shape (a whole channel of an image would make
    all-zero windows, ties where a max-pool's choice is a convention too)."""
    x = x.copy()
    rows, entries = np.arange(0, len(x), 2), x.reshape(len(x), -1)  # a view of the copy
    entries[rows, rng.integers(0, entries.shape[1], len(rows))] = 0
    return x


def _subject_summary(network, loss, optimizer: str | None) -> str:
    """The report's first line: "Linear(784->32), Sigmoid, Linear(32->10); SoftmaxCrossEntropy; SGD"."""
    parts = [", ".join(sized_name(layer) for layer in network.layers)]
    parts += [loss.name if isinstance(loss, UnreadableLoss) else type(loss).__name__] if loss is not None else []
    parts += [optimizer] if optimizer is not None else []
    return "; ".join(parts)

