"""How a report shows itself, the same way for a gradient check, a training run and a grade table.

    report            # a notebook cell's last line, or the REPL: repr, the verdict and one line per part
    print(report)     # str: the full table, as the command line prints it
    (in Jupyter)      # _repr_html_: the verdict first, coloured; the failing rows highlighted; the hint;
                      # the full table folded underneath

A report builds a View (its verdict, its rows, its hint and its full text) and the three forms
come from it, so they cannot tell different stories. Plain HTML with inline styles: no
JavaScript and no stylesheet, so it renders the same in Jupyter, VS Code, Colab and a saved page.
"""

import html
from dataclasses import dataclass, field

FAIL_BACKGROUND = "#fde2e1"   # a failing row; light enough for black text
VERDICT_COLOURS = {True: "#1a7f37", False: "#cf222e", None: "#9a6700"}  # agree, disagree, neither (nothing judged)


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    ok: bool | None = True   # False: highlighted; None: not judged (n/a)


@dataclass(frozen=True)
class View:
    kind: str                # "CheckReport", "Run", "Grades": the repr's first word
    ok: bool | None
    verdict: str             # one line
    header: tuple[str, ...]
    rows: list[Row]
    full_text: str           # str(report)
    hint: str = ""           # what to do or look at, where the report knows
    footer: list[str] = field(default_factory=list)  # the repr's last lines: how to see more
    status: str = ""         # a word before the verdict in the repr ("FAIL"), where the verdict does not start with one

    def text(self) -> str:
        """The repr: the verdict line, then the rows as a small aligned table, then the footer."""
        widths = [max(len(line[i]) for line in [self.header, *(r.cells for r in self.rows)])
                  for i in range(len(self.header))]
        lines = [f"{self.kind}{' ' + self.status if self.status else ''}: {self.verdict}"]
        for cells, marker in [(self.header, "  ")] + [(r.cells, "> " if r.ok is False else "  ") for r in self.rows]:
            lines.append((marker + "  ".join(c.ljust(w) for c, w in zip(cells, widths))).rstrip())
        lines += [f"hint: {self.hint}"] if self.hint else []
        return "\n".join(lines + self.footer)

    def html(self) -> str:
        """The verdict coloured and first, the failing rows highlighted, the hint, the full text folded."""
        colour = VERDICT_COLOURS[self.ok]
        head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(c)}</th>" for c in self.header)
        body = "".join(
            f"<tr style='background:{FAIL_BACKGROUND if r.ok is False else 'transparent'}'>"
            + "".join(f"<td style='padding:2px 8px'>{html.escape(c)}</td>" for c in r.cells) + "</tr>"
            for r in self.rows)
        hint = f"<p><b>Hint:</b> {html.escape(self.hint)}</p>" if self.hint else ""
        return (f"<div class='scratch-nn-report'>"
                f"<p style='color:{colour};font-weight:bold'>{html.escape(self.verdict)}</p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{hint}"
                f"<details><summary>full table</summary><pre>{html.escape(self.full_text)}</pre></details></div>")
