"""``newsmon stories``: recent stories with their copies, newest first."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from monitor.config import Config
from monitor.service.admin import open_store
from monitor.text import clean


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def recent_stories(config: Config, since: float, now: float) -> list[dict[str, Any]]:
    store = open_store(config)
    try:
        rows = store.stories_since(now - since)
    finally:
        store.close()
    for story in rows:
        story["first_seen"] = iso(story["first_seen"])
        for item in story["items"]:
            item["first_seen"] = iso(item["first_seen"])
    return rows


def show_stories(config: Config, since: float, as_json: bool) -> None:
    rows = recent_stories(config, since, time.time())
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no stories in that time")
        return
    for story in rows:
        outlets = list(dict.fromkeys(i["outlet"] for i in story["items"]))
        copies = len(story["items"])
        click.echo(
            f"{story['first_seen']}  {story['id']}  {copies} "
            f"{'copy' if copies == 1 else 'copies'} in {len(outlets)} "
            f"{'outlet' if len(outlets) == 1 else 'outlets'}"
        )
        click.echo(f"    {clean(story['title'], 110)}")
        for item in story["items"]:
            click.echo(
                f"    - {item['first_seen']}  {clean(item['outlet'], 40)}"
                f" (feed {item['feed']})  {clean(item['url'] or '', 100)}"
            )
