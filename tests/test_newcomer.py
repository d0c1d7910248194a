"""A newcomer's first hour: the rough edges found by trying newsmon as a new user would,
each through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Workspace, plain_item, rss

CONSOLE = {"notifiers": {"term": {"kind": "console"}}, "defaults": {"notify": ["term"]}}


def feeds_config(ws: Workspace, urls: list[str]) -> None:
    doc = {"feeds": [{"name": f"f{i}", "url": url} for i, url in enumerate(urls)], **CONSOLE}
    ws.write_config(doc)


def url_line(ws: Workspace, index: int) -> int:
    """The 1-based line of feeds[index].url in the written config."""
    lines = ws.config.read_text(encoding="utf-8").splitlines()
    urls = [n for n, line in enumerate(lines, 1) if line.strip().startswith("url:")]
    return urls[index]


# -- check: feed URLs that are not URLs ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://", "no host"),
        ("http://exa mple.org/rss", "space"),
        ("http://example.org:99999/rss", "port"),
        ("ftp://example.org/rss", "unsupported URL scheme ftp"),
        ("www.example.org/rss", "did you mean https://www.example.org/rss?"),
        ("missing/feed.xml", "local feed file not found"),
    ],
)
def test_check_refuses_feed_urls_that_are_not_urls(
    workspace: Workspace, url: str, message: str
) -> None:
    """Before: `check` said ok for each of these (all but ftp://)."""
    feeds_config(workspace, [url])
    result = workspace.run("check")
    assert result.returncode == 2, result.stdout + result.stderr
    where = f"config.yaml:{url_line(workspace, 0)}"
    lines = [line for line in result.stderr.splitlines() if message in line]
    assert lines, result.stderr
    assert lines[0].startswith(where), lines[0]
    assert "feeds[0].url" in lines[0]


def test_check_accepts_real_urls_and_existing_files(workspace: Workspace) -> None:
    (workspace.root / "local.xml").write_bytes(rss([plain_item(1)]))
    feeds_config(
        workspace,
        [
            "https://www.example.org/rss",
            "http://[::1]:8080/feed?x=1",
            "local.xml",
            f"file://{workspace.root / 'local.xml'}",
        ],
    )
    result = workspace.run("check")
    assert result.returncode == 0, result.stderr


# -- status, alerts ---------------------------------------------------------------------------


def test_status_needs_attention_when_every_feed_fails(workspace: Workspace) -> None:
    """Before: one failed poll of every feed (below poll.notify_after_failures) gave
    "status: OK", exit 0. After: ATTENTION at once, exit 1."""
    feeds_config(workspace, [str(workspace.root / "gone-1.xml"), str(workspace.root / "g2.xml")])
    assert workspace.run("once").returncode == 1
    result = workspace.run("status")
    assert result.returncode == 1, result.stdout
    assert "status:    ATTENTION" in result.stdout
    assert "every enabled feed is failing" in result.stdout
    doc = json.loads(workspace.run("status", "--json").stdout)
    assert any("every enabled feed is failing" in p for p in doc["problems"])


def test_status_stays_ok_while_some_feeds_work(workspace: Workspace) -> None:
    (workspace.root / "ok.xml").write_bytes(rss([plain_item(1)]))
    feeds_config(workspace, [str(workspace.root / "ok.xml"), str(workspace.root / "gone.xml")])
    workspace.run("once")
    result = workspace.run("status")
    assert result.returncode == 0, result.stdout


def test_alerts_retry_of_an_unknown_id_is_an_error(workspace: Workspace) -> None:
    """Before: "0 deliveries queued again", exit 1. After: exit 2, says the id is unknown."""
    (workspace.root / "ok.xml").write_bytes(rss([plain_item(1)]))
    feeds_config(workspace, [str(workspace.root / "ok.xml")])
    workspace.run("once")
    result = workspace.run("alerts", "--retry", "UNKNOWN")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no alert or delivery with id 'UNKNOWN'" in result.stderr
    assert "queued" not in result.stdout


def test_alerts_limit_must_not_be_negative(workspace: Workspace) -> None:
    (workspace.root / "ok.xml").write_bytes(rss([plain_item(1)]))
    feeds_config(workspace, [str(workspace.root / "ok.xml")])
    workspace.run("once")
    result = workspace.run("alerts", "--limit", "-1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--limit" in result.stderr


# -- rules ------------------------------------------------------------------------------------


def test_typo_in_a_nested_group_is_the_only_error(workspace: Workspace) -> None:
    """Before: the typo plus "a group needs any: or all:" for the same group."""
    workspace.write_rule(
        "nested",
        "match:\n  all:\n    - anny: [summit]\n    - any: [Seoul]\n",
    )
    feeds_config(workspace, ["https://www.example.org/rss"])
    result = workspace.run("check")
    assert result.returncode == 2
    problems = [line for line in result.stderr.splitlines() if "nested.yaml" in line]
    assert len(problems) == 1, result.stderr
    assert "anny" in problems[0]


def test_missing_rules_folder_names_the_key_line_and_resolved_path(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Before: "rules: rules folder not found" (relative to the current folder, no line)."""
    doc = {"rules_dir": "my-rules", "feeds": [{"name": "f", "url": "https://e.org/rss"}], **CONSOLE}
    workspace.write_config(doc)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = workspace.run("check", cwd=elsewhere)
    assert result.returncode == 2
    line = next(
        n for n, t in enumerate(workspace.config.read_text().splitlines(), 1) if "rules_dir" in t
    )
    expected = f"config.yaml:{line}"
    shown = [t for t in result.stderr.splitlines() if "rules folder not found" in t]
    assert shown, result.stderr
    assert expected in shown[0], shown[0]
    assert "rules_dir" in shown[0], shown[0]
    assert str((workspace.root / "my-rules").resolve()) in shown[0], shown[0]


# -- the scheduler's own words stay out of the log ---------------------------------------------


def test_skipped_tick_is_said_once_in_newsmons_words(capsys: pytest.CaptureFixture[str]) -> None:
    """A real AsyncIOScheduler whose job outlasts its interval. Before: APScheduler's raw
    "skipped: maximum number of running instances reached" on every tick. After: one
    newsmon line naming the job and what to do."""
    import asyncio

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from monitor.service import log as logsetup

    logsetup.setup("info")

    async def slow() -> None:
        await asyncio.sleep(1.5)

    async def main() -> None:
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(slow, "interval", id="poll", seconds=0.2, max_instances=1)
        scheduler.start()
        await asyncio.sleep(1.2)
        scheduler.shutdown(wait=False)

    asyncio.run(main())
    err = capsys.readouterr().err
    assert "maximum number of running instances" not in err, err
    told = [line for line in err.splitlines() if "the poll job was still running" in line]
    assert len(told) == 1, err
    assert "raise poll.tick" in told[0]
