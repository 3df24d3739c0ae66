"""`compare.py check engine FILE.py:Value`: a scalar autograd engine, the Value class loaded, the MLP
beside it (or --mlp's) built for --spec, and check_engine run."""

from reference.adapters.keywords import LAYER
from reference.choices import ENGINE_SIZES
from reference.cli.check_options import add_seed_and_json

DEFAULT_SPEC = "-".join(map(str, ENGINE_SIZES))


def add_arguments(parser) -> None:
    parser.description = (
        "Every operation the class has (+, *, **, -, /, their reflections, tanh, exp, relu, sigmoid, log), forward "
        "and backward on random scalars, against torch autograd and finite differences; then a whole MLP against "
        "torch. An operation the class lacks is listed as not supported and does not fail the check.")
    parser.add_argument("engine", metavar="FILE.py:CLASS",
                        help="the Value class: its instances hold .data and .grad, and backward() fills the grads")
    parser.add_argument("--mlp", metavar="FILE.py:CLASS",
                        help="the MLP class, built as MLP(nin, nouts) from --spec (default: MLP beside the Value "
                             "class, if its module has one)")
    parser.add_argument("--spec", default=DEFAULT_SPEC, help="the MLP's sizes, NIN-N1-...-NOUT (default %(default)s)")
    add_seed_and_json(parser.add_argument_group("the check"))
    parser.set_defaults(check=check_engine_file, keyword_flags=LAYER)


def check_engine_file(args):
    import inspect

    from reference.adapters.loader import load_object, module_of
    from reference.gradcheck.engine import check_engine

    Value = load_object(args.engine, "check engine", inspect.isclass, "class")
    if args.mlp:
        mlp = load_object(args.mlp, "--mlp", inspect.isclass, "class")
    else:
        mlp = getattr(module_of(args.engine, "check engine"), "MLP", None)
        mlp = mlp if inspect.isclass(mlp) else None
    subject = f"{Value.__name__} ({args.engine.rpartition(':')[0]})"
    return check_engine(Value, mlp=mlp, sizes=sizes_of(args.spec, "the MLP's sizes"), seed=args.seed,
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
