"""``newsmon check`` and ``newsmon test-rule`` through the real command line (subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RULE = "rules/end-of-war-declaration.yaml"
PROBLEM_LINE = re.compile(r"rules/.+\.yaml:\d+(:\d+)?: .+: .+")

CONFIG = """\
feeds:
  - name: wire
    url: feeds/wire.xml
    tags: [korea]
notifiers:
  term:
    kind: console
defaults:
  notify: [term]
"""

GOOD_RULE = """\
title: Armistice
match:
  any: [armistice, end of war declaration]
feeds: ["tag:korea"]
examples:
  match: [Armistice talks resume]
  no_match: [Weekend of Warhammer]
"""


def newsmon(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("NEWSMON_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "wire.xml").write_text("<rss/>", encoding="utf-8")  # check wants it
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "armistice.yaml").write_text(GOOD_RULE, encoding="utf-8")
    return tmp_path


def test_check_repo_config() -> None:
    result = newsmon("check")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"ok: config\.yaml: \d+ feeds, \d+ notifiers, [1-9]\d* rules, \d+ examples pass\n",
        result.stdout,
    )


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_option_before_and_after_subcommand(project: Path, where: str) -> None:
    config = str(project / "config.yaml")
    args = ["--config", config, "check"] if where == "before" else ["check", "--config", config]
    # Run from an empty folder: without --config, ./config.yaml would not be found.
    elsewhere = project / "elsewhere"
    elsewhere.mkdir()
    result = newsmon(*args, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok:")
    assert "1 feeds, 1 notifiers, 1 rules, 2 examples pass" in result.stdout


def test_check_broken_rule_files(project: Path) -> None:
    (project / "rules" / "broken.yaml").write_text(
        "title: Broken\nmatch:\n  any: [armistice, no]\nnotify: term\n", encoding="utf-8"
    )
    (project / "rules" / "syntax.yaml").write_text("match:\n  any: [armistice\n")
    result = newsmon("check", cwd=project)
    assert result.returncode == 2
    assert "ok:" not in result.stdout
    lines = result.stderr.splitlines()
    problems = sorted(line for line in lines if PROBLEM_LINE.fullmatch(line))
    assert len(problems) == 3, result.stderr
    assert problems[0].startswith("rules/broken.yaml:3:")
    assert ": match.any[1]: " in problems[0]
    assert "quote" in problems[0]
    assert problems[1].startswith("rules/broken.yaml:4:1: notify: expected a list")
    assert re.match(r"rules/syntax\.yaml:\d+:\d+: YAML syntax: .+", problems[2])
    assert lines[-1] == "newsmon: 3 problem(s); nothing was run"


def test_check_failing_example(project: Path) -> None:
    (project / "rules" / "armistice.yaml").write_text(
        GOOD_RULE.replace("[Armistice talks resume]", "[Ceasefire talks resume]"),
        encoding="utf-8",
    )
    result = newsmon("check", cwd=project)
    assert result.returncode == 2
    assert "ok:" not in result.stdout
    line = next((line for line in result.stderr.splitlines() if "examples.match[0]" in line), None)
    assert line is not None, result.stderr
    assert PROBLEM_LINE.fullmatch(line)
    assert line.startswith("rules/armistice.yaml:6:")
    assert "does not match: 'Ceasefire talks resume'" in line


# --- test-rule -----------------------------------------------------------------------------------


def test_test_rule_match() -> None:
    result = newsmon(
        "test-rule", RULE, "--text", "Moon renews call for End-of-War Declaration at UN"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("MATCH: rule end-of-war-declaration")
    assert "matched terms: 'end of war declaration'" in result.stdout
    assert "[hit ] 'end of war declaration'" in result.stdout
    assert "any: satisfied" in result.stdout


def test_test_rule_no_match() -> None:
    # --config after the subcommand is accepted (test-rule does not need the config).
    result = newsmon(
        "test-rule", RULE, "--text", "Weekend of Warhammer: declaration of new rules",
        "--config", "does-not-matter.yaml",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout.startswith("NO MATCH: rule end-of-war-declaration")
    assert "matched terms" not in result.stdout
    assert "any: not satisfied" in result.stdout


def test_test_rule_veto() -> None:
    result = newsmon("test-rule", RULE, "--text", "종전선언 anniversary")
    assert result.returncode == 1
    assert result.stdout.startswith("NO MATCH")
    assert "[hit ] '종전선언'" in result.stdout
    assert "none: VETOED" in result.stdout
    assert "[hit ] 'anniversary'" in result.stdout


def test_test_rule_broken_rule_file(tmp_path: Path) -> None:
    rule = tmp_path / "broken.yaml"
    rule.write_text("match:\n  any: [armistice]\nkeywrods: [x]\n", encoding="utf-8")
    result = newsmon("test-rule", str(rule), "--text", "armistice")
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{rule}:3:1: keywrods: unknown key" in result.stderr


NEAR_RULE = """\
match:
  all:
    - near: {terms: [declar*, end, war], within: 8}
  none: [anniversary]
