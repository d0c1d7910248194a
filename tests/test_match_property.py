"""Property: the compiled matcher (one automaton + verifiers for every rule) finds exactly
what a slow reference matcher, written straight from the README's rules, finds.

The reference works on word lists: the text is split into lower-case words at every
character that is not a letter or digit; a term is a run of consecutive words (a word
written ``abc*`` matches any word starting with ``abc``); ``near`` needs one occurrence of
every term inside ``within`` consecutive words (``ordered``: each after the previous one
ends); groups are any/all/none. Random rule sets and texts come from a small vocabulary of
near-miss words (war, wars, warhammer, ...) so that hits, misses and boundaries all occur.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.matching.automaton import Automaton
from monitor.matching.evidence import collect
from monitor.matching.rules import RuleSet, load_rule
from monitor.matching.ruleset import _matched
from monitor.matching.ruletree import Fired, evaluate

VOCAB = [
    "war", "wars", "warhammer", "end", "ending", "of", "declare", "declared",
    "declaration", "peace", "talks", "summit", "korea", "korean", "sea",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", "-", ", ", "'", " — ", ": "]


# --- the reference matcher (README semantics, no automaton) ------------------------------


def words_of(text: str) -> list[str]:
    return [w for w in re.split(r"[^0-9a-zà-ÿ]+", text.lower()) if w]


def word_matches(pattern: str, word: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


def occurrences(term: str, words: list[str]) -> list[tuple[int, int]]:
    parts = term.lower().replace("-", " ").split()
    n = len(parts)
    return [
        (i, i + n - 1)
        for i in range(len(words) - n + 1)
        if all(word_matches(p, words[i + j]) for j, p in enumerate(parts))
    ]


def ref_near(spec: dict[str, Any], words: list[str]) -> bool:
    occ = [occurrences(t, words) for t in spec["terms"]]
    if not all(occ):
        return False
    for choice in itertools.product(*occ):
        if spec.get("ordered") and any(
            choice[i][0] <= choice[i - 1][1] for i in range(1, len(choice))
        ):
            continue
        span = max(e for _, e in choice) - min(s for s, _ in choice) + 1
        if span <= spec["within"]:
            return True
    return False


def ref_element(node: Any, words: list[str]) -> bool:
    if isinstance(node, str):
        return bool(occurrences(node, words))
    if "near" in node:
        return ref_near(node["near"], words)
    ok = True
    if "any" in node:
        ok &= any(ref_element(n, words) for n in node["any"])
    if "all" in node:
        ok &= all(ref_element(n, words) for n in node["all"])
    if "none" in node:
        ok &= not any(ref_element(n, words) for n in node["none"])
    return ok


# --- random rules and texts --------------------------------------------------------------

word = st.sampled_from(VOCAB)
wild = st.sampled_from([w for w in VOCAB if len(w) >= 4]).flatmap(
    lambda w: st.integers(3, len(w)).map(lambda k: w[:k] + "*")
)
term = st.lists(st.one_of(word, word, wild), min_size=1, max_size=3).map(" ".join)


@st.composite
def near(draw: st.DrawFn) -> dict[str, Any]:
    terms = draw(st.lists(term, min_size=2, max_size=3))
    ordered = draw(st.booleans())
    sizes = [len(t.split()) for t in terms]
    least = sum(sizes) if ordered else max(sizes)
    within = draw(st.integers(least, least + 6))
    return {"near": {"terms": terms, "within": within, "ordered": ordered}}


element = st.one_of(term, term, near())
nested = st.fixed_dictionaries({"any": st.lists(term, min_size=1, max_size=3)})
group = st.fixed_dictionaries(
    {"any": st.lists(element, min_size=1, max_size=3)},
    optional={
        "all": st.lists(st.one_of(element, nested), min_size=1, max_size=2),
        "none": st.lists(element, min_size=1, max_size=2),
    },
)


# Both property tests: many rule sets, each loaded from files (slow), so no deadline.
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def text(draw: st.DrawFn) -> str:
    words = draw(st.lists(word, max_size=25))
    out = ""
    for w in words:
        shown = w
        if draw(st.booleans()):
            shown = w.upper() if draw(st.booleans()) else w.capitalize()
        out += shown + draw(st.sampled_from(SEPARATORS))
    return out


@pytest.mark.slow
@PROPERTY
@given(
    rules=st.lists(group, min_size=1, max_size=6), texts=st.lists(text(), min_size=1, max_size=4)
)
def test_compiled_matcher_agrees_with_the_reference(
    tmp_path_factory: Any, rules: list[dict[str, Any]], texts: list[str]
) -> None:
    folder: Path = tmp_path_factory.mktemp("rules")
    automaton = Automaton()
    loaded = []
    for i, match in enumerate(rules):
        path = folder / f"r{i}.yaml"
        path.write_text(json.dumps({"match": match}), encoding="utf-8")
        loaded.append(load_rule(path, automaton))
    ruleset = RuleSet(loaded, automaton)
    for sample in texts:
        words = words_of(sample)
        expected = {f"r{i}" for i, match in enumerate(rules) if ref_element(match, words)}
        got = {r.rule.id for r in ruleset.match({"title": sample})}
        assert got == expected, (sample, words)


FIELD_SETS = [None, ["title"], ["summary"], ["title", "summary"]]
# Single words only: rules RuleSet.match decides inline, several terms hitting at once.
flat_group = st.fixed_dictionaries(
    {"any": st.lists(word, min_size=2, max_size=4)},
    optional={
        "all": st.lists(word, min_size=1, max_size=2),
        "none": st.lists(word, min_size=1, max_size=2),
    },
)
# Mostly plain terms (one word, no verifier): the ones the fast path decides by sets.
plain_element = st.one_of(word, word, word, term, near())
plain_group = st.fixed_dictionaries(
    {"any": st.lists(plain_element, min_size=1, max_size=3)},
    optional={
        "all": st.lists(st.one_of(plain_element, nested), min_size=1, max_size=2),
        "none": st.lists(plain_element, min_size=1, max_size=2),
    },
)


@pytest.mark.slow
@PROPERTY
@given(
    rules=st.lists(
        st.tuples(st.one_of(plain_group, flat_group), st.sampled_from(FIELD_SETS)),
        min_size=1,
        max_size=6,
    ),
    items=st.lists(st.tuples(text(), text()), min_size=1, max_size=4),
)
def test_fast_path_decides_and_explains_like_the_tree_walk(
    tmp_path_factory: Any, rules: list[tuple[dict[str, Any], list[str] | None]], items: Any
) -> None:
    """``RuleSet.match`` decides plain terms by set operations (matching/plan.py); the
    verdict, the terms it names and the evidence must be those of ``evaluate``, the
    element-by-element walk that test-rule and backtest use, whatever fields a rule reads."""
    folder: Path = tmp_path_factory.mktemp("rules")
    automaton = Automaton()
    loaded = []
    for i, (match, fields) in enumerate(rules):
        doc: dict[str, Any] = {"match": match}
        if fields:
            doc["fields"] = fields
        path = folder / f"r{i}.yaml"
        path.write_text(json.dumps(doc), encoding="utf-8")
        loaded.append(load_rule(path, automaton))
    ruleset = RuleSet(loaded, automaton)
    for title, summary in items:
        item = {"title": title, "summary": summary}
        got = {r.rule.id: r for r in ruleset.match(item)}
        scan = ruleset.scan(item)
        for rule in loaded:
            fired: Fired = []
            ok = evaluate(rule.root, scan, rule.fields, fired)
            assert (rule.id in got) == ok, (rule.id, item)
            if ok:
                assert got[rule.id].matched == _matched(fired)
                assert got[rule.id].evidence == collect(fired, scan)


def reference_normalize(text: str) -> str:
    """``normalize`` as the README states it, one character at a time (no fast paths)."""
    import unicodedata

    from monitor.matching.normal import ABBREV

    out = unicodedata.normalize("NFKC", text)
    out = ABBREV.sub(lambda m: m.group().replace(".", ""), out).casefold()
    out = "".join(c if unicodedata.category(c)[0] in "LNM" else " " for c in out)
    out = " ".join(out.split())
    return re.sub("([\uac00-\ud7a3]) (?=[\uac00-\ud7a3])", r"\1", out)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from([*"abcXYZ.. -_'1U.S.N\té종전", "ü", "İ"])))
def test_normalize_fast_paths_agree_with_the_reference(text: str) -> None:
    """ASCII text takes a byte-table path and most dotted text skips the abbreviation
    pass; the result must be what the character-by-character definition gives."""
    from monitor.matching.normal import normalize

    assert normalize(text) == reference_normalize(text)
