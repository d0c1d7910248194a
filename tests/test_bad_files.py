"""fault-case group C (bad rule and config files), through the real command line:
startup refuses with exit 2 and ``file:line:col: key.path: message`` for every problem;
a SIGHUP reload with a broken file keeps the last good rules (and says so in ``status``);
hostile rule files (alias bomb, oversized file, regex elements) are rejected quickly while
the daemon keeps working.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.matching.automaton import Automaton
from monitor.matching.rules import load_rule
from tests.conftest import (
    END_OF_WAR_RULE,
    SEED_TITLE,
    Workspace,
    base_config,
    plain_item,
    rss,
    seed_item_xml,
)
from tests.faults.proc import Daemon, forged_lines
from tests.servers import FeedServer, WebhookReceiver

SYNTAX_ERROR = "id: x\nmatch:\n  any: [end of war declaration, armistice\nexamples: {}\n"


def alias_bomb(levels: int = 9) -> str:
    """``levels`` anchors, each a list of nine aliases of the previous one (9**9 nodes)."""
    names = [chr(ord("a") + i) for i in range(levels)]
    lines = [f"  {names[0]}: &{names[0]} [x, x, x, x, x, x, x, x, x]"]
    for prev, name in itertools.pairwise(names):
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "id: bomb\nmatch: [armistice]\nx:\n" + "\n".join(lines) + "\n"


def write(ws: Workspace, name: str, text: str) -> Path:
    return ws.write_rule(name, text)


# -- C1: a YAML syntax error at startup ------------------------------------------------------


def test_c1_syntax_error_at_startup_exits_2_with_file_line_col(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    feed_server.put("/w.xml", rss([seed_item_xml()]))
    workspace.write_config(
        base_config(
            [{"name": "w", "url": feed_server.url("/w.xml"), "backfill": True}], receiver.url()
        )
    )
    write(workspace, "end-of-war-declaration", END_OF_WAR_RULE)
    write(workspace, "x", SYNTAX_ERROR)
    result = workspace.run("run", timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "rules/x.yaml:4:9: YAML syntax: while parsing a flow sequence expected ',' or ']'"
    ), result.stderr
    assert "(the construct began on line 3, column 8)" in result.stderr
    assert "nothing was run" in result.stderr
    assert "Traceback" not in result.stderr
    # No partial start: no database, no request to the feed, no alert.
    assert not workspace.db.exists()
    assert feed_server.requests == []
    assert receiver.received == []


# -- C3 + C4: every schema problem of every file, at once ------------------------------------


def test_c3_c4_every_broken_rule_file_is_named_with_its_line(
    workspace: Workspace, receiver: WebhookReceiver
) -> None:
    files = {
        "typo": "id: typo\nmatch: [armistice]\nkeywrods: [truce]\n",
        "notify-string": "id: notify-string\nmatch: [armistice]\nnotify: archive\n",
        "dup-key": "id: dup-key\nmatch: [armistice]\nmatch: [truce]\n",
        "same-a": "id: same\nmatch: [armistice]\n",
        "same-b": "id: same\nmatch: [truce]\n",
        "pager": "id: pager\nmatch: [armistice]\nnotify: [pager]\n",
        "traps": "id: traps\nmatch:\n  any:\n    - no\n    - on\n    - 1.10\n",
        "tabs": "id: tabs\nmatch:\n\tany: [armistice]\n",
        "regex": 'id: regex\nmatch:\n  any:\n    - armistice\n    - {regex: "(unclosed"}\n',
        "catastrophic": 'id: catastrophic\nmatch:\n  any:\n    - {regex: "^(a+)+$"}\n',
        "bomb": alias_bomb(),
        "huge": "id: huge\nmatch: [armistice]\n" + "# padding\n" * 110_000,
    }
    for name, text in files.items():
        write(workspace, name, text)
    workspace.write_config(base_config([], receiver.url()))
    started = time.monotonic()
    result = workspace.run("run", timeout=30)
    elapsed = time.monotonic() - started
    assert result.returncode == 2
    expected = [
        "rules/typo.yaml:3:1: keywrods: unknown key",
        "rules/notify-string.yaml:3:1: notify: expected a list, got str",
        "rules/dup-key.yaml:3:1: match: duplicate key (first defined on line 2)",
        "rules/same-b.yaml:1:1: id: duplicate rule id 'same' (also in rules/same-a.yaml)",
        "rules/pager.yaml:3:10: notify[0]: unknown notifier 'pager'",
        "rules/traps.yaml:4:7: match.any[0]: expected a term (string) or a group (YAML reads "
        "yes/no/on/off as booleans: quote the term)",
        "rules/traps.yaml:5:7: match.any[1]: expected a term (string) or a group (YAML reads",
        "rules/traps.yaml:6:7: match.any[2]: expected a term (string) or a group (quote it)",
        "rules/tabs.yaml:3:1: YAML syntax: while scanning for the next token found character "
        "'\\t' that cannot start any token",
        "rules/regex.yaml:5:8: match.any[1].regex: invalid or unsupported regular expression "
        "'(unclosed': missing ): (unclosed",
        "rules/bomb.yaml:5:10: YAML syntax: YAML aliases (*name) are not allowed",
        f"rules/huge.yaml: file is {len(files['huge'].encode())} bytes; the limit is 1 MiB",
    ]
    for line in expected:
        assert line in result.stderr, (line, result.stderr)
    # A catastrophic-backtracking pattern is no problem for RE2: it loads.
    assert "catastrophic" not in result.stderr
    assert f"newsmon: {len(expected)} problem(s); nothing was run" in result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 10
    assert not workspace.db.exists()


def test_c3_missing_environment_variables_are_named(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("NEWSMON_TEST_SLACK_URL", "NEWSMON_TEST_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    workspace.config.write_text(
        "notifiers:\n"
        "  team:\n"
        "    kind: slack\n"
        "    webhook_url: ${NEWSMON_TEST_SLACK_URL}\n"
        "  desk:\n"
        "    kind: email\n"
        "    host: 127.0.0.1\n"
        "    username: newsmon\n"
        "    password: ${NEWSMON_TEST_SMTP_PASSWORD}\n"
        "    sender: newsmon@example.test\n"
        "    to: [desk@example.test]\n"
        "defaults:\n"
        "  notify: [team, desk, pagerduty]\n"
        "keyword: no\n",
        encoding="utf-8",
    )
    write(workspace, "end-of-war-declaration", END_OF_WAR_RULE)
    result = workspace.run("run", timeout=30)
    assert result.returncode == 2
    for line in (
        "config.yaml:4:5: notifiers.team.webhook_url: environment variable "
        "NEWSMON_TEST_SLACK_URL is not set",
        "config.yaml:9:5: notifiers.desk.password: environment variable "
        "NEWSMON_TEST_SMTP_PASSWORD is not set",
        "config.yaml:13:24: defaults.notify[2]: unknown notifier 'pagerduty'",
        "config.yaml:14:1: keyword: unknown key",
    ):
        assert line in result.stderr, (line, result.stderr)
    assert not workspace.db.exists()


def test_c4_alias_bomb_is_rejected_in_under_a_second(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(ConfigError, match="aliases"):
        load_rule(path, Automaton(), "bomb.yaml")
    assert time.monotonic() - started < 1.0


# -- C2 (+ C4 on reload): SIGHUP with broken files keeps the last good rules -----------------


def status(ws: Workspace) -> tuple[int, str]:
    result = ws.run("status")
    return result.returncode, result.stdout


@pytest.mark.slow
def test_c2_c4_reload_keeps_last_good_rules_until_fixed(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    feed_server.put("/w.xml", rss([plain_item(1)]))
    write(workspace, "end-of-war-declaration", END_OF_WAR_RULE)
    doc = base_config([{"name": "w", "url": feed_server.url("/w.xml")}], receiver.url())
    doc["poll"].update({"tick": "1s", "min_interval": "1s", "default_interval": "1s"})
    doc["delivery"].update({"tick": "1s"})
    doc["watch"] = False  # only SIGHUP reloads here
    workspace.write_config(doc)
    broken = workspace.root / "rules" / "later.yaml"

    with Daemon(workspace) as daemon:
        assert daemon.wait_log("feed w: first poll"), daemon.output()
        code, _ = status(workspace)
        assert code == 0

        # 1. A syntax error: reload refused with file:line, the old rules stay active.
        broken.write_text(SYNTAX_ERROR, encoding="utf-8")
        daemon.hup()
        assert daemon.wait_log(
            r"ERROR +reload failed, keeping the last good config: rules/later\.yaml:4:9: "
            "YAML syntax"
        ), daemon.output()
        code, text = status(workspace)
        assert code == 1, text
        assert "reload:    rules/later.yaml:4:9: YAML syntax" in text
        assert "the last reload failed; the daemon runs on the previous config" in text
        feed_server.put("/w.xml", rss([seed_item_xml(), plain_item(1)]))
        assert receiver.wait_for(1, timeout=15), daemon.output()

        # 2. Hostile content on reload: each refused quickly, the daemon keeps going.
        oversized = "id: later\nmatch: [armistice]\n" + "# padding\n" * 110_000
        hostile = {
            "alias bomb": (alias_bomb(), r"rules/later\.yaml:5:10: YAML syntax: YAML aliases"),
            "oversized": (
                oversized,
                rf"rules/later\.yaml: file is {len(oversized)} bytes; the limit is 1 MiB",
            ),
            "regex": (
                'id: later\nmatch:\n  any:\n    - {regex: "(unclosed"}\n',
                r"rules/later\.yaml:4:8: match\.any\[0\]\.regex: invalid or unsupported "
                "regular expression",
            ),
        }
        for what, (text, pattern) in hostile.items():
            broken.write_text(text, encoding="utf-8")
            started = time.monotonic()
            daemon.hup()
            assert daemon.wait_log(pattern, timeout=10), (what, daemon.output())
            assert time.monotonic() - started < 3, what
            assert daemon.alive(), what

        # 3. Fixed: the new rule is active from the next tick; seen items do not re-alert.
        broken.write_text('id: later\nmatch:\n  all: ["korea", "envoy"]\n', encoding="utf-8")
        daemon.hup()
        assert daemon.wait_log(r"reloaded: 1 feeds, 2 rules"), daemon.output()
        code, text = status(workspace)
        assert code == 0, text
        assert "reload:" not in text
        feed_server.put(
            "/w.xml",
            rss(
                [
                    plain_item(9, "Korea names a new envoy for the armistice talks"),
                    seed_item_xml(),
                    plain_item(1),
                ]
            ),
        )
        assert receiver.wait_for(2, timeout=15), daemon.output()
        time.sleep(1.5)
        exit_code = daemon.stop()

    log = daemon.output()
    assert exit_code == 0, log
    assert "Traceback" not in log
    assert forged_lines(log) == []
    got = [(r.json()["rule"]["id"], r.json()["item"]["title"]) for r in receiver.received]
    assert got == [
        ("end-of-war-declaration", SEED_TITLE),
        ("later", "Korea names a new envoy for the armistice talks"),
    ]
    assert os.path.getsize(broken) < 100
