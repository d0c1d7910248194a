"""Rule trees prepared for the hot path: plain terms decided by set operations (pure).

``ruletree.evaluate`` walks a rule element by element and asks each one in which field it
occurs. Most elements are *plain* terms (no verifier: no wildcard inside a phrase, no
symbol, not case-sensitive), and whether a plain term holds is only whether its automaton
key is among the keys found in the fields the rule reads. So a ``Plan`` keeps, per group,
the keys of its plain terms: a veto of plain terms is one ``isdisjoint``, an ``any`` of
plain terms one more, an ``all`` a few ``in`` tests, all in C. Near, regex, verified
terms and nested groups go through ``ruletree`` as before.

The outcome is exactly ``evaluate``'s: the same verdict and the same fired elements in the
same order (tests/test_match_property.py compares them on random rules and texts). A fired
plain term's field is left as ``None``: only evidence needs it, and evidence is worked out
for the alerts that are kept (``resolve_fields``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.matching.ruletree import (
    Fired,
    Group,
    Leaf,
    Near,
    Node,
    Regex,
    Term,
    evaluate,
    leaf_field,
)
from monitor.matching.scan import ItemScan


def is_plain(node: Node) -> bool:
    """A term decided by its key alone (found in a field = holds in that field)."""
    return type(node) is Term and node.spec.plain_re is None and node.spec.raw_re is None


@dataclass(frozen=True, eq=False)
class Plan:
    group: Group
    any: tuple[Node | Plan, ...]
    all: tuple[Node | Plan, ...]
    none: tuple[Node | Plan, ...]  # the elements that are not plain terms
    any_keys: frozenset[int] | None  # every ``any`` element is plain: their keys
    any_terms: tuple[Term, ...]  # ... and those terms
    all_keys: tuple[int, ...]  # keys of the plain ``all`` terms (each must be found)
    all_terms: tuple[Term, ...] | None  # every ``all`` element is plain: those terms
    none_keys: frozenset[int]  # keys of the plain vetoes
    # Only plain terms, no nested group: decided and named without a call (RuleSet.match).
    flat: bool
    all_written: tuple[str, ...]  # the ``all`` terms as written (each names itself)
    # The group is one ``near`` and nothing else (``match: {near: ...}``): RuleSet.match
    # asks it directly, field by field.
    lone_near: Near | None


def required(node: Node) -> frozenset[int]:
    """Keys that must all be found (in the rule's fields) for ``node`` to hold: one
    ``issuperset`` turns away most rules a single common word woke up."""
    if isinstance(node, Term):
        return frozenset([node.key])
    if isinstance(node, Near):
        return node.keys
    if isinstance(node, Group):
        out: frozenset[int] = frozenset()
        for n in node.all:
            out |= required(n)
        if len(node.any) == 1:
            out |= required(node.any[0])
        return out
    return frozenset()  # a regex needs no key


# Fired elements with their field, ``None`` where not worked out yet (see resolve_fields).
Pending = list[tuple[Leaf, str | None]]


def plan(group: Group) -> Plan:
    def sub(nodes: tuple[Node, ...]) -> tuple[Node | Plan, ...]:
        return tuple(plan(n) if isinstance(n, Group) else n for n in nodes)

    def plain(nodes: tuple[Node, ...]) -> tuple[Term, ...]:
        return tuple(n for n in nodes if isinstance(n, Term) and is_plain(n))

    any_terms = plain(group.any)
    any_plain = bool(group.any) and len(any_terms) == len(group.any)
    all_terms = plain(group.all)
    none_plain = plain(group.none)
    return Plan(
        group=group,
        any=sub(group.any),
        all=sub(group.all),
        none=sub(tuple(n for n in group.none if not is_plain(n))),
        any_keys=frozenset(t.key for t in any_terms) if any_plain else None,
        any_terms=any_terms if any_plain else (),
        all_keys=tuple(t.key for t in all_terms),
        all_terms=all_terms if len(all_terms) == len(group.all) else None,
        none_keys=frozenset(t.key for t in none_plain),
        flat=(any_plain or not group.any)
        and len(all_terms) == len(group.all)
        and len(none_plain) == len(group.none),
        all_written=tuple(t.written for t in all_terms),
        lone_near=group.any[0]
        if len(group.any) == 1 and type(group.any[0]) is Near and not group.all and not group.none
        else None,
    )


def decide(p: Plan, scan: ItemScan, found: set[int], fields: Sequence[str], fired: Pending) -> bool:
    """``evaluate(p.group, ...)``, with ``found`` the keys found in ``fields``."""
    if p.none_keys and not p.none_keys.isdisjoint(found):
        return False
    for key in p.all_keys:
        if key not in found:
            return False
    scratch: Pending = []
    if p.any_keys is not None:
        if p.any_keys.isdisjoint(found):
            return False
        scratch.extend((t, None) for t in p.any_terms if t.key in found)
    # otherwise every element, no short-circuit: the evidence names all that hit
    elif p.any and not any([_element(n, scan, found, fields, scratch) for n in p.any]):
        return False
    if p.all_terms is not None:
        scratch.extend((t, None) for t in p.all_terms)
    else:
        for n in p.all:
            if not _element(n, scan, found, fields, scratch):
                return False
    for n in p.none:
        if _element(n, scan, found, fields, []):
            return False
    fired.extend(scratch)
    return True


def _element(
    node: Node | Plan, scan: ItemScan, found: set[int], fields: Sequence[str], fired: Pending
) -> bool:
    if isinstance(node, Plan):
        return decide(node, scan, found, fields, fired)
    if isinstance(node, Term):
        if node.key not in found:
            return False
        if is_plain(node):
            fired.append((node, None))
            return True
    elif isinstance(node, Near):
        if not found.issuperset(node.keys):
            return False  # most near elements woken by one term lack another
        name = leaf_field(node, scan, fields)  # evaluate()'s answer, without its walk
        if name is None:
            return False
        fired.append((node, name))
        return True
    elif isinstance(node, Regex):
        # one RE2 set pass per field serves every regex of every rule (scan.regex_hits)
        for name in fields:
            if name in scan.texts and node.index in scan.regex_hits(name, node.accents):
                fired.append((node, name))
                return True
        return False
    got: Fired = []
    if evaluate(node, scan, fields, got):
        fired.extend(got)
        return True
    return False


def resolve_fields(fired: Pending, scan: ItemScan, fields: Sequence[str]) -> Fired:
    """The field each fired element hit in (the first of the rule's fields, as
    ``evaluate`` names it), for those ``decide`` left as ``None``."""
    out: Fired = []
    for leaf, known in fired:
        name = known if known is not None else leaf_field(leaf, scan, fields)
        if name is not None:
            out.append((leaf, name))
    return out


__all__ = ["Pending", "Plan", "decide", "is_plain", "plan", "required", "resolve_fields"]
