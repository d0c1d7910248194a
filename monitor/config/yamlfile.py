"""Load YAML the strict way and remember where every value came from.

PyYAML's defaults are traps for hand-edited files (docs/reliability.md): duplicate keys are
silently last-wins and aliases allow a tiny document to expand into billions of nodes.
This loader rejects both, caps the file size, and returns a ``Marks`` table so that a
validation error on ``feeds[2].url`` can be reported as ``config.yaml:14:10``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import ConfigError, Problem

MAX_FILE_BYTES = 1024 * 1024

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass
class Marks:
    """1-based (line, col) of every key and value in one YAML file, by key path."""

    file: str
    positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def at(self, path: KeyPath) -> tuple[int | None, int | None]:
        # Walk up to the nearest ancestor that has a position (pydantic sometimes adds
        # loc parts such as a union branch name that are not in the document).
        for end in range(len(path), -1, -1):
            pos = self.positions.get(tuple(path[:end]))
            if pos is not None:
                return pos
        return None, None

    def problem(self, path: KeyPath, message: str) -> Problem:
        line, col = self.at(path)
        return Problem(self.file, line, col, format_path(path), message)


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "YAML aliases (*name) are not allowed in newsmon files",
                event.start_mark,
            )
        return super().compose_node(parent, index)


# libyaml's parser (C) is ~7x faster than PyYAML's pure-Python one (0.13 s against 0.91 s
# for 1,000 rule files). It resolves an alias to its anchor's node, so the alias's own
# position is gone: a document that could hold an alias (any "*") and any document
# libyaml rejects are read again by the Python loader, which reports exactly where.
_CLoader: type[Any] | None = getattr(yaml, "CSafeLoader", None)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(loader: Any, node: yaml.Node, path: KeyPath, marks: Marks) -> Any:
    marks.positions.setdefault(path, _mark(node))
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            line, col = _mark(key_node)
            if key in out:
                first = marks.positions.get((*path, key), (None, None))
                raise ConfigError(
                    [
                        Problem(
                            marks.file,
                            line,
                            col,
                            format_path((*path, key)),
                            f"duplicate key (first defined on line {first[0]})",
                        )
                    ]
                )
            marks.positions[(*path, key)] = (line, col)
            out[key] = _build(loader, value_node, (*path, key), marks)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, child, (*path, i), marks) for i, child in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path, *, display: str | None = None) -> tuple[Any, Marks]:
    """Parse one YAML file into plain data plus its ``Marks``; raise ``ConfigError``."""
    name = display or str(path)
    marks = Marks(name)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                [Problem(name, None, None, "", f"file is {size} bytes; the limit is 1 MiB")]
            )
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError([Problem(name, None, None, "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [Problem(name, None, None, "", f"not UTF-8 text (byte {exc.start})")]
        ) from None
    return load_yaml_text(text, name, marks)


def load_yaml_text(text: str, name: str, marks: Marks | None = None) -> tuple[Any, Marks]:
    marks = marks or Marks(name)
    if _CLoader is not None and "*" not in text:
        fast = _CLoader(text)
        try:
            root = fast.get_single_node()
            data = None if root is None else _build(fast, root, (), marks)
        except yaml.YAMLError:
            marks = Marks(name)  # read it again below, for the Python loader's message
        else:
            return data, marks
        finally:
            fast.dispose()
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else _build(loader, root, (), marks)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        ctx = exc.context_mark
        if ctx is not None and mark is not None and ctx.line != mark.line:
            message += f" (the construct began on line {ctx.line + 1}, column {ctx.column + 1})"
        raise ConfigError([Problem(name, line, col, "", f"YAML syntax: {message}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(name, None, None, "", f"YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return data, marks
