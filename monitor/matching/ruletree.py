"""A compiled rule: a tree of groups over term keys, evaluated against found keys (pure).

A group's clauses AND together: ``any`` (at least one element), ``all`` (every element),
``none`` (veto). Terms are indexes into the shared automaton (monitor/matching/automaton.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    written: str
    key: int


@dataclass(frozen=True)
class Group:
    any: tuple[Term | Group, ...] = ()
    all: tuple[Term | Group, ...] = ()
    none: tuple[Term | Group, ...] = ()

    def terms(self) -> Iterable[Term]:
        for node in (*self.any, *self.all, *self.none):
            if isinstance(node, Term):
                yield node
            else:
                yield from node.terms()

    def positive_keys(self) -> set[int]:
        out: set[int] = set()
        for node in (*self.any, *self.all):
            if isinstance(node, Term):
                out.add(node.key)
            else:
                out |= node.positive_keys()
        return out


def evaluate(node: Term | Group, hits: set[int], matched: list[str]) -> bool:
    """Is ``node`` satisfied by ``hits``? Appends the positive terms that hit."""
    if isinstance(node, Term):
        if node.key in hits:
            matched.append(node.written)
            return True
        return False
    # Evaluate every element (no short-circuit) so that `matched` names all the terms
    # that hit, not just the first one.
    scratch: list[str] = []
    if node.any and not any([evaluate(n, hits, scratch) for n in node.any]):
        return False
    if node.all and not all([evaluate(n, hits, scratch) for n in node.all]):
        return False
    if any(evaluate(n, hits, []) for n in node.none):
        return False
    matched.extend(scratch)
    return True


def explain(node: Term | Group, hits: set[int], indent: str = "  ") -> list[str]:
    """Human-readable trace of how ``node`` evaluated, one line per term and clause."""
    lines: list[str] = []
    for clause in ("any", "all", "none"):
        elements: tuple[Term | Group, ...] = getattr(node, clause)
        if not elements:
            continue
        results = [evaluate(n, hits, []) for n in elements]
        if clause == "any":
            ok = any(results)
        elif clause == "all":
            ok = all(results)
        else:
            ok = not any(results)
        verdict = "satisfied" if ok else ("VETOED" if clause == "none" else "not satisfied")
        lines.append(f"{indent}{clause}: {verdict}")
        for element, hit in zip(elements, results, strict=True):
            if isinstance(element, Term):
                mark = "hit " if hit else "miss"
                lines.append(f"{indent}  [{mark}] {element.written!r}")
            else:
                lines.append(f"{indent}  group: {'true' if hit else 'false'}")
                lines.extend(explain(element, hits, indent + "    "))
    return lines
