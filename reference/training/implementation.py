"""A run's --implementation: the user's network (reference.adapters.loader) built for the run's settings,
beside its torch twin, with its loss and the conventions found."""

import numpy as np

import scratch_nn
from reference.adapters import Adapted, UnreadableLoss
from reference.adapters.loader import (
    ImplementationError,
    adapt_built,
    load_builder,
    load_module,
    split_target,
)
from reference.training.run_config import ConfigError, RunConfig
from reference.twin import torch_model
from scratch_nn.spec import Spec


def adapt_config(config: RunConfig) -> Adapted:
    """The implementation a run names (config.implementation), adapted, holding the run's initial weights."""
    builder = load_builder(config.implementation)
    conventions = getattr(load_module(split_target(config.implementation)[0]), "CONVENTIONS", None)
    spec = Spec.parse(config.spec, config.activation, config.output_activation)
    try:
        adapted = adapt_built(builder, spec, lr=config.lr, seed=config.seed, init=config.init, dtype=config.dtype,
                              loss=config.loss, conventions=conventions)
    except ImplementationError as error:
        raise ConfigError("implementation", config.implementation, str(error)) from None
    if isinstance(adapted.loss, UnreadableLoss):  # nothing to train with (check --implementation fails it alone)
        raise ConfigError("implementation", config.implementation,
                          f"the loss build returned cannot be read: {adapted.loss.reason}")
    if penalised(adapted):
        raise ConfigError("implementation", config.implementation, penalised(adapted))
    if adapted.lr is not None and not np.isclose(adapted.lr, config.lr, rtol=1e-12, atol=0):
        raise ConfigError("implementation", config.implementation,
                          f"its layers update themselves in backward with lr {adapted.lr:g}, but the run's lr is "
                          f"{config.lr:g}: give --lr {adapted.lr:g}, or build the layers with the lr build is given")
    return adapted


def penalised(adapted: Adapted) -> str:
    """Why the run cannot train this loss ("" where it can): one that adds an L2 penalty over the model's
    weights returns no gradient of it, and the torch twin trains on the data loss alone."""
    conventions = getattr(adapted.loss, "conventions", None)
    if conventions is None or not conventions.penalty:
        return ""
    return (f"its loss adds an L2 penalty {conventions.penalty:.6g} * sum W^2, whose gradient it does not return: "
            f"a run trains the data loss alone, so build the model without it (reg=0); check --implementation "
            f"checks the penalty")


def build_networks(config: RunConfig):
    """training.build_networks for an implementation: the adapted network and its torch twin."""
    adapted = adapt_config(config)
    return adapted.network, torch_model(adapted.network, device=config.device, twins=adapted.twins)


def build_loss(config: RunConfig):
    """The loss the scratch side trains with: the implementation's own, adapted (scratch_nn's of the
    run's --loss where build returns none), or, for a run of scratch_nn's network, scratch_nn's."""
    return adapt_config(config).loss if config.implementation else scratch_nn.LOSSES[config.loss]()


def describe(config: RunConfig) -> str:
    """The conventions found in the implementation, as the block adapt_network prints."""
    return adapt_config(config).describe()
