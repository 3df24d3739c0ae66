"""A loss that takes the model, loss(model, scores, y), and adds an L2 penalty over its weights
(CS231n's style: data loss + 0.5 * reg * sum of W^2 over the weight matrices, never the biases).

The model is bound to the loss (ModelLoss), so that the loss is called as any other, on
(output, target). Its conventions are found with the model's weights at zero, where the value is
the data loss alone; the penalty's factor lambda is then what the weights add, over their sum of
squares, and it must be an L2 penalty over the weights: with the weights doubled and every other
array of the model (the biases) moved, it is 4 times as much. The check compares the value with
torch's loss plus lambda * sum W^2 of the same weights, computed by torch (gradcheck/parts.py);
the penalty's own gradient, which such a loss does not return, is the update's business.
"""

import copy
import inspect

import numpy as np

from reference.adapters.errors import ConventionError, Keyword
from reference.adapters.probing import arrays, get, put, required_arguments

# Two losses that differ by 1e-3 of a loss near 2 lose about 3 digits to cancellation: 1e-10
# relative to the penalty is far above that rounding, and far below any other dependence on the weights.
PENALTY_RTOL = 1e-10


class ModelLoss:
    """loss(model, output, target) with the model bound: called as loss(output, target)."""

    def __init__(self, function, model):
        self.function, self.model = function, model
        self.__name__ = getattr(function, "__name__", type(function).__name__)

    def __call__(self, output, target):
        return self.function(self.model, output, target)


def takes_model(loss) -> bool:
    """A function whose call needs three arguments: loss(model, scores, y)."""
    return inspect.isroutine(loss) and len(required_arguments(loss)) == 3


def bind_model(loss, model):
    """loss with the model bound where it takes one (else loss itself); a ConventionError where it takes
    one and there is none to give."""
    if isinstance(loss, ModelLoss) or not takes_model(loss):
        return loss
    if model is None:
        raise ConventionError(f"{loss.__name__}({', '.join(required_arguments(loss))}) takes the model first: give ",
                              Keyword("model"), " the object holding the layers and their weights (build returning "
                              "(model, loss) does)")
    return ModelLoss(loss, model)


def weight_locations(model) -> list[str]:
    """Where the model keeps its weight matrices: its 2-D float arrays with more than one row (a (1, n)
    bias row is a bias)."""
    return [location for location, value in arrays(model).items() if value.ndim == 2 and value.shape[0] > 1]


def moved(user: ModelLoss, weights, others) -> ModelLoss:
    """A copy of user whose model's weight matrices are weights(W) and every other array others(a)."""
    copied = copy.deepcopy(user)
    matrices = weight_locations(copied.model)
    for location, value in arrays(copied.model).items():
        put(copied.model, location, weights(value) if location in matrices else others(value))
    return copied


def penalty_factor(user: ModelLoss, value_of) -> float:
    """lambda in value = data loss + lambda * sum W^2, from value_of(a ModelLoss) on one probe batch (the
    data loss depends on the scores alone, so what the model adds is its value less the value with every
    array of the model at zero); a ConventionError where that is no L2 penalty over the weights alone."""
    weights = weight_locations(user.model)
    if not weights:
        return 0.0
    data = value_of(moved(user, np.zeros_like, np.zeros_like))
    added = value_of(user) - data
    squares = sum(float(np.sum(get(user.model, location) ** 2)) for location in weights)
    doubled = value_of(moved(user, lambda w: 2 * w, lambda a: a + 1)) - data
    if not np.isclose(doubled, 4 * added, rtol=PENALTY_RTOL, atol=0):
        raise ConventionError(f"{user.__name__}(model, ...) adds {added:.6g} to the data loss, which is no L2 penalty "
                              f"lambda * sum W^2 over the model's weights ({', '.join(weights)}): with the weights "
                              f"doubled and the biases moved it adds {doubled:.6g}, not 4 times as much")
    return added / squares if squares else 0.0
