"""A user's whole network, adapted: scratch_nn.Sequential of adapted layers, the adapted loss, the
update to check and train with, and the conventions found, printed as one block.

    adapted = adapt_network([Linear(784, 128, 0.1), Sigmoid(), Linear(128, 10, 0.1)], loss=CrossEntropy(),
                            loss_twin="cross_entropy")
    print(adapted.describe())
    report = reference.gradcheck.check(adapted)   # every part checked (the checker imports the adapters)
    compare_trajectory(adapted.network, torch_model(adapted.network), batches,
                       adapted.loss, adapted.lr)
"""

from dataclasses import asdict, dataclass

import numpy as np

import scratch_nn
from reference.adapters.discovery import adapt_layer, twin_of
from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.layer import AdaptedLayer
from reference.adapters.loss import AdaptedLoss, UnreadableLoss
from reference.adapters.loss_discovery import read_loss
from reference.adapters.methods import has_forward


class InBackwardUpdate(scratch_nn.SGD):
    """The update that the user's backward makes itself (W <- W - lr dW with the layer's own lr), as an
    optimizer: AdaptedLayer recovered dW from it and put W back, and step() applies it again.

    Built as InBackwardUpdate(network, lr), as the checker and a training loop build an optimizer;
    lr must be the learning rate the layers apply (a different lr would check or train something
    the user's code never does).
    """

    def __init__(self, network, lr):
        rates = {layer.conventions.lr for layer in network.layers
                 if isinstance(layer, AdaptedLayer) and layer.conventions.gradients == "update"}
        if len(rates) != 1:
            raise ValueError(f"InBackwardUpdate needs layers that all update in backward with one learning rate; "
                             f"found {sorted(rates) or 'none'}")
        rate = rates.pop()
        if not np.isclose(lr, rate, rtol=1e-12, atol=0):
            raise ConventionError(f"the layers update with lr {rate:g} inside backward; use ", Keyword("lr"),
                                  f"{rate:g}, not {lr:g}")
        super().__init__(network, rate)


@dataclass
class Adapted:
    """What adapt_network returns: everything the checker and a training loop need."""

    network: scratch_nn.Sequential
    loss: AdaptedLoss | UnreadableLoss | None  # (or a scratch_nn loss, where the user has none)
    source: object = None  # what the user gave or build returned: the model a loss(model, scores, y) is given
    loss_note: str = ""  # where the loss checked is not the user's: which is used instead, said in the block

    @property
    def twins(self) -> list[str]:
        """The torch twin of each layer by name. Each adapted layer carries it as its torch_twin, which the
        checker and twin.torch_model read: they need not be given it."""
        return [layer.torch_twin for layer in self.network.layers]

    @property
    def updates_in_backward(self) -> bool:
        return any(layer.conventions.gradients == "update" for layer in self.network.layers)

    @property
    def optimizer(self) -> type:
        """The update to check and train with: the one inside backward, or plain SGD."""
        return InBackwardUpdate if self.updates_in_backward else scratch_nn.SGD

    @property
    def lr(self) -> float | None:
        """The learning rate the layers apply in backward; None where they leave the update to an optimizer."""
        rates = {layer.conventions.lr for layer in self.network.layers if layer.conventions.gradients == "update"}
        return rates.pop() if len(rates) == 1 else None

    def to_dict(self) -> dict:
        """The conventions, JSON-ready: one entry per layer, and the loss's."""
        return {"layers": [asdict(layer.conventions) for layer in self.network.layers],
                "loss": asdict(self.loss.conventions) if isinstance(self.loss, AdaptedLoss) else
                asdict(self.loss) if isinstance(self.loss, UnreadableLoss) else None,
                "update": {"inside_backward": self.updates_in_backward, "lr": self.lr}}

    def describe(self) -> str:
        """The conventions found, one line per kind of layer and one for the loss."""
        lines: dict[str, list[int]] = {}
        for index, layer in enumerate(self.network.layers):
            lines.setdefault(layer.conventions.describe(), []).append(index)
        rows = [f"  {'layers' if len(at) > 1 else 'layer'} {', '.join(map(str, at))}: {line}"
                for line, at in lines.items()]
        if isinstance(self.loss, AdaptedLoss):  # not scratch_nn's own, used where the user has none
            rows.append(f"  loss: {self.loss.conventions.describe()}")
        elif self.loss_note:
            rows.append(f"  loss: {self.loss_note}")
        elif isinstance(self.loss, UnreadableLoss):
            rows.append(f"  loss: {self.loss.describe()}; checked as a failed part, the layers with torch's "
                        f"loss gradient")
        if self.updates_in_backward:
            rows.append(f"  update: inside backward, lr {self.lr:g}; checked and trained as W - lr dW")
        return "Conventions found (each can be given explicitly):\n" + "\n".join(rows)


