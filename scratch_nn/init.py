"""Initial weights for a Linear layer, drawn from a seeded NumPy generator.

Draws are made in float64 and rounded once to the network's dtype, so float32 and float64
networks built from the same seed start from the same weights (up to that rounding).
Each layer draws its weight, then its bias, in layer order.
"""

import numpy as np


def paper_uniform(rng: np.random.Generator, fan_in: int, fan_out: int):
    """The paper's initialisation: every weight and bias uniform in [-1, 1]."""
    return rng.uniform(-1.0, 1.0, size=(fan_out, fan_in)), rng.uniform(-1.0, 1.0, size=fan_out)


def torch_default(rng: np.random.Generator, fan_in: int, fan_out: int):
    """torch.nn.Linear's default: weight and bias uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)].

    (kaiming_uniform_ with a = sqrt(5) gives bound = sqrt(6 / (1 + 5)) * sqrt(3 / fan_in)
    = 1/sqrt(fan_in) for the weight; the bias uses the same bound.)
    """
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=(fan_out, fan_in)), rng.uniform(-bound, bound, size=fan_out)


INITIALIZERS = {"paper": paper_uniform, "torch": torch_default}
