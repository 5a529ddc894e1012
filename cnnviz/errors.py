"""The one exception type for a user's mistakes, and helpers to word them.

Every mistake a user can make (bad YAML, unknown key, wrong type, impossible
size, missing file, ...) is raised as :class:`CnnvizError`.  The command line
turns it into a single ``Error: ...`` line; nothing else ever reaches the user
as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["CnnvizError", "ConfigErrors", "error_lines", "format_path", "did_you_mean", "one_line"]

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
    import difflib  # only when a mistake is being worded

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
    size_dependent : bool
        The mistake depends on the input's size (dense weights whose width
        does not match it): ``validate`` without an image does not judge it.
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
        size_dependent: bool = False,
    ) -> None:
        super().__init__(message)
        self.at_key = at_key
        self.size_dependent = size_dependent
        #: What the error is about when the location alone does not say (one of several images).
        self.subject: str | None = None
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
        parts = [self.subject] if self.subject else []
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
    """Several mistakes found at once; ``errors`` lists them in order.

    ``str()`` gives every one of them, a line each (:meth:`lines`), so that
    nothing found is hidden; the command line prints them the same way.  The
    exception's own ``message``, ``path`` and position are the first error's.
    """

    errors: list[CnnvizError]

    def __init__(self, errors: Sequence[CnnvizError]) -> None:
        flat: list[CnnvizError] = []
        for e in errors:
            flat.extend(e.errors if isinstance(e, ConfigErrors) else [e])
        first = flat[0]
        super().__init__(
            first.message, first.path, source=first.source, line=first.line, column=first.column
        )
        self.errors = flat

    def under(self, prefix: Sequence[PathItem]) -> ConfigErrors:
        """Put ``prefix`` in front of every error's key path."""
        for e in self.errors:
            e.under(prefix)
        self.path = self.errors[0].path
        return self

    def lines(self) -> list[str]:
        """One line per error, as the command line prints them (without ``Error: ``)."""
        return [str(e) for e in self.errors]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def error_lines(err: CnnvizError) -> list[str]:
    """The lines of any :class:`CnnvizError`: one, or one per error of a :class:`ConfigErrors`."""
    return err.lines() if isinstance(err, ConfigErrors) else [str(err)]
