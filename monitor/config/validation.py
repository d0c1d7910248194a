"""Turn pydantic validation errors into file:line problems, and parse durations/sizes."""

from __future__ import annotations

import datetime
import difflib
import math
import re
from typing import Annotated, Any, TypeVar, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from monitor.config.yamlfile import KeyPath, Marks
from monitor.errors import Problem

M = TypeVar("M", bound=BaseModel)

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_duration(value: Any) -> float:
    """``30s``, ``10m``, ``6h``, ``1d``, ``1h30m`` or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 10m, 6h or 1d")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a duration (a finite number of seconds >= 0)")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 30s, 10m, 6h or 1d")
    text = value.strip().lower()
    if _SECONDS.fullmatch(text):  # a number as text: `--since 3600`, `timeout: ${T}`
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if text[pos : match.start()].strip():
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 10m, 6h, 1d)")
    return total


def parse_size(value: Any) -> int:
    """``10MiB``, ``512KB`` or a number of bytes -> bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 10MiB")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if match:
            return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])
    raise ValueError(f"{value!r} is not a size (use e.g. 10MiB or 500KB)")


def parse_digest(value: Any) -> float:
    """``instant`` (0), ``hourly``, ``daily`` or a duration -> window length in seconds."""
    if value in ("instant", None):
        return 0.0
    if value == "hourly":
        return 3600.0
    if value == "daily":
        return 86400.0
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a digest (use instant, hourly, daily or a duration like 30m)"
        ) from None
    if 0 < seconds < 60:
        raise ValueError("a digest window shorter than 1m is not a digest")
    return seconds


def _count(value: Any) -> Any:
    # `port: ${SMTP_PORT}`: environment values are text; a whole decimal number is an int.
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
Count = Annotated[int, BeforeValidator(_count)]
Digest = Annotated[float, BeforeValidator(parse_digest)]
Size = Annotated[int, BeforeValidator(parse_size)]


class Strict(BaseModel):
    """Base for file-backed models: unknown keys are errors, nothing is coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, datetime.date):
        return f"date {value.isoformat()}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at ``loc`` (for "did you mean" hints)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside list[X], X | None, dict[str, X] ... or the annotation itself."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def unknown_key(key: Any, allowed: list[str]) -> str:
    text = str(key)
    message = "unknown key"
    if not text.isascii():
        odd = ", ".join(f"U+{ord(c):04X}" for c in text if not c.isascii())
        message += f" {text!r} (it contains non-ASCII look-alike characters: {odd})"
    close = difflib.get_close_matches(text, allowed, n=1, cutoff=0.6)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return message


def _message(err: Any, model: type[BaseModel] | None = None) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(model, tuple(err["loc"][:-1])) if model is not None else []
        return unknown_key(err["loc"][-1], allowed)
    if kind == "missing":
        return "required key is missing"
    if kind == "string_type":
        hint = ""
        if isinstance(value, bool):
            hint = " (YAML reads yes/no/on/off as booleans: quote the text)"
        elif isinstance(value, int | float | datetime.date):
            hint = " (quote it to keep it as text)"
        return f"expected a string, got {_describe(value)}{hint}"
    if kind == "list_type":
        return f"expected a list, got {_describe(value)} (write [a, b] or one item per line)"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_describe(value)}"
    if kind in ("dict_type", "model_type"):
        return f"expected a mapping, got {_describe(value)}"
    if kind == "literal_error":
        return str(err["msg"]).replace("Input should be", "expected")
    if kind == "string_pattern_mismatch":
        pattern = str(err.get("ctx", {}).get("pattern", ""))
        if pattern.startswith("^[a-z0-9]"):
            return f"{value!r}: use lower-case letters, digits, . _ - (up to 64)"
        if "https?" in pattern:
            # No value in the message: a webhook URL is often the secret itself.
            return "must start with http:// or https://"
        if "@" in pattern:
            return f"{value!r} is not an email address"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    ctx = err.get("ctx", {})
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}, got {value!r}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {value!r}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {value!r}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        shown = repr(value) if isinstance(value, str) else _describe(value)
        return f"expected a whole number, got {shown}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    return str(err["msg"])


def validate(
    model: type[M], data: Any, marks: Marks, prefix: KeyPath = ()
) -> tuple[M | None, list[Problem]]:
    """Validate ``data`` against ``model``; return the model or file:line problems."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc: KeyPath = (*prefix, *err["loc"])
            problems.append(marks.problem(loc, _message(err, model)))
        return None, problems
