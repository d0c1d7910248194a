"""``${VAR}`` in config files: read from the environment, every value as text.

A missing variable is a problem naming it (and the key path), never an empty string
passed on silently. Only the ``${NAME}`` form expands; ``$NAME`` stays as written.
"""

from __future__ import annotations

import os
import re
from typing import Any

from monitor.config.yamlfile import KeyPath, Marks
from monitor.errors import Problem

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(data: Any, marks: Marks, path: KeyPath = ()) -> tuple[Any, list[Problem]]:
    """Replace ``${VAR}`` in every string with the environment's value."""
    problems: list[Problem] = []
    if isinstance(data, str):

        def sub(m: re.Match[str]) -> str:
            value = os.environ.get(m.group(1))
            if value is None:
                problems.append(
                    marks.problem(path, f"environment variable {m.group(1)} is not set")
                )
                return ""
            return value

        return _ENV.sub(sub, data), problems
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            out[key], sub_problems = expand_env(value, marks, (*path, key))
            problems += sub_problems
        return out, problems
    if isinstance(data, list):
        items = []
        for i, value in enumerate(data):
            item, sub_problems = expand_env(value, marks, (*path, i))
            items.append(item)
            problems += sub_problems
        return items, problems
    return data, problems