# Conventions given to adapt_network that apply to every layer; the others apply to the linear ones only.
CALL_CONVENTIONS = ("backward", "batching", "returns_cache", "input_grad", "output", "forward_method",
                    "backward_method")


def adapt_network(subject, loss=None, *, twins=None, in_features=None, lr=None, loss_twin=None,
                  loss_conventions=None, dtype=None, seed=0, **layer_conventions) -> Adapted:
    """Adapt a user's network: a list of layers (instances, or functional pairs), a
    scratch_nn.Sequential, or an object holding its layers in a list attribute (e.g. .layers).

    loss: the user's loss (see adapt_loss; one that cannot be read is an UnreadableLoss), with loss_twin
    ("cross_entropy", "mse", "probability_cross_entropy") and
        loss_conventions (a dict of LossConventions fields) where probing needs them.
    twins: one per layer ("linear", "sigmoid", "relu", "tanh", "softmax"); default: each layer's torch_twin
        attribute, or its class name.
    in_features: the network's input width: with it, each linear layer's layout follows from its
        weight's shape (a square weight takes the layout of the same class elsewhere in the network).
    lr: the learning rate the layers apply inside backward, where they hold none.
    dtype, seed: for layers given as classes or pairs without arrays (see adapt_layer).
    layer_conventions: LayerConventions fields given explicitly, for every layer where they apply
        (backward=, batching= to all; weight=, layout=, gradients=, ... to the linear ones).
    """
    layers = layers_of(subject)
    twins = list(twins) if twins is not None else [None] * len(layers)
    if len(twins) != len(layers):
        raise ValueError(f"got {len(twins)} twins for {len(layers)} layers; give one per layer (None: found)")
    adapted, layouts, width = [], {}, in_features
    for layer, twin in zip(layers, twins):
        linear = twin_of(layer, twin) == "linear"
        options = {k: v for k, v in layer_conventions.items() if linear or k in CALL_CONVENTIONS}
        if linear and type(layer) in layouts:
            options.setdefault("layout", layouts[type(layer)])
        wrapped = adapt_layer(layer, twin, in_features=width, lr=lr, dtype=dtype, seed=seed, **options)
        if linear:
            layouts.setdefault(type(layer), wrapped.conventions.layout)
            width = wrapped.params["weight"].shape[0]
        adapted.append(wrapped)
    if loss is not None and not isinstance(loss, (AdaptedLoss, UnreadableLoss)):
        loss = read_loss(loss, loss_twin, model=model_of(subject), **(loss_conventions or {}))
    return Adapted(scratch_nn.Sequential(*adapted), loss, source=subject)


def model_of(subject):
    """What a loss(model, scores, y) is called with: the object holding the layers (a list has no weights of
    its own to penalise)."""
    return None if isinstance(subject, (list, tuple, scratch_nn.Sequential)) else subject


def layers_of(subject) -> list:
    if isinstance(subject, (list, tuple)):
        return list(subject)
    if isinstance(subject, scratch_nn.Sequential):
        return list(subject.layers)
    lists = {name: value for name, value in vars(subject).items() if isinstance(value, (list, tuple)) and value
             and all(has_forward(v) or isinstance(v, tuple) for v in value)}
    if len(lists) != 1:
        raise ConventionError(f"cannot find the layers of {type(subject).__name__}: "
                              f"{'no' if not lists else 'several'} list attributes of layers ({', '.join(lists)}); "
                              f"pass the list of layers itself")
    return list(lists.popitem()[1])
