"""`compare.py grade`: its parser and handler; the grading itself is reference.grading."""

import argparse
import math
import sys
import time
from pathlib import Path

import scratch_nn
from reference.cli.check_engine import sizes_of
from reference.cli.check_own_code import (
    CONVENTION_FLAGS,
    attribute,
    refuse_options_not_for,
)
from reference.cli.check_whole_network import (
    NETWORK_FLAGS,
    SHARED,
    add_convention_flags,
    conventions_from,
)
from reference.grading.folder import __doc__ as GRADE_DOC
from reference.grading.folder import find_submissions, grade_folder, table, write_json
from reference.grading.kinds import (
    ENGINE_SIZES,
    NETWORK_SIZES,
    EngineGradeSettings,
    NetworkGradeSettings,
)
from reference.grading.submission import GradeSettings
from reference.outputs import output_problems

FLAGS = [*(flag for flag, _, _ in NETWORK_FLAGS), *SHARED]  # --network's conventions, as compare.py check's
# The options of compare.py grade that --engine and --network take; any other given is refused in one line.
COMMON = ("--spec", "--seed", "--timeout", "--workers", "--json", "--student-safe")
TAKES = {"--engine": ("engine", COMMON, f"{', '.join(COMMON[:-1])} and {COMMON[-1]}"),
         "--network": ("network", (*COMMON, "--lr", *FLAGS), f"{', '.join(COMMON)}, --lr and the conventions flags "
                                                           f"({', '.join(FLAGS)})")}


def add_grade_command(commands) -> None:
    """`compare.py grade`: its parser, registered beside train and check."""
    parser = commands.add_parser("grade", help="grade a folder of submissions part by part, each isolated "
                                               "(grade --help)", description=GRADE_DOC, epilog=EXIT_STATUS,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=grade_command)
    parser.add_argument("folder", metavar="SUBMISSIONS_DIR", help="a folder of .py files, or of folders with an "
                                                                  "__init__.py or a submission.py")
    parser.add_argument("--student-safe", action="store_true",
                        help="print and write no number torch computed (no checker tables, no detail in the "
                             "JSON), so that the output can be handed to students (default: the teacher's view)")
    parser.add_argument("--json", metavar="PATH", help="per submission and part: ok (true, false, null for n/a) "
                                                       "and the reason (default: none)")
    parser.add_argument("--timeout", type=float, default=20.0, metavar="SECONDS",
                        help="per submission; one still running then is killed (default: 20)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="submissions graded at once; 2 did not help on a busy 2-core machine (see README) "
                             "(default: 1)")
    parser.add_argument("--activations", metavar="NAMES",
                        help="the activations graded, one column each; the first trains (default: sigmoid,relu; "
                             "not with --network or --engine)")
    parser.add_argument("--lr", type=float, default=GradeSettings.lr,
                        help=f"given to build, and the training run's (default: {GradeSettings.lr})")
    parser.add_argument("--seed", type=int, default=0, help="weights, inputs and data (default: 0)")
    add_kind_arguments(parser)
    parser.set_defaults(option_defaults=vars(parser.parse_args(["SUBMISSIONS_DIR"])))  # --engine refuses the rest


EXIT_STATUS = """exit status:
  0  every submission passed every part it was graded on
  1  some part of some submission failed (the table says which)
  2  bad options, or no submission in the folder; nothing was graded
  4  the --json file could not be written (the table was printed), or the grader itself failed
  130  interrupted with Ctrl-C; 143  terminated by SIGTERM"""


def grade_command(args) -> int:
    prog = "compare.py grade"
    try:
        folder, settings = Path(args.folder), settings_from(args)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder: give the folder that holds the submissions")
        total = len(find_submissions(folder))
        if not total:
            raise ValueError(f"{folder} holds no submission: no .py file, and no folder with __init__.py or "
                             f"submission.py")
        for problem in output_problems({"json": args.json}):  # reference.outputs, as train's
            raise ValueError(f"--json {problem.path}: {problem.problem}")
    except ValueError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    started = time.monotonic()

    def progress(row):
        progress.done += 1
        print(f"graded {row.name} ({progress.done}/{total})", file=sys.stderr)
    progress.done = 0

    rows = grade_folder(folder, settings, args.timeout, args.workers, progress)
    print(f"grade: {total} submission(s) in {folder}; {settings.describe()}; timeout {args.timeout:g} s each"
          + ("; student-safe: no torch numbers" if args.student_safe else ""))
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
    """The settings of the kind of submission graded: build's layers (GradeSettings), or grading_kinds'."""
    activations = tuple(name.strip() for name in (args.activations or ",".join(GradeSettings.activations)).split(","))
    unknown = [name for name in activations if name not in scratch_nn.ACTIVATIONS]
    if unknown or not activations:
        raise ValueError(f"--activations {args.activations!r}: choose from {', '.join(scratch_nn.ACTIVATIONS)}, "
                         f"separated by commas")
    for name, value, least in (("timeout", args.timeout, 0), ("lr", args.lr, 0), ("workers", args.workers, 1),
                               ("seed", args.seed, 0)):
        if not (math.isfinite(value) and (value > least if name in ("timeout", "lr") else value >= least)):
            above = "above" if name in ("timeout", "lr") else "at least"
            raise ValueError(f"--{name} {value!r}: must be a finite number {above} {least}")
    return kind_settings(args) or GradeSettings(activations=activations, lr=args.lr, seed=args.seed)


def add_kind_arguments(parser) -> None:
    """--network and --engine, --spec, and the whole network's conventions flags, on compare.py grade's parser."""
    group = parser.add_argument_group(
        "whole networks and scalar autograd engines (instead of build's layers)",
        "The parts are the check's rows (compare.py check --network / --engine); the conventions flags apply to "
        "every submission.")
    group.add_argument("--network", metavar="NAME", help="grade each submission's NAME (a class or function) as a "
                                                         "whole network, as compare.py check --network checks it")
    group.add_argument("--engine", metavar="NAME", help="grade each submission's class NAME (micrograd's Value) as "
                                                        "a scalar autograd engine, and the MLP class beside it")
    group.add_argument("--spec", help=f"the sizes, NIN-...-NOUT (default: --network "
                                      f"{'-'.join(map(str, NETWORK_SIZES))}, --engine's MLP "
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
                             f"{'-'.join(map(str, NETWORK_SIZES))}, one per --activations")
        return None
    kind = "--network" if args.network else "--engine"
    if args.activations:
        raise ValueError(f"--activations applies to build's layers; {kind} finds what the network computes")
    if args.engine and conventions:
        raise ValueError("the conventions flags (--cost, ...) apply to --network, not to --engine")
    name, flags, takes = TAKES[kind]
    refuse_options_not_for(args, args.option_defaults, ("folder", name, *map(attribute, flags)), kind, takes)
    sizes = {"sizes": sizes_of(args.spec)} if args.spec else {}
    if args.engine:
        return EngineGradeSettings(args.engine, seed=args.seed, **sizes)
    return NetworkGradeSettings(args.network, conventions=conventions, lr=args.lr, seed=args.seed, **sizes)
