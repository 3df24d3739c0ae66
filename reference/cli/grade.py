"""`compare.py grade`: its parser and handler; the grading itself is reference.grading, imported when
the grading starts (with torch), so that --help answers without it."""

import ast
import importlib.util
import secrets
import signal
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
from reference.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    non_negative_int,
    positive_float,
    positive_int,
)
from reference.grading.sandbox import HIDDEN, Isolation
from reference.stop_signals import stop_signals_raise

FLAGS = [*(flag for flag, _, _ in NETWORK_FLAGS), *SHARED]  # --network's conventions, as compare.py check's
# The options of compare.py grade that --engine and --network take; any other given is refused in one line.
COMMON = ("--spec", "--seed", "--timeout", "--workers", "--isolation", "--memory", "--csv", "--rubric", "--gradescope",
          "--json", "--student-safe")
TAKES = {"--engine": ("engine", COMMON, f"{', '.join(COMMON[:-1])} and {COMMON[-1]}"),
         "--network": ("network", (*COMMON, "--lr", *FLAGS), f"{', '.join(COMMON)}, --lr and the conventions flags "
                                                           f"({', '.join(FLAGS)})")}


def add_arguments(parser, argv) -> None:
    """`compare.py grade`'s options on its parser."""
    parser.description, parser.epilog = _grader_docstring(), EXIT_STATUS
    parser.set_defaults(handler=grade_command)
    parser.add_argument("folder", metavar="SUBMISSIONS_DIR", help="a folder of .py or .ipynb files, or of folders "
                                                                  "with an __init__.py, a submission.py or a "
                                                                  "submission.ipynb (any other entry, and names "
                                                                  "starting with . or _, are skipped, and said)")
    parser.add_argument("--student-safe", action="store_true",
                        help="print and write no number torch computed (no checker tables, no detail in the "
                             "JSON), so that the output can be handed to students (default: the teacher's view)")
    parser.add_argument("--json", metavar="PATH", help="per submission and part: ok (true, false, null for n/a) "
                                                       "and the reason; rewritten after every submission "
                                                       "(default: none)")
    parser.add_argument("--csv", metavar="PATH", help="a gradebook: one row per student, a column of points per "
                                                      "part, the total and the maximum (default: none)")
    parser.add_argument("--rubric", metavar="TOML", help="points per part, a table [points] of part = points "
                                                         "(default: 1 point a part)")
    parser.add_argument("--gradescope", metavar="PATH", help="write Gradescope's results.json for the one "
                                                             "submission in the folder (student-safe)")
    parser.add_argument("--timeout", type=positive_float, default=60.0, metavar="SECONDS",
                        help="per submission; one still running then is stopped (default: 60)")
    parser.add_argument("--workers", type=positive_int, default=1, metavar="N",
                        help="submissions graded at once, each in its own sandbox; more help only where cores are "
                             "free (benchmarks/grading.py) (default: 1)")
    parser.add_argument("--isolation", choices=("bwrap", "process"), default="bwrap",
                        help="bwrap: each submission in a bubblewrap sandbox (needs bwrap installed); process: "
                             "a process group of its own with resource limits only, which a submission can get "
                             "out of (default: bwrap)")
    parser.add_argument("--allow-module", action="append", default=[], metavar="NAME",
                        help=f"let graded code import NAME, one of those hidden ({', '.join(HIDDEN)}); repeatable")
    parser.add_argument("--memory", type=positive_int, default=Isolation.memory_mb, metavar="MIB",
                        help=f"address space of each submission's worker (default: {Isolation.memory_mb})")
    parser.add_argument("--activations", metavar="NAMES",
                        help="the activations graded, one column each; the first trains (default: sigmoid,relu; "
                             "not with --network or --engine)")
    parser.add_argument("--lr", type=positive_float, default=GRADE_LR,
                        help=f"given to build, and the training run's (default: {GRADE_LR})")
    parser.add_argument("--seed", type=non_negative_int, help="weights, inputs and data (default: drawn fresh for "
                                                              "every run, so that no submission can know them; the "
                                                              "JSON records it)")
    add_kind_arguments(parser)
    parser.set_defaults(option_defaults=vars(parser.parse_args(["SUBMISSIONS_DIR"])))  # --engine refuses the rest


EXIT_STATUS = """exit status:
  0    every submission passed every part it was graded on
  1    some part of some submission failed (the table says which)
  2    bad options, output paths, or no submission in the folder; nothing was graded
  4    an output file could not be written (the table was printed), or the grader itself failed
  130  interrupted with Ctrl-C, 143 terminated by SIGTERM: the submissions graded so far are
       printed and written (JSON status "interrupted")"""


def _grader_docstring() -> str:
    """reference.grading.folder's docstring, read from its source: importing it would import torch."""
    source = Path(importlib.util.find_spec("reference.grading.folder").origin).read_text()
    return ast.get_docstring(ast.parse(source), clean=False)


