"""Compare what the scratch network computed with what PyTorch computed, tensor by tensor.

compare() takes two dicts of arrays under the same keys ("0.output", "2.weight.grad", "loss", ...)
and returns a Comparison: for every tensor the largest absolute and relative difference, where
each occurs, and whether every element lies within the tolerance. Element by element:

    |scratch - torch| <= rtol * |torch| + atol * max|torch|

This is torch.testing's criterion with one change: atol is a fraction of the tensor's largest
magnitude rather than a fixed number. Floating-point error in a sum of products is bounded by
the size of the terms, not of the result, so entries that cancel to near zero carry errors of
the tensor's scale; a fixed atol would be too loose for a loss of 1e-3 and too tight for logits
of 1e3. The torch side is the reference: relative differences are taken against it.
"""

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float   # allowed difference relative to the torch element
    atol: float   # allowed difference relative to the largest torch element of the tensor
    why: str = ""

    def __str__(self):
        return self.against("torch")

    def against(self, judge: str) -> str:
        return f"rtol={self.rtol:.1e}, atol={self.atol:.1e}*max|{judge}|"


@dataclass(frozen=True)
class TensorDiff:
    """How far one scratch tensor is from its torch counterpart.

    ratio is the largest |scratch - torch| / (rtol |torch| + atol max|torch|) over the elements: the tensor
    is within tolerance when ratio <= 1, and ratio says how close to the line it came.
    rel_norm is ||scratch - torch|| / ||torch||, a single number for how far apart the whole
    tensor is (used to follow drift over training).
    """

    name: str
    where: str                 # the layer this tensor belongs to, e.g. "layer 2, Linear(in_features=128, ...)"
    shape: tuple
    tolerance: Tolerance
    max_abs: float = 0.0
    max_abs_at: tuple = ()
    scratch_at_max_abs: float = 0.0
    torch_at_max_abs: float = 0.0
    max_rel: float = 0.0
    max_rel_at: tuple = ()
    rel_norm: float = 0.0
    scale: float = 0.0         # max|torch|, what atol is a fraction of
    ratio: float = 0.0
    mismatched: int = 0        # how many elements lie outside the tolerance
    problem: str = ""          # a mismatch of shape or dtype, or NaN/Inf, that makes the values moot
    judge: str = "torch"       # what the scratch tensor was compared with (e.g. "finite differences")

    @property
    def ok(self) -> bool:
        return not self.problem and self.ratio <= 1

    @property
    def scaled_abs(self) -> float:
        """max |scratch - torch| / max |torch|: the difference as a fraction of the tensor's scale."""
        return self.max_abs / self.scale if self.scale else (0.0 if self.max_abs == 0 else np.inf)

    def describe(self) -> str:
        head = f"{self.name}" + (f" ({self.where})" if self.where else "")
        if self.problem:
            return f"{head}: {self.problem}"
        size = int(np.prod(self.shape))
        return (f"{head}: {self.mismatched} of {size} elements outside {self.tolerance.against(self.judge)}; "
                f"largest absolute difference {self.max_abs:.3g} at {list(self.max_abs_at)} "
                f"(scratch {self.scratch_at_max_abs:.17g}, {self.judge} {self.torch_at_max_abs:.17g}); "
                f"largest relative difference {self.max_rel:.3g} at {list(self.max_rel_at)}")


