"""Rule files: the shipped ones load and their examples pass; broken ones are reported
as ``file:line:col: key.path: message`` (README, ``newsmon check``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import ConfigError, Problem
from monitor.matching.automaton import Automaton
from monitor.matching.rules import (
    MAX_DEPTH,
    Rule,
    RuleSet,
    check_examples,
    load_rule,
    load_rules,
    rule_files,
)

REPO = Path(__file__).resolve().parent.parent
RULE_DIRS = sorted(
    {p.parent for p in (*REPO.glob("rules/*.y*ml"), *REPO.glob("examples/**/rules/*.y*ml"))}
)
RULE_FILES = sorted(p for d in RULE_DIRS for p in rule_files(d))


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_shipped_rule_files_exist() -> None:
    assert REPO / "rules" / "end-of-war-declaration.yaml" in RULE_FILES
    assert any("examples" in p.parts for p in RULE_FILES)


@pytest.mark.parametrize("path", RULE_FILES, ids=_rel)
def test_shipped_rule_loads_and_examples_pass(path: Path) -> None:
    automaton = Automaton()
    rule = load_rule(path, automaton)
    ruleset = RuleSet([rule], automaton)
    assert rule.enabled
    assert rule.title != rule.id, "shipped rules carry a human title"
    assert rule.examples_match, "every shipped rule documents what it should match"
    assert rule.examples_no_match, "every shipped rule documents what it should not match"
    assert check_examples(ruleset, rule) == []


@pytest.mark.parametrize("rules_dir", RULE_DIRS, ids=_rel)
def test_shipped_rule_dirs_load_without_problems(rules_dir: Path) -> None:
    ruleset, problems = load_rules(rules_dir)
    assert [str(p) for p in problems] == []
    assert len(ruleset.rules) == len(rule_files(rules_dir))
    for rule in ruleset.rules:
        assert check_examples(ruleset, rule) == []


def test_founding_rule_matches_the_seed_story() -> None:
    automaton = Automaton()
    rule = load_rule(REPO / "rules" / "end-of-war-declaration.yaml", automaton)
    ruleset = RuleSet([rule], automaton)
    ok, matched, _ = ruleset.match_text(
        rule, "S. Korea, US in active discussion over end of war declaration: Envoy"
    )
    assert ok
    assert matched == ["end of war declaration"]
    assert not ruleset.match_text(rule, "Weekend of Warhammer: declaration of new rules")[0]


# --- errors ----------------------------------------------------------------------------------


def load_problems(tmp_path: Path, text: str, name: str = "broken") -> list[Problem]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rule(path, Automaton(), f"rules/{name}.yaml")
    problems = info.value.problems
    assert problems
    for problem in problems:
        assert problem.file == f"rules/{name}.yaml"
    return problems


def _nest(levels: int) -> dict[str, Any]:
    """A ``match:`` group with ``levels`` groups nested inside it."""
    node: Any = "x"
    for _ in range(levels):
        node = {"any": [node]}
    return {"any": [node]}


@pytest.mark.parametrize(
    ("text", "line", "col", "path", "message"),
    [
        pytest.param(
            "title: t\nmatch:\n  any: [a, b\nnotify: [x]\n",
            4,
            7,
            "",
            "began on line 3",
            id="missing-bracket",
        ),
        pytest.param(
            "match: [a]\nkeywrods: [b]\n", 2, 1, "keywrods", "unknown key", id="unknown-key"
        ),
        pytest.param(
            "match: [a]\nnotify: newsroom\n",
            2,
            1,
            "notify",
            "expected a list, got str",
            id="notify-string",
        ),
        pytest.param(
            "match: [a]\ntitle: t\nmatch: [b]\n",
            3,
            1,
            "match",
            "duplicate key (first defined on line 1)",
            id="duplicate-key",
        ),
        pytest.param(
            "match:\n  any: [no, yes]\n", 2, 9, "match.any[0]", "quote", id="yaml11-booleans"
        ),
        pytest.param("title: &t hello\nmatch:\n  any: [*t]\n", 3, 9, "", "aliases", id="alias"),
        pytest.param(
            'match:\n  any: ["---"]\n', 2, 9, "match.any[0]", "no letters or digits", id="empty"
        ),
        pytest.param(
            "match:\n  any:\n    - {regex: '(end)\\1'}\n",
            3,
            8,
            "match.any[0].regex",
            "unsupported regular expression",
            id="regex-backreference",
        ),
        pytest.param(
            "match:\n  any:\n    - {regex: '(?<=end) war'}\n",
            3,
            8,
            "match.any[0].regex",
            "no backreferences or lookaround",
            id="regex-lookbehind",
        ),
        pytest.param(
            "match:\n  any:\n    - 'de* war'\n",
            3,
            7,
            "match.any[0]",
            "at least 3 letters before *",
            id="wildcard-short",
        ),
        pytest.param(
            "match:\n  any: [summit, '*']\n", 2, 17, "match.any[1]", "bare *", id="wildcard-bare"
        ),
        pytest.param(
            "match:\n  any:\n    - {near: {terms: [a, b c], within: 1}}\n",
            3,
            32,
            "match.any[0].near.within",
            "narrower than the terms",
            id="near-narrow",
        ),
        pytest.param(
            "match:\n  any:\n    - {near: [a, b]}\n",
            3,
            8,
            "match.any[0].near",
            "expected {terms: [...], within: N",
            id="near",
        ),
        pytest.param(
            "match:\n  none: [anniversary]\n",
            1,
            1,
            "match",
            "needs any: or all:",
            id="none-only",
        ),
        pytest.param(
            "match:\n  any:\n    - armistice\n    - {none: [nobel]}\n",
            4,
            7,
            "match.any[1]",
            "a group needs any: or all:",
            id="nested-none-only",
        ),
        pytest.param(
            "match:\n  anyy: [a]\n", 2, 3, "match.anyy", "unknown key", id="group-key-typo"
        ),
        pytest.param("match:\n  any: []\n", 2, 3, "match.any", "non-empty list", id="empty-any"),
        pytest.param(
            "match:\n  any: [armistice, 1953]\n", 2, 20, "match.any[1]", "quote", id="number"
        ),
        pytest.param("match: 5\n", 1, 1, "match", "expected a term", id="match-number"),
        pytest.param(
            "match: [a]\nfields: [body]\n", 2, 10, "fields[0]", "expected 'title'", id="fields"
        ),
        pytest.param(
            "id: End Of War\nmatch: [a]\n",
            1,
            1,
            "id",
            "use lower-case letters, digits",
            id="bad-id",
        ),
        pytest.param("title: t\n", 1, 1, "match", "required key", id="no-match"),
        pytest.param("- a\n- b\n", None, None, "", "must be a mapping", id="not-a-mapping"),
    ],
)
def test_rule_errors(
    tmp_path: Path, text: str, line: int | None, col: int | None, path: str, message: str
) -> None:
    problems = load_problems(tmp_path, text)
    first = problems[0]
    assert message in first.message
    assert first.path == path
    if line is not None:
        assert (first.line, first.col) == (line, col)
        prefix = f"rules/broken.yaml:{line}:{col}: "
        assert str(first).startswith(prefix + (f"{path}: " if path else ""))


def test_yaml11_booleans_each_reported_with_a_hint(tmp_path: Path) -> None:
    problems = load_problems(tmp_path, "match:\n  any: [no, yes, peace]\n")
    assert [p.path for p in problems] == ["match.any[0]", "match.any[1]"]
    assert all("quote" in p.message and "yes/no" in p.message for p in problems)


def test_duplicate_key_is_not_last_wins(tmp_path: Path) -> None:
    # A silently last-wins loader would accept this file with match: [b].
    problems = load_problems(tmp_path, "match: [a]\nmatch: [b]\n")
    assert len(problems) == 1
    assert problems[0].line == 2
    assert "duplicate key" in problems[0].message


def test_nested_duplicate_key_reports_full_path(tmp_path: Path) -> None:
    problems = load_problems(tmp_path, "match:\n  any: [a]\n  any: [b]\n")
    assert (problems[0].line, problems[0].path) == (3, "match.any")


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    text = "match:\n  any: [armistice, '...']\nnotify: desk\nkeywrods: [x]\n"
    problems = load_problems(tmp_path, text)
    assert {p.path for p in problems} == {"match.any[1]", "notify", "keywrods"}
    assert sorted(p.line or 0 for p in problems) == [2, 3, 4]


def test_nesting_up_to_the_limit_loads(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(json.dumps({"match": _nest(MAX_DEPTH)}))
    automaton = Automaton()
    rule = load_rule(path, automaton)
    assert RuleSet([rule], automaton).match({"title": "x"})[0].matched == ("x",)


def test_nesting_deeper_than_the_limit_is_refused(tmp_path: Path) -> None:
    problems = load_problems(tmp_path, json.dumps({"match": _nest(MAX_DEPTH + 1)}))
    assert len(problems) == 1
    assert f"deeper than {MAX_DEPTH}" in problems[0].message
    assert problems[0].path.startswith("match.any[0].any[0]")
    assert problems[0].line == 1


def test_duplicate_rule_id_across_files(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yaml").write_text("id: peace\nmatch: [armistice]\n")
    (rules / "b.yaml").write_text("# second\nid: peace\nmatch: [treaty]\n")
    (rules / "c.yaml").write_text("match: [election]\n")
    ruleset, problems = load_rules(rules)
    assert [r.id for r in ruleset.rules] == ["peace", "c"]
    assert ruleset.rules[0].file.endswith("a.yaml")
    assert len(problems) == 1
    problem = problems[0]
    assert problem.file.endswith("b.yaml")
    assert (problem.line, problem.path) == (2, "id")
    assert "duplicate rule id 'peace'" in problem.message
    assert "a.yaml" in problem.message


def test_duplicate_rule_id_from_file_names(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "peace.yaml").write_text("match: [armistice]\n")
    (rules / "peace.yml").write_text("match: [treaty]\n")
    ruleset, problems = load_rules(rules)
    assert len(ruleset.rules) == 1
    assert len(problems) == 1
    assert "duplicate rule id 'peace'" in problems[0].message


def test_broken_file_does_not_stop_the_others(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yaml").write_text("match: [armistice]\n")
    (rules / "bad.yaml").write_text("match: [armistice\n")
    (rules / ".hidden.yaml").write_text("match: [")
    ruleset, problems = load_rules(rules)
    assert [r.id for r in ruleset.rules] == ["good"]
    assert len(problems) == 1
    assert problems[0].file.endswith("bad.yaml")
    assert problems[0].line is not None


def test_unquoted_dates_in_a_rule_file(tmp_path: Path) -> None:
    """YAML 1.1 reads an unquoted 2021-11-10 as a date. A real date where a term goes is a
    problem with a hint to quote it; an impossible one (2020-13-45) is the text as written
    (it used to escape the loader as a bare ValueError: a traceback, and no rule file
    loaded at all); either way every other problem of the file is reported too."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yaml").write_text("match: [armistice]\n")
    (rules / "dated.yaml").write_text("titel: x\nmatch: [armistice, 2020-13-45, 2021-11-10]\n")
    ruleset, problems = load_rules(rules)
    assert [r.id for r in ruleset.rules] == ["good"]
    assert [(p.line, p.path) for p in problems] == [(1, "titel"), (2, "match[2]")]
    assert "YAML reads an unquoted 2021-11-10 as a date: quote the term" in problems[1].message

    (rules / "dated.yaml").write_text("match: [armistice, 2020-13-45]\n")
    ruleset, problems = load_rules(rules)
    assert problems == []
    dated = next(r for r in ruleset.rules if r.id == "dated")
    assert ruleset.match_text(dated, "a ceasefire on 2020-13-45")[0]


