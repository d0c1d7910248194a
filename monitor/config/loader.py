"""Load and validate ``config.yaml``.

Every problem is reported as ``file:line:col: key.path: message``; all problems of a file
are collected before failing, so one run of ``newsmon check`` shows them all.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from monitor.config.envvars import expand_env
from monitor.config.model import (
    SLUG,
    Config,
    ConfigFile,
    FeedConfig,
    NotifierModels,
    NotifierSettings,
)
from monitor.config.validation import Strict, validate
from monitor.config.yamlfile import Marks, load_yaml
from monitor.errors import ConfigError, Problem
from monitor.models import PostgresURL, is_postgres_url

# A path that looks like a web address: "www.example.org/rss", "example.com/feed".
_ADDRESS_LIKE = re.compile(
    r"^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?::\d+)?(?:/|$)", re.I
)


def local_feed_problems(config: Config) -> list[Problem]:
    """Local feeds whose file does not exist (``newsmon check`` refuses them; a running
    daemon records a poll failure instead, so one missing file never stops the others)."""
    problems = []
    for feed in config.feeds:
        remote = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", feed.url) and not (
            feed.url.startswith("file://")
        )
        if not feed.enabled or remote:
            continue
        source = Path(config.feed_source(feed))
        if source.is_file():
            continue
        marks, where = config.feed_marks.get(feed.name, (config.marks, ("feeds",)))
        written = config.feed_written.get(feed.name, feed.url)
        if _ADDRESS_LIKE.match(written):
            message = f"not a URL, and no such file: {source}; did you mean https://{written}?"
        else:
            message = f"local feed file not found: {source}"
        problems.append(marks.problem((*where, "url"), message))
    return problems


def _notifiers(
    raw: dict[str, Any], marks: Marks, kinds: NotifierModels
) -> tuple[dict[str, NotifierSettings], list[Problem]]:
    problems: list[Problem] = []
    out: dict[str, NotifierSettings] = {}
    for name, spec in raw.items():
        if not re.fullmatch(SLUG, name):
            problems.append(
                marks.problem(("notifiers", name), "name: use lower-case letters, digits, . _ -")
            )
        if not isinstance(spec, dict):
            problems.append(marks.problem(("notifiers", name), "expected a mapping with kind:"))
            continue
        kind = spec.get("kind")
        model = kinds.get(kind) if isinstance(kind, str) else None
        if model is None:
            problems.append(
                marks.problem(
                    ("notifiers", name, "kind"),
                    f"expected one of {', '.join(kinds)}, got {kind!r}",
                )
            )
            continue
        notifier, errors = validate(model, spec, marks, ("notifiers", name))
        problems += errors
        if notifier is not None:
            out[name] = notifier
    return out, problems


def _duplicate_feeds(feeds: Any, marks: Marks) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, feed in enumerate(feeds if isinstance(feeds, list) else []):
        name = feed.get("name") if isinstance(feed, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            problems.append(
                marks.problem(
                    ("feeds", i, "name"), f"duplicate feed name {name!r} (also feeds[{seen[name]}])"
                )
            )
        seen.setdefault(name, i)
    return problems


class _FeedFile(Strict):
    feeds: list[FeedConfig] = []


def _feed_files(
    base: Path, patterns: list[str], marks: Marks
) -> tuple[list[tuple[FeedConfig, Marks, tuple[str | int, ...], str]], list[Path], list[Problem]]:
    """Feeds from ``feed_files`` globs (e.g. written by ``newsmon import-opml``). A local
    feed path in such a file resolves against that file's folder."""
    out: list[tuple[FeedConfig, Marks, tuple[str | int, ...], str]] = []
    paths: list[Path] = []
    problems: list[Problem] = []
    for i, pattern in enumerate(patterns):
        matched = sorted(base.glob(pattern))
        if not matched and not any(ch in pattern for ch in "*?["):
            problems.append(marks.problem(("feed_files", i), f"no such file: {pattern}"))
        for file in matched:
            data, file_marks = load_yaml(file, display=os.path.relpath(file))
            data, errors = expand_env(data if data is not None else {}, file_marks)
            problems += errors
            parsed, errors = validate(_FeedFile, data, file_marks)
            problems += errors
            paths.append(file)
            for j, feed in enumerate(parsed.feeds if parsed is not None else []):
                local = not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", feed.url) or (
                    feed.url.startswith("file://")
                )
                absolute = str((file.parent / feed.url.removeprefix("file://")).resolve())
                out.append(
                    (
                        feed.model_copy(update={"url": absolute}) if local else feed,
                        file_marks,
                        ("feeds", j),
                        feed.url,
                    )
                )
    return out, paths, problems


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """In file order, then line and column: the order a person fixes them in."""
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.col or 0))


