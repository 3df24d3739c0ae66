"""A graded folder as one value, for a notebook or a script: grade(folder) -> Grades.

    from reference.grading.grades import grade
    grades = grade("submissions/")      # each submission in a process of its own (reference.grading.folder)
    grades                              # the verdict and a row per submission (repr; in Jupyter, HTML)
    print(grades)                       # the table compare.py grade prints, reasons included

The grading is reference.grading.folder's; this module only holds its rows with the settings and
shows them (reference.display), as compare.py grade's table does.
"""

from dataclasses import dataclass
from pathlib import Path

from reference.display import Row, View
from reference.grading import folder as grading_folder
from reference.grading.submission import GradeSettings


@dataclass
class Grades:
    rows: list            # reference.grading.folder.Row, one per submission
    settings: object      # GradeSettings, or a kind's (reference.grading.kinds)
    safe: bool = False    # student-safe: no number torch computed in the text

    @property
    def ok(self) -> bool:
        return all(passed == graded for passed, graded in (row.score(self.settings) for row in self.rows))

    def verdict(self) -> str:
        full = sum(1 for row in self.rows if row.score(self.settings)[0] == row.score(self.settings)[1])
        return f"{full} of {len(self.rows)} submission(s) passed every part graded ({self.settings.describe()})"

    def view(self) -> View:
        parts = self.settings.parts
        rows = []
        for row in self.rows:
            passed, graded = row.score(self.settings)
            rows.append(Row((row.name, *(grading_folder.mark(row.parts.get(part)) for part in parts),
                             f"{passed}/{graded}"), passed == graded))
        first = next((row for row in self.rows if row.score(self.settings)[0] < row.score(self.settings)[1]), None)
        hint = ""
        if first is not None:
            failed = next(((part, r) for part, r in first.parts.items() if r.ok is False), None)
            hint = f"{first.name}: " + (first.problem or (f"{failed[0]}: {failed[1].reason}" if failed else ""))
        return View("Grades", self.ok, self.verdict(), ("submission", *parts, "score"), rows,
                    grading_folder.table(self.rows, self.settings, self.safe), hint,
                    ["print(grades) for every reason"])

    def __repr__(self) -> str:
        return self.view().text()

    def __str__(self) -> str:
        return grading_folder.table(self.rows, self.settings, self.safe)

    def _repr_html_(self) -> str:
        return self.view().html()


def grade(folder, settings=None, *, timeout: float = 20.0, workers: int = 1, safe: bool = False) -> Grades:
    """Every submission in the folder graded (settings: GradeSettings() by default), as compare.py grade does."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder: give the folder that holds the submissions")
    settings = settings or GradeSettings()
    return Grades(grading_folder.grade_folder(folder, settings, timeout, workers), settings, safe)
