"""A run's --implementation: the user's network (reference.adapters.loader) built for the run's settings,
beside its torch twin, with its loss and the conventions found."""

import numpy as np

import scratch_nn
from reference.adapters import Adapted, UnreadableLoss
from reference.adapters.errors import ConventionError
from reference.adapters.function_network import function_network, is_parameters_dict
from reference.adapters.loader import (
    BUILD_ARGUMENTS,
    ImplementationError,
    adapt_built,
    load_builder,
    load_module,
    split_target,
)
from reference.adapters.probing import required_arguments
from reference.adapters.user_code import Raised
from reference.training.function_sequential import FunctionRun, function_run
from reference.training.run_config import ConfigError, RunConfig
from reference.twin import torch_model
from scratch_nn.spec import Spec


def check_target(config: RunConfig) -> None:
    """The run's --implementation can be used: a build() found and callable, or a module of functions
    (functions_of); else a ConfigError with the reason in one line. Reads the user's file."""
    try:
        load_builder(config.implementation)
    except ImplementationError as error:
        if functions_of(config) is None:
            raise ConfigError("implementation", config.implementation, str(error)) from None


def adapt_config(config: RunConfig) -> Adapted:
    """The implementation a run names (config.implementation), adapted, holding the run's initial weights."""
    functions = functions_of(config)
    if functions is not None:
        return functions
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


def functions_of(config: RunConfig) -> FunctionRun | None:
    """The run of a module of functions, where the implementation names an initializer (one argument, not
    one of build's) that returns a parameters dict for the spec's sizes (function_network.py); else None."""
    path, name = split_target(config.implementation)
    try:
        maker = getattr(load_module(path), name, None)
    except ImplementationError:  # the file cannot be used: load_builder says why
        return None
    arguments = required_arguments(maker) if callable(maker) else []
    if not arguments or set(arguments) & set(BUILD_ARGUMENTS):
        return None
    spec = Spec.parse(config.spec, config.activation, config.output_activation)
    sizes = list(spec.sizes)
    try:  # initialize_parameters_deep(layer_dims), or initialize_parameters(n_x, n_h, n_y)
        parameters = maker(sizes) if len(arguments) == 1 else maker(*sizes) if len(arguments) == len(sizes) else None
        if not is_parameters_dict(parameters):
            return None
        if config.loss != "binary_cross_entropy":
            raise ValueError("a module of functions trains with its own cost, binary cross-entropy on one sigmoid "
                             "unit: give --loss binary_cross_entropy and --positive-class")
        user = function_network(maker, parameters, {})
        reference = scratch_nn.build_network(spec, init=config.init, seed=config.seed, dtype=np.dtype(config.dtype))
        return function_run(user, reference)
    except (ValueError, ConventionError) as error:
        raise ConfigError("implementation", config.implementation, str(error)) from None
    except Exception as error:  # noqa: BLE001 - the user's initializer or forward may raise anything
        raise ConfigError("implementation", config.implementation,
                          str(Raised.of(error, f"{name} for {sizes} or its forward"))) from None


def networks(adapted: Adapted, config: RunConfig):
    """training.build_networks for an implementation: the adapted network and its torch twin."""
    return adapted.network, torch_model(adapted.network, device=config.device, twins=adapted.twins)
