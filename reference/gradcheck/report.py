"""The report of a check: each part's comparisons (PartCheck) and the whole (CheckReport), as a
table for people, as strict JSON for programs, and as a verdict line first (reference.display:
repr, str and a notebook's HTML; reference.asserts' message)."""

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from reference.comparison import Comparison, TensorDiff
from reference.display import Row, View
from reference.finite_differences import FINITE_DIFFERENCES_JUDGE
from reference.gradcheck.signatures import Match


@dataclass
class PartCheck:
    """One layer, the loss or the optimizer's steps, checked against torch (and finite differences)."""

    kind: str                  # "layer", "loss", "optimizer", or an engine's "operation" (engine.py)
    index: int | None          # the layer's index in the network; None for the loss and the optimizer
    description: str           # the scratch object's repr, e.g. "Linear(in_features=784, out_features=32)"
    name: str                  # its class name
    torch: Comparison | None = None
    finite_differences: Comparison | None = None
    matches: list[Match] = field(default_factory=list)
    error: str = ""            # what the scratch code raised, if it did
    step: int | None = None    # the optimizer: the step shown, the first that disagrees (or raised) or the last

    @property
    def label(self) -> str:
        """"layer 2", "loss", "optimizer"; an engine's operation by its name, "__mul__" (engine.py)."""
        return {"layer": f"layer {self.index}", "operation": self.name}.get(self.kind, self.kind)

    @property
    def title(self) -> str:
        """The description, with the class name first where the repr does not start with it (and where the
        label is not the name already)."""
        if self.kind == "operation" or self.description.startswith(self.name):
            return self.description
        return f"{self.name} ({self.description})"

    @property
    def judged(self) -> list[tuple[str, Comparison]]:
        judges = (("torch", self.torch), (FINITE_DIFFERENCES_JUDGE, self.finite_differences))
        return [(judge, c) for judge, c in judges if c is not None]

    @property
    def ok(self) -> bool:
        return not self.error and all(c.ok for _, c in self.judged)

    @property
    def failing(self) -> list[str]:
        """The tensors that disagree with torch or with finite differences, in checking order."""
        return list(dict.fromkeys(d.name for _, c in self.judged for d in c.failures))

    @property
    def signatures(self) -> list[str]:
        return list(dict.fromkeys(m.signature for m in self.matches))

    @property
    def short_title(self) -> str:
        """The class name and, for a layer with a weight, its sizes: "DenseBuggy 32->10", "Sigmoid"."""
        weights = [d.shape for d in (self.torch.diffs if self.torch else []) if self.kind == "layer"
                   and re.fullmatch(r"(\d+\.)?weight(\.grad)?", d.name) and len(d.shape) == 2]
        return self.name + (f" {weights[0][1]}->{weights[0][0]}" if weights else "")

    def verdict(self) -> str:
        """One line: the first failing tensor, how many of its elements lie outside which tolerance,
        and what the mistake looks like; or what the part raised; or "agrees"."""
        head = f"{self.label} ({self.short_title})" if self.kind != "operation" else self.label
        step = f" at step {self.step}" if self.step is not None and not self.ok else ""
        if self.error:
            return f"{head} raised{step}: {self.error.splitlines()[0]}"
        failing = [(judge, d) for judge, c in self.judged for d in c.failures]
        if not failing:
            return f"{head} agrees"
        judge, d = failing[0]
        tensor = d.name.partition(".")[2] if self.kind == "layer" and "." in d.name else d.name
        against = "" if judge == "torch" else f" against {judge}"
        found = d.problem or (f"{d.mismatched}/{int(np.prod(d.shape))} elements outside "
                              f"{d.tolerance.against(d.judge)}")
        looks = f"; looks like: {' or '.join(self.signatures)}" if self.matches else ""
        return f"{head} {tensor}{step}{against}: {found}{looks}"

    def summary(self) -> str:
        """What disagrees, with which judge, by how much, and what it looks like."""
        lines = [f"{self.label}, {self.title}"]
        if self.step is not None and not self.ok:
            agreed = "step 1 agrees" if self.step == 2 else f"steps 1-{self.step - 1} agree" if self.step > 2 else ""
            lines.append(f"  first disagrees at step {self.step}" + (f" ({agreed})" if agreed else ""))
        lines += [f"  {self.error}"] if self.error else []
        lines += [f"  against {judge}: {d.describe()}" for judge, c in self.judged for d in c.failures]
        tensors: dict[tuple[str, str], list[str]] = {}  # each signature once, with every tensor it explains
        for m in self.matches:
            tensors.setdefault((m.signature, m.words), []).append(m.tensor)
        lines += [f"  Looks like: {name} ({', '.join(keys)}). {words}" for (name, words), keys in tensors.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "index": self.index, "name": self.name, "description": self.description,
                "ok": self.ok, "error": self.error, "failing": self.failing, "step": self.step,
                **{judge.replace(" ", "_"): c.to_dict() for judge, c in self.judged},
                "signatures": [asdict(m) for m in self.matches]}


