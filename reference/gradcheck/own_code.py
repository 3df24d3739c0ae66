"""What check(), check_layer() and check_layer_class() do with their subject: tell scratch_nn's
interface from code written in its author's own conventions, build a class, adapt the rest.

scratch_nn's interface is forward(x), backward(grad_output) and a params dict (weight (out, in)).
A subject with it is checked as it is; anything else (a textbook layer with its weights in
.weights and a stateless backward(x, grad), a functional pair affine_forward/affine_backward, a
list of such layers, an object holding them) goes through reference.adapters, which finds its
conventions by experiment or takes them as keyword arguments (layout="in_out", backward="x,grad",
factory=..., lr=0.1, ...; see LayerConventions). The conventions found travel with the report:
CheckReport.conventions, printed before the table.

Dependencies point one way: the checker imports the adapters, which present the user's code with
scratch_nn's interface and know nothing of checking.
"""

import numpy as np
import torch

import scratch_nn
from reference.adapters import (
    Adapted,
    AdaptedLoss,
    UnreadableLoss,
    adapt_layer,
    adapt_network,
    functional_params,
    read_loss,
)
from reference.adapters.discovery import TWINS
from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.methods import (
    BACKWARD_METHODS,
    DERIVATIVE_METHODS,
    FORWARD_METHODS,
    has_forward,
    methods_of,
)
from reference.adapters.network import model_of
from reference.twin import scratch_class_for
from scratch_nn.losses import Loss


def has_scratch_interface(layer) -> bool:
    """forward, backward and a params dict: checked as it is, as scratch_nn's own layers are."""
    return callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None)) \
        and isinstance(getattr(layer, "params", None), dict)


def adaptable_twin(twin) -> bool:
    """A twin the adapters know (or none, to be found from the name); a torch.nn.Module twin is not."""
    return twin is None or (isinstance(twin, str) and twin in TWINS)


def is_pair(subject) -> bool:
    """A functional pair (forward_fn, backward_fn[, weight, bias]), not a list of layers."""
    return isinstance(subject, tuple) and 2 <= len(subject) <= 4 and all(
        callable(f) and not has_forward(f) for f in subject[:2])


def holds_layers(subject) -> bool:
    """A list of layers, or an object (not itself a layer) holding its layers in a list attribute."""
    if isinstance(subject, (list, tuple)):
        return not is_pair(subject)
    if isinstance(subject, type) or has_scratch_interface(subject):
        return False
    return any(isinstance(value, (list, tuple)) and value and all(has_forward(v) or is_pair(v) for v in value)
               for value in getattr(subject, "__dict__", {}).values())


class NotALayer(ConventionError, TypeError):
    """The subject has no forward or no backward method under a name the checker knows: not a layer
    (a TypeError), unless the keywords it names say which methods are."""


def require_layer(subject, conventions: dict) -> None:
    """NotALayer unless subject (an instance or a class) has a forward and a backward method, by one
    of their usual names (reference.adapters.methods) or by the name given as forward_method/backward_method."""
    roles = (("forward", FORWARD_METHODS), ("backward", BACKWARD_METHODS + DERIVATIVE_METHODS))
    missing = [role for role, names in roles
               if f"{role}_method" not in conventions and not methods_of(subject, names)]
    if missing:
        keywords = [part for role in missing for part in (" and ", Keyword(f"{role}_method"))][1:]
        raise NotALayer(f"{subject!r} is neither a scratch_nn.Sequential nor a layer: it has no "
                        f"{' and no '.join(missing)} method (looked for {', '.join(FORWARD_METHODS)}; "
                        f"{', '.join(BACKWARD_METHODS + DERIVATIVE_METHODS)}); give its name with ", *keywords,
                        ". A layer has forward(x) and backward(...), in scratch_nn's conventions (a params dict, "
                        "backward(grad_output)) or in its own (see reference.adapters)")


def build_as_scratch(cls, twin, in_features, out_features, dtype, seed, default_sizes):
    """cls built as scratch_nn builds its layers, if it can be and then has their interface; else None
    (for the adapters to try), or the error, where the twin is one the adapters do not know."""
    adaptable = adaptable_twin(twin)
    try:
        linear = isinstance(twin, torch.nn.Linear) or scratch_class_for(cls, twin) is scratch_nn.Linear
    except TypeError:  # no twin known from the class: the adapters may tell it from the name
        if adaptable:
            return None
        raise
    if isinstance(twin, torch.nn.Linear):
        in_features, out_features = twin.in_features, twin.out_features
    in_features = in_features or default_sizes[0]
    if not linear:
        if out_features is not None:
            raise ValueError(f"out_features applies to a linear layer only; an activation's output is as wide as "
                             f"its input ({in_features} features)")
        arguments = ()
    else:
        out_features = out_features or default_sizes[1]
        weight, bias = scratch_nn.torch_default(np.random.default_rng(seed), in_features, out_features)
        arguments = (weight.astype(dtype), bias.astype(dtype))
    try:
        layer = cls(*arguments)
    except Exception as error:  # whatever the user's constructor raises: the adapters try other constructors
        if adaptable:
            return None
        how = f"{cls.__name__}(weight, bias) with weight (out, in)" if linear else f"{cls.__name__}()"
        raise TypeError(f"could not build {cls.__name__} as {how}: {type(error).__name__}: {error}. Build it "
                        f"yourself and pass the instance instead of the class") from error
    return layer if has_scratch_interface(layer) or not adaptable else None


