"""The side-by-side report of a training run: the per-epoch table, the verdict, JSON and a plot
(reference.training.figure draws it, from this module's verdict)."""

import json
import platform
from dataclasses import asdict

import numpy as np
import torch

import scratch_nn
from reference import tolerances
from reference.atomic_file import write_atomically
from reference.display import Row, View

SIDES_RUN = {"process": "the sides training at once in two processes", "sequential": "the sides taking turns"}

HEADER = (f"{'epoch':>5}  {'side':<7} {'loss':>8} {'train':>7} {'valid':>7} {'test':>7} {'sec':>6}   "
          f"{'param drift':>11} {'in':<9} {'agree':>8} {'Δloss':>9}")


def describe_run(config, concurrency="process", lockstep=False) -> str:
    tolerance = tolerances.training_run(config.dtype)
    device = (config.device if config.device == "cpu"
              else f"{config.device} ({torch.cuda.get_device_name(config.device)})")
    return "\n".join([
        f"{config.dataset.upper()}: {config.spec} {config.activation}, {config.loss}, {config.init} init, "
        f"{config.dtype}, batch {config.batch_size}, lr {config.lr}, {config.epochs} epochs, seed {config.seed}",
        f"optimizer {config.build_optimizer(scratch_nn.Sequential())!r}"
        + (f", dropout {config.dropout}" if config.dropout else "") + (", batch norm" if config.batch_norm else ""),
        f"scratch: NumPy {np.__version__} on the CPU | torch {torch.__version__} on {device} | "
        f"{config.threads} thread(s) each, {SIDES_RUN[concurrency]}" + (", every step checked in lockstep"
                                                                          if lockstep else ""),
        f"param drift = max|scratch - torch| / max|torch| over each tensor (worst tensor shown); "
        f"tolerance {tolerance.atol:.0e}",
        "agree = share of validation images both sides classify the same; Δloss = scratch - torch mean training loss",
    ])


def format_epoch(record) -> str:
    """Two rows per epoch, scratch above torch; the divergence columns on the scratch row."""
    d = record.divergence

    def row(label, m, tail=""):
        return (f"{'':>5}  {label:<7} {m.train_loss:>8.4f} {m.train_accuracy:>7.2%} {m.validation_accuracy:>7.2%} "
                f"{m.test_accuracy:>7.2%} {m.seconds:>6.1f}{tail}")

    mark = "" if d.within_tolerance else "  > tolerance"
    first = row("scratch", record.scratch, f"   {d.worst_scaled_abs:>11.2e} {d.worst_tensor:<9} "
                                           f"{d.prediction_agreement:>8.2%} {d.train_loss_difference:>+9.1e}{mark}")
    return f"{record.epoch:>5}" + first[5:] + "\n" + row("torch", record.torch)


def verdict(run) -> tuple[bool, str]:
    """Do the twins agree, and if not, where and why? Two criteria, both after every epoch:
    the parameters are within the whole-run tolerance for the dtype, and one optimizer step taken from
    identical weights agrees within the one-step tolerance (the step check); with lockstep, every
    step of the run is judged that way."""
    if not run.epochs:
        return False, "no epoch finished: nothing to judge"
    tolerance = tolerances.training_run(run.config.dtype)
    epochs = run.epochs
    drift_ok = all(r.divergence.within_tolerance for r in epochs)
    bad_steps = [r.epoch for r in epochs if not r.divergence.step_check_ok or r.divergence.lockstep_failed_steps]
    worst = max(epochs, key=lambda r: r.divergence.worst_scaled_abs)
    if drift_ok and not bad_steps:
        headline = "AGREE: the twins stayed within tolerance"
    elif bad_steps:
        headline = "DISAGREE: a single step differs"
    else:
        headline = "DRIFTED: the twins went past the tolerance"
    lines = [
        f"{headline} ({tolerance.atol:.0e} of each tensor's scale, {run.config.dtype}) over {len(epochs)} epoch(s).",
        f"Largest drift: {worst.divergence.worst_scaled_abs:.2e} of the scale in {worst.divergence.worst_tensor} "
        f"after epoch {worst.epoch}; final validation accuracy {epochs[-1].scratch.validation_accuracy:.2%} "
        f"(scratch) vs {epochs[-1].torch.validation_accuracy:.2%} (torch); predictions agree on at least "
        f"{min(r.divergence.prediction_agreement for r in epochs):.2%} of validation images in every epoch.",
        *timing_lines(run),
    ]
    checked = sum(r.divergence.lockstep_steps for r in epochs)
    if run.lockstep:
        failed = sum(r.divergence.lockstep_failed_steps for r in epochs)
        worst_step = max(r.divergence.lockstep_worst_ratio for r in epochs)
        lines.append(f"Lockstep: {checked - failed} of {checked} steps, each from identical weights, agreed within "
                     f"the one-step tolerance (worst {worst_step:.2g} of it)." +
                     ("" if failed else " Every step is proven, not sampled."))
    if bad_steps:
        lines.append(f"Step check FAILED in epoch(s) {', '.join(map(str, bad_steps))}: one optimizer step from "
                     f"identical weights and state gives different parameters, so the two sides compute different "
                     f"things.")
    else:
        lines.append("Step check: after every epoch, one optimizer step from identical weights and state agreed "
                     "within the one-step tolerance.")
    if run.first_divergence is not None:
        lines.append(f"First divergence ({run.first_divergence.found_by}): {run.first_divergence.text}.")
    elif bad_steps:
        lines.append("Run `python compare.py check` on this network to find the layer.")
    if not drift_ok and not bad_steps:
        proof = ("every step of the run agrees" if run.lockstep and checked
                 else "every step checked agrees (--lockstep checks them all)")
        cause = (f"{run.config.optimizer} divides every gradient element by its own running size, so a weight "
                 f"whose gradient is tiny moves by about lr whichever way its last bit rounds"
                 if run.config.optimizer in ("adam", "adamw", "rmsprop")
                 else "large learning rates and initial weights make training sensitive to the last bit")
        lines.append(f"Why the drift: {proof}, so the difference is rounding amplified by the "
                     f"training dynamics ({cause})" + ("; rerun with --dtype float64 to see the same run stay close."
                                                       if run.config.dtype == "float32" else "."))
    return drift_ok and not bad_steps, "\n".join(lines)


