"""`compare.py train`: train the scratch network and its torch twin side by side and report."""

import dataclasses
import sys
import traceback
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm  # a widget in a notebook, text in a terminal

from reference.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated
from reference.cli.train_options import EXIT_AGREE, EXIT_DISAGREE, EXIT_DIVERGED
from reference.outputs import output_problems
from reference.stop_signals import stop_signals_held
from reference.training import checkpoint, figure
from reference.training import summary as report
from reference.training.checkpoint import CheckpointError
from reference.training.data import DataError, load_dataset, resolve_data_root
from reference.training.figure import FORMATS as PLOT_FORMATS
from reference.training.presets import PRESETS
from reference.training.run import DivergedError, EpochRecord, Run, TwinTraining
from reference.training.run_config import ConfigError, RunConfig, option
from reference.twin import configure_determinism

STATUS_EXIT = {"diverged": EXIT_DIVERGED, "failed": EXIT_FAILED, "interrupted": EXIT_INTERRUPTED,
               "terminated": EXIT_TERMINATED}


def train_command(args) -> int:
    prog = f"{args.prog} train"
    if args.list_presets:
        for name, (description, _) in PRESETS.items():
            print(f"{name:<26} {description}")
        return EXIT_AGREE
    try:  # every setting, path and the checkpoint, before any data loads
        resumed = checkpoint.load(args.resume) if args.resume else None
        config = config_from(args, resumed).validate(args.max_memory)
        check_outputs(args)
        training = TwinTraining(config, resume=resumed, concurrency=args.concurrency, lockstep=args.lockstep)
    except (ConfigError, CheckpointError) as error:
        if isinstance(error, CheckpointError):  # the file's fault, whichever check found it: named as the option
            error = ConfigError("resume", args.resume, str(error))
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT

    configure_determinism()
    try:
        data = load_dataset(config.dataset, resolve_data_root(args.data_root), np.dtype(config.dtype), args.download)
    except DataError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT

    def progress(epoch, batches):
        return tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False,
                    disable=args.no_progress, file=sys.stderr)

    print(report.describe_run(config, training.concurrency, training.lockstep))
    if config.implementation:
        print(training.adapted.describe())
    print(report.HEADER)
    run = Run(config, [EpochRecord.from_dict(record) for record in resumed.records] if resumed else [],
              training.concurrency, training.lockstep)
    for record in run.epochs:
        print(report.format_epoch(record))
    last_state, status, error = None, "finished", None
    try:
        for record in training.epochs(data, progress):
            with stop_signals_held():  # the table, the JSON and the saved state all end at the same epoch
                run.epochs.append(record)
                tqdm.write(report.format_epoch(record), file=sys.stdout)
                if args.json:
                    report.write_json(run, args.json, "running")
                if args.save:
                    last_state = training.checkpoint(run.epochs)
                    if args.save_every and record.epoch % args.save_every == 0:
                        checkpoint.save(last_state, args.save)
        run.first_divergence = locate_first_divergence(training, run, data)
    except DivergedError as stop:
        status, error = "diverged", stop
    except KeyboardInterrupt as stop:
        status, error = "interrupted", stop
    except Terminated as stop:
        status, error = "terminated", stop
    except Exception as stop:  # a bug or a full disk: record it, then show where it happened
        traceback.print_exc()
        status, error = "failed", stop
    with stop_signals_held("\nstopping: writing what was measured first"):  # a second Ctrl-C waits for the files
        return finish(args, run, status, error, last_state)


def locate_first_divergence(training, run, data):
    """With --lockstep, what it found (every step judged); after a free-running run that did not agree,
    a replay of the scratch side with the lockstep check, up to the first step that disagrees."""
    if not training.lockstep:
        if report.verdict(run)[0]:
            return None
        print("\nLocating the first step that disagrees: replaying the scratch side with a lockstep check ...",
              flush=True)
    return training.first_divergence(data)


def finish(args, run, status, error, last_state) -> int:
    """Write what was measured (JSON, --save, plot), say how the run ended, and return its exit status.
    An output that cannot be written is reported after the verdict, and makes the status EXIT_FAILED."""
    outputs = [("JSON", args.json, lambda: report.write_json(run, args.json, status, error)),
               (f"weights after epoch {last_state.epoch if last_state else 0}", last_state and args.save,
                lambda: checkpoint.save(last_state, args.save)),
               ("plot", run.epochs and args.plot, lambda: figure.plot(run, args.plot))]
    written, problems = [], []
    for what, path, write in outputs:
        if path:
            try:
                write()
                written.append(f"{what} written to {path}")
            except Exception as problem:  # never lose the verdict, or the other files, to one that fails
                problems.append(f"compare.py train: error: the {what} could not be written to {path} "
                                f"({type(problem).__name__}: {problem})")
    if status == "finished":
        agree, text = report.verdict(run)
        print("\n" + text)
        code = EXIT_AGREE if agree else EXIT_DISAGREE
    else:
        signalled = {"interrupted": "interrupted by Ctrl-C", "terminated": "terminated by SIGTERM"}.get(status)
        print(f"\n{signalled} after {len(run.epochs)} epoch(s)" if signalled else f"\n{error}", file=sys.stderr)
        code = STATUS_EXIT[status]
    for line in written:
        print(line)
    for line in problems:
        print(line, file=sys.stderr)
    return EXIT_FAILED if problems and code in (EXIT_AGREE, EXIT_DISAGREE) else code


def config_from(args, resumed: checkpoint.Checkpoint | None) -> RunConfig:
    """The preset (or the resumed run's settings), with the options given on the command line."""
    names = [field.name for field in dataclasses.fields(RunConfig)]
    base = resumed.config if resumed and not args.preset else PRESETS[args.preset or "default"][1]
    config = dataclasses.replace(base, **{name: getattr(args, name) for name in names
                                          if getattr(args, name) is not None})
    if resumed:
        saved = resumed.config
        differing = [f"{option(name)} {getattr(config, name)!r} (saved: {getattr(saved, name)!r})"
                     for name in names if name != "epochs" and getattr(config, name) != getattr(saved, name)]
        if differing:
            raise CheckpointError(f"the run was saved with other settings: "
                                  f"{', '.join(differing)}; leave these out to continue it as saved")
        if config.epochs <= resumed.epoch:
            raise ConfigError("epochs", config.epochs, f"{args.resume} has already trained {resumed.epoch} "
                                                       f"epoch(s): ask for more to continue it")
    return config


def check_outputs(args) -> None:
    """Every output can be written, each to a file of its own, so that a run never ends by losing what
    it measured (reference.outputs)."""
    for name, suffixes in (("plot", PLOT_FORMATS), ("save", (".npz",))):
        path = getattr(args, name)
        if path is not None and Path(path).suffix.lower() not in suffixes:
            raise ConfigError(name, path, f"give a file name ending in {' or '.join(suffixes)}")
    problems = output_problems({name: getattr(args, name) for name in ("json", "plot", "save")})
    if problems:
        raise ConfigError(problems[0].name, problems[0].path, problems[0].problem)
    if args.save_every is not None and (args.save_every < 1 or not args.save):
        raise ConfigError("save_every", args.save_every, "a whole number of at least 1, with --save PATH.npz")