@dataclass
class CheckReport:
    """Every part's check, in forward order: the layers, then the loss, then the optimizer's steps."""

    parts: list[PartCheck]
    settings: dict             # the check's; "reading", "also" and "all_agree" may reword the table's lines
                               # for a check of another shape
    conventions: dict | None = None  # code in its own conventions: what the adapters found (own_code.conventions_of)

    @property
    def ok(self) -> bool:
        return all(part.ok for part in self.parts)

    @property
    def failures(self) -> list[PartCheck]:
        return [part for part in self.parts if not part.ok]

    @property
    def first_failure(self) -> PartCheck | None:
        """The first part, in forward order, that disagrees: the place to start fixing."""
        return next(iter(self.failures), None)

    def verdict(self) -> str:
        """The one line to read first: the first disagreement (and how many other parts disagree), or that all agree."""
        first = self.first_failure
        if first is None:
            return self.settings.get("all_agree") or (f"every part agrees with torch and with finite differences "
                                                      f"({len(self.parts)} checked)")
        others = len(self.failures) - 1
        return first.verdict() + (f"; {others} other part(s) disagree too" if others else "")

    def view(self) -> View:
        first = self.first_failure
        rows = [Row((part.label, part.short_title, "ok" if part.ok else "FAIL",
                     ", ".join(name.partition(".")[2] if part.kind == "layer" else name for name in part.failing)
                     or ("raised" if part.error else "")), part.ok) for part in self.parts]
        hint = ""
        if first is not None:
            hint = (first.matches[0].words if first.matches else
                    f"fix {first.label} first: every part is checked alone on correct inputs, so the first one "
                    f"that disagrees is a mistake of its own")
        return View("CheckReport", self.ok, self.verdict(), ("part", "", "verdict", "failing"), rows, self.table(),
                    hint, ["print(report) for the full table; report.to_dict() for JSON"], "ok" if self.ok else "FAIL")

    def __repr__(self) -> str:
        return self.view().text()

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        return self.view().html()

    def table(self) -> str:
        s = self.settings
        lines = [self.conventions["summary"], ""] if self.conventions else []
        batch = f", batch size {s['batch_size']}" if "batch_size" in s else ""  # none for scalars (engine.py)
        samples = s.get("finite_differences") or (f"Finite differences: float64, up to {s['fd_samples']} entries "
                                                  f"a tensor.")
        lines += [f"gradcheck: {s['subject']} ({s['dtype']}{batch}, seed {s['seed']})",
                 s.get("reading", "Each part is checked alone, on the inputs the torch twin gives it.")
                 + " err: max|scratch - judge| / max|judge|;",
                 f"/tol: the worst element against its tolerance (fails above 1). {samples}",
                 "",
                 f"{'':<30}{'vs torch':>15}{'vs finite diff':>20}",
                 f"{'part / tensor':<30}{'err':>10}{'/tol':>10}{'err':>10}{'/tol':>10}  verdict"]
        for part in self.parts:
            lines.append(f"{part.label:<9} {part.title}" + ("" if part.ok else "   <-- FAIL"))
            lines += [f"  FAIL: {part.error}"] if part.error else []
            fd = {d.name: d for d in part.finite_differences.diffs} if part.finite_differences else {}
            for d in part.torch.diffs if part.torch is not None else []:
                short = d.name.partition(".")[2] if part.kind == "layer" else d.name
                lines.append(f"  {short:<28}{_cells(d)}{_cells(fd.get(d.name))}  {_tensor_verdict(d, fd.get(d.name))}")
        lines.append("")
        if s.get("not_supported"):
            lines += [f"Not supported, so not checked: {'; '.join(s['not_supported'])}.", ""]
        first = self.first_failure
        if first is None:
            lines.append(s.get("all_agree") or f"Every part agrees with torch and with finite differences "
                                               f"({len(self.parts)} checked).")
            return "\n".join(lines)
        lines.append("FIRST DISAGREEMENT: " + first.summary())
        others = [f"{p.label} ({', '.join(p.failing) or p.error})" for p in self.failures[1:]]  # the error says what
        if others:
            lines.append(s.get("also", "Also disagreeing, each a mistake of its own (every part is checked on "
                                       "correct inputs)") + ": " + "; ".join(others))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The whole report as JSON-ready data (non-finite numbers as the strings "inf", "nan")."""
        first = self.first_failure
        return _finite_json({"ok": self.ok, "settings": self.settings, "conventions": self.conventions,
                            "first_failure": None if first is None else {
                                "kind": first.kind, "index": first.index, "name": first.name,
                                "description": first.description, "failing": first.failing,
                                "signatures": first.signatures, "error": first.error, "step": first.step},
                            "parts": [part.to_dict() for part in self.parts]})


def _cells(d: TensorDiff | None) -> str:
    """A table's err and /tol for one comparison; dashes where there is none, or its values are moot."""
    if d is None or d.problem:
        return f"{'-':>10}{'-':>10}"
    return f"{d.scaled_abs:>10.1e}{d.ratio:>10.2g}"


def _tensor_verdict(*diffs) -> str:
    """ok, FAIL, or FAIL with the problem (shape, dtype, NaN) that makes the values moot."""
    problems = [d.problem for d in diffs if d is not None and d.problem]
    if problems:
        return "FAIL: " + problems[0]
    return "ok" if all(d.ok for d in diffs if d is not None) else "FAIL"


def _finite_json(value):
    """value with tuples as lists and non-finite floats as strings: strict JSON, which has no NaN or Infinity."""
    if isinstance(value, dict):
        return {str(k): _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value
