"""check()'s keyword arguments, sorted once by whom they are for: the checker's own options (a
CheckOptions), the conventions of code written in its own (for the adapters: LayerConventions'
fields, factory, loss_twin, loss_conventions), and a functional pair's settings dict (in_shape,
kernel, ...). One keyword that is none of these is refused in one line, naming them.
"""

import dataclasses
from dataclasses import dataclass, field

import numpy as np

import scratch_nn
from reference.adapters.layer import LayerConventions
from reference.choices import FD_SAMPLES, OPTIMIZER_STEPS, PAIR_SETTINGS

# The adapters' keywords that describe the subject, not the check: any of them routes a subject
# through the adapters even where it has scratch_nn's interface.
LAYER_CONVENTIONS = tuple(sorted(set(LayerConventions.__dataclass_fields__) - {"name", "twin", "built", "lr"}))
ADAPTER_OPTIONS = (*LAYER_CONVENTIONS, "factory", "loss_twin", "loss_conventions")


@dataclass(frozen=True)
class CheckOptions:
    """The checker's options (check_network's keywords), at check_network's defaults where not given.

    given names those the caller gave: where the subject is adapted, its own loss, update and
    learning rate stand in for the ones not given (defaulted). dtype None: the subject's own, or
    float64 for one without parameters.
    """

    loss: object = None
    optimizer: object = scratch_nn.SGD
    lr: float = 0.1
    dtype: object = None
    batch_size: int = 8
    seed: int = 0
    fd_samples: int = FD_SAMPLES
    optimizer_steps: int = OPTIMIZER_STEPS
    optimizer_twin: object = None
    optimizer_options: dict | None = None
    zero_grad: object = None
    given: frozenset = field(default=frozenset(), compare=False)

    @classmethod
    def of(cls, **given) -> "CheckOptions":
        return cls(**given, given=frozenset(given))

    def get(self, name: str):
        """The value given for name, or None where the caller gave none."""
        return getattr(self, name) if name in self.given else None

    def defaulted(self, **defaults) -> "CheckOptions":
        """These options with defaults for those not given (an adapted subject's loss, update, lr)."""
        return dataclasses.replace(self, **{name: value for name, value in defaults.items() if name not in self.given})

    def but(self, **changes) -> "CheckOptions":
        """These options with changes, counted as given."""
        return dataclasses.replace(self, **changes, given=self.given | set(changes))

    def keywords(self) -> dict:
        """check_network's keywords (dtype float64 where none was given)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "given"}
        return {**values, "dtype": values["dtype"] or np.float64}


CHECKER_OPTIONS = tuple(f.name for f in dataclasses.fields(CheckOptions) if f.name != "given")


@dataclass(frozen=True)
class Given:
    """check()'s keywords, sorted: the checker's, the adapters' conventions, a pair's settings."""

    options: CheckOptions
    conventions: dict
    settings: dict


def sort_keywords(keywords: dict) -> Given:
    """keywords sorted by whom they are for; a TypeError naming the known ones for any other.
    A pair's setting given as None counts as not given (the command line passes its flags so)."""
    unknown = sorted(set(keywords) - {*CHECKER_OPTIONS, *ADAPTER_OPTIONS, *PAIR_SETTINGS})
    if unknown:
        raise TypeError(f"check() got the unknown keyword {unknown[0]!r}; it takes the checker's "
                        f"{', '.join(CHECKER_OPTIONS)}, the conventions {', '.join(ADAPTER_OPTIONS)} and a pair's "
                        f"settings {', '.join(PAIR_SETTINGS)}")
    return Given(CheckOptions.of(**{key: value for key, value in keywords.items() if key in CHECKER_OPTIONS}),
                 {key: value for key, value in keywords.items() if key in ADAPTER_OPTIONS},
                 {key: value for key, value in keywords.items() if key in PAIR_SETTINGS and value is not None})