"""


def test_test_rule_explains_the_near_window(tmp_path: Path) -> None:
    rule = tmp_path / "near.yaml"
    rule.write_text(NEAR_RULE, encoding="utf-8")
    result = newsmon("test-rule", str(rule), "--text", "Moon: declaring an end to the Korean War")
    assert result.returncode == 0, result.stderr
    assert (
        "[hit ] near [declar*, end, war] within 8: window of 7 words in title"
        " (words 2-8: 'declaring an end to the korean war')" in result.stdout
    )
    assert "match.all[0] 'near [declar*, end, war] within 8' in title:" in result.stdout
    far = newsmon(
        "test-rule",
        str(rule),
        "--text",
        "Declaring a holiday at the end of a long, long season after the war",
    )
    assert far.returncode == 1
    assert "[miss] near [declar*, end, war] within 8: window of 14 words" in far.stdout
    missing = newsmon("test-rule", str(rule), "--text", "the war goes on")
    assert "not found: 'declar*', 'end'" in missing.stdout


def test_test_rule_item_file_and_url(tmp_path: Path) -> None:
    rule = tmp_path / "tags.yaml"
    rule.write_text("match: [diplomacy]\nfields: [tags]\n", encoding="utf-8")
    item = tmp_path / "item.json"
    item.write_text('{"title": "Talks", "tags": ["Korea", "Diplomacy"]}', encoding="utf-8")
    result = newsmon("test-rule", str(rule), "--item-file", str(item))
    assert result.returncode == 0, result.stderr
    assert "[hit ] 'diplomacy' (in tags)" in result.stdout
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        "<item><title>One</title><guid>1</guid><category>Diplomacy</category></item>"
        "<item><title>Two</title><guid>2</guid><category>Sport</category></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    result = newsmon("test-rule", str(rule), "--url", str(feed))
    assert result.returncode == 0, result.stderr
    assert "--- One\nMATCH" in result.stdout
    assert "--- Two\nNO MATCH" in result.stdout
    assert "1 of 2 items match" in result.stdout
    both = newsmon("test-rule", str(rule), "--text", "x", "--url", str(feed))
    assert both.returncode == 2
    assert "exactly one of --text, --url and --item-file" in both.stderr


def test_check_warns_about_rules_that_cannot_work(project: Path) -> None:
    (project / "rules" / "dead.yaml").write_text(
        "match:\n  any: [end of war, end-of-war declaration]\n  none: [War]\n", encoding="utf-8"
    )
    (project / "rules" / "nested.yaml").write_text(
        "match:\n  all:\n    - any: [seoul]\n    - all: [summit talks]\n      none: [summit]\n",
        encoding="utf-8",
    )
    (project / "rules" / "fine.yaml").write_text(
        "match:\n  any: [end of war, armistice]\n  none: [war]\nnotify: []\n", encoding="utf-8"
    )
    # three different words in a window of two; then two that may be one word (war, war*)
    (project / "rules" / "narrow.yaml").write_text(
        "match:\n  any:\n    - near: {terms: [armistice, end, war], within: 2}\n"
        "    - near: {terms: [war, war*], within: 1}\n",
        encoding="utf-8",
    )
    result = newsmon("check", cwd=project)
    assert result.returncode == 0, result.stderr  # warnings, not errors
    assert result.stdout.startswith("ok:")
    warnings = sorted(line for line in result.stderr.splitlines() if line.startswith("warning:"))
    assert warnings == [
        "warning: rules/dead.yaml:1:1: match: can never match: its none: vetoes every"
        " text its any:/all: needs",
        "warning: rules/fine.yaml:4:1: notify: an empty list: this rule's alerts are recorded"
        " but sent nowhere",
        "warning: rules/narrow.yaml:1:1: match: match.any[0] near can never match: its 3"
        " different words never fit within 2",
        "warning: rules/nested.yaml:1:1: match: match.all[1] can never match: its none: vetoes"
        " every text its any:/all: needs",
    ]
