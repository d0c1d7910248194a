"""The rule language, construct by construct (README "How terms match" and "The match
grammar"): one table row per behaviour, each through a real rule file, checked through
both the daemon's path (``RuleSet.match``) and ``test-rule``'s (``match_text``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import ConfigError
from monitor.matching.automaton import Automaton
from monitor.matching.rules import Rule, RuleSet, load_rule


def compile_rule(tmp_path: Path, match: Any, **extra: Any) -> tuple[RuleSet, Rule]:
    path = tmp_path / "rule.yaml"
    path.write_text(json.dumps({"match": match, **extra}, ensure_ascii=False), encoding="utf-8")
    automaton = Automaton()
    rule = load_rule(path, automaton)
    return RuleSet([rule], automaton), rule


def verdict(tmp_path: Path, match: Any, text: str, **extra: Any) -> bool:
    ruleset, rule = compile_rule(tmp_path, match, **extra)
    by_text = ruleset.match_text(rule, text)[0]
    by_item = bool(ruleset.match({"title": text}))
    assert by_text == by_item, "daemon and test-rule disagree"
    return by_text


NEAR = {"near": {"terms": ["declar*", "end", "war"], "within": 8}}
NEAR_ORDERED = {"near": {"terms": ["declar*", "end", "war"], "within": 8, "ordered": True}}

CASES = [
    # hyphens, dashes, apostrophes, case
    ("end-of-war declaration", {}, "End of War Declaration signed", True),
    ("end of war", {}, "end—of—war talks", True),
    ("moon's", {}, "Moon’s envoy", True),
    ("SEOUL", {}, "ＳＥＯＵＬ talks", True),
    # word boundaries
    ("war", {}, "Warhammer weekend", False),
    ("war", {}, "the war ended", True),
    ("end of war", {}, "weekend of warhammer", False),
    # accents: kept by default, folded on request
    ("Zürich", {}, "Zurich talks", False),
    ("Zürich", {"fold_accents": True}, "Zurich talks", True),
    ("Sao Paulo", {"fold_accents": True}, "São Paulo", True),
    ("Séoul", {}, "Seoul", False),
    # case_sensitive
    ("Apple", {"case_sensitive": True}, "apple pie", False),
    ("Apple", {"case_sensitive": True}, "Apple shares", True),
    ("Apple", {}, "apple pie", True),
    # abbreviations, both ways
    ("U.S.", {}, "U.S. envoy", True),
    ("U.S.", {}, "US envoy", True),
    ("U.S.", {}, "join us now", False),
    ("US", {}, "the U.S. envoy", True),
    ("U.N.", {}, "UN Security Council", True),
    ("UN", {}, "U.N. Security Council", True),
    ("U.S.", {}, "U.S.-led talks", True),
    # symbols that carry meaning
    ("C++", {}, "Plan C is ready", False),
    ("C++", {}, "C++ 26 draft", True),
    ("C#", {}, "Plan C", False),
    ("C#", {}, "C# and F# news", True),
    (".NET", {}, "a safety net", False),
    (".NET", {}, "Microsoft .NET 9", True),
    ("#MeToo", {}, "the MeToo era", False),
    ("#MeToo", {}, "the #MeToo era", True),
    ("F-35", {}, "F-35 fighter", True),
    ("F-35", {}, "F-350 truck", False),
    ("5G", {}, "5G networks", True),
    ("5G", {}, "25G", False),
    ("C", {}, "C++ compilers", True),  # an old plain term keeps its old meaning
    # CJK and Hangul spacing
    ("종전선언", {}, "종전선언을 논의", True),
    ("종전선언", {}, "종전 선언을 논의", True),
    ("종전 선언", {}, "종전선언문 초안", True),
    ("UN", {}, "UN안보리 회의", True),
    ("終戦宣言", {}, "韓国の終戦宣言案", True),
    # wildcards
    ("declar*", {}, "they declared it", True),
    ("declar*", {}, "declar", True),
    ("declar*", {}, "undeclared", False),
    ("declar* end of war", {}, "a declaration end of war", True),
    ("declar* end of war", {}, "a declaration to end the war", False),
    ("end of declar*", {}, "the end of declarations", True),
    # near, both orders, at the window's edge
    (NEAR, {}, "the declaration of an end to the war", True),
    (NEAR, {}, "war must end, the envoy declared", True),
    (NEAR_ORDERED, {}, "war must end, the envoy declared", False),
    (NEAR_ORDERED, {}, "they declared an end to the war", True),
    ({"near": {"terms": ["a1", "b1"], "within": 3}}, {}, "a1 x b1", True),
    ({"near": {"terms": ["a1", "b1"], "within": 3}}, {}, "a1 x y b1", False),
    ({"near": {"terms": ["a1", "b1"], "within": 3}}, {}, "b1 x a1", True),
    (
        {"near": {"terms": ["end of war", "talks"], "within": 6}},
        {},
        "talks on the end of war",
        True,
    ),
    (
        {"near": {"terms": ["end of war", "talks"], "within": 5}},
        {},
        "talks on the end of war",
        False,
    ),
    # regex (RE2, NFKC text, case-insensitive unless case_sensitive)
    ({"regex": r"F-\d{2}\b"}, {}, "the f-35 jets", True),
    ({"regex": r"F-\d{2}\b"}, {}, "the F-350 truck", False),
    ({"regex": "Apple"}, {"case_sensitive": True}, "apple pie", False),
    ({"regex": "ＵＮ"}, {}, "UN talks", True),  # pattern and text are NFKC: ＵＮ is UN
    # vetoes and nested groups
    ({"any": ["summit"], "none": ["film"]}, {}, "summit on film", False),
    ({"any": ["summit"], "none": ["film"]}, {}, "summit in Seoul", True),
    (
        {
            "all": [
                {"any": ["summit", "talks"]},
                {"any": ["Pyongyang", {"regex": "N(orth)? Korea"}]},
            ]
        },
        {},
        "talks with North Korea",
        True,
    ),
    (
        {
            "all": [
                {
                    "any": ["summit"],
                    "none": [{"near": {"terms": ["film", "festival"], "within": 3}}],
                }
            ]
        },
        {},
        "summit of the film and festival board",
        False,
    ),
    ({"all": ["summit", NEAR]}, {}, "summit: war to end, declared", True),
]


@pytest.mark.parametrize(
    ("match", "extra", "text", "expected"),
    CASES,
    ids=[f"{json.dumps(c[0], ensure_ascii=False)[:40]}|{c[2][:30]}" for c in CASES],
)
def test_language(
    tmp_path: Path, match: Any, extra: dict[str, Any], text: str, expected: bool
) -> None:
    assert verdict(tmp_path, match, text, **extra) is expected


def test_rule_fields_link_author_tags_feed(tmp_path: Path) -> None:
    ruleset, rule = compile_rule(tmp_path, ["yonhap", "kim jong"], fields=["author", "feed"])
    assert ruleset.match({"title": "Kim Jong talks", "feed": "x"}) == []
    assert [r.rule.id for r in ruleset.match({"author": "Kim Jong-su"})] == [rule.id]
    assert [r.rule.id for r in ruleset.match({"feed": "yonhap-nk Yonhap News"})] == [rule.id]


def test_evidence_names_the_clause_and_cuts_a_snippet(tmp_path: Path) -> None:
    ruleset, _ = compile_rule(tmp_path, {"all": ["summit", NEAR]})
    text = ("Filler words come first " * 10) + "summit: war to end, declared. " + ("Tail " * 40)
    (result,) = ruleset.match({"summary": text})
    assert result.matched == ("summit", "declar*", "end", "war")
    clauses = [(e.clause, e.term, e.field) for e in result.evidence]
    assert clauses == [
        ("match.all[0]", "summit", "summary"),
        ("match.all[1]", "near [declar*, end, war] within 8", "summary"),
    ]
    for found in result.evidence:
        assert len(found.snippet) <= 170
        assert found.snippet.startswith("…")
        assert found.snippet.endswith("…")
        assert "summit" in found.snippet
        body = found.snippet.strip("…")
        assert body == body.strip()
        assert text.find(body) >= 0  # cut on word boundaries: whole words of the text


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+$", r"(a|aa)+$", r"(.*a){20}", r"(x+x+)+y", r"^(\w+\s?)*!$"],
)
def test_catastrophic_patterns_run_in_bounded_time(tmp_path: Path, pattern: str) -> None:
    ruleset, rule = compile_rule(tmp_path, {"regex": pattern})
    text = "a" * 50_000 + "!" + "x" * 5_000
    started = time.perf_counter()
    ruleset.match({"title": text, "summary": text})
    ruleset.match_text(rule, text)
    # Backtracking engines take years on these; RE2 is linear. 5 s is a huge margin for
    # a loaded machine, not a performance target (bench/match.py measures speed).
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ("*", "bare *"),
        ("de*", "at least 3 letters"),
        ("dec*lar", "may only end a word"),
        ({"regex": "(a)\\1"}, "backreferences"),
        ({"regex": "(?!war)"}, "lookaround"),
        ({"regex": "x*"}, "matches the empty text"),
        ({"near": {"terms": ["a"], "within": 0}}, "within"),
        ({"near": {"terms": ["a"], "within": 3, "order": True}}, "unknown key 'order'"),
        ({"near": {"terms": [], "within": 3}}, "needs terms"),
        ({"regex": "x", "near": {}}, "no other keys"),
    ],
)
def test_load_errors(tmp_path: Path, match: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        compile_rule(tmp_path, match)
    problem = info.value.problems[0]
    assert message in problem.message
    assert problem.line is not None