def test_missing_rules_dir_is_a_problem(tmp_path: Path) -> None:
    ruleset, problems = load_rules(tmp_path / "nope")
    assert ruleset.rules == []
    assert len(problems) == 1
    assert "not found" in problems[0].message


# --- examples --------------------------------------------------------------------------------


def _load(tmp_path: Path, text: str) -> tuple[RuleSet, Rule]:
    path = tmp_path / "rule.yaml"
    path.write_text(text, encoding="utf-8")
    automaton = Automaton()
    rule = load_rule(path, automaton, "rules/rule.yaml")
    return RuleSet([rule], automaton), rule


def test_failing_examples_are_reported_with_line(tmp_path: Path) -> None:
    ruleset, rule = _load(
        tmp_path,
        "match: [end of war declaration]\n"
        "examples:\n"
        "  match:\n"
        "    - Moon renews call for end-of-war declaration\n"
        "    - Weekend of Warhammer\n"
        "  no_match:\n"
        "    - nothing to see\n"
        "    - END OF WAR DECLARATION!\n",
    )
    problems = check_examples(ruleset, rule)
    assert [(p.path, p.line, p.col) for p in problems] == [
        ("examples.match[1]", 5, 7),
        ("examples.no_match[1]", 8, 7),
    ]
    assert "does not match: 'Weekend of Warhammer'" in problems[0].message
    assert "matches but should not" in problems[1].message
    assert str(problems[0]).startswith("rules/rule.yaml:5:7: examples.match[1]: ")


def test_examples_honour_none_and_all(tmp_path: Path) -> None:
    ruleset, rule = _load(
        tmp_path,
        "match:\n"
        "  all: [korea, {any: [armistice, 종전선언]}]\n"
        "  none: [anniversary]\n"
        "examples:\n"
        "  match: [Korea armistice, 한국 korea 종전선언을]\n"
        "  no_match: [Korea armistice anniversary, armistice only]\n",
    )
    assert check_examples(ruleset, rule) == []
