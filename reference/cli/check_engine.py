"""The command line's side of a scalar autograd engine (`compare.py check --engine FILE.py:Value`):
the Value class loaded, the MLP beside it (or --mlp's) built for --spec, and check_engine run."""

import inspect

from reference.cli.check_own_code import load, refuse_options_not_for
from reference.gradcheck.engine import check_engine

DEFAULT_SPEC = "3-4-4-1"  # small: every scalar of the MLP is a Python object
# The options that apply to an engine's check; any other given is refused in one line.
APPLY = ("engine", "mlp", "spec", "seed", "json")


def add_engine_arguments(parser) -> None:
    group = parser.add_argument_group(
        "a scalar autograd engine of your own (--engine): micrograd's Value, and its MLP",
        "Every operation the class has (+, *, **, -, /, their reflections, tanh, exp, relu, sigmoid, log), "
        "forward and backward on random scalars, against torch autograd and finite differences; then a whole MLP "
        "against torch. An operation the class lacks is listed as not supported and does not fail the check.")
    group.add_argument("--engine", metavar="FILE.py:CLASS",
                       help="the Value class: its instances hold .data and .grad, and backward() fills the grads")
    group.add_argument("--mlp", metavar="FILE.py:CLASS",
                       help="the MLP class, built as MLP(nin, nouts) from --spec (default: MLP beside the Value "
                            f"class, if its module has one; --spec default {DEFAULT_SPEC})")


def check_engine_file(args, defaults: dict):
    """The report of --engine; defaults: every option's default, to refuse those given that do not apply."""
    refuse_options_not_for(args, defaults, APPLY, "--engine", "--mlp, --spec, --seed and --json")
    Value = load(args.engine, "--engine", inspect.isclass, "class")
    if args.mlp:
        mlp = load(args.mlp, "--mlp", inspect.isclass, "class")
    else:
        mlp = getattr(inspect.getmodule(Value), "MLP", None)
        mlp = mlp if inspect.isclass(mlp) else None
    sizes = sizes_of(args.spec or DEFAULT_SPEC, "the MLP's sizes")
    subject = f"{Value.__name__} ({args.engine.rpartition(':')[0]})"
    return check_engine(Value, mlp=mlp, sizes=sizes, seed=args.seed,
                        subject=subject + ("" if mlp else "; no MLP beside it (--mlp FILE.py:MLP)"))


def sizes_of(spec: str, what: str = "the sizes") -> tuple[int, ...]:
    """--spec's sizes, NIN-N1-...-NOUT; ValueError in one line where they are not."""
    try:
        sizes = tuple(int(size) for size in spec.split("-"))
    except ValueError:
        sizes = ()
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"--spec takes {what} as NIN-N1-...-NOUT, e.g. {DEFAULT_SPEC}; got {spec!r}")
    return sizes
