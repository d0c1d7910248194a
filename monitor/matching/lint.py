"""Warnings about rules that load but cannot do what their author meant (pure).

- A group whose ``none`` vetoes every way its ``any`` (or one of its ``all``) can match:
  ``any: [end of war]`` with ``none: [war]`` never alerts, because every text holding
  "end of war" holds "war".
- A ``near`` whose window is narrower than its different plain words: ``near: {terms:
  [armistice, end, war], within: 2}`` loads (in general two terms may match one word, as
  ``war`` and ``war*`` do), but three different plain words never fit in two.
- A rule with ``notify: []``: its alerts are recorded but sent nowhere (allowed, and
  sometimes meant, so a warning rather than an error).
"""

from __future__ import annotations

from monitor.errors import Problem
from monitor.matching.rules import Rule
from monitor.matching.ruletree import Group, Near, Node, Term


def _implies(term: Term, veto: Term) -> bool:
    """Every text where ``term`` matches also holds ``veto``: the veto's plain words occur
    inside the term's, on word boundaries. Only for plain terms (no wildcard, no verifier)."""
    for t in (term, veto):
        if len(t.spec.pieces) != 1 or t.spec.pieces[0].open_end or t.spec.raw_re is not None:
            return False
    if term.accents != veto.accents:
        return False
    inner, outer = veto.spec.key.text, term.spec.key.text
    return f" {inner} " in f" {outer} "


def _vetoed(node: Node, vetoes: list[Term]) -> bool:
    return isinstance(node, Term) and any(_implies(node, v) for v in vetoes)


def dead_groups(group: Group) -> list[str]:
    """Paths of groups that can never match because their own none vetoes them."""
    out: list[str] = []
    vetoes = [n for n in group.none if isinstance(n, Term)]
    if vetoes and (
        (group.any and all(_vetoed(n, vetoes) for n in group.any))
        or any(_vetoed(n, vetoes) for n in group.all)
    ):
        out.append(group.path)
    for node in (*group.any, *group.all, *group.none):
        if isinstance(node, Group):
            out += dead_groups(node)
    return out


def narrow_nears(group: Group) -> list[tuple[str, int, int]]:
    """(path, different words, within) of unordered ``near`` elements whose window cannot
    hold their different plain one-word terms (no wildcard: each needs a word of its own).
    Ordered ones are refused at load already (their terms' words add up)."""
    out = []
    for leaf in group.leaves():
        if not isinstance(leaf, Near) or leaf.ordered:
            continue
        words = {
            t.spec.key.text
            for t in leaf.terms
            if t.spec.words == 1 and len(t.spec.pieces) == 1 and not t.spec.pieces[0].open_end
        }
        if len(words) > leaf.within:
            out.append((leaf.path, len(words), leaf.within))
    return out


def rule_warnings(rule: Rule) -> list[Problem]:
    why = "can never match: its none: vetoes every text its any:/all: needs"
    warnings = [
        # the problem is printed after "match:" already: name a nested element only
        rule.marks.problem(("match",), why if path == "match" else f"{path} {why}")
        for path in dead_groups(rule.root)
    ]
    for path, words, within in narrow_nears(rule.root):
        near = f"near can never match: its {words} different words never fit within {within}"
        where = near if path == "match" else f"{path} {near}"
        warnings.append(rule.marks.problem(("match",), where))
    if rule.notify == ():
        empty = "an empty list: this rule's alerts are recorded but sent nowhere"
        warnings.append(rule.marks.problem(("notify",), empty))
    return warnings
