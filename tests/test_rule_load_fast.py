"""What makes 10,000 rule files load in under 2 s (docs/performance.md) changes nothing
they mean: a term shared by rules with different options is compiled per option set,
the file list is the one the globs gave, and the garbage collector is left as found."""

from __future__ import annotations

import gc
import re
from pathlib import Path
from typing import cast

import pytest

from monitor.matching import rules as rules_module
from monitor.matching.rules import load_rules, rule_files
from monitor.matching.ruletree import Term
from monitor.matching.terms import compile_term


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_shared_term_is_compiled_per_option_set(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "rules",
        {
            "a-plain.yaml": "match: [Apple]\n",
            "b-case.yaml": "case_sensitive: true\nmatch: [Apple]\n",
            "c-accents.yaml": "fold_accents: true\nmatch: [Apple]\n",
            "d-plain.yaml": "match: [Apple]\n",
        },
    )
    ruleset, problems = load_rules(folder)
    assert problems == []
    terms = [r.root.any[0] for r in ruleset.rules]
    assert all(isinstance(t, Term) for t in terms)
    plain, case, accents, plain2 = cast(list[Term], terms)
    assert plain.spec is plain2.spec
    assert plain.key == plain2.key
    assert case.spec.raw_re is not None
    assert plain.spec.raw_re is None
    assert accents.accents
    assert not plain.accents
    assert accents.key != plain.key
    by_id = {r.id: r for r in ruleset.rules}
    assert ruleset.match_text(by_id["a-plain"], "an apple pie")[0]
    assert not ruleset.match_text(by_id["b-case"], "an apple pie")[0]
    assert ruleset.match_text(by_id["b-case"], "an Apple pie")[0]


def test_the_term_memo_keys_on_the_options() -> None:
    assert compile_term("C++") is compile_term("C++")
    sensitive = compile_term("C++", case_sensitive=True)
    assert sensitive is not compile_term("C++")
    assert sensitive.raw_re is not None
    assert not sensitive.raw_re.flags & re.IGNORECASE
    raw = compile_term("C++").raw_re
    assert raw is not None
    assert raw.flags & re.IGNORECASE


def test_a_term_error_is_reported_in_every_rule_that_has_it(tmp_path: Path) -> None:
    folder = write(tmp_path / "rules", {"a.yaml": "match: [ab*]\n", "b.yaml": "match: [ab*]\n"})
    _, problems = load_rules(folder)
    assert [(p.file.rsplit("/", 1)[-1], p.line, p.col) for p in problems] == [
        ("a.yaml", 1, 9),
        ("b.yaml", 1, 9),
    ]


def test_rule_files_are_the_yaml_files_sorted_by_name(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "rules",
        {n: "match: [x]\n" for n in ("b.yml", "a.yaml", ".hidden.yaml", "c.txt", "B.yaml")},
    )
    (folder / "d.yaml.bak").write_text("")
    globbed = sorted(
        p for p in (*folder.glob("*.yaml"), *folder.glob("*.yml")) if not p.name.startswith(".")
    )
    assert rule_files(folder) == globbed == [folder / n for n in ("B.yaml", "a.yaml", "b.yml")]
    assert rule_files(tmp_path / "missing") == []


def test_problems_name_the_file_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write(tmp_path / "rules", {"bad.yaml": "match: [a]\nnope: 1\n"})
    monkeypatch.chdir(tmp_path)
    assert str(load_rules(folder)[1][0]).startswith("rules/bad.yaml:2:1: nope:")
    monkeypatch.chdir(folder)
    assert str(load_rules(folder)[1][0]).startswith("bad.yaml:2:1: nope:")


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collection_is_left_as_it_was(tmp_path: Path, enabled: bool) -> None:
    folder = write(tmp_path / "rules", {"a.yaml": "match: [a]\n", "b.yaml": "match: ["})
    seen: list[bool] = []
    real = rules_module._load_rule

    def spy(*args: object) -> object:
        seen.append(gc.isenabled())
        return real(*args)  # type: ignore[arg-type]

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(rules_module, "_load_rule", spy)
            ruleset, problems = load_rules(folder)
        assert seen == [False, False]  # off while loading
        assert gc.isenabled() is enabled
        assert len(ruleset.rules) == 1
        assert len(problems) == 1
    finally:
        gc.enable() if was else gc.disable()
