"""Shared fixtures: real loopback servers and a way to run the real ``newsmon`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.parallel import (  # noqa: F401  (hooks: registered by being in conftest)
    pytest_collection_modifyitems,
    pytest_xdist_auto_num_workers,
)
from tests.servers import FeedServer, WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
FEEDS = DATA / "feeds"
SEED_XML = DATA / "seed" / "seed-article.xml"
SEED_TITLE = "S. Korea, US in active discussion over end of war declaration: Envoy"
SEED_LINK = "https://www.example-news.test/world/2021/11/10/end-of-war-declaration-envoy"

END_OF_WAR_RULE = (ROOT / "rules" / "end-of-war-declaration.yaml").read_text(encoding="utf-8")


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def seed_item_xml(guid: str | None = None, link: str | None = None) -> str:
    """The seed article's <item> element, optionally with another guid or link."""
    text = SEED_XML.read_text(encoding="utf-8")
    item = text[text.index("<item>") : text.index("</item>") + len("</item>")]
    if guid is not None:
        start = item.index("<guid")
        end = item.index("</guid>") + len("</guid>")
        item = item[:start] + f'<guid isPermaLink="false">{guid}</guid>' + item[end:]
    if link is not None:
        item = item.replace(SEED_LINK, link)
    return item


def rss(items: list[str], title: str = "Test feed") -> bytes:
    body = "".join(items)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://www.example-news.test/</link>"
        f"<description>test</description>{body}</channel></rss>\n"
    ).encode()


def plain_item(n: int, title: str | None = None) -> str:
    return (
        f"<item><title>{title or f'Ordinary headline number {n}'}</title>"
        f"<link>https://www.example-news.test/story/{n}</link>"
        f"<guid>story-{n}</guid><description>Nothing to see {n}.</description></item>"
    )


@dataclass
class Workspace:
    """A config folder under tmp_path: config.yaml, rules/, state/."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def db(self) -> Path:
        return self.root / "state" / "newsmon.db"

    def write_config(self, doc: dict[str, Any]) -> None:
        self.config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    def write_rule(self, name: str, text: str) -> Path:
        path = self.root / "rules" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def run(
        self,
        *args: str,
        timeout: float = 60,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real command line in a subprocess with this workspace's config."""
        return subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or self.root,
            env={**os.environ, **(env or {})},
            check=False,
        )


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path)
    (tmp_path / "rules").mkdir()
    return ws


def base_config(
    feeds: list[dict[str, Any]], hook_url: str, secret: str | None = None
) -> dict[str, Any]:
    hook: dict[str, Any] = {"kind": "webhook", "url": hook_url, "timeout": "5s"}
    if secret is not None:
        hook["secret"] = secret
    return {
        "feeds": feeds,
        "notifiers": {"archive": hook},
        "defaults": {"notify": ["archive"]},
        "poll": {"timeout": "10s", "connect_timeout": "2s", "read_timeout": "5s"},
        "delivery": {"backoff_base": "1s", "backoff_cap": "2s"},
    }
