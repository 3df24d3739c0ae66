"""Someone's own from-scratch network, loaded from their file and made ready to train against torch.

    python compare.py --implementation my_net.py:build --spec 784-128-10 --activation relu --dtype float64

The contract. ``my_net.py`` defines a function (``build`` unless another name follows the colon)
that returns the user's network for the run's settings:

    def build(sizes, activations, lr, seed):
        # sizes: [784, 128, 10], input first; activations: one name per hidden layer, e.g. ["relu"]
        # ("sigmoid", "relu", "tanh"); lr: the learning rate (for layers that update themselves
        # in backward); seed: an int
        layers = [Linear(784, 128, lr), ReLU(), Linear(128, 10, lr)]
        return layers, CrossEntropy()        # or just layers: then the run's --loss is scratch_nn's

build is called with keyword arguments, only those among BUILD_ARGUMENTS that its signature names
(a build(**settings) gets them all): sizes, activations, output_activation (None, or the name of
an activation after the last layer), lr, seed, dtype (numpy.float32 or float64). It returns the
layers (a list: instances, or functional pairs (forward, backward, w, b)), or an object that
holds them in a list attribute, or a tuple (layers, loss). Layers and loss are found out by
reference.adapters (adapt_network): their weights' attribute names and layout, how backward is
called, where gradients land or whether backward updates the weights itself. Where probing cannot
tell, the module states it in a dict named CONVENTIONS, whose entries are adapt_network's keyword
arguments, e.g. ``CONVENTIONS = {"layout": "in_out", "loss_conventions": {"targets": "one_hot"}}``.
The module's folder is first on sys.path while it is imported, so it can import the files beside it.

Both sides start from the same weights: the run's own initialisation (--init, --seed) is built as
scratch_nn would build it and loaded into the adapted network through its params, which write
through to the user's arrays; whatever build initialised is replaced. The network must have the
run's structure (linear layers of the spec's sizes, the activations named) or the run is refused.
"""

import contextlib
import functools
import importlib
import importlib.machinery
import importlib.util
import inspect
import re
import sys
from pathlib import Path

import numpy as np

import scratch_nn
from reference.adapters import (
    Adapted,
    UnreadableLoss,
    adapt_network,
    read_loss,
)
from reference.adapters.errors import KeywordError
from reference.adapters.function_network import INITIALIZER_NAMES, function_network, is_parameters_dict
from reference.adapters.methods import LOSS_VALUE_METHODS, has_forward, methods_of
from reference.adapters.notebook import SUFFIX as NOTEBOOK
from reference.adapters.notebook import loader_for
from reference.adapters.user_code import UserCodeError, guarded
from reference.loss_names import loss_class
from scratch_nn.spec import Spec

BUILD_ARGUMENTS = ("sizes", "activations", "output_activation", "lr", "seed", "dtype")
DEFAULT_BUILDER = "build"


class ImplementationError(KeywordError):
    """The user's file, its build or what build returned cannot be used; the message says why and what to
    do (where that is a convention to state, it keeps the keyword: a command line words it as its flag)."""


def split_target(target: str) -> tuple[Path, str]:
    """"path/to/my_net.py:build" -> (Path("path/to/my_net.py"), "build"); the name defaults to build."""
    path, colon, name = str(target).rpartition(":")
    return (Path(path), name or DEFAULT_BUILDER) if colon else (Path(name), DEFAULT_BUILDER)


