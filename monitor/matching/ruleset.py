"""The rule set: every loaded rule compiled into one automaton, and matching an item.

``RuleSet.match`` is the hot path (one call per item per poll): the item is scanned once
(``scan.py``), the rules its keys wake are decided by their plans (``plan.py``: plain
terms by set operations, the rest through ``ruletree``), and each match's evidence is
worked out when first asked for. Loading and validating rule files is ``rules.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from monitor.matching.automaton import Automaton
from monitor.matching.evidence import collect
from monitor.matching.plan import Pending, Plan, decide, plan, required, resolve_fields
from monitor.matching.ruletree import Fired, Near, evaluate, leaf_field, triggers
from monitor.matching.scan import ItemScan
from monitor.models import Evidence

if TYPE_CHECKING:
    from monitor.matching.rules import Rule

__all__ = ["MatchResult", "RuleSet"]


class MatchResult:
    """A rule that matched an item: the terms that hit, and the evidence. Evidence is
    worked out on first use (the rule is walked again, element by element): deciding
    10,000 rules should not cut snippets for alerts that are never kept."""

    __slots__ = ("_evidence", "_plan", "_scan", "matched", "rule")

    def __init__(
        self,
        rule: Rule,
        matched: tuple[str, ...],
        evidence: tuple[Evidence, ...] | None = None,
        *,
        plan: Plan | None = None,
        scan: ItemScan | None = None,
    ) -> None:
        self.rule = rule
        self.matched = matched
        self._evidence = evidence
        self._plan = plan
        self._scan = scan

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        if self._evidence is None:
            found: tuple[Evidence, ...] = ()
            scan, p, fields = self._scan, self._plan, self.rule.fields
            if scan is not None and p is not None:
                fired: Pending = []
                decide(p, scan, scan.found_for(fields), fields, fired)
                found = collect(resolve_fields(fired, scan, fields), scan)
            self._evidence, self._plan, self._scan = found, None, None
        return self._evidence

    def __repr__(self) -> str:
        return f"MatchResult(rule={self.rule.id!r}, matched={self.matched!r})"


def _matched(fired: Pending | Fired) -> tuple[str, ...]:
    """The positive terms that hit, as written (a near element names each of its terms)."""
    names: list[str] = []
    for leaf, _ in fired:
        if type(leaf) is Near:
            names.extend(t.written for t in leaf.terms)
        else:
            names.append(leaf.written)
    return tuple(dict.fromkeys(names))


class RuleSet:
    """Every loaded rule, compiled into one automaton."""

    def __init__(self, rules: list[Rule], automaton: Automaton) -> None:
        self.rules = rules
        self.automaton = automaton
        # Enabled rules in id order (the order results come in), each with its plan; the
        # automaton keys that wake each one (by position in that order).
        # (rule, plan, keys it cannot hold without, whether it reads every scanned field)
        self._order: list[tuple[Rule, Plan, frozenset[int], bool]] = []
        self._by_key: dict[int, tuple[int, ...]] = {}
        # Rules woken by one key that also need a second one (near [a, b], all [x, y]):
        # first key -> ((second key, positions), ...), so that a common first word alone
        # wakes none of them (most first keys have one second key: a tuple beats a set).
        self._by_pair: dict[int, tuple[tuple[int, tuple[int, ...]], ...]] = {}
        self._always: tuple[int, ...] = ()  # rules no key can rule out (a lone regex)
        self._fields: set[str] = set()  # fields some rule reads: the others are not scanned
        lengths = {k.index: len(k.text) for k in automaton.keys}
        by_key: dict[int, list[int]] = {}
        by_pair: dict[int, dict[int, list[int]]] = {}
        always: list[int] = []
        enabled = sorted((r for r in rules if r.enabled), key=lambda r: r.id)
        for rule in enabled:
            self._fields.update(rule.fields)
        for rule in enabled:
            position = len(self._order)
            reads_all = set(rule.fields) >= self._fields
            needs = required(rule.root)
            self._order.append((rule, plan(rule.root), needs, reads_all))
            keys = triggers(rule.root, lengths)
            if keys is None:
                always.append(position)
            elif len(keys) == 1 and len(needs) > 1 and keys <= needs:
                (first,) = keys
                # the longest other literal: the rarest second key, by the same guess
                second = max(needs - keys, key=lambda k: (lengths[k], -k))
                by_pair.setdefault(first, {}).setdefault(second, []).append(position)
            else:
                for key in keys:
                    by_key.setdefault(key, []).append(position)
        self._by_key = {key: tuple(positions) for key, positions in by_key.items()}
        self._triggers = frozenset(self._by_key)
        self._by_pair = {
            first: tuple((second, tuple(p)) for second, p in seconds.items())
            for first, seconds in by_pair.items()
        }
        self._pair_triggers = frozenset(self._by_pair)
        self._always = tuple(always)
        # Built here so that loading pays for it, not the first item (~0.7 s at 10,000 rules).
        automaton.build()

    def scan(self, fields: Mapping[str, str]) -> ItemScan:
        return ItemScan(self.automaton, fields)

    def match(
        self,
        fields: Mapping[str, str],
        feed_name: str | None = None,
        feed_tags: Iterable[str] = (),
    ) -> list[MatchResult]:
        read = self._fields
        scan = ItemScan(self.automaton, {k: v for k, v in fields.items() if k in read})
        woken = set(self._always)
        by_key = self._by_key
        everything = scan.found
        for key in everything & self._triggers:
            woken.update(by_key[key])
        by_pair = self._by_pair
        for key in everything & self._pair_triggers:
            for second, positions in by_pair[key]:
                if second in everything:
                    woken.update(positions)
        if not woken:
            return []
        results = []
        tags = list(feed_tags)
        order = self._order
        for position in sorted(woken):
            rule, p, needs, reads_all = order[position]
            if rule.feeds and feed_name is not None and not rule.applies_to(feed_name, tags):
                continue
            found = everything if reads_all else scan.found_for(rule.fields)
            if needs and not found.issuperset(needs):
                continue
            if p.flat:
                # Inline: most rules are a few plain terms and vetoes (see plan.py).
                if p.none_keys and not p.none_keys.isdisjoint(found):
                    continue
                if p.any_keys is None:
                    matched = p.all_written
                elif p.any_keys.isdisjoint(found):
                    continue
                else:
                    hits = tuple([t.written for t in p.any_terms if t.key in found])
                    matched = hits + p.all_written if p.all_written else hits
                    if len(matched) > 1:
                        matched = tuple(dict.fromkeys(matched))
            elif p.lone_near is not None:  # decide()'s answer, without its calls
                if leaf_field(p.lone_near, scan, rule.fields) is None:
                    continue
                matched = p.lone_near.names
            else:
                fired: Pending = []
                if not decide(p, scan, found, rule.fields, fired):
                    continue
                matched = _matched(fired)
            results.append(MatchResult(rule, matched, plan=p, scan=scan))
        return results

    def text_scan(self, rule: Rule, text: str, field: str = "any") -> ItemScan:
        """Free text as an item: ``field="any"`` puts it in every field the rule reads; a
        field name puts it in that field only."""
        names = rule.fields if field == "any" else (field,)
        return ItemScan(self.automaton, dict.fromkeys(names, text))

    def match_text(
        self, rule: Rule, text: str, field: str = "any"
    ) -> tuple[bool, list[str], ItemScan]:
        """Does free text match ``rule``? ``field="any"`` counts the text as every field the
        rule reads; a field name counts it as that field only (the rule's ``fields``
        decide whether it is read at all)."""
        scan = self.text_scan(rule, text, field)
        fired: Fired = []
        ok = evaluate(rule.root, scan, rule.fields, fired)
        return ok, list(_matched(fired)) if ok else [], scan
