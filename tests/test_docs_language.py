"""README "How terms match": every row of the table of examples is run as a test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.matching.automaton import Automaton
from monitor.matching.rules import RuleSet, load_rule

README = Path(__file__).parent.parent / "README.md"


def table() -> list[tuple[str, str, bool]]:
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index("| Term | Text | Matches? | Why |")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        term, text, verdict, _ = (c.strip() for c in line.strip("|").split("|"))
        assert verdict in ("yes", "no"), line
        rows.append((term.strip("`"), text, verdict == "yes"))
    return rows


ROWS = table()


def test_the_table_is_there() -> None:
    assert len(ROWS) >= 15


@pytest.mark.parametrize(("term", "text", "expected"), ROWS, ids=[f"{t}|{x}" for t, x, _ in ROWS])
def test_table_row(tmp_path: Path, term: str, text: str, expected: bool) -> None:
    path = tmp_path / "rule.yaml"
    path.write_text(json.dumps({"match": term}, ensure_ascii=False), encoding="utf-8")
    automaton = Automaton()
    rule = load_rule(path, automaton)
    ruleset = RuleSet([rule], automaton)
    assert ruleset.match_text(rule, text)[0] is expected
    assert bool(ruleset.match({"title": text})) is expected