def diff(name: str, scratch, torch_value, tolerance: Tolerance, where: str = "", judge: str = "torch") -> TensorDiff:
    """Compare one scratch array with one torch tensor (or array) under a tolerance.

    judge names the other side in messages, where it is not torch (e.g. "finite differences").
    """
    theirs = as_numpy(torch_value)
    base = dict(name=name, where=where, shape=tuple(theirs.shape), tolerance=tolerance, judge=judge)

    def broken(problem):
        return TensorDiff(**base, problem=problem, max_abs=np.inf, max_rel=np.inf, rel_norm=np.inf, ratio=np.inf)

    ours = numbers(scratch)
    if ours is None:  # None, a string, a ragged list, an object array: nothing to measure
        return broken(f"the scratch side gave {describe_value(scratch)}, not an array of numbers")

    if ours.shape != theirs.shape:
        hint = " (transposed?)" if ours.shape == theirs.shape[::-1] and ours.ndim == 2 else ""
        return broken(f"shape {ours.shape} on the scratch side, {theirs.shape} in {judge}{hint}")
    if ours.dtype != theirs.dtype:
        return broken(f"dtype {ours.dtype} on the scratch side, {theirs.dtype} in {judge}")
    # Measure in float64 so that the differences themselves are not rounded to float32.
    ours64, theirs64 = ours.astype(np.float64), theirs.astype(np.float64)
    finite = np.isfinite(ours64) & np.isfinite(theirs64)
    if not finite.all():  # NaN or Inf is never agreement, even on both sides (torch.testing's default)
        at = tuple(int(i) for i in np.argwhere(~finite)[0])
        return broken(f"not finite at {list(at)}: scratch {ours64[at]}, {judge} {theirs64[at]}")
    if ours.size == 0:
        return TensorDiff(**base)
    abs_diff = np.abs(ours64 - theirs64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_diff = np.where(abs_diff == 0, 0.0, abs_diff / np.abs(theirs64))
        scale = np.abs(theirs64).max()
        allowed = tolerance.rtol * np.abs(theirs64) + tolerance.atol * scale
        ratios = np.where(abs_diff == 0, 0.0, abs_diff / allowed)
        norm = np.linalg.norm(theirs64)
        rel_norm = np.linalg.norm(ours64 - theirs64) / norm if norm else (np.inf if abs_diff.any() else 0.0)
    at_abs = np.unravel_index(np.argmax(abs_diff), abs_diff.shape)
    at_rel = np.unravel_index(np.argmax(rel_diff), rel_diff.shape)
    return TensorDiff(
        **base,
        max_abs=float(abs_diff[at_abs]), max_abs_at=tuple(int(i) for i in at_abs),
        scratch_at_max_abs=float(ours64[at_abs]), torch_at_max_abs=float(theirs64[at_abs]),
        max_rel=float(rel_diff[at_rel]), max_rel_at=tuple(int(i) for i in at_rel),
        rel_norm=float(rel_norm), scale=float(scale), ratio=float(ratios.max()),
        mismatched=int((ratios > 1).sum()),
    )


def numbers(value) -> np.ndarray | None:
    """value as an array of numbers (bool, int or float), or None where it is not one: what every
    judge measures; anything else a user's code returns is reported, never measured."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):  # a ragged list, or an object numpy cannot take
        return None
    return array if array.dtype.kind in ("b", "i", "u", "f") else None


def describe_value(value) -> str:
    """What a user's call returned, in a few words: "None", "a str", "an object array of shape (2,)"."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype} of shape {value.shape}"
    return f"a {type(value).__name__}"


@dataclass
class Comparison:
    """The per-tensor differences of one comparison, in the order they were computed."""

    diffs: list[TensorDiff]
    context: str = ""

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.diffs)

    @property
    def failures(self) -> list[TensorDiff]:
        return [d for d in self.diffs if not d.ok]

    def __getitem__(self, name: str) -> TensorDiff:
        for d in self.diffs:
            if d.name == name:
                return d
        raise KeyError(f"{name!r} was not compared; compared: {[d.name for d in self.diffs]}")

    def worst(self) -> TensorDiff:
        """The tensor that came closest to (or went furthest past) its tolerance."""
        return max(self.diffs, key=lambda d: (bool(d.problem), d.ratio))

    def table(self) -> str:
        rows = [f"{'tensor':<22} {'max abs':>10} {'max rel':>10} {'/tol':>8}  {'tolerance':<26} verdict"]
        for d in self.diffs:
            verdict = "ok" if d.ok else ("FAIL: " + d.problem if d.problem else f"FAIL ({d.mismatched} elements)")
            rows.append(f"{d.name:<22} {d.max_abs:>10.2e} {d.max_rel:>10.2e} {d.ratio:>8.2g}  "
                        f"{str(d.tolerance):<26} {verdict}")
        return "\n".join(rows)

    def failure_message(self) -> str:
        head = f"scratch and torch disagree{' (' + self.context + ')' if self.context else ''}"
        return head + ":\n" + "\n".join("  " + d.describe() for d in self.failures)

    def assert_ok(self) -> None:
        if not self.ok:
            raise AssertionError(self.failure_message())

    def to_dict(self) -> dict:
        return {"context": self.context, "ok": self.ok,
                "tensors": {d.name: {**asdict(d), "ok": d.ok, "tolerance": asdict(d.tolerance)} for d in self.diffs}}


def compare(scratch: dict, torch_values: dict, tolerance, layers=(), context: str = "",
            judge: str = "torch") -> Comparison:
    """Compare every tensor of two dicts under the same keys.

    tolerance: a Tolerance, or a function from the key to a Tolerance.
    layers: the scratch layers, so that a key "i.something" can name layer i in messages.
    judge: what the second dict comes from, for messages (e.g. "finite differences").
    """
    missing = scratch.keys() ^ torch_values.keys()
    if missing:
        raise KeyError(f"the two sides computed different tensors; only on one side: {sorted(missing)}")
    diffs = []
    for name, value in scratch.items():
        tol = tolerance(name) if callable(tolerance) else tolerance
        diffs.append(diff(name, value, torch_values[name], tol, where=layer_label(name, layers), judge=judge))
    return Comparison(diffs, context)


def layer_label(key: str, layers) -> str:
    """The layer a key such as "2.weight.grad" belongs to: "layer 2, Linear(in_features=7, out_features=4)";
    "" for a key of no layer ("loss")."""
    index = key.split(".")[0]
    if index.isdigit() and int(index) < len(layers):
        return f"layer {index}, {layer_repr(layers[int(index)])}"
    return ""


def layer_repr(layer) -> str:
    """repr(layer) where its class writes one; else sized_name(layer), not <... object at 0x...>."""
    return repr(layer) if type(layer).__repr__ is not object.__repr__ else sized_name(layer)


def sized_name(layer) -> str:
    """The class name, with the sizes of a weight: "Linear(784->32)", "Sigmoid"."""
    weight = getattr(layer, "params", {}).get("weight")
    return type(layer).__name__ + (f"({weight.shape[1]}->{weight.shape[0]})" if getattr(weight, "ndim", 0) == 2 else "")


def as_numpy(value) -> np.ndarray:
    """A torch tensor (on any device, with or without grad) or an array, as a NumPy array."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)