def adapt_one_layer(subject, twin, *, in_features, out_features, dtype, seed, lr, conventions) -> Adapted:
    """One user layer (instance, class or pair) adapted, as a network of one layer without a loss."""
    loss_options = {key: conventions.pop(key) for key in ("loss_twin", "loss_conventions") if key in conventions}
    if loss_options:
        raise TypeError(f"{', '.join(loss_options)} describe a loss; a layer is checked with loss= a scratch_nn "
                        f"loss or its name")
    layer = adapt_layer(subject, twin, in_features=in_features, out_features=out_features, lr=lr, dtype=dtype,
                        seed=seed, **conventions)
    return Adapted(scratch_nn.Sequential(layer), None)


def adapt_layers(subject, loss, twins, *, in_features, dtype, seed, lr, conventions) -> Adapted:
    """A user's network (a list of layers, or an object holding them) and loss, adapted."""
    loss_twin, loss_conventions = conventions.pop("loss_twin", None), conventions.pop("loss_conventions", None)
    adapted = adapt_network(subject, None, twins=twins, in_features=in_features, lr=lr, dtype=dtype, seed=seed,
                            **conventions)
    if is_users_loss(loss):
        adapted.loss = read_loss(loss, loss_twin, model=model_of(subject), **(loss_conventions or {}))
    elif loss is not None:
        adapted.loss = loss
    return adapted


def is_users_loss(loss) -> bool:
    """Neither a scratch_nn loss nor a name of one: the user's, to be adapted."""
    return loss is not None and not isinstance(loss, (str, Loss, AdaptedLoss, UnreadableLoss))


def conventions_of(adapted: Adapted) -> dict:
    """What the report keeps: the block as printed ("summary") and each convention as data."""
    return {"summary": adapted.describe(), **adapted.to_dict()}


# Functional pairs with a settings dict (CS231n's conv, max-pool, batch norm, dropout): the sizes and
# settings each takes, as check()'s keywords (the command line's --in-shape, --kernel, ...).
PAIR_TAKES = {"conv2d": ("in_shape", "out_features", "kernel", "stride", "pad"),
              "maxpool2d": ("in_shape", "pool", "stride"), "batchnorm1d": ("in_features",),
              "dropout": ("in_features", "p")}
IMAGES = (3, 8, 6)  # (C, H, W) by default: H and W differ, so a transposed image cannot pass


def param_pair_kind(subject, twin) -> tuple[str, str] | None:
    """(kind, how found) for a functional pair whose forward takes a settings dict; else None."""
    return functional_params.kind_of(subject[0], twin) if is_pair(subject) else None


def param_pair_network(pair, kind_found, *, in_features, out_features, settings, conventions, dtype, seed,
                       default_width):
    """The network to check a pair with a settings dict: its scratch layer (reference.adapters.
    functional_params), after an Unflatten from rows to images for conv and max-pool; the input's
    width (batch norm's and dropout's in_features); and the conventions for the report."""
    kind, found = kind_found
    if conventions:
        raise ConventionError(Keyword(next(iter(conventions))), " describes a layer object or an affine pair; "
                              f"{pair[0].__name__} is called as CS231n's layers are")
    given = {**settings, **{k: v for k, v in (("in_features", in_features), ("out_features", out_features))
                            if v is not None}}
    wrong = [key for key in given if key not in PAIR_TAKES[kind]]
    if wrong:
        takes = [part for key in PAIR_TAKES[kind] for part in (" ", Keyword(key))][1:]
        raise ConventionError(Keyword(wrong[0]), f" does not apply to {pair[0].__name__} ({kind}), which takes ",
                              *takes)
    images = "in_shape" in PAIR_TAKES[kind]
    in_shape = tuple(settings.pop("in_shape", IMAGES)) if images else (in_features or default_width,)
    layer = functional_params.build(pair, kind, found, in_shape=in_shape, out_channels=out_features or 4,
                                    dtype=dtype, seed=seed, **settings)
    layers = (scratch_nn.Unflatten(in_shape), layer) if images else (layer,)
    shaped = (f"  layer 0: Unflatten: each row of the batch shaped as an image (C, H, W) = {in_shape}\n"
              if images else "")
    summary = (f"Conventions found (each can be given explicitly):\n{shaped}"
               f"  layer {len(layers) - 1}: {layer.describe()}")
    conventions = {"summary": summary, "layers": [{"name": pair[0].__name__, "twin": kind, "found": found,
                                                   "in_shape": list(in_shape),
                                                   "settings": {key: value for key, value in layer.settings().items()
                                                                if not isinstance(value, np.ndarray)}}]}
    return scratch_nn.Sequential(*layers), in_shape[0], conventions
