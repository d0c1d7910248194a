"""The fast path of the strict YAML loader: data and marks straight from libyaml's events.

Loading 10,000 rule files must take under 2 s (docs/performance.md), and PyYAML's own ways
cost too much Python per value: composing nodes and constructing each one (``_build``),
or, for any text that could hold an alias, the pure-Python parser. This reads the C
parser's event stream once, resolves plain scalars with PyYAML's own YAML 1.1 rules and
fills the data and the ``Marks`` positions in one loop.

It only ever *returns* a document it fully understood. Anything else — an alias, a
duplicate key, an explicit tag, a merge key, a key that is a list or mapping, a second
document, a syntax error — makes it give up (``(False, None)``) so that the reference
loader (``yamlfile._StrictLoader``, pure Python) reads the file again and has the final
word, wording and line:column included. An alias is seen as an event here, so a wildcard
term (``declar*``) no longer sends its file to the slow loader.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

Positions = dict[tuple[str | int, ...], tuple[int, int]]

STR = "tag:yaml.org,2002:str"
# The loader's own implicit resolvers (first character -> [(tag, regexp)]) and
# constructors, so a plain scalar means exactly what the reference loader makes of it.
_IMPLICIT: dict[Any, list[tuple[str, Any]]] = yaml.SafeLoader.yaml_implicit_resolvers
_ANY_FIRST: list[tuple[str, Any]] = list(_IMPLICIT.get(None, []))
_CONSTRUCTORS: dict[Any, Any] = yaml.SafeLoader.yaml_constructors
# Scalar constructors only read the node and class attributes: one instance serves all.
_SCALARS = yaml.constructor.SafeConstructor()


class _GiveUp(Exception):
    """The document needs the reference loader."""


def _plain(event: Any) -> Any:
    """The value of a plain (unquoted) scalar, as PyYAML's resolver and constructor see it."""
    value: str = event.value
    resolvers = _IMPLICIT.get(value[0] if value else "")
    if resolvers is None and not _ANY_FIRST:
        return value  # the common case: no implicit type starts with this character
    tag = next((t for t, regexp in (resolvers or []) + _ANY_FIRST if regexp.match(value)), STR)
    if tag == STR:
        return value
    construct = _CONSTRUCTORS.get(tag)
    if construct is None:  # merge key, "=", ...: the reference loader decides
        raise _GiveUp
    node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
    try:
        return construct(_SCALARS, node)
    except Exception:  # e.g. an impossible date: the reference loader reports it as before
        raise _GiveUp from None


def fast_load(parser: Any, positions: Positions | None = None) -> tuple[bool, Any]:
    """``(True, data)``, filling ``positions`` unless it is None, or ``(False, None)``: give up."""
    try:
        return True, _events(parser, positions)
    except (_GiveUp, yaml.YAMLError):
        return False, None
    finally:
        parser.dispose()


def _events(parser: Any, positions: Positions | None) -> Any:
    get = parser.get_event
    get()  # StreamStartEvent
    event = get()
    if type(event) is StreamEndEvent:
        return None  # an empty file
    if type(event) is not DocumentStartEvent:
        raise _GiveUp
    root: Any = None
    path: tuple[str | int, ...] | None = None  # only kept when positions are wanted
    # One frame per open collection: [container, its key path, pending key or None].
    stack: list[list[Any]] = []
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            if event.tag is not None:
                raise _GiveUp
            value = _plain(event) if event.implicit[0] else event.value
            opened = None
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.tag is not None:
                raise _GiveUp
            value = {} if kind is MappingStartEvent else []
            opened = value
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            stack.pop()
            continue
        elif kind is DocumentEndEvent:
            break
        else:  # an alias, or anything this loop does not know
            raise _GiveUp
        if not stack:
            root = value
            if positions is not None:
                path = ()
                positions.setdefault(path, _where(event))
        else:
            frame = stack[-1]
            container = frame[0]
            if type(container) is list:
                if positions is not None:
                    path = (*frame[1], len(container))
                    positions.setdefault(path, _where(event))
                container.append(value)
            elif frame[2] is None:  # a key
                if opened is not None:
                    raise _GiveUp
                key = value if type(value) is str else str(value)
                if key in container:
                    raise _GiveUp  # a duplicate key: reported by the reference loader
                if positions is not None:
                    positions[(*frame[1], key)] = _where(event)
                frame[2] = key
                continue
            else:  # the value of the pending key (its position is the key's)
                key = frame[2]
                container[key] = value
                frame[2] = None
                if positions is not None:
                    path = (*frame[1], key)
        if opened is not None:
            stack.append([opened, path, None])
    if type(get()) is not StreamEndEvent:
        raise _GiveUp  # a second document: the reference loader says why not
    return root


def _where(event: Any) -> tuple[int, int]:
    mark = event.start_mark
    return mark.line + 1, mark.column + 1
