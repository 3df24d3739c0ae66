"""What a course does with the grades: points per part (a rubric), a gradebook CSV, Gradescope's results.json.

    # rubric.toml: points per part; a part not named is worth 1, a part that does not apply (n/a) 0
    [points]
    linear = 2
    training = 3

The rubric applies to the table's score, the JSON's `points`, the CSV and results.json alike.
results.json is Gradescope's autograder format (score, max_score, tests[] of name, score,
max_score, output, visibility), written for the one submission Gradescope grades; its output is
the student-safe reason, never a number torch computed.
"""

import csv
import io
import json
from dataclasses import dataclass, field

import tomllib

from reference.atomic_file import write_atomically


@dataclass(frozen=True)
class Rubric:
    points: dict = field(default_factory=dict)  # part -> points; default 1

    @classmethod
    def read(cls, path, parts) -> "Rubric":
        """The rubric of a TOML file; ValueError (one line) for a part not graded or points not a number."""
        try:
            with open(path, "rb") as file:
                data = tomllib.load(file)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ValueError(f"--rubric {path}: cannot be read as TOML ({error})") from None
        points = data.get("points", {})
        if not isinstance(points, dict) or set(data) - {"points"}:
            raise ValueError(f"--rubric {path}: give one table [points] of part = points")
        for part, value in points.items():
            if part not in parts:
                raise ValueError(f"--rubric {path}: no part {part!r}; the parts are {', '.join(parts)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"--rubric {path}: {part} = {value!r} must be a number of points, 0 or more")
        return cls(dict(points))

    def worth(self, part: str) -> float:
        return self.points.get(part, 1)

    def part_points(self, row, part: str) -> tuple[float, float] | None:
        """(earned, possible) of one part; None where it does not apply (n/a)."""
        result = row.result(part)
        if result.ok is None:
            return None
        return (self.worth(part) if result.ok else 0), self.worth(part)

    def score(self, row, settings) -> tuple[float, float]:
        """(points earned, points possible) over the parts that apply."""
        graded = [p for p in (self.part_points(row, part) for part in settings.parts) if p is not None]
        return sum(e for e, _ in graded), sum(m for _, m in graded)


def write_csv(rows, settings, rubric: Rubric, path) -> None:
    """The gradebook: one row per student, a column per part (its points; empty where n/a), total, max."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", *settings.parts, "total", "max"])
    for row in rows:
        cells = [rubric.part_points(row, part) for part in settings.parts]
        total, possible = rubric.score(row, settings)
        writer.writerow([row.name, *("" if c is None else f"{c[0]:g}" for c in cells), f"{total:g}", f"{possible:g}"])
    text = out.getvalue()
    write_atomically(path, lambda file: file.write(text.encode()))


def gradescope_results(row, settings, rubric: Rubric, isolation: str) -> dict:
    """Gradescope's results.json for one submission: a test per part, the reason as its output."""
    tests = []
    for part in settings.parts:
        result, points = row.result(part), rubric.part_points(row, part)
        earned, possible = points or (0, 0)
        tests.append({"name": part, "score": earned, "max_score": possible, "visibility": "visible",
                      "output": "ok" if result.ok else result.reason})
    total, possible = rubric.score(row, settings)
    return {"score": total, "max_score": possible, "tests": tests, "stdout_visibility": "hidden",
            "output": (row.problem + "\n" if row.problem else "") + f"graded in a sandbox ({isolation})"}


def write_gradescope(rows, settings, rubric: Rubric, isolation: str, path) -> None:
    text = json.dumps(gradescope_results(rows[0], settings, rubric, isolation), indent=2) + "\n"
    write_atomically(path, lambda file: file.write(text.encode()))
