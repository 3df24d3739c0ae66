"""`compare.py grade`: its parser and handler; the grading itself is reference.grading, imported when
the grading starts (with torch), so that --help answers without it."""

import ast
import importlib.util
import sys
import time
from pathlib import Path

import scratch_nn
from reference.choices import ENGINE_SIZES, GRADE_ACTIVATIONS, GRADE_LR, GRADE_SIZES
from reference.cli.check_engine import sizes_of
from reference.cli.check_options import attribute
from reference.cli.check_own_code import CONVENTION_FLAGS
from reference.cli.check_whole_network import (
    NETWORK_FLAGS,
    SHARED,
    add_convention_flags,
    conventions_from,
)
from reference.cli.common import EXIT_BAD_INPUT, non_negative_int, positive_float, positive_int

FLAGS = [*(flag for flag, _, _ in NETWORK_FLAGS), *SHARED]  # --network's conventions, as compare.py check's
# The options of compare.py grade that --engine and --network take; any other given is refused in one line.
COMMON = ("--spec", "--seed", "--timeout", "--workers", "--json", "--student-safe")
TAKES = {"--engine": ("engine", COMMON, f"{', '.join(COMMON[:-1])} and {COMMON[-1]}"),
         "--network": ("network", (*COMMON, "--lr", *FLAGS), f"{', '.join(COMMON)}, --lr and the conventions flags "
                                                           f"({', '.join(FLAGS)})")}


def add_arguments(parser, argv) -> None:
    """`compare.py grade`'s options on its parser."""
    parser.description, parser.epilog = _grader_docstring(), EXIT_STATUS
    parser.set_defaults(handler=grade_command)
    parser.add_argument("folder", metavar="SUBMISSIONS_DIR", help="a folder of .py or .ipynb files, or of folders "
                                                                  "with an __init__.py or a submission.py")
    parser.add_argument("--student-safe", action="store_true",
                        help="print and write no number torch computed (no checker tables, no detail in the "
                             "JSON), so that the output can be handed to students (default: the teacher's view)")
    parser.add_argument("--json", metavar="PATH", help="per submission and part: ok (true, false, null for n/a) "
                                                       "and the reason (default: none)")
    parser.add_argument("--timeout", type=positive_float, default=20.0, metavar="SECONDS",
                        help="per submission; one still running then is killed (default: 20)")
    parser.add_argument("--workers", type=positive_int, default=1, metavar="N",
                        help="submissions graded at once; more help only where cores are free (benchmarks/grading.py) "
                             "(default: 1)")
    parser.add_argument("--activations", metavar="NAMES",
                        help="the activations graded, one column each; the first trains (default: sigmoid,relu; "
                             "not with --network or --engine)")
    parser.add_argument("--lr", type=positive_float, default=GRADE_LR,
                        help=f"given to build, and the training run's (default: {GRADE_LR})")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="weights, inputs and data (default: 0)")
    add_kind_arguments(parser)
    parser.set_defaults(option_defaults=vars(parser.parse_args(["SUBMISSIONS_DIR"])))  # --engine refuses the rest


EXIT_STATUS = """exit status:
  0  every submission passed every part it was graded on
  1  some part of some submission failed (the table says which)
  2  bad options, or no submission in the folder; nothing was graded
  4  the --json file could not be written (the table was printed), or the grader itself failed
  130  interrupted with Ctrl-C; 143  terminated by SIGTERM"""


def _grader_docstring() -> str:
    """reference.grading.folder's docstring, read from its source: importing it would import torch."""
    source = Path(importlib.util.find_spec("reference.grading.folder").origin).read_text()
    return ast.get_docstring(ast.parse(source), clean=False)


def grade_command(args) -> int:
    from reference.grading.folder import find_submissions, grade_folder, table, what_was_taken, write_json
    from reference.outputs import output_problems

    prog = f"{args.prog} grade"
    try:
        folder, settings = Path(args.folder), settings_from(args)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder: give the folder that holds the submissions")
        submissions = find_submissions(folder)
        total = len(submissions)
        if not total:
            raise ValueError(f"{folder} holds no submission: no .py or .ipynb file, and no folder with __init__.py "
                             f"or submission.py")
        for problem in output_problems({"json": args.json}):  # reference.outputs, as train's
            raise ValueError(f"--json {problem.path}: {problem.problem}")
    except ValueError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    started = time.monotonic()

    def progress(row):
        progress.done += 1
        print(f"graded {row.name} ({progress.done}/{total})", file=sys.stderr)
    progress.done = 0

    rows = grade_folder(folder, settings, args.timeout, args.workers, progress)
    print(f"grade: {total} submission(s) in {folder}; {settings.describe()}; timeout {args.timeout:g} s each"
          + ("; student-safe: no torch numbers" if args.student_safe else ""))
    if taken := what_was_taken(folder, submissions):
        print(f"grade: {taken}")
    print(table(rows, settings, args.student_safe))
    print(f"\ngraded in {time.monotonic() - started:.0f} s")
    if args.json:
        try:
            write_json(rows, settings, args.json, args.student_safe, args.timeout)
        except OSError as error:
            print(f"{prog}: error: the JSON could not be written to {args.json} ({error})", file=sys.stderr)
            return 4
        print(f"JSON written to {args.json}")
    return 0 if all(row.score(settings)[0] == row.score(settings)[1] for row in rows) else 1


