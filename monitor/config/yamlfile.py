"""Load YAML the strict way and remember where every value came from.

PyYAML's defaults are traps for hand-edited files (docs/reliability.md): duplicate keys are
silently last-wins and aliases allow a tiny document to expand into billions of nodes.
This loader rejects both, caps the file size, and returns a ``Marks`` table so that a
validation error on ``feeds[2].url`` can be reported as ``config.yaml:14:10``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from monitor.config.yamlfast import fast_load
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


class Marks:
    """1-based (line, col) of every key and value in one YAML file, by key path.

    A file read by the fast path keeps its text and finds the positions the first time
    a problem needs one: a valid rule never does, and 10,000 loaded rules then hold no
    position tables (~20 tuples a file, which every garbage collection had to walk)."""

    def __init__(
        self,
        file: str,
        positions: dict[KeyPath, tuple[int, int]] | None = None,
        *,
        source: str | None = None,
    ) -> None:
        self.file = file
        self._source = source
        self._positions = positions if positions is not None or source is not None else {}

    @property
    def positions(self) -> dict[KeyPath, tuple[int, int]]:
        if self._positions is None:
            self._positions = _positions_of(self._source or "", self.file)
        return self._positions

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Marks):
            return NotImplemented
        return self.file == other.file and self.positions == other.positions

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Marks({self.file!r})"

    def at(self, path: KeyPath) -> tuple[int | None, int | None]:
        # Walk up to the nearest ancestor that has a position (pydantic sometimes adds
        # loc parts such as a union branch name that are not in the document).
        positions = self.positions
        for end in range(len(path), -1, -1):
            pos = positions.get(tuple(path[:end]))
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

    def construct_yaml_timestamp(self, node: Any) -> Any:
        # YAML 1.1 reads an unquoted 2020-13-45 as a date, and PyYAML's constructor then
        # raises a bare ValueError (no position, no YAMLError: a traceback, and no other
        # problem of the file reported). An impossible date is the text as written, as
        # YAML 1.2 reads it: a term then matches it, a setting reports it at its key.
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return node.value


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


# libyaml's parser (C) is far faster than PyYAML's pure-Python one; ``yamlfast`` reads its
# events and hands anything unusual back to the Python loader (``_StrictLoader``).
try:
    from yaml import cyaml
except ImportError:  # PyYAML built without libyaml: every file takes the Python path
    cyaml = None  # type: ignore[assignment]
_CParser: Any = getattr(cyaml, "CParser", None)


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


def _positions_of(text: str, name: str) -> dict[KeyPath, tuple[int, int]]:
    """The positions of a document that loaded: the fast path again, else the Python one."""
    positions: dict[KeyPath, tuple[int, int]] = {}
    if _CParser is not None and fast_load(_CParser(text), positions)[0]:
        return positions
    marks = Marks(name, {})
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _build(loader, root, (), marks)
    finally:
        loader.dispose()
    return marks.positions


def load_yaml(path: Path | str, *, display: str | None = None) -> tuple[Any, Marks]:
    """Parse one YAML file into plain data plus its ``Marks``; raise ``ConfigError``."""
    name = display or str(path)
    try:
        raw = _read_capped(path, name)
    except OSError as exc:
        raise ConfigError([Problem(name, None, None, "", f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [Problem(name, None, None, "", f"not UTF-8 text (byte {exc.start})")]
        ) from None
    return load_yaml_text(text, name)


def _read_capped(path: Path | str, name: str) -> bytes:
    """The file's bytes, at most ``MAX_FILE_BYTES``. File descriptor calls, not ``open()``:
    loading 10,000 rule files pays for every layer (docs/performance.md)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        info = os.fstat(fd)
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                [Problem(name, None, None, "", f"file is {size} bytes; the limit is 1 MiB")]
            )
        first = os.read(fd, size + 1)
        if len(first) <= size and stat.S_ISREG(info.st_mode):
            return first  # a short read of a regular file is its end: no second read
        chunks = [first]
        total = len(first)
        while total <= MAX_FILE_BYTES and (chunk := os.read(fd, 65536)):
            chunks.append(chunk)  # it grew since fstat, or a device that has no size
            total += len(chunk)
        if total > MAX_FILE_BYTES:
            raise ConfigError(
                [Problem(name, None, None, "", "file is larger than the 1 MiB limit")]
            )
        return b"".join(chunks)
    finally:
        os.close(fd)


def load_yaml_text(text: str, name: str) -> tuple[Any, Marks]:
    if _CParser is not None:
        done, data = fast_load(_CParser(text))
        if done:
            return data, Marks(name, source=text)
    # The fast path gave up: the Python loader reads it again and has the final word.
    marks = Marks(name)
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
