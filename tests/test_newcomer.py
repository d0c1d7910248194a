"""A newcomer's first hour: the rough edges found by trying newsmon as a new user would,
each through the real command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tests.conftest import Workspace, base_config, plain_item, rss

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