@functools.cache
def load_module(path: Path):
    """Import the user's file (or package folder) once per process, under a name of its own (a file
    called numpy.py or network.py shadows nothing), kept in sys.modules as an import would keep it so
    that its objects pickle (a run's scratch side comes back from its process so). While it runs, its
    folder is first on sys.path, so that it imports the files beside it; afterwards sys.path is as it
    was and those files are out of sys.modules again, where their plain names (layers, network) would
    otherwise answer a later import of another file or package of that name. Whatever importing it
    does (raise, or sys.exit) is an ImplementationError."""
    path = Path(path).resolve()
    file = path / "__init__.py" if path.is_dir() else path
    if not file.is_file():
        raise ImplementationError(f"no such file {path}" if not path.is_dir() else
                                  f"the folder {path} has no __init__.py: name the file that defines build")
    if file.suffix not in (".py", NOTEBOOK):
        raise ImplementationError(f"{file} is not a Python file: name the .py or .ipynb file that defines build")
    spec = importlib.util.spec_from_file_location(f"{USER_MODULE_PREFIX}{path.stem}", file,
                                                  loader=loader_for(file),  # a .ipynb's code cells
                                                  submodule_search_locations=[str(path)] if path.is_dir() else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: dataclasses and pickle look their module up there
    try:
        with _beside(path.parent), guarded(f"importing {file}"):
            spec.loader.exec_module(module)
    except UserCodeError as error:  # one line, not a traceback
        del sys.modules[spec.name]
        advice = ("; a module to check must not exit when imported (put its script part under if __name__ == "
                  "'__main__':)") if error.raised.exited else ""
        raise ImplementationError(f"{error.raised}{advice}") from None
    return module


USER_MODULE_PREFIX = "user_code_"  # no installed package is named so


@contextlib.contextmanager
def _beside(folder: Path):
    """The folder first on sys.path while the block runs; then sys.path as it was, and out of
    sys.modules again every module imported meanwhile from that folder that Python would not find
    without it (a sibling layers.py; not a package the folder also holds that is importable anyway,
    such as this project's own when the folder is its root)."""
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in set(sys.modules) - before
                     if not name.startswith(USER_MODULE_PREFIX) and _found_only_in(folder, name)]:
            del sys.modules[name]


def _found_only_in(folder: Path, name: str) -> bool:
    origin = getattr(sys.modules[name], "__file__", None)
    if not origin or not Path(origin).resolve().is_relative_to(folder.resolve()):
        return False
    top = name.partition(".")[0]
    spec = importlib.machinery.PathFinder.find_spec(top)  # sys.path without the folder
    return spec is None or spec.origin is None or Path(spec.origin).resolve() != Path(
        getattr(sys.modules.get(top), "__file__", None) or spec.origin).resolve()


def load_object(target: str, option: str, accept, what: str, hint: str = ""):
    """MODULE:NAME, MODULE importable (my_layers, a.b.c) or a path to a .py or .ipynb file (loaded by
    load_module), and NAME one that accept() takes; option names it in the errors (--factory)."""
    module_name, _, name = target.rpartition(":")
    if not module_name or not name:
        raise ImplementationError(f"{option} takes MODULE:{what.upper()}, e.g. my_layers:MyLinear or "
                                  f"path/to/my_layers.py:MyLinear; got {target!r}")
    value = getattr(module_of(target, option), name, None)
    if not accept(value):
        raise ImplementationError(f"{module_name} has no {what} {name}" + (hint if callable(value) else ""))
    return value


def module_of(target: str, option: str):
    """The module of MODULE:NAME: a .py file by load_module, else an importable module by its name."""
    module_name = target.rpartition(":")[0]
    if not module_name.endswith((".py", NOTEBOOK)):
        return _import_installed(module_name)
    if not Path(module_name).is_file():
        raise ImplementationError(f"no file {module_name} (from {option} {target})")
    return load_module(Path(module_name))


def _import_installed(module_name: str):
    """An importable module by its name, as Python imports it; what importing it does is an ImplementationError."""
    try:
        with guarded(f"importing {module_name}"):
            return importlib.import_module(module_name)
    except UserCodeError as error:
        if isinstance(error.__cause__, ModuleNotFoundError):
            raise ImplementationError(f"could not import {module_name}: {error.raised.message}") from None
        advice = "; a module to check must not exit when imported" if error.raised.exited else ""
        raise ImplementationError(f"{error.raised}{advice}") from None


