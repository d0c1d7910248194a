"""Warnings about rules that load but cannot do what their author meant (pure).

- A group whose ``none`` vetoes every way its ``any`` (or one of its ``all``) can match:
  ``any: [end of war]`` with ``none: [war]`` never alerts, because every text holding
  "end of war" holds "war".
- A rule with ``notify: []``: its alerts are recorded but sent nowhere (allowed, and
  sometimes meant, so a warning rather than an error).
"""

from __future__ import annotations

from monitor.errors import Problem
from monitor.matching.rules import Rule
from monitor.matching.ruletree import Group, Node, Term


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


def rule_warnings(rule: Rule) -> list[Problem]:
    why = "can never match: its none: vetoes every text its any:/all: needs"
    warnings = [
        # the problem is printed after "match:" already: name a nested group only
        rule.marks.problem(("match",), why if path == "match" else f"{path} {why}")
        for path in dead_groups(rule.root)
    ]
    if rule.notify == ():
        warnings.append(
            rule.marks.problem(("notify",), "notify: [] records this rule's alerts but sends none")
        )
    return warnings
