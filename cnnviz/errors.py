"""The one exception type for a user's mistakes, and helpers to word them.

Every mistake a user can make (bad YAML, unknown key, wrong type, impossible
size, missing file, ...) is raised as :class:`CnnvizError`.  The command line
turns it into a single ``Error: ...`` line; nothing else ever reaches the user
as a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

__all__ = ["CnnvizError", "ConfigErrors", "format_path", "did_you_mean", "one_line"]

PathItem = str | int
KeyPath = tuple[PathItem, ...]


def format_path(path: Sequence[PathItem]) -> str:
    """Format a key path the way users write it.

    >>> format_path(("stages", 3, "filters", 0))
    'stages[3].filters[0]'
    """
    out = ""
    for item in path:
        if isinstance(item, int):
            out += f"[{item}]"
        else:
            out += f".{item}" if out else str(item)
    return out


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x07``): an error is always one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class CnnvizError(Exception):
    """A user's mistake, worded as one line.

    Parameters
    ----------
    message : str
        What is wrong, without location.
    path : tuple of str and int, optional
        Key path of the offending value, e.g. ``("stages", 3, "filters", 0)``.
        Code that does not know the full path raises with the part it knows;
        callers prepend their own part with :meth:`under`.
    source : str, optional
        File the value came from (a config path, ``<string>``, an image path).
    line, column : int, optional
        1-based position in ``source``.
    at_key : bool
        The mistake is the mapping key itself (an unknown key): point at the
        key rather than at its value.
    """

    def __init__(
        self,
        message: str,
        path: Sequence[PathItem] = (),
        *,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
        at_key: bool = False,
    ) -> None:
        super().__init__(message)
        self.at_key = at_key
        self.message = message
        self.path: KeyPath = tuple(path)
        self.source = source
        self.line = line
        self.column = column

    def under(self, prefix: Sequence[PathItem]) -> CnnvizError:
        """Return this error with ``prefix`` put in front of its key path."""
        self.path = tuple(prefix) + self.path
        return self

    def __str__(self) -> str:
        parts = []
        if self.source is not None:
            where = self.source
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        if self.path:
            parts.append(format_path(self.path))
        parts.append(self.message)
        return one_line(": ".join(parts))


class ConfigErrors(CnnvizError):
    """Several mistakes found in one config; ``errors`` lists them in order.

    ``str()`` gives the first one, so a caller that only shows one line still
    shows something true; ``validate`` prints them all.
    """

    def __init__(self, errors: Sequence[CnnvizError]) -> None:
        first = errors[0]
        super().__init__(
            first.message, first.path, source=first.source, line=first.line, column=first.column
        )
        self.errors = list(errors)

    def __str__(self) -> str:
        return str(self.errors[0])