def load_builder(target: str):
    """The user's build function, checked: it exists, is callable, and asks only for BUILD_ARGUMENTS."""
    path, name = split_target(target)
    module = load_module(path)
    builder = getattr(module, name, None)
    if builder is None:
        defined = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise ImplementationError(f"{path} defines no {name} (it defines: {', '.join(defined) or 'nothing callable'})")
    if not callable(builder):
        raise ImplementationError(f"{path}:{name} is a {type(builder).__name__}, not a function")
    unknown = [p.name for p in inspect.signature(builder).parameters.values()
               if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and p.name not in BUILD_ARGUMENTS]
    if unknown:
        raise ImplementationError(f"{name} requires {', '.join(unknown)}, which it is not given: name its "
                                  f"parameters from {', '.join(BUILD_ARGUMENTS)}")
    return builder


def call_build(builder, **settings):
    """(layers, loss or None) from build, called with the settings its signature names."""
    parameters = inspect.signature(builder).parameters.values()
    takes_all = any(p.kind is p.VAR_KEYWORD for p in parameters)
    given = {name: value for name, value in settings.items()
             if takes_all or name in {p.name for p in parameters}}
    arguments = ", ".join(f"{k}={v!r}" for k, v in given.items())
    try:
        with guarded(f"{builder.__name__}({arguments})"):
            result = builder(**given)
    except UserCodeError as error:
        raise ImplementationError(str(error.raised)) from None
    if isinstance(result, tuple) and len(result) == 2 and holds_layers(result[0]):
        return result
    return result, own_loss(result)


LOSS_ATTRIBUTE = re.compile(r"loss|cost|criterion|objective", re.IGNORECASE)


def own_loss(network):
    """The loss a network object holds (model.loss, net.cost, self.criterion: a function or an object
    with a loss method, under such a name, not one of its layers), or None: the user's own loss is the
    one checked, never silently replaced by scratch_nn's."""
    attributes = getattr(network, "__dict__", {}) if not isinstance(network, (list, scratch_nn.Sequential)) else {}
    layers = {id(v) for value in attributes.values() if isinstance(value, list) for v in value}
    for name, value in attributes.items():
        if LOSS_ATTRIBUTE.search(name) and id(value) not in layers and not isinstance(value, type) and (
                inspect.isroutine(value) or methods_of(value, LOSS_VALUE_METHODS)):
            return value
    return None


def holds_layers(value) -> bool:
    """A list of layers, a Sequential, or an object with a list attribute of layers: what a network is."""
    if isinstance(value, (list, scratch_nn.Sequential)):
        return True
    return not isinstance(value, tuple) and any(
        isinstance(v, list) and v and all(has_forward(item) or isinstance(item, tuple) for item in v)
        for v in getattr(value, "__dict__", {}).values())


def adapt_built(builder, spec: Spec, *, lr, seed, init, dtype, loss, conventions=None) -> Adapted:
    """build's network adapted, holding the weights scratch_nn would start the spec from (init, seed),
    and its loss (the user's, adapted as loss; else scratch_nn's loss of that name). lr is what build
    is given; layers that hold another and update with it keep theirs (Adapted.lr says which)."""
    adapted, user_loss = adapt_layers(builder, spec, lr=lr, seed=seed, init=init, dtype=dtype,
                                      conventions=conventions)
    adapted.loss = adapt_user_loss(user_loss, loss, conventions, model=adapted.source)
    if user_loss is None:
        adapted.loss_note = (f"none in what {builder.__name__} returns: scratch_nn's {type(adapted.loss).__name__} "
                             f"(--loss {loss}) is used")
    return adapted


def adapt_layers(builder, spec: Spec, *, lr, seed, init, dtype, conventions=None) -> tuple[Adapted, object]:
    """(build's layers adapted, holding the spec's initial weights, with no loss yet; the user's loss or None)."""
    dtype = np.dtype(dtype)
    layers, user_loss = call_build(builder, sizes=list(spec.sizes), activations=list(spec.activations),
                                   output_activation=spec.output_activation, lr=lr, seed=seed, dtype=dtype)
    try:
        adapted = adapt_network(layers, None, in_features=spec.sizes[0], dtype=dtype, seed=seed, **(conventions or {}))
    except (TypeError, ValueError) as error:  # a ConventionError among them keeps its keywords
        raise ImplementationError(f"the layers {builder.__name__} returned cannot be read: ",
                                  error if isinstance(error, KeywordError) else str(error)) from None
    reference = scratch_nn.build_network(spec, init=init, seed=seed, dtype=dtype)
    expected = [twin_name(layer) for layer in reference.layers]
    if adapted.twins != expected:
        raise ImplementationError(f"{builder.__name__} returned the layers {', '.join(adapted.twins)}; the run's "
                                  f"network is {', '.join(expected)} ({spec})")
    try:
        adapted.network.load_state_dict(reference.state_dict())
    except ValueError as error:
        raise ImplementationError(f"the layers {builder.__name__} returned do not have the sizes {spec}: "
                                  f"{error}") from None
    adapted.source = layers
    return adapted, user_loss