def rules_dir_of(path: Path) -> Path | None:
    """The rules folder a (possibly invalid) config names, read as leniently as possible."""
    try:
        data, _ = load_yaml(path)
    except ConfigError:
        return path.parent / "rules"
    raw = data.get("rules_dir", "rules") if isinstance(data, dict) else "rules"
    return path.parent / raw if isinstance(raw, str) and "${" not in raw else None


def load_config(path: Path, kinds: NotifierModels) -> Config:
    """Read, expand and validate a config file; raise ``ConfigError`` with every problem.

    ``kinds`` maps each notifier kind to its settings model (``monitor.notify.MODELS``):
    passed in, so that this layer never imports the notifiers."""
    path = path.resolve() if path.exists() else path
    display = os.path.relpath(path) if path.is_absolute() else str(path)
    if not path.exists():
        raise ConfigError([Problem(display, None, None, "", "config file not found")])
    data, marks = load_yaml(path, display=display)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([marks.problem((), "the config must be a mapping of keys")])
    data, problems = expand_env(data, marks)
    missing = {p.path for p in problems}  # an unset ${VAR}: skip its follow-on errors there
    parsed, errors = validate(ConfigFile, data, marks)
    problems += [e for e in errors if e.path not in missing]
    # The cross-checks read the raw data, so they run (and report) even when another
    # part of the file failed validation: one `newsmon check` shows every problem.
    raw_notifiers = data.get("notifiers")
    notifiers, errors = _notifiers(
        raw_notifiers if isinstance(raw_notifiers, dict) else {}, marks, kinds
    )
    problems += [e for e in errors if e.path not in missing]
    problems += _duplicate_feeds(data.get("feeds"), marks)
    defaults = data.get("defaults")
    for key in ("notify", "ops_notify"):
        wanted = defaults.get(key) if isinstance(defaults, dict) else None
        if isinstance(wanted, list) and isinstance(raw_notifiers, dict | None):
            for i, name in enumerate(wanted):
                if isinstance(name, str) and name not in (raw_notifiers or {}):
                    problems.append(
                        marks.problem(("defaults", key, i), f"unknown notifier {name!r}")
                    )
    if parsed is not None and parsed.poll.min_interval > parsed.poll.max_interval:
        problems.append(
            marks.problem(("poll", "min_interval"), "must not be larger than max_interval")
        )
    feeds: list[FeedConfig] = list(parsed.feeds) if parsed is not None else []
    feed_paths: list[Path] = []
    feed_marks: dict[str, tuple[Marks, tuple[str | int, ...]]] = {
        f.name: (marks, ("feeds", i)) for i, f in enumerate(feeds)
    }
    feed_written = {f.name: f.url for f in feeds}
    if parsed is not None:
        extra, feed_paths, errors = _feed_files(path.parent, parsed.feed_files, marks)
        problems += errors
        names = {f.name for f in feeds}
        for feed, where, key_path, written in extra:
            if feed.name in names:
                problems.append(where.problem(("feeds",), f"duplicate feed name {feed.name!r}"))
            names.add(feed.name)
            feeds.append(feed)
            feed_marks[feed.name] = (where, key_path)
            feed_written[feed.name] = written
    if problems or parsed is None:
        raise ConfigError(sort_problems(problems))
    base = path.parent
    return Config(
        path=path,
        database=(
            PostgresURL(parsed.database)
            if is_postgres_url(parsed.database)
            else (base / parsed.database).resolve()
        ),
        rules_dir=(base / parsed.rules_dir).resolve(),
        feeds=tuple(feeds),
        notifiers=notifiers,
        defaults=parsed.defaults,
        poll=parsed.poll,
        delivery=parsed.delivery,
        dedupe=parsed.dedupe,
        marks=marks,
        retention=parsed.retention,
        watch=parsed.watch,
        files=(path, *feed_paths),
        stories=parsed.stories,
        feed_marks=feed_marks,
        feed_written=feed_written,
    )