def grade_command(args) -> int:
    from reference.grading.course import Rubric
    from reference.grading.folder import Interrupted, find_submissions, grade_folder, printable, table, what_was_taken
    from reference.outputs import output_problems

    prog = f"{args.prog} grade"
    try:
        folder, settings = Path(args.folder), settings_from(args)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder: give the folder that holds the submissions")
        submissions = find_submissions(folder)
        if not submissions:
            raise ValueError(f"{folder} holds no submission: no .py or .ipynb file, and no folder with __init__.py, "
                             f"submission.py or submission.ipynb")
        outputs = {"--json": args.json, "--csv": args.csv, "--gradescope": args.gradescope}
        for problem in output_problems({flag[2:]: path for flag, path in outputs.items()}):  # as train's
            raise ValueError(f"--{problem.name} {problem.path}: {problem.problem}")
        if args.gradescope and len(submissions) != 1:
            raise ValueError(f"--gradescope writes the results of one submission; {folder} holds {len(submissions)}")
        rubric = Rubric.read(args.rubric, settings.parts) if args.rubric else Rubric()
        isolation = isolation_from(args)
    except ValueError as error:
        print(f"{prog}: error: {printable(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    outputs = {flag: Path(path) for flag, path in outputs.items() if path}
    started, rows, status = time.monotonic(), [], "grading"
    extra = {"isolation": isolation.kind, "rubric": rubric.points}

    def progress(row):
        rows.append(row)
        print(f"graded {printable(row.name)} ({len(rows)}/{len(submissions)})", file=sys.stderr)
        write_outputs(prog, outputs, rows, settings, args, rubric, isolation, status, extra)

    stopped_by = None
    try:
        with stop_signals_raise(Interrupted):
            grade_folder(folder, settings, args.timeout, args.workers, progress, isolation, submissions)
        status = "complete"
    except Interrupted as stop:
        status, stopped_by = "interrupted", stop.args[0] if stop.args else signal.SIGINT
    order = {name: i for i, (name, _) in enumerate(submissions)}
    rows.sort(key=lambda row: order[row.name])
    print(f"grade: {len(rows)} of {len(submissions)} submission(s) in {printable(folder)}; {settings.describe()}; "
          f"seed {settings.seed}; timeout {args.timeout:g} s each; isolation {isolation.kind}"
          + ("; student-safe: no torch numbers" if args.student_safe else ""))
    if taken := what_was_taken(folder, submissions):
        print(f"grade: {printable(taken)}")
    print(table(rows, settings, args.student_safe, rubric))
    print(f"\ngraded in {time.monotonic() - started:.0f} s" + ("; interrupted" if status == "interrupted" else ""))
    written = write_outputs(prog, outputs, rows, settings, args, rubric, isolation, status, extra)
    for flag, path in written:
        print(f"{flag[2:].upper() if flag != '--gradescope' else 'Gradescope results'} written to {path}")
    if stopped_by is not None:
        return EXIT_TERMINATED if stopped_by == signal.SIGTERM else EXIT_INTERRUPTED
    if len(written) < len(outputs):
        return EXIT_FAILED
    return 0 if all(row.score(settings)[0] == row.score(settings)[1] for row in rows) else 1


def write_outputs(prog, outputs, rows, settings, args, rubric, isolation, status, extra) -> list:
    """Every output file, written atomically; [(flag, path)] of those written (one that fails is said in one
    line and does not stop the others)."""
    from reference.grading.course import write_csv, write_gradescope
    from reference.grading.folder import write_json

    written = []
    for flag, path in outputs.items():
        try:
            if flag == "--json":
                write_json(rows, settings, path, args.student_safe, args.timeout, status, extra, rubric)
            elif flag == "--csv":
                write_csv(rows, settings, rubric, path)
            elif rows:
                write_gradescope(rows, settings, rubric, isolation.kind, path)
            written.append((flag, path))
        except OSError as error:
            print(f"{prog}: {flag} {path}: not written: {error.strerror or error}", file=sys.stderr)
    return written


def isolation_from(args) -> Isolation:
    """The sandbox asked for; ValueError with the install hint where bwrap is missing."""
    from reference.grading.sandbox import isolation_for, missing_tool

    unknown = [name for name in args.allow_module if name not in HIDDEN]
    if unknown:
        raise ValueError(f"--allow-module {unknown[0]}: not hidden; the modules hidden are {', '.join(HIDDEN)}")
    if args.memory < 256:
        raise ValueError(f"--memory {args.memory}: give at least 256 MiB (Python and NumPy need about 200)")
    hint = missing_tool(args.isolation)
    if hint:
        raise ValueError(hint)
    return isolation_for(args.isolation, args.memory, args.timeout, args.allow_module)


def settings_from(args):
    """The settings of the kind of submission graded: build's layers (GradeSettings), or grading.kinds'."""
    from reference.grading.submission import GradeSettings

    activations = tuple(name.strip() for name in (args.activations or ",".join(GRADE_ACTIVATIONS)).split(","))
    unknown = [name for name in activations if name not in scratch_nn.ACTIVATIONS]
    if unknown or not activations:
        raise ValueError(f"--activations {args.activations!r}: choose from {', '.join(scratch_nn.ACTIVATIONS)}, "
                         f"separated by commas")
    if args.seed is None:
        args.seed = secrets.randbelow(2**31)  # fresh for every run: no submission can know the inputs
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