def settings_from(args):
    """The settings of the kind of submission graded: build's layers (GradeSettings), or grading.kinds'."""
    from reference.grading.submission import GradeSettings

    activations = tuple(name.strip() for name in (args.activations or ",".join(GRADE_ACTIVATIONS)).split(","))
    unknown = [name for name in activations if name not in scratch_nn.ACTIVATIONS]
    if unknown or not activations:
        raise ValueError(f"--activations {args.activations!r}: choose from {', '.join(scratch_nn.ACTIVATIONS)}, "
                         f"separated by commas")
    return kind_settings(args) or GradeSettings(activations=activations, lr=args.lr, seed=args.seed)


def add_kind_arguments(parser) -> None:
    """--network and --engine, --spec, and the whole network's conventions flags, on compare.py grade's parser."""
    group = parser.add_argument_group(
        "whole networks and scalar autograd engines (instead of build's layers)",
        "The parts are the check's rows (compare.py check whole-network / engine); the conventions flags apply to "
        "every submission.")
    group.add_argument("--network", metavar="NAME", help="grade each submission's NAME (a class or function) as a "
                                                         "whole network, as compare.py check whole-network checks it")
    group.add_argument("--engine", metavar="NAME", help="grade each submission's class NAME (micrograd's Value) as "
                                                        "a scalar autograd engine, and the MLP class beside it")
    group.add_argument("--spec", help=f"the sizes, NIN-...-NOUT (default: --network "
                                      f"{'-'.join(map(str, GRADE_SIZES))}, --engine's MLP "
                                      f"{'-'.join(map(str, ENGINE_SIZES))})")
    add_convention_flags(group)
    for flag, kind, words in CONVENTION_FLAGS:
        if flag in SHARED:
            group.add_argument(flag, **kind, help=words)


def kind_settings(args):
    """The settings of --network or --engine; None for build's layers. ValueError for options that do not fit."""
    conventions = conventions_from(args, FLAGS)
    if args.network and args.engine:
        raise ValueError("--network grades a whole network and --engine a scalar autograd engine; give one of them")
    if not (args.network or args.engine):
        given = [flag for flag in ("--spec", *FLAGS) if getattr(args, attribute(flag))]
        if given:
            raise ValueError(f"{given[0]} applies to --network (or --spec to --engine); build's networks are "
                             f"{'-'.join(map(str, GRADE_SIZES))}, one per --activations")
        return None
    kind = "--network" if args.network else "--engine"
    if args.activations:
        raise ValueError(f"--activations applies to build's layers; {kind} finds what the network computes")
    if args.engine and conventions:
        raise ValueError("the conventions flags (--cost, ...) apply to --network, not to --engine")
    name, flags, takes = TAKES[kind]
    refuse_options_not_for(args, args.option_defaults, ("folder", name, *map(attribute, flags)), kind, takes)
    from reference.grading.kinds import EngineGradeSettings, NetworkGradeSettings

    sizes = {"sizes": sizes_of(args.spec)} if args.spec else {}
    if args.engine:
        return EngineGradeSettings(args.engine, seed=args.seed, **sizes)
    return NetworkGradeSettings(args.network, conventions=conventions, lr=args.lr, seed=args.seed, **sizes)


def refuse_options_not_for(args, defaults: dict, applying: tuple, option: str, takes: str) -> None:
    """A ValueError naming the first option given (not at its default) that `option`'s grading does not
    take: applying lists the ones it does, takes says them to the user."""
    given = [key for key, value in vars(args).items() if key in defaults and key not in applying
             and value != defaults[key]]
    if given:
        raise ValueError(f"--{given[0].replace('_', '-')} does not apply to {option}, which takes {takes}")
