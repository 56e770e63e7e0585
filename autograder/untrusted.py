"""Text that came from a submission, made safe for whoever reads it.

Two dangers, one module:

- **A terminal.** Exception messages, check details, grade ids, student and file names are
  the student's text; an escape sequence in them would reach the instructor's terminal
  raw (rewriting what `grade` printed, setting the window title, worse). :func:`printable`
  drops every control character but newline and tab, and Unicode format characters (bidi
  overrides that reorder what a reader sees). HTML pages escape on top (Jinja2 autoescape).
- **The student.** At grading the kernel receives every hidden check's inputs and the
  instructor code of hidden ``run`` queries. Whatever it produces after that can carry
  them: an exception message, a received value in a visible check's detail, a model that
  fails to load with a chosen message. :class:`Disclosure` remembers whether a hidden query
  was sent, and keeps two views of every problem: the instructor's, whole, and the
  student's, which after the first hidden query says no more than "cell N raised
  TypeError" (a built-in exception's name; any other name could be chosen to carry data).
"""
from __future__ import annotations

import builtins
import re
import unicodedata

# whole escape sequences first (CSI "ESC [ ... m", OSC "ESC ] ... BEL"), then what is left
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
WITHHELD = ("details withheld: this check was asked after hidden checks had run "
            "(run the cell in your notebook to see them)")


def printable(text: object) -> str:
    """`text` without control characters (newline and tab kept) or Unicode format ones."""
    text = _CONTROL.sub("", _ESCAPES.sub("", str(text)))
    if text.isascii():
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def exception_name(name: object) -> str:
    """`name` when it is a built-in exception's, else "an exception"."""
    found = getattr(builtins, str(name), None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return str(name)
    return "an exception"


class Disclosure:
    """The problems found while grading one submission, in the instructor's words and in
    what the student may read (see the module docstring)."""

    def __init__(self) -> None:
        self.hidden_asked = False   # a hidden check's query has reached the kernel
        self.instructor: list[str] = []
        self.student: list[str] = []

    def add(self, text: str, *, after_hidden: str | None = None) -> None:
        """Record a problem. `after_hidden` is the student's version once a hidden query
        was sent, for a text that holds something the kernel produced; None means the
        text is the grader's own and safe to show as it is."""
        self.instructor.append(printable(text))
        shown = text if after_hidden is None or not self.hidden_asked else after_hidden
        self.student.append(printable(shown))

    def detail(self, detail: str, asked_after_hidden: bool, hint: str | None) -> str:
        """A visible check's detail as the student may read it."""
        if not asked_after_hidden or not detail:
            return printable(detail)
        return WITHHELD + (f". Hint: {printable(hint)}" if hint else "")
