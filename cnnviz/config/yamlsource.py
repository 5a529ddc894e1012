"""Read YAML into plain Python data while remembering where every value stood.

PyYAML's safe loader composes a node tree; :func:`parse_yaml` walks it,
building dicts, lists and scalars, and records the 1-based line and column of
every value (and of every mapping key) under its key path.  Errors found later
(an unknown key, a kernel of the wrong depth) can then name
``file:line:column`` as well as the key path.

Only the standard YAML tags are accepted (no ``!!python/...``), duplicate keys
are errors, and alias expansion is bounded so that an "alias bomb" is refused
instead of eating the machine's memory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..errors import CnnvizError, KeyPath, PathItem

__all__ = ["Locations", "parse_yaml", "parse_value"]

#: Most nodes one document may expand to (aliases counted every time they are used).
MAX_NODES = 200_000
#: Deepest nesting accepted.
MAX_DEPTH = 100
#: Longest config accepted, in characters (large kernels belong in .npy files).
MAX_CHARS = 4_000_000

_STANDARD_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("null", "bool", "int", "float", "str", "timestamp", "binary", "map", "seq")
}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader (libyaml's when present) that also reads ``1e-4`` (no dot) as a float."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


@dataclass
class Locations:
    """Where each value (and each mapping key) of a parsed document stood.

    ``values[path]`` and ``keys[path]`` are 1-based ``(line, column)`` pairs.
    """

    source: str | None = None
    values: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    #: Paths whose values came from the command line (``--set``), with the assignment.
    overrides: dict[KeyPath, str] = field(default_factory=dict)
    #: Mappings and lists an assignment created because the config did not have them.
    created: set[KeyPath] = field(default_factory=set)

    def _override(self, path: Sequence[PathItem]) -> str | None:
        """The ``--set`` an error at ``path`` comes from, if any.

        An assignment is to blame for an error at the value it set or inside
        it, at a key it created, and at the filter entry or stage that holds
        the value it set (``--set stages[0].filters[0][0][0]=.nan`` makes the
        whole entry's kernel hold NaN).
        """
        p = tuple(path)
        for n in range(len(p), 0, -1):
            if p[:n] in self.overrides:
                return self.overrides[p[:n]]
        for key, text in reversed(self.overrides.items()):
            if key[: len(p)] == p and (len(p) >= 2 or p in self.created):
                return text
        for key, text in reversed(self.overrides.items()):
            if any(key[:n] == p[:n] and p[:n] in self.created for n in range(1, len(p) + 1)):
                return text
        return None

    def find(self, path: Sequence[PathItem], *, key: bool = False) -> tuple[int, int] | None:
        """Position of ``path`` (its key when ``key``), else of its nearest ancestor."""
        p = tuple(path)
        if key and p in self.keys:
            return self.keys[p]
        while True:
            if p in self.values:
                return self.values[p]
            if not p:
                return None
            p = p[:-1]

    def error(self, message: str, path: Sequence[PathItem], *, key: bool = False) -> CnnvizError:
        """A :class:`CnnvizError` located at ``path``."""
        return self.locate(CnnvizError(message, path, at_key=key))

    def locate(self, err: CnnvizError) -> CnnvizError:
        """Fill in ``err``'s source, line and column from its key path."""
        given = self._override(err.path)
        if given is not None:
            err.source, err.line, err.column = f"--set {given}", None, None
            return err
        pos = self.find(err.path, key=err.at_key)
        err.source = self.source
        if pos:
            err.line, err.column = pos
        return err


def _pos(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


def _yaml_error(exc: yaml.YAMLError, source: str | None, text: str) -> CnnvizError:
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        before = text[: exc.position]
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return CnnvizError(f"invalid YAML: the character {what} is not allowed", source=source,
                           line=line, column=column)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}"
    if context and "found" not in problem:
        message = f"invalid YAML: {context}, {problem}"
    return CnnvizError(
        message,
        source=source,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )


class _Walker:
    def __init__(self, loader: _Loader, locations: Locations) -> None:
        self.loader = loader
        self.loc = locations
        self.count = 0

    def fail(self, message: str, node: yaml.Node, path: KeyPath) -> CnnvizError:
        line, col = _pos(node.start_mark)
        return CnnvizError(message, path, source=self.loc.source, line=line, column=col)

    def walk(self, node: yaml.Node, path: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                f"the document has more than {MAX_NODES:,} values (with aliases expanded)",
                node,
                path,
            )
        if len(path) > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels", node, path)
        if node.tag not in _STANDARD_TAGS:
            raise self.fail(f"the YAML tag '{node.tag}' is not allowed", node, path)
        self.loc.values.setdefault(path, _pos(node.start_mark))
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for knode, vnode in node.value:
                if not isinstance(knode, yaml.ScalarNode):
                    raise self.fail("a mapping key must be a plain value", knode, path)
                if knode.tag == "tag:yaml.org,2002:merge" or knode.value == "<<":
                    raise self.fail("YAML merge keys ('<<') are not supported", knode, path)
                key = self.walk(knode, path)
                if not isinstance(key, str):
                    key = str(key)
                if key in out:
                    raise self.fail(f"duplicate key '{key}'", knode, path + (key,))
                self.loc.keys[path + (key,)] = _pos(knode.start_mark)
                out[key] = self.walk(vnode, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, path + (i,)) for i, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise self.fail(f"cannot read the value {node.value!r}: {exc}", node, path) from None


def parse_yaml(text: str, source: str | None = None) -> tuple[Any, Locations]:
    """Parse one YAML document into plain data and the positions of its values.

    Parameters
    ----------
    text : str
        The YAML text.
    source : str, optional
        A name for error messages (the file's path, or ``<string>``).

    Returns
    -------
    data : object
        Dicts, lists and scalars; ``None`` for an empty document.
    locations : Locations
        Where each value stood.

    Raises
    ------
    CnnvizError
        Bad YAML, a non-standard tag, a duplicate key, an alias bomb.
    """
    locations = Locations(source=source)
    if len(text) > MAX_CHARS:
        raise CnnvizError(
            f"the config is {len(text):,} characters, more than the limit of {MAX_CHARS:,} "
            "(keep large kernels in .npy files)",
            source=source,
        )
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source, text) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, locations
        return _Walker(loader, locations).walk(node, ()), locations
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source, text) from None
    except RecursionError:
        raise CnnvizError(f"nested deeper than {MAX_DEPTH} levels", source=source) from None
    finally:
        loader.dispose()


def parse_value(text: str) -> Any:
    """Parse a single YAML value, e.g. the right-hand side of ``--set key=value``."""
    data, _ = parse_yaml(text, "<--set>") if text.strip() else ("", None)
    return data
