"""A compiled rule: a tree of groups over terms, ``near`` and ``regex`` elements (pure).

A group's clauses AND together: ``any`` (at least one element), ``all`` (every element),
``none`` (veto). Terms are keys of the shared automaton (``automaton.py``) with optional
verifiers (``terms.py``); a ``near`` element needs all its terms' keys and then a window
check; a ``regex`` runs (RE2, linear time) on the NFKC text of each field the rule reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from monitor.matching.normal import normalize
from monitor.matching.scan import ItemScan
from monitor.matching.terms import TermSpec

Window = tuple[int, int, int]  # (width in words, first word, last word)


@dataclass(frozen=True, eq=False)
class Term:
    written: str
    key: int
    spec: TermSpec
    path: str = "match"
    accents: bool = False

    def found_in(self, scan: ItemScan, name: str) -> bool:
        keys = scan.keys_in.get(name)
        if not keys or self.key not in keys:
            return False
        spec = self.spec
        if spec.plain_re is None and spec.raw_re is None:
            return True
        cache_key = (id(self), name)
        hit = scan.cache.get(cache_key)
        if hit is None:
            hit = True
            if spec.plain_re is not None:
                hit = spec.plain_re.search(scan.plain_of(name, self.accents)) is not None
            if hit and spec.raw_re is not None:
                hit = spec.raw_re.search(scan.raw(name, self.accents)) is not None
            scan.cache[cache_key] = hit
        return bool(hit)

    def positions(self, scan: ItemScan, name: str) -> list[tuple[int, int]]:
        """Word intervals (first, last) of every occurrence in the plain text of a field,
        in order."""
        spec = self.spec
        if spec.plain_re is None and spec.raw_re is None:
            return scan.word_positions(name, self.key, self.accents)
        if not self.found_in(scan, name):
            return []
        plain = scan.plain_of(name, self.accents)
        if spec.raw_re is not None:
            raw = scan.raw(name, self.accents)
            out = []
            for m in spec.raw_re.finditer(raw):
                before = normalize(raw[: m.start()], self.accents)
                first = len(before.split())
                if before and m.start() and raw[m.start() - 1].isalnum():
                    first -= 1  # the hit starts inside a word (CJK substring)
                out.append((first, first + max(1, len(normalize(m.group()).split())) - 1))
            return sorted(out)
        assert spec.plain_re is not None  # (a plain term returned first)
        spans = [m.span() for m in spec.plain_re.finditer(plain)]
        return [(plain.count(" ", 0, s), plain.count(" ", 0, e)) for s, e in spans]


@dataclass(frozen=True, eq=False)
class Near:
    terms: tuple[Term, ...]
    within: int
    ordered: bool
    path: str = "match"

    @cached_property
    def keys(self) -> frozenset[int]:
        """The automaton keys of every term: the element cannot hold without them all."""
        return frozenset(t.key for t in self.terms)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """The terms as written, once each (what an alert says matched)."""
        return tuple(dict.fromkeys(t.written for t in self.terms))

    @property
    def written(self) -> str:
        joined = ", ".join(t.written for t in self.terms)
        order = ", ordered" if self.ordered else ""
        return f"near [{joined}] within {self.within}{order}"

    def window(self, scan: ItemScan, name: str) -> Window | None:
        """The narrowest window holding every term in this field (None if one is absent)."""
        cache_key = (id(self), name)
        if cache_key in scan.cache:
            cached: Window | None = scan.cache[cache_key]
            return cached
        occurrences = []
        for term in self.terms:
            found = term.positions(scan, name)
            if not found:
                scan.cache[cache_key] = None
                return None
            occurrences.append(found)
        best = _ordered(occurrences) if self.ordered else _unordered(occurrences)
        scan.cache[cache_key] = best
        return best

    def found_in(self, scan: ItemScan, name: str) -> bool:
        keys = scan.keys_in.get(name)
        if not keys or not self.keys <= keys:
            return False
        window = self.window(scan, name)
        return window is not None and window[0] <= self.within


def _unordered(occ: Sequence[list[tuple[int, int]]]) -> Window | None:
    if len(occ) == 2 and len(occ[0]) == len(occ[1]) == 1:  # usual: two terms, once each
        (s1, e1), (s2, e2) = occ[0][0], occ[1][0]
        start, last = min(s1, s2), max(e1, e2)
        return (last - start + 1, start, last)
    best: Window | None = None
    for start in sorted({s for spans in occ for s, _ in spans}):
        last = start
        for spans in occ:
            ends = [e for s, e in spans if s >= start]
            if not ends:
                last = -1
                break
            last = max(last, min(ends))
        if last >= 0 and (best is None or last - start + 1 < best[0]):
            best = (last - start + 1, start, last)
    return best


def _ordered(occ: Sequence[list[tuple[int, int]]]) -> Window | None:
    best: Window | None = None
    for start, end in occ[0]:
        last = end
        for spans in occ[1:]:
            after = [e for s, e in spans if s > last]
            if not after:
                last = -1
                break
            last = min(after)
        if last >= 0 and (best is None or last - start + 1 < best[0]):
            best = (last - start + 1, start, last)
    return best


@dataclass(frozen=True, eq=False)
class Regex:
    pattern: str
    compiled: Any  # re2._Regexp (google-re2 ships no type hints)
    path: str = "match"
    accents: bool = False

    @property
    def written(self) -> str:
        return self.pattern

    index: int = -1  # in the automaton's RE2 set

    def found_in(self, scan: ItemScan, name: str) -> bool:
        if name not in scan.texts:
            return False
        return self.index in scan.regex_hits(name, self.accents)


Leaf = Term | Near | Regex


@dataclass(frozen=True, eq=False)
class Group:
    any: tuple[Node, ...] = ()
    all: tuple[Node, ...] = ()
    none: tuple[Node, ...] = ()
    path: str = "match"

    def leaves(self) -> Iterable[Leaf]:
        for node in (*self.any, *self.all, *self.none):
            if isinstance(node, Group):
                yield from node.leaves()
            else:
                yield node


Node = Term | Near | Regex | Group


def triggers(node: Node, lengths: dict[int, int] | None = None) -> frozenset[int] | None:
    """Automaton keys of which at least one must be found for ``node`` to hold; None when
    no key is required (a regex can hold alone), so the rule is checked on every item.
    ``lengths`` (key -> literal length) picks, among ``all`` elements, the one whose
    literals are longest: longer literals are rarer, so fewer items wake the rule."""
    if isinstance(node, Term):
        return frozenset([node.key])
    if isinstance(node, Near):
        longest = max(node.terms, key=lambda t: len(t.spec.key.text))
        return frozenset([longest.key])
    if isinstance(node, Regex):
        return None
    required = [t for t in (triggers(n, lengths) for n in node.all) if t is not None]
    if required:
        size = lengths or {}
        return min(required, key=lambda t: (len(t), -min(size.get(k, 0) for k in t)))
    if node.any:
        out: set[int] = set()
        for n in node.any:
            t = triggers(n, lengths)
            if t is None:
                return None
            out |= t
        return frozenset(out)
    return None


Fired = list[tuple[Leaf, str]]  # positive leaves that hit, with the field they hit in


def leaf_field(leaf: Leaf, scan: ItemScan, fields: Sequence[str]) -> str | None:
    for name in fields:
        if leaf.found_in(scan, name):
            return name
    return None


def evaluate(node: Node, scan: ItemScan, fields: Sequence[str], fired: Fired) -> bool:
    """Is ``node`` satisfied? Appends the positive leaves that hit to ``fired``."""
    if not isinstance(node, Group):
        # A term whose key is in no field cannot hold: one set lookup instead of a
        # found_in call per field (most terms of a candidate rule are absent).
        if type(node) is Term and node.key not in scan.found:
            return False
        name = leaf_field(node, scan, fields)
        if name is None:
            return False
        fired.append((node, name))
        return True
    # Evaluate every element (no short-circuit) so that the evidence names all the terms
    # that hit, not just the first one.
    scratch: Fired = []
    if node.any and not any([evaluate(n, scan, fields, scratch) for n in node.any]):
        return False
    if node.all and not all([evaluate(n, scan, fields, scratch) for n in node.all]):
        return False
    if any(evaluate(n, scan, fields, []) for n in node.none):
        return False
    fired.extend(scratch)
    return True


def _leaf_line(leaf: Leaf, scan: ItemScan, fields: Sequence[str], hit: bool) -> str:
    mark = "hit " if hit else "miss"
    if isinstance(leaf, Term):
        where = leaf_field(leaf, scan, fields)
        return f"[{mark}] {leaf.written!r}" + (f" (in {where})" if where else "")
    if isinstance(leaf, Regex):
        where = leaf_field(leaf, scan, fields)
        return f"[{mark}] regex {leaf.pattern!r}" + (f" (in {where})" if where else "")
    best: tuple[Window, str] | None = None
    missing = [t.written for t in leaf.terms if leaf_field(t, scan, fields) is None]
    for name in fields:
        window = leaf.window(scan, name)
        if window is not None and (best is None or window[0] < best[0][0]):
            best = (window, name)
    line = f"[{mark}] {leaf.written}"
    if missing:
        return line + f": not found: {', '.join(repr(m) for m in missing)}"
    if best is None:
        return line + ": the terms are never in one field"
    (width, first, last), name = best
    words = scan.plain_of(name, leaf.terms[0].accents).split(" ")[first : last + 1]
    return (
        line
        + f": window of {width} words in {name} (words {first + 1}-{last + 1}: "
        + (f"{' '.join(words)!r})")
    )


def explain(node: Group, scan: ItemScan, fields: Sequence[str], indent: str = "  ") -> list[str]:
    """Human-readable trace: every clause, every hit, miss and veto, near windows."""
    lines: list[str] = []
    for clause in ("any", "all", "none"):
        elements: tuple[Node, ...] = getattr(node, clause)
        if not elements:
            continue
        results = [evaluate(n, scan, fields, []) for n in elements]
        if clause == "any":
            ok = any(results)
        elif clause == "all":
            ok = all(results)
        else:
            ok = not any(results)
        verdict = "satisfied" if ok else ("VETOED" if clause == "none" else "not satisfied")
        lines.append(f"{indent}{clause}: {verdict}")
        for element, hit in zip(elements, results, strict=True):
            if isinstance(element, Group):
                lines.append(f"{indent}  group: {'true' if hit else 'false'}")
                lines.extend(explain(element, scan, fields, indent + "    "))
            else:
                lines.append(f"{indent}  {_leaf_line(element, scan, fields, hit)}")
    return lines
