"""The figure of a training run: what the two sides did, how far apart they are, and the verdict.

    fig = figure(run)          # a matplotlib Figure; in a notebook it shows itself
    write(fig, "run.svg")      # PNG, SVG or PDF by the suffix (or fig.savefig, as with any Figure)

Three panels. Accuracy per epoch, scratch as circles on solid lines and torch as crosses on
dashed ones: where the sides agree the crosses sit inside the circles, so both stay visible.
The training loss of every step, both sides (the same batches on both). And the difference, on
a log scale, which is the panel that shows agreement: each step's |scratch loss - torch loss| /
|torch loss|, and after each epoch the parameter drift (max|scratch - torch| / max|torch| over the
worst tensor) against the run's tolerance. The verdict's headline, the step check and the
prediction agreement are written above the panels.

Built with matplotlib.figure.Figure, not pyplot: no backend is chosen or switched, so a
notebook's backend (inline, widget) stays the user's, and a script needs no display.
"""

from pathlib import Path

import numpy as np

from reference import tolerances
from reference.atomic_file import write_atomically
from reference.training.summary import verdict

FORMATS = (".png", ".svg", ".pdf")  # what write() and --plot take, by the file name's suffix
FLOOR = 1e-18  # where an exact 0 is drawn on the log scale when no difference is above 0
SPLITS = (("train", "tab:blue"), ("validation", "tab:orange"), ("test", "tab:green"))
SIDES = {"scratch": {"linestyle": "-", "marker": "o", "markerfacecolor": "none", "markersize": 7},
         "torch": {"linestyle": "--", "marker": "x", "markersize": 5}}


def plot(run, path=None):
    """The run's figure, a matplotlib Figure; written to path too where one is given, PNG, SVG or PDF
    by its suffix. No matplotlib backend is chosen: the caller's stays."""
    fig = figure(run)
    if path is not None:
        write(fig, path)
    return fig


def figure(run):
    """The run's figure (matplotlib.figure.Figure): accuracy, per-step loss, the differences, the verdict."""
    from matplotlib.figure import (
        Figure,  # here: a check that draws nothing never imports matplotlib
    )
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(15, 5.2), layout="constrained")
    accuracy, loss, difference = fig.subplots(1, 3)
    epochs = [r.epoch for r in run.epochs]
    for side, style in SIDES.items():
        for split, colour in SPLITS:
            values = [100 * getattr(getattr(r, side), f"{split}_accuracy") for r in run.epochs]
            accuracy.plot(epochs, values, color=colour, label=f"{side} {split}", **style)
    accuracy.set(title="Accuracy after each epoch", xlabel="epoch", ylabel="accuracy (%)")
    accuracy.xaxis.set_major_locator(MaxNLocator(integer=True))

    steps, boundaries = step_axis(run)
    for side, style in SIDES.items():
        values = np.concatenate([getattr(r, side).step_losses for r in run.epochs] or [[]])
        loss.plot(steps[:len(values)], values, linestyle=style["linestyle"], color="tab:purple" if side == "scratch"
                  else "tab:gray", linewidth=1, label=side)
    loss.set(title="Training loss of each step", xlabel="step", ylabel=f"{run.config.loss} loss")

    scratch = np.concatenate([r.scratch.step_losses for r in run.epochs] or [[]])
    twin = np.concatenate([r.torch.step_losses for r in run.epochs] or [[]])
    n = min(len(scratch), len(twin))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.abs(scratch[:n] - twin[:n]) / np.abs(twin[:n])
    drift = np.array([r.divergence.worst_scaled_abs for r in run.epochs])
    positive = np.concatenate([relative[np.isfinite(relative) & (relative > 0)], drift[drift > 0]])
    floor = positive.min() / 10 if len(positive) else FLOOR  # where an exact 0 is drawn: log 0 has no place
    identical = relative == 0
    difference.semilogy(steps[:n][~identical], relative[~identical], ".", markersize=3, color="tab:purple",
                        label="|Δ loss| / |torch loss|, each step")
    difference.semilogy(steps[:n][identical], np.full(identical.sum(), floor), ".", markersize=3, color="darkgray",
                        label="the same loss to the last bit")
    difference.semilogy(boundaries, np.maximum(drift, floor), "o", color="tab:red",
                        label="parameter drift after each epoch")
    difference.axhline(tolerances.training_run(run.config.dtype).atol, color="tab:red", linestyle=":",
                       label="drift tolerance")
    difference.set(title="scratch - torch, relative", xlabel="step", ylabel="relative difference (log)")
    for axis in (loss, difference):
        for boundary in boundaries[:-1]:
            axis.axvline(boundary, color="lightgray", linewidth=0.8, zorder=0)  # where each epoch ends
    for axis in (accuracy, loss, difference):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)

    c = run.config
    ok, text = verdict(run)
    fig.suptitle(f"{c.dataset.upper()} {c.spec} {c.activation}, {c.optimizer} lr {c.lr}, batch {c.batch_size}, "
                 f"{c.init} init, {c.dtype}: scratch (circles, solid) and torch (crosses, dashed)\n"
                 + "\n".join(verdict_lines(run, text)), color="black" if ok else "darkred", fontsize=10)
    return fig


def step_axis(run) -> tuple[np.ndarray, list[int]]:
    """Every step's number, counted over the whole run from 1, and the step that ends each epoch."""
    counts = [max(len(r.scratch.step_losses), len(r.torch.step_losses)) for r in run.epochs]
    return np.arange(1, sum(counts) + 1), list(np.cumsum(counts).tolist())


def verdict_lines(run, text: str) -> list[str]:
    """The verdict's headline, the step check and the agreement of the predictions: what the figure says in words."""
    lines = text.splitlines()
    said = [f"{line.split(':')[0]}: {'FAILED' if 'FAILED' in line else 'agreed'}" for line in lines
            if line.startswith(("Step check", "Lockstep"))]
    if run.epochs:
        said.append(f"predictions agree on at least {min(r.divergence.prediction_agreement for r in run.epochs):.2%} "
                    f"of validation images in every epoch")
    return [lines[0]] + (["; ".join(said)] if said else [])


def write(fig, path) -> None:
    """A figure into a file, PNG, SVG or PDF by its suffix, atomically (a reader never finds half a file)."""
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in FORMATS:
        raise ValueError(f"{path}: give a file name ending in {', '.join(FORMATS)}")
    write_atomically(path, lambda stream: fig.savefig(stream, format=kind[1:], dpi=120))
