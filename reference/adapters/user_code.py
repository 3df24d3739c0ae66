"""The one guard around a call into the user's code: whatever it raises, or a sys.exit, leaves as
data (which call, what type, what message), for the caller to word in one line.

    with guarded(f"{build.__name__}(sizes)"):
        result = build(sizes)
    ...
    except UserCodeError as error:       # error.raised: Raised("build(sizes)", "KeyError", "'W1'")
        raise ImplementationError(str(error.raised)) from None   # "build(sizes) raised KeyError: 'W1'"

Probes are not guarded: a probe that tries a call to see whether it fits (reference.adapters.probing.
attempt) takes any failure to mean "not this convention" and tries the next. A Ctrl-C is never the
user's code's doing and passes through.
"""

import contextlib
from dataclasses import dataclass

from .errors import ConventionError, KeywordError


@dataclass(frozen=True)
class Raised:
    """What a call into the user's code raised: where (the call, as the user would write it), the
    exception's type name and its message; a sys.exit is type "SystemExit" and its code's repr."""

    where: str
    type: str
    message: str

    @classmethod
    def of(cls, error: BaseException, where: str = "") -> "Raised":
        if isinstance(error, SystemExit):
            return cls(where, "SystemExit", repr(error.code))
        return cls(where, type(error).__name__, str(error))

    @property
    def exited(self) -> bool:
        return self.type == "SystemExit"

    def __str__(self) -> str:
        said = f"called sys.exit({self.message})" if self.exited else f"raised {self.type}: {self.message}"
        return f"{self.where} {said}" if self.where else said


class UserCodeError(Exception):
    """The user's code raised (or exited) in a guarded call; .raised says what, its __cause__ is the original."""

    def __init__(self, raised: Raised):
        super().__init__(str(raised))
        self.raised = raised


@contextlib.contextmanager
def guarded(where: str = ""):
    """Run the body (a call into the user's code): any Exception or SystemExit it raises leaves as a
    UserCodeError naming where; one raised by a guard inside it passes through as it is."""
    try:
        yield
    except UserCodeError:
        raise
    except (Exception, SystemExit) as error:
        raise UserCodeError(Raised.of(error, where)) from error


def said(error: BaseException, flags: dict | None = None) -> str:
    """What stopped the user's code, in one line: a sys.exit, what it raised, or an error about what
    was given (a KeywordError), its keywords worded as flags (keyword -> flag) where flags has them."""
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    if isinstance(error, UserCodeError):
        return str(error.raised)
    if isinstance(error, ConventionError):
        return f"its conventions cannot be found: {error.worded(flags or {})}"
    if isinstance(error, KeywordError):  # the loader's ImplementationError: its words say what to do
        return error.worded(flags or {})
    return f"raised {type(error).__name__}: {error}"