def adapt_user_loss(user_loss, loss: str, conventions=None, model=None):
    """The user's loss adapted as the loss named (or as CONVENTIONS' loss_twin), or an UnreadableLoss
    saying why it cannot be (checked, it fails alone; a run refuses it); without one, scratch_nn's."""
    if user_loss is None:
        return loss_class(loss)()
    conventions = conventions or {}
    read = read_loss(user_loss, conventions.get("loss_twin", loss), model=model,
                     **conventions.get("loss_conventions", {}))
    if isinstance(read, UnreadableLoss) and read.asks:  # the probe's question names a keyword
        read.reason += " (in the file's CONVENTIONS = {'loss_conventions': {...}})"
    return read


def twin_name(layer) -> str:
    """A scratch_nn layer's twin by name: Linear -> "linear", Sigmoid -> "sigmoid", ..."""
    return type(layer).__name__.lower()


# For a module of functions (NAME an initializer returning a parameters dict, function_network.py), these
# conventions name its functions instead of methods: discover()'s keyword -> the function's role.
FUNCTION_ROLES = {"forward": "forward", "gradient_method": "backward", "update": "update", "cost_function": "cost"}


def build_whole_network(maker, sizes, conventions: dict | None = None):
    """A whole network from the user's class or function (_call_maker). An initializer returning a
    parameters dict stands for its module's functions (function_network.py): their names are taken out
    of conventions (the flags), where given, and the rest found."""
    built = _call_maker(maker, sizes)
    if not is_parameters_dict(built):
        if conventions is not None:
            conventions.pop("cost_function", None)
        return built
    given = {role: conventions.pop(keyword, None) for keyword, role in FUNCTION_ROLES.items()} if conventions else {}
    if given.get("update") == "none":
        conventions["update"] = "none"
    return function_network(maker, built, given)


def whole_network_target(target: str) -> str:
    """FILE.py alone names a module of functions: FILE.py:its initializer, found by its usual name."""
    if not target.endswith((".py", NOTEBOOK)):
        return target
    module = load_module(Path(target)) if Path(target).is_file() else None
    found = next((name for name in INITIALIZER_NAMES if callable(getattr(module, name, None))), None)
    if found is None:
        raise ImplementationError(f"{target} names no class or function: give FILE.py:NAME (a network class, or "
                                  f"the initializer of a module of functions, e.g. {INITIALIZER_NAMES[0]})")
    return f"{target}:{found}"


def _call_maker(maker, sizes):
    """maker(sizes), maker(*sizes), or maker() for a function of no arguments, the first the signature
    takes (ImplementationError where none builds)."""
    try:
        signature = inspect.signature(maker)
    except (TypeError, ValueError):
        signature = None
    failure = None
    for arguments in ((sizes,), tuple(sizes), ()):
        if signature is not None and not _binds(signature, arguments):
            continue
        try:
            with guarded():
                return maker(*arguments)
        except UserCodeError as error:  # reported if no other way of calling it builds
            failure = failure or error.raised
    name = getattr(maker, "__name__", repr(maker))
    if failure is not None:
        raise ImplementationError(f"building {name} for --spec {'-'.join(map(str, sizes))} {failure}")
    raise ImplementationError(f"{name} takes neither the sizes as a list, nor as numbers, nor nothing; give a "
                              f"function that builds the network (check whole-network FILE.py:FUNCTION)")


def _binds(signature, arguments) -> bool:
    try:
        signature.bind(*arguments)
    except TypeError:
        return False
    return True
