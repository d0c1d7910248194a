"""Matching semantics (README, "Terms match ..."), through the public rule API.

Every case goes through a real rule file: ``load_rule`` compiles it into an automaton and
``RuleSet.match`` / ``RuleSet.match_text`` answer. Both paths are checked so that the daemon
(``match``) and ``newsmon test-rule`` / ``check`` (``match_text``) cannot drift apart.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import ConfigError
from monitor.feeds.identity import canonical_link, item_keys, story_link
from monitor.feeds.parse import parse_feed
from monitor.matching.automaton import Automaton, normalize
from monitor.matching.rules import Rule, RuleSet, load_rule, load_rules
from monitor.models import Item

FEEDS = Path(__file__).parent / "data" / "feeds"


def compile_rule(tmp_path: Path, match: Any, **extra: Any) -> tuple[RuleSet, Rule]:
    """Write a one-rule file (JSON is YAML) and compile it into a fresh RuleSet."""
    body = {"match": match, **extra}
    path = tmp_path / "rule.yaml"
    path.write_text(json.dumps(body, ensure_ascii=False) + "\n", encoding="utf-8")
    automaton = Automaton()
    rule = load_rule(path, automaton)
    return RuleSet([rule], automaton), rule


def verdicts(ruleset: RuleSet, rule: Rule, text: str) -> tuple[bool, bool]:
    """(free-text verdict, verdict on an item whose title is ``text``)."""
    by_text = ruleset.match_text(rule, text)[0]
    by_item = [r.rule.id for r in ruleset.match({"title": text})] == [rule.id]
    return by_text, by_item


# --- normalize ---------------------------------------------------------------------------

NFD_HANGUL = unicodedata.normalize("NFD", "종전선언")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("ＵＮ　Ｓｅｃｕｒｉｔｙ", "un security", id="fullwidth"),
        pytest.param("STRASSE", "strasse", id="upper-ss"),
        pytest.param("Straße", "strasse", id="eszett-casefold"),
        pytest.param("ẞTRASSE", "sstrasse", id="capital-eszett"),
        pytest.param("“End of War”", "end of war", id="curly-double-quotes"),
        pytest.param("Moon’s call", "moon s call", id="curly-apostrophe"),
        pytest.param("Moon's call", "moon s call", id="straight-apostrophe"),
        pytest.param("end-of-war declaration", "end of war declaration", id="hyphen"),
        pytest.param("end–of–war", "end of war", id="en-dash"),
        pytest.param("end—of—war", "end of war", id="em-dash"),
        pytest.param("END OF WAR DECLARATION!", "end of war declaration", id="upper-bang"),
        pytest.param("  a,\t\n b...  c  ", "a b c", id="space-runs"),
        pytest.param("G-7 / G20", "g 7 g20", id="digits"),
        pytest.param("종전선언을", "종전선언을", id="hangul-unchanged"),
        pytest.param(NFD_HANGUL, "종전선언", id="nfd-hangul-composed"),
        pytest.param("ｶﾀｶﾅ", "カタカナ", id="halfwidth-katakana"),
        pytest.param("ﬁnal", "final", id="ligature"),
        pytest.param("---", "", id="only-punctuation"),
        pytest.param("", "", id="empty"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_is_idempotent() -> None:
    text = "“ＵＮ’s” end–of—war DECLARATION! 종전선언을 STRASSE"
    once = normalize(text)
    assert normalize(once) == once


# --- single terms: normalization, boundaries, scripts -------------------------------------


@pytest.mark.parametrize(
    ("terms", "text", "expected"),
    [
        # normalization of the text and of the term
        pytest.param(["end of war declaration"], "End-of-war declaration", True, id="hyphens"),
        pytest.param(["end-of-war declaration"], "end of war declaration", True, id="term-hyph"),
        pytest.param(["end of war"], "end–of–war talks", True, id="en-dash"),
        pytest.param(["end of war"], "the end—of—war", True, id="em-dash"),
        pytest.param(["end of war declaration"], "END OF WAR DECLARATION!", True, id="upper-punct"),
        pytest.param(["end of war declaration"], "“End of War Declaration”", True, id="quotes"),
        pytest.param(["moon's call"], "Moon’s call for peace", True, id="curly-apostrophe"),
        pytest.param(["un security"], "ＵＮ Ｓｅｃｕｒｉｔｙ", True, id="fw-text"),
        pytest.param(["ＵＮ"], "a UN report", True, id="fullwidth-term"),
        pytest.param(["straße"], "closed: HAUPT STRASSE", True, id="eszett-term-upper-text"),
        pytest.param(["STRASSE"], "die Straße ist zu", True, id="upper-term-eszett-text"),
        pytest.param(["straße"], "HAUPTSTRASSE", False, id="eszett-inside-word"),
        pytest.param(["end of war"], "end\nof\twar", True, id="whitespace-runs"),
        # word boundaries
        pytest.param(["end of war"], "weekend of Warhammer", False, id="weekend-warhammer"),
        pytest.param(["end of war"], "The end of Warhammer", False, id="right-edge"),
        pytest.param(["end of war"], "the weekend of war", False, id="left-edge"),
        pytest.param(["end of war"], "(end of war)", True, id="parentheses"),
        pytest.param(["war"], "pre-war talks", True, id="pre-hyphen-war"),
        pytest.param(["war"], "prewar talks", False, id="prewar"),
        pytest.param(["war"], "warfare", False, id="warfare"),
        pytest.param(["war"], "War.", True, id="war-period"),
        pytest.param(["g7"], "G7 summit", True, id="g7"),
        pytest.param(["g7"], "G77 summit", False, id="g77"),
        pytest.param(["g7"], "the G-7", False, id="g-7-is-two-words"),
        pytest.param(["2018"], "in 2018, talks", True, id="year"),
        pytest.param(["2018"], "id 20180", False, id="year-prefix"),
        pytest.param(["2018"], "id 12018", False, id="year-suffix"),
        pytest.param(["ai"], "she said", False, id="ai-in-said"),
        pytest.param(["un"], "UNESCO", False, id="un-in-unesco"),
        pytest.param(["cafe"], "café", False, id="accented-letter-is-word-char"),
        # CJK: substring matching
        pytest.param(["종전선언"], "종전선언을 제안", True, id="ko-particle"),
        pytest.param(["종전선언"], "종전선언문 채택", True, id="ko-compound"),
        pytest.param(["종전선언"], "남북종전선언", True, id="ko-prefix"),
        pytest.param(["종전선언"], "학종전형 가이드라인", False, id="ko-hakjong"),
        pytest.param(["종전선언"], NFD_HANGUL + "을", True, id="ko-nfd-text"),
        pytest.param(["종전 선언"], "종전 선언을", True, id="ko-spaced"),
        pytest.param(["終戦宣言"], "朝鮮戦争の終戦宣言を採択", True, id="ja"),
        pytest.param(["カタカナ"], "ｶﾀｶﾅです", True, id="ja-halfwidth"),
        pytest.param(["终战宣言"], "韩国总统呼吁发表终战宣言。", True, id="zh"),
        pytest.param(["终战宣言"], "终战协定", False, id="zh-other"),
        pytest.param(["สงคราม"], "ยุติสงครามเกาหลี", True, id="thai"),
        # Latin term next to Hangul: the Hangul side needs no boundary
        pytest.param(["UN"], "UN은 오늘 회의를", True, id="un-hangul-particle"),
        pytest.param(["UN"], "오늘UN 회의", True, id="hangul-un"),
        pytest.param(["UN"], "UNESCO는", False, id="unesco-hangul"),
    ],
)
def test_term(tmp_path: Path, terms: list[str], text: str, expected: bool) -> None:
    ruleset, rule = compile_rule(tmp_path, {"any": terms})
    assert verdicts(ruleset, rule, text) == (expected, expected)


# --- clauses and groups --------------------------------------------------------------------

WAR = ["end of war declaration", "종전선언"]


@pytest.mark.parametrize(
    ("match", "text", "expected"),
    [
        # any + none (veto)
        pytest.param(
            {"any": WAR, "none": ["anniversary"]},
            "end of war declaration",
            ("end of war declaration",),
            id="any-hit",
        ),
        pytest.param(
            {"any": WAR, "none": ["anniversary"]},
            "Anniversary of the end of war declaration talks",
            None,
            id="none-vetoes",
        ),
        pytest.param(
            {"any": WAR, "none": ["anniversary"]},
            "anniversaryless end of war declaration",
            ("end of war declaration",),
            id="none-respects-boundaries",
        ),
        pytest.param(
            {"any": WAR},
            "종전선언 and end-of-war declaration",
            ("end of war declaration", "종전선언"),
            id="any-lists-every-hit",
        ),
        # all
        pytest.param(
            {"all": ["korea", "declaration"]},
            "Korea declaration",
            ("korea", "declaration"),
            id="all-both",
        ),
        pytest.param({"all": ["korea", "declaration"]}, "Korea talks", None, id="all-one"),
        pytest.param(
            {"any": ["talks"], "all": ["korea", "us"]},
            "Korea, US talks",
            ("talks", "korea", "us"),
            id="any-and-all",
        ),
        pytest.param(
            {"any": ["talks"], "all": ["korea", "us"]}, "Korea talks", None, id="any-and-all-miss"
        ),
        # nested groups: any of [all: [a, b], c]
        pytest.param(
            {"any": [{"all": ["korea", "treaty"]}, "armistice"]},
            "Korea signs treaty",
            ("korea", "treaty"),
            id="nested-all-branch",
        ),
        pytest.param(
            {"any": [{"all": ["korea", "treaty"]}, "armistice"]},
            "armistice day",
            ("armistice",),
            id="nested-term-branch",
        ),
        pytest.param(
            {"any": [{"all": ["korea", "treaty"]}, "armistice"]},
            "Korea talks",
            None,
            id="nested-half-all",
        ),
        pytest.param(
            {"any": [{"any": ["peace"], "none": ["nobel"]}, "armistice"]},
            "Nobel peace prize",
            None,
            id="nested-veto",
        ),
        pytest.param(
            {"any": [{"any": ["peace"], "none": ["nobel"]}, "armistice"]},
            "Nobel armistice",
            ("armistice",),
            id="nested-veto-other-branch",
        ),
        pytest.param(
            {"all": ["korea", {"any": ["peace", "treaty"]}], "none": [{"all": ["game", "review"]}]},
            "Korea peace game",
            ("korea", "peace"),
            id="none-with-group-not-all",
        ),
        pytest.param(
            {"all": ["korea", {"any": ["peace", "treaty"]}], "none": [{"all": ["game", "review"]}]},
            "Korea peace game review",
            None,
            id="none-with-group-vetoes",
        ),
        # bare string and bare list
        pytest.param(
            "end of war declaration",
            "END-OF-WAR DECLARATION",
            ("end of war declaration",),
            id="bare-string",
        ),
        pytest.param("end of war declaration", "weekend of warhammer", None, id="bare-str-miss"),
        pytest.param(["armistice", "종전선언"], "종전선언문", ("종전선언",), id="bare-list"),
        pytest.param(["armistice", "종전선언"], "peace", None, id="bare-list-miss"),
        # matched lists terms as written in the rule, not normalized
        pytest.param(
            ["End-of-War Declaration"],
            "end of war declaration",
            ("End-of-War Declaration",),
            id="as-written",
        ),
        pytest.param(
            ["ＵＮ", "STRASSE"], "un in der Straße", ("ＵＮ", "STRASSE"), id="as-written-fold"
        ),
    ],
)
def test_clauses(tmp_path: Path, match: Any, text: str, expected: tuple[str, ...] | None) -> None:
    ruleset, rule = compile_rule(tmp_path, match)
    ok, matched, _ = ruleset.match_text(rule, text)
    results = ruleset.match({"title": text})
    if expected is None:
        assert not ok
        assert results == []
    else:
        assert ok
        assert tuple(dict.fromkeys(matched)) == expected
        assert [r.matched for r in results] == [expected]


def test_matched_keeps_each_spelling_of_one_phrase(tmp_path: Path) -> None:
    # Two spellings normalize to the same phrase: both are reported as written.
    ruleset, _ = compile_rule(tmp_path, ["end of war declaration", "End-of-war declaration"])
    (result,) = ruleset.match({"title": "END OF WAR DECLARATION"})
    assert result.matched == ("end of war declaration", "End-of-war declaration")


def test_nested_none_only_group_is_refused(tmp_path: Path) -> None:
    # {none: [...]} alone would be satisfied by absence: test-rule would then match text
    # that the daemon (which only considers rules whose positive terms hit) never alerts on.
    with pytest.raises(ConfigError) as info:
        compile_rule(tmp_path, {"any": ["armistice", {"none": ["nobel"]}]})
    (problem,) = info.value.problems
    assert problem.path == "match.any[1]"
    assert "needs any: or all:" in problem.message


# --- fields: which text a rule reads; no phrase spans two fields ----------------------------


@pytest.mark.parametrize(
    ("rule_fields", "item", "expected"),
    [
        pytest.param(None, {"summary": "end of war declaration"}, True, id="default-summary"),
        pytest.param(None, {"content": "end of war declaration"}, True, id="default-content"),
        pytest.param(["title"], {"title": "End of war declaration"}, True, id="title-in-title"),
        pytest.param(
            ["title"],
            {"title": "Talks", "summary": "end of war declaration"},
            False,
            id="title-only-ignores-summary",
        ),
        pytest.param(
            ["title"],
            {"title": "Talks", "content": "end of war declaration"},
            False,
            id="title-only-ignores-content",
        ),
        pytest.param(
            ["summary", "content"],
            {"title": "end of war declaration", "summary": "talks"},
            False,
            id="body-only-ignores-title",
        ),
        pytest.param(
            None,
            {"title": "Moon urges the end of", "summary": "war declaration, envoy says"},
            False,
            id="phrase-across-title-summary",
        ),
        pytest.param(
            None,
            {"summary": "talks on the end of war", "content": "declaration draft"},
            False,
            id="phrase-across-summary-content",
        ),
    ],
)
def test_fields(
    tmp_path: Path, rule_fields: list[str] | None, item: dict[str, str], expected: bool
) -> None:
    extra = {"fields": rule_fields} if rule_fields is not None else {}
    ruleset, rule = compile_rule(tmp_path, ["end of war declaration"], **extra)
    results = ruleset.match(item)
    assert [r.rule.id for r in results] == ([rule.id] if expected else [])


def test_all_clause_may_combine_fields(tmp_path: Path) -> None:
    # Separate terms may come from different fields (only one phrase may not span them).
    ruleset, _ = compile_rule(tmp_path, {"all": ["korea", "armistice"]})
    (result,) = ruleset.match({"title": "Korea", "summary": "armistice talks"})
    assert result.matched == ("korea", "armistice")


def test_none_veto_only_reads_the_rules_fields(tmp_path: Path) -> None:
    ruleset, _ = compile_rule(
        tmp_path, {"any": ["armistice"], "none": ["anniversary"]}, fields=["title"]
    )
    assert ruleset.match({"title": "Armistice", "summary": "anniversary"}) != []
    assert ruleset.match({"title": "Armistice anniversary"}) == []


# --- feed scope ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feeds", "feed_name", "feed_tags", "expected"),
    [
        pytest.param(["yonhap-nk"], "yonhap-nk", [], True, id="name-hit"),
        pytest.param(["yonhap-nk"], "nknews", ["korea"], False, id="name-miss"),
        pytest.param(["tag:korea"], "nknews", ["korea", "analysis"], True, id="tag-hit"),
        pytest.param(["tag:korea"], "bbc", ["world"], False, id="tag-miss"),
        pytest.param(["tag:korea"], "korea", [], False, id="tag-is-not-a-name"),
        pytest.param(["korea"], "bbc", ["korea"], False, id="name-is-not-a-tag"),
        pytest.param(["bbc", "tag:korea"], "bbc", [], True, id="either-name"),
        pytest.param(["bbc", "tag:korea"], "x", ["korea"], True, id="either-tag"),
        pytest.param(None, "anything", [], True, id="no-scope"),
    ],
)
def test_feed_scope(
    tmp_path: Path,
    feeds: list[str] | None,
    feed_name: str,
    feed_tags: Iterable[str],
    expected: bool,
) -> None:
    extra = {"feeds": feeds} if feeds is not None else {}
    ruleset, rule = compile_rule(tmp_path, ["armistice"], **extra)
    results = ruleset.match({"title": "Armistice talks"}, feed_name, feed_tags)
    assert [r.rule.id for r in results] == ([rule.id] if expected else [])


# --- several rule files in one RuleSet ------------------------------------------------------


def test_ruleset_from_files(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "war.yaml").write_text("match: [end of war declaration, armistice]\n")
    (rules / "korea.yaml").write_text(
        "id: korea-peace\nmatch:\n  all: [korea, armistice]\nfeeds: ['tag:korea']\n"
    )
    (rules / "off.yaml").write_text("enabled: false\nmatch: [armistice]\n")
    (rules / "other.yaml").write_text("match: [election]\n")
    ruleset, problems = load_rules(rules)
    assert problems == []
    assert sorted(r.id for r in ruleset.rules) == ["korea-peace", "off", "other", "war"]

    item = {"title": "Korea armistice", "summary": "an end-of-war declaration"}
    got = {r.rule.id: r.matched for r in ruleset.match(item, "nknews", ["korea"])}
    assert got == {
        "korea-peace": ("korea", "armistice"),
        "war": ("end of war declaration", "armistice"),
    }
    # Out of the korea scope only the unscoped rule fires; the disabled rule never does.
    assert [r.rule.id for r in ruleset.match(item, "bbc", ["world"])] == ["war"]
    assert ruleset.match({"title": "nothing here"}, "nknews", ["korea"]) == []


# --- real fixture feeds ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def giantbomb() -> list[Item]:
    body = (FEEDS / "rss2_giantbomb-podcast_huge.xml").read_bytes()
    return parse_feed(body, max_entries=100_000).items


@pytest.fixture(scope="module")
def kyunghyang() -> list[Item]:
    body = (FEEDS / "rss2_ko_kyunghyang_2018-04-06_no-guid.xml").read_bytes()
    return parse_feed(body, max_entries=100_000).items


def _hits(ruleset: RuleSet, items: list[Item]) -> list[Item]:
    return [item for item in items if ruleset.match(item.fields())]


def test_fixture_weekend_of_warhammer_does_not_hit_end_of_war(
    tmp_path: Path, giantbomb: list[Item]
) -> None:
    # The trap is really in the data ...
    texts = [" ".join(item.fields().values()) for item in giantbomb]
    assert any("weekend of Warhammer" in text for text in texts)
    positive, _ = compile_rule(tmp_path, {"any": ["weekend of warhammer"]})
    assert len(_hits(positive, giantbomb)) >= 1
    # ... and the rule does not fall into it.
    ruleset, _ = compile_rule(tmp_path, {"any": ["end of war"]})
    assert _hits(ruleset, giantbomb) == []


def test_fixture_hakjong_does_not_hit_jongjeon_seoneon(
    tmp_path: Path, kyunghyang: list[Item]
) -> None:
    assert any("학종전형" in item.title for item in kyunghyang)
    positive, _ = compile_rule(tmp_path, {"any": ["학종전형"]})
    assert len(_hits(positive, kyunghyang)) >= 1
    ruleset, _ = compile_rule(tmp_path, {"any": ["종전선언"]})
    assert _hits(ruleset, kyunghyang) == []


# --- identity: canonical link, story link, item keys ----------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "https://Example.ORG/News/1?utm_source=tw&utm_medium=social&id=7",
            "https://example.org/News/1?id=7",
            id="utm-stripped-host-lowered-path-kept",
        ),
        pytest.param(
            "HTTPS://example.org/a?fbclid=XYZ", "https://example.org/a", id="fbclid-scheme"
        ),
        pytest.param(
            "https://example.org/a?gclid=1&UTM_CAMPAIGN=x&page=2#top",
            "https://example.org/a?page=2",
            id="gclid-upper-utm-fragment",
        ),
        pytest.param("https://example.org:443/a", "https://example.org/a", id="default-port"),
        pytest.param("http://example.org:80/a", "http://example.org/a", id="default-port-http"),
        pytest.param("http://example.org:8080/a", "http://example.org:8080/a", id="other-port"),
        pytest.param("https://example.org", "https://example.org/", id="empty-path"),
        pytest.param("https://www.example.org/a", "https://www.example.org/a", id="www-kept"),
        pytest.param("  https://example.org/a  ", "https://example.org/a", id="whitespace"),
        pytest.param("javascript:alert(1)", None, id="javascript"),
        pytest.param("ftp://example.org/a", None, id="ftp"),
        pytest.param("/relative/path", None, id="relative"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_canonical_link(url: str | None, expected: str | None) -> None:
    assert canonical_link(url) == expected


def test_canonical_link_keeps_ipv6_brackets() -> None:
    assert canonical_link("http://[::1]:8080/x") == "http://[::1]:8080/x"
    assert canonical_link("http://[2001:DB8::1]:80/x") == "http://[2001:db8::1]/x"
    assert story_link("http://[::1]:8080/x") != story_link("http://[::1:8080]/x")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        pytest.param("http://example.org/a", "https://example.org/a", True, id="http-https"),
        pytest.param("https://www.example.org/a", "https://example.org/a", True, id="www"),
        pytest.param(
            "http://WWW.Example.org/a?utm_source=x", "https://example.org/a", True, id="all"
        ),
        pytest.param("https://example.org/a#c", "https://example.org/a", True, id="fragment"),
        pytest.param("https://example.org/a", "https://example.org/b", False, id="path"),
        pytest.param("https://example.org/A", "https://example.org/a", False, id="path-case"),
        pytest.param("https://example.org/a?id=1", "https://example.org/a?id=2", False, id="q"),
        pytest.param("https://example.org/a", "https://example.net/a", False, id="host"),
        pytest.param("https://www2.example.org/a", "https://example.org/a", False, id="www2"),
    ],
)
def test_story_link(a: str, b: str, same: bool) -> None:
    assert story_link(a) is not None
    assert (story_link(a) == story_link(b)) is same


def test_story_link_has_no_scheme_or_www() -> None:
    assert story_link("https://www.example.org/a?utm_source=x") == "example.org/a"
    assert story_link("mailto:desk@example.org") is None


def _item(
    title: str = "Moon renews call for end-of-war declaration",
    summary: str = "Seoul, Nov 10",
    link: str | None = "https://example.org/news/1",
    guid: str | None = None,
) -> Item:
    return Item(title, summary, "", link, guid, None)


def test_item_keys_order_and_prefixes() -> None:
    keys = item_keys(_item(guid="urn:story:1"))
    assert [k[:2] for k in keys] == ["g:", "l:", "h:"]
    assert len(set(keys)) == 3
    assert [k[:2] for k in item_keys(_item(link=None))] == ["h:"]
    assert item_keys(Item("", "", "", None, "  ", None)) == []


def test_item_keys_ignore_tracking_scheme_and_www() -> None:
    plain = item_keys(_item())
    tracked = item_keys(_item(link="http://WWW.example.org/news/1?utm_source=rss&fbclid=abc"))
    assert plain == tracked


def test_item_keys_content_hash_is_normalized() -> None:
    a = item_keys(_item(title="Moon renews call for END-OF-WAR declaration!", link=None))
    b = item_keys(_item(title="moon renews call for end of war declaration", link=None))
    c = item_keys(_item(title="Moon renews call for a peace treaty", link=None))
    assert a == b
    assert a != c


def test_item_keys_distinguish_links_and_guids() -> None:
    a = set(item_keys(_item(guid="1", link="https://example.org/a")))
    b = set(item_keys(_item(guid="2", link="https://example.org/b", title="Other story")))
    assert a.isdisjoint(b)
