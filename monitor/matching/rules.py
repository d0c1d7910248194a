"""Rule files: load, validate (file:line), compile into one matcher, explain a match.

A rule file holds one rule (README). ``match`` is a group — a mapping with any of
``any:`` (at least one element), ``all:`` (every element) and ``none:`` (veto), ANDed —
or a bare string or list (= ``any``). Elements are terms (strings) or nested groups.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from monitor.config import SLUG, Config
from monitor.config.validation import Digest, Duration, Strict, validate
from monitor.config.yamlfile import Marks, load_yaml
from monitor.errors import ConfigError, Problem
from monitor.matching.automaton import Automaton
from monitor.matching.compile import MAX_DEPTH, Compiler, compile_match
from monitor.matching.ruleset import MatchResult, RuleSet
from monitor.matching.ruletree import Group

__all__ = ["MAX_DEPTH", "MatchResult", "Rule", "RuleSet", "load_rule", "load_rules"]

FieldName = Literal["title", "summary", "content", "link", "author", "tags", "feed"]


# Mutable defaults are written as factories: pydantic deep-copies a list or model default
# on every validation (0.6 s of copying per 10,000 rule files); a factory is just called.
class _Examples(Strict):
    match: list[str] = Field(default_factory=list)
    no_match: list[str] = Field(default_factory=list)


def _default_fields() -> list[FieldName]:
    return ["title", "summary", "content"]


class _RuleFile(Strict):
    id: str | None = Field(default=None, pattern=SLUG)
    title: str | None = None
    enabled: bool = True
    match: Any
    case_sensitive: bool = False
    fold_accents: bool = False
    fields: list[FieldName] = Field(default_factory=_default_fields, min_length=1)
    feeds: list[str] = Field(default_factory=list)
    notify: list[str] | None = None
    digest: Digest | None = None
    examples: _Examples = Field(default_factory=_Examples)
    # Corroboration (stories): alert once this many outlets carry the story, first seen
    # within ``within`` (default: the config's stories.window).
    min_sources: int = Field(default=1, ge=1, le=100)
    within: Duration | None = Field(default=None, gt=0)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    file: str
    root: Group
    fields: tuple[str, ...]
    feeds: tuple[str, ...]
    notify: tuple[str, ...] | None
    examples_match: tuple[str, ...]
    examples_no_match: tuple[str, ...]
    enabled: bool
    marks: Marks = field(repr=False, compare=False)
    digest: float | None = None
    case_sensitive: bool = False
    fold_accents: bool = False
    min_sources: int = 1
    within: float | None = None

    def applies_to(self, feed_name: str, feed_tags: Iterable[str]) -> bool:
        if not self.feeds:
            return True
        tags = set(feed_tags)
        for scope in self.feeds:
            if scope.startswith("tag:"):
                if scope[4:] in tags:
                    return True
            elif scope == feed_name:
                return True
        return False

    def notifiers(self, config: Config) -> tuple[str, ...]:
        return self.notify if self.notify is not None else tuple(config.defaults.notify)

    def digests(self, config: Config) -> tuple[float, ...]:
        """Per routed notifier, the digest window: the rule's own, else the notifier's."""
        return tuple(
            self.digest if self.digest is not None else _digest_of(config, name)
            for name in self.notifiers(config)
        )


def _digest_of(config: Config, name: str) -> float:
    notifier = config.notifiers.get(name)
    return float(getattr(notifier, "digest", 0.0)) if notifier is not None else 0.0


def load_rule(path: Path, automaton: Automaton, display: str | None = None) -> Rule:
    """Load one rule file into ``automaton``; raise ``ConfigError`` with every problem."""
    return _load_rule(str(path), path.stem, automaton, display)


def _load_rule(path: str, stem: str, automaton: Automaton, display: str | None) -> Rule:
    data, marks = load_yaml(path, display=display)
    if not isinstance(data, dict):
        raise ConfigError([marks.problem((), "a rule file must be a mapping (id, match, ...)")])
    parsed, problems = validate(_RuleFile, data, marks)
    compiler = Compiler(
        automaton,
        marks,
        case_sensitive=data.get("case_sensitive") is True,
        fold_accents=data.get("fold_accents") is True,
    )
    root = compile_match(data.get("match"), compiler) if "match" in data else None
    problems += compiler.problems
    if problems or parsed is None or root is None:
        raise ConfigError(problems)
    rule_id = parsed.id or stem
    if not re.fullmatch(SLUG, rule_id):
        raise ConfigError(
            [
                marks.problem(
                    ("id",), f"rule id {rule_id!r} must be lower-case letters, digits, . _ -"
                )
            ]
        )
    return Rule(
        id=rule_id,
        title=parsed.title or rule_id,
        file=marks.file,
        root=root,
        fields=tuple(parsed.fields),
        feeds=tuple(parsed.feeds),
        notify=tuple(parsed.notify) if parsed.notify is not None else None,
        examples_match=tuple(parsed.examples.match),
        examples_no_match=tuple(parsed.examples.no_match),
        enabled=parsed.enabled,
        marks=marks,
        digest=parsed.digest,
        case_sensitive=parsed.case_sensitive,
        fold_accents=parsed.fold_accents,
        min_sources=parsed.min_sources,
        within=parsed.within,
    )


def rule_files(rules_dir: Path) -> list[Path]:
    """``*.yaml`` and ``*.yml`` (not hidden), sorted by name."""
    return [rules_dir / name for name in _rule_names(rules_dir)]


def _rule_names(rules_dir: Path) -> list[str]:
    # One scandir sorted by name, not two globs sorted as paths: the same files (all in
    # one folder, so by name is by path) at a tenth of the cost.
    try:
        with os.scandir(rules_dir) as entries:
            return sorted(
                e.name
                for e in entries
                if e.name.endswith((".yaml", ".yml")) and not e.name.startswith(".")
            )
    except OSError:
        return []


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Loading 10,000 rules allocates millions of objects that all stay alive, and each
    allocation burst makes the cyclic collector rescan the growing heap: ~0.7 s of a 3 s
    load went to collections that found nothing. Nothing is freed later than it would be:
    reference counting still frees at once, and the next collection finds the rest."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_rules(rules_dir: Path) -> tuple[RuleSet, list[Problem]]:
    """Load every rule file; problems from broken files are returned, the rest still load."""
    with _no_cyclic_gc():
        return _load_rules(rules_dir)


def _load_rules(rules_dir: Path) -> tuple[RuleSet, list[Problem]]:
    automaton = Automaton()
    rules: list[Rule] = []
    problems: list[Problem] = []
    if not rules_dir.is_dir():
        shown = os.path.relpath(rules_dir)
        return RuleSet([], automaton), [Problem(shown, None, None, "", "rules folder not found")]
    seen: dict[str, str] = {}
    # Paths as str, the shown name from one relpath: at 10,000 files a Path object or a
    # relpath per file is a visible part of the load time.
    folder = str(rules_dir)
    shown_dir = os.path.relpath(rules_dir)
    for name in _rule_names(rules_dir):
        display = name if shown_dir == "." else os.path.join(shown_dir, name)
        try:
            rule = _load_rule(
                os.path.join(folder, name), os.path.splitext(name)[0], automaton, display
            )
        except ConfigError as exc:
            problems += exc.problems
            continue
        if rule.id in seen:
            problems.append(
                rule.marks.problem(
                    ("id",), f"duplicate rule id {rule.id!r} (also in {seen[rule.id]})"
                )
            )
            continue
        seen[rule.id] = rule.file
        rules.append(rule)
    return RuleSet(rules, automaton), problems


def check_rules(ruleset: RuleSet, config: Config) -> list[Problem]:
    """Cross-checks against the config, then every rule's examples."""
    problems: list[Problem] = []
    feed_names = {f.name for f in config.feeds}
    tags = config.tags
    for rule in ruleset.rules:
        for i, scope in enumerate(rule.feeds):
            if scope.startswith("tag:"):
                if scope[4:] not in tags:
                    problems.append(
                        rule.marks.problem(("feeds", i), f"no feed has the tag {scope[4:]!r}")
                    )
            elif scope not in feed_names:
                problems.append(rule.marks.problem(("feeds", i), f"unknown feed {scope!r}"))
        names = rule.notifiers(config)
        if rule.notify is not None:
            for i, name in enumerate(rule.notify):
                if name not in config.notifiers:
                    problems.append(rule.marks.problem(("notify", i), f"unknown notifier {name!r}"))
        elif not names:
            problems.append(
                rule.marks.problem(
                    ("id",), "no notifiers: set notify: in the rule or defaults.notify in config"
                )
            )
        problems += check_examples(ruleset, rule)
    return problems


def check_examples(ruleset: RuleSet, rule: Rule) -> list[Problem]:
    problems = []
    for i, text in enumerate(rule.examples_match):
        if not ruleset.match_text(rule, text)[0]:
            problems.append(
                rule.marks.problem(("examples", "match", i), f"does not match: {text!r}")
            )
    for i, text in enumerate(rule.examples_no_match):
        if ruleset.match_text(rule, text)[0]:
            problems.append(
                rule.marks.problem(("examples", "no_match", i), f"matches but should not: {text!r}")
            )
    return problems
