"""Rule files: load, validate (file:line), compile into one matcher, explain a match.

A rule file holds one rule (README). ``match`` is a group — a mapping with any of
``any:`` (at least one element), ``all:`` (every element) and ``none:`` (veto), ANDed —
or a bare string or list (= ``any``). Elements are terms (strings) or nested groups.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from monitor.config import SLUG, Config
from monitor.config.validation import Digest, Duration, Strict, unknown_key, validate
from monitor.config.yamlfile import KeyPath, Marks, load_yaml
from monitor.errors import ConfigError, Problem
from monitor.matching.automaton import Automaton, normalize, union
from monitor.matching.ruletree import Group, Term, evaluate

MAX_DEPTH = 8


class _Examples(Strict):
    match: list[str] = []
    no_match: list[str] = []


class _RuleFile(Strict):
    id: str | None = Field(default=None, pattern=SLUG)
    title: str | None = None
    enabled: bool = True
    match: Any
    fields: list[Literal["title", "summary", "content"]] = Field(
        default=["title", "summary", "content"], min_length=1
    )
    feeds: list[str] = []
    notify: list[str] | None = None
    digest: Digest | None = None
    examples: _Examples = _Examples()
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


class _Compiler:
    def __init__(self, automaton: Automaton, marks: Marks) -> None:
        self.automaton = automaton
        self.marks = marks
        self.problems: list[Problem] = []

    def element(self, data: Any, path: KeyPath, depth: int) -> Term | Group | None:
        if isinstance(data, str):
            normalized = normalize(data)
            if not normalized:
                self.problems.append(
                    self.marks.problem(path, f"term {data!r} has no letters or digits")
                )
                return None
            return Term(data, self.automaton.add(normalized).index)
        if isinstance(data, dict):
            return self.group(data, path, depth + 1)
        if isinstance(data, bool) or data is None or isinstance(data, int | float):
            hint = (
                " (YAML reads yes/no/on/off as booleans: quote the term)"
                if isinstance(data, bool)
                else " (quote it)"
            )
            self.problems.append(
                self.marks.problem(path, f"expected a term (string) or a group{hint}")
            )
            return None
        self.problems.append(self.marks.problem(path, "expected a term (string) or a group"))
        return None

    def group(self, data: dict[str, Any], path: KeyPath, depth: int) -> Group | None:
        if depth > MAX_DEPTH:
            self.problems.append(self.marks.problem(path, f"groups nest deeper than {MAX_DEPTH}"))
            return None
        for special in ("regex", "near"):
            if special in data:
                self.problems.append(
                    self.marks.problem(
                        (*path, special), f"{{{special}: …}} elements are not supported yet"
                    )
                )
                return None
        clauses: dict[str, tuple[Term | Group, ...]] = {}
        typo = False
        for key, value in data.items():
            if key not in ("any", "all", "none"):
                typo = True  # reported here; "needs any: or all:" would only confuse
                self.problems.append(
                    self.marks.problem(
                        (*path, key),
                        unknown_key(key, ["any", "all", "none"]) + " (a group has any, all, none)",
                    )
                )
                continue
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items:
                self.problems.append(
                    self.marks.problem((*path, key), "expected a non-empty list of terms or groups")
                )
                continue
            compiled = [self.element(v, (*path, key, i), depth) for i, v in enumerate(items)]
            clauses[key] = tuple(c for c in compiled if c is not None)
        if not data:
            self.problems.append(self.marks.problem(path, "an empty group matches nothing"))
        elif depth >= 1 and "any" not in data and "all" not in data and not typo:
            self.problems.append(
                self.marks.problem(
                    path,
                    "a group needs any: or all: (none: alone matches everything not vetoed;"
                    " put none: beside the any:/all: it restricts)",
                )
            )
        return Group(**clauses)


def _compile_match(data: Any, compiler: _Compiler) -> Group | None:
    path: KeyPath = ("match",)
    if isinstance(data, str | list):
        group = compiler.group({"any": data}, path, 0)
    elif isinstance(data, dict):
        group = compiler.group(data, path, 0)
    else:
        compiler.problems.append(
            compiler.marks.problem(path, "expected a term, a list of terms or a group")
        )
        return None
    if group is not None and not group.any and not group.all and not compiler.problems:
        compiler.problems.append(
            compiler.marks.problem(path, "needs any: or all: (none: alone would match everything)")
        )
    return group


def load_rule(path: Path, automaton: Automaton, display: str | None = None) -> Rule:
    """Load one rule file into ``automaton``; raise ``ConfigError`` with every problem."""
    data, marks = load_yaml(path, display=display)
    if not isinstance(data, dict):
        raise ConfigError([marks.problem((), "a rule file must be a mapping (id, match, ...)")])
    parsed, problems = validate(_RuleFile, data, marks)
    compiler = _Compiler(automaton, marks)
    root = _compile_match(data.get("match"), compiler) if "match" in data else None
    problems += compiler.problems
    if problems or parsed is None or root is None:
        raise ConfigError(problems)
    rule_id = parsed.id or path.stem
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
        min_sources=parsed.min_sources,
        within=parsed.within,
    )


def rule_files(rules_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in (*rules_dir.glob("*.yaml"), *rules_dir.glob("*.yml"))
        if not p.name.startswith(".")
    )


@dataclass(frozen=True)
class MatchResult:
    rule: Rule
    matched: tuple[str, ...]


class RuleSet:
    """Every loaded rule, compiled into one automaton."""

    def __init__(self, rules: list[Rule], automaton: Automaton) -> None:
        self.rules = rules
        self.automaton = automaton
        self._by_key: dict[int, list[Rule]] = {}
        for rule in rules:
            if rule.enabled:
                for key in rule.root.positive_keys():
                    self._by_key.setdefault(key, []).append(rule)

    def match(
        self, fields: Mapping[str, str], feed_name: str | None = None, feed_tags: Iterable[str] = ()
    ) -> list[MatchResult]:
        hits = self.automaton.scan(fields)
        found = set().union(*hits.values()) if hits else set()
        candidates: dict[str, Rule] = {}
        for key in found:
            for rule in self._by_key.get(key, ()):
                candidates[rule.id] = rule
        results = []
        tags = list(feed_tags)
        for rule in sorted(candidates.values(), key=lambda r: r.id):
            if feed_name is not None and not rule.applies_to(feed_name, tags):
                continue
            matched: list[str] = []
            if evaluate(rule.root, union(hits, rule.fields), matched):
                results.append(MatchResult(rule, tuple(dict.fromkeys(matched))))
        return results

    def match_text(
        self, rule: Rule, text: str, field: str = "any"
    ) -> tuple[bool, list[str], set[int]]:
        """Does free text match ``rule``? ``field="any"`` counts the text as every field the
        rule reads; a field name counts it as that field only (the rule's ``fields``
        decide whether it is read at all)."""
        if field != "any" and field not in rule.fields:
            return False, [], set()
        hits = self.automaton.find(normalize(text))
        matched: list[str] = []
        return evaluate(rule.root, hits, matched), matched, hits


def load_rules(rules_dir: Path) -> tuple[RuleSet, list[Problem]]:
    """Load every rule file; problems from broken files are returned, the rest still load."""
    automaton = Automaton()
    rules: list[Rule] = []
    problems: list[Problem] = []
    if not rules_dir.is_dir():
        shown = os.path.relpath(rules_dir)
        return RuleSet([], automaton), [Problem(shown, None, None, "", "rules folder not found")]
    seen: dict[str, str] = {}
    for path in rule_files(rules_dir):
        display = os.path.relpath(path)
        try:
            rule = load_rule(path, automaton, display)
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