SHOWN_EPOCHS = 6  # rows of a run's repr; a longer run shows its first and last epochs


def view(run) -> View:
    """The run as reference.display shows it: the verdict's headline, a row per epoch (the first and last
    few of a long run), what to do about a disagreement, and the whole report as its text."""
    ok, text = verdict(run)
    lines = text.splitlines()
    shown = run.epochs if len(run.epochs) <= SHOWN_EPOCHS else [*run.epochs[:2], None, *run.epochs[-3:]]
    rows = [Row(("...",) * 8, None) if r is None else Row(
        (str(r.epoch), f"{r.scratch.train_loss:.4f}", f"{r.torch.train_loss:.4f}",
         f"{r.scratch.validation_accuracy:.2%}", f"{r.torch.validation_accuracy:.2%}",
         f"{r.divergence.worst_scaled_abs:.1e}", f"{r.divergence.prediction_agreement:.2%}",
         "ok" if epoch_ok(r) else "FAIL"), epoch_ok(r)) for r in shown]
    hint = next((line for line in lines if line.startswith(("Step check FAILED", "First divergence", "Run `python",
                                                            "Why the drift"))), "")
    table = "\n".join([HEADER, *(format_epoch(r) for r in run.epochs)])
    return View("Run", ok, lines[0], ("epoch", "loss scratch", "loss torch", "valid scratch", "valid torch", "drift",
                                      "agree", "verdict"), rows, f"{table}\n\n{text}", hint,
                ["print(run) for the whole report; reference.training.figure.plot(run) for the figure"])


def epoch_ok(record) -> bool:
    d = record.divergence
    return d.within_tolerance and d.step_check_ok and not d.lockstep_failed_steps


def timing(run) -> dict:
    """The run's times: each side's own training seconds, and the wall time of the whole comparison
    (training, evaluation, drift and step checks of every epoch), with both ratios scratch/torch-style:
    the thing measured over the torch side's training time."""
    seconds = {side: sum(getattr(r, side).seconds for r in run.epochs) for side in ("scratch", "torch")}
    wall = sum(r.wall_seconds for r in run.epochs)
    torch_seconds = max(seconds["torch"], 1e-12)
    return {"concurrency": run.concurrency, "lockstep": run.lockstep, "scratch_seconds": seconds["scratch"],
            "torch_seconds": seconds["torch"], "wall_seconds": wall,
            "scratch_over_torch": seconds["scratch"] / torch_seconds, "wall_over_torch": wall / torch_seconds}


def timing_lines(run) -> list[str]:
    t = timing(run)
    lines = [f"Training time: scratch {t['scratch_seconds']:.1f} s, torch {t['torch_seconds']:.1f} s "
             f"(scratch/torch = {t['scratch_over_torch']:.2f}), each side's own steps."]
    if t["wall_seconds"]:
        lines.append(f"Whole comparison: {t['wall_seconds']:.1f} s of wall time, training, evaluation and checks "
                     f"({SIDES_RUN[run.concurrency]}): comparison/torch = {t['wall_over_torch']:.2f}, against the "
                     f"torch side's training time.")
    return lines


# How the run stands, in its JSON: "running" while epochs are still coming (or if the process was
# killed outright, e.g. SIGKILL, with no chance to say so), then how it ended.
STATUSES = ("running", "finished", "diverged", "interrupted", "terminated", "failed")


def run_to_dict(run, status="finished", error: BaseException | None = None) -> dict:
    """The run's record: its settings, every epoch measured so far, how it ended and the verdict."""
    if status not in STATUSES:
        raise ValueError(f"status {status!r}: choose one of {STATUSES}")
    ok, text = verdict(run)
    return {
        "config": asdict(run.config),
        "tolerance": asdict(tolerances.training_run(run.config.dtype)),
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__},
        "status": status,
        "error": "" if error is None else str(error),
        "error_type": "" if error is None else type(error).__name__,
        "epochs": [record.to_dict() for record in run.epochs],
        "timing": timing(run),
        "first_divergence": None if run.first_divergence is None else run.first_divergence.to_dict(),
        "verdict": {"agree": ok, "text": text},
    }


def write_json(run, path, status="finished", error: BaseException | None = None) -> None:
    """Write run_to_dict atomically: a reader (or a second Ctrl-C) never finds half a file."""
    text = json.dumps(run_to_dict(run, status, error), indent=2) + "\n"
    write_atomically(path, lambda stream: stream.write(text.encode()))

