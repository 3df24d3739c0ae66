"""The errors that meet a user of the adapters, with the keyword arguments they name carried as data.

A caller of the library reads "give layout= one of them"; a command line has flags, not keywords,
and words the same error "give --layout one of them" (reference.adapters.keywords holds each
command's table of keyword -> flag). The keyword is a part of the error, never found again in
its text.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Keyword:
    """A keyword argument named in an error's words: spelled "layout=" to a caller of the library,
    and as its flag ("--layout") on a command line, which has flags instead of keywords."""

    name: str


class KeywordError(ValueError):
    """An error about what the user gave, whose words may name the keyword arguments that settle it.

    Built from parts: text, Keyword("layout") where the message names a keyword, or another
    KeywordError whose parts are taken in (a message that quotes a probe's refusal keeps its
    keywords). str() spells keywords as arguments; worded(flags) as a command line's flags.
    """

    def __init__(self, *parts):
        self.parts = tuple(piece for part in parts for piece in (
            part.parts if isinstance(part, KeywordError) else (part if isinstance(part, Keyword) else str(part),)))
        super().__init__(self.worded({}))

    def __reduce__(self):  # a copy across processes keeps its keywords, not only its words
        return type(self), self.parts

    @property
    def keywords(self) -> tuple[str, ...]:
        """The keywords the message names, in order, each once."""
        return tuple(dict.fromkeys(part.name for part in self.parts if isinstance(part, Keyword)))

    def worded(self, flags: dict) -> str:
        """The message with each keyword as flags spells it (keyword -> flag: "--layout 'in_out'"),
        or, where flags has none, as a keyword argument ("layout='in_out'")."""
        words = []
        for part, after in zip(self.parts, [*self.parts[1:], " "], strict=True):
            if not isinstance(part, Keyword):
                words.append(part)
            elif part.name in flags:  # a flag and a value after it are two words ("--lr 0.1", "--lr:")
                ends_word = isinstance(after, str) and (after[:1].isspace() or after[:1] in ",;:.)")
                words.append(flags[part.name] + ("" if ends_word else " "))
            else:
                words.append(f"{part.name}=")
        return "".join(words)


class ConventionError(KeywordError):
    """Probing could not tell how the user's code works, or a convention given does not fit it: says
    what is ambiguous or wrong and which keyword argument (on the command line, which flag) settles it."""
