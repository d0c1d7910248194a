"""Read-mostly commands for people and scripts: alerts, feeds, send-test."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import click

from monitor.config import Config
from monitor.models import Alert, Delivery, Item, stable_id
from monitor.notify import build_notifiers, http_client
from monitor.store import Store, lock_holder
from monitor.text import clean, redact_url, redact_urls


def when(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def in_or_ago(ts: float | None, now: float) -> str:
    if not ts:
        return "-"
    delta = ts - now
    span = abs(delta)
    text = (
        f"{span:.0f}s"
        if span < 120
        else f"{span / 60:.0f}m"
        if span < 7200
        else f"{span / 3600:.1f}h"
    )
    return f"in {text}" if delta > 0 else f"{text} ago"


def open_store(config: Config) -> Store:
    if not config.database.exists():
        raise click.ClickException(
            f"no database yet at {config.database}: run `newsmon once` or `newsmon run` first"
        )
    return Store(config.database, lock=False)


def show_alerts(config: Config, limit: int, as_json: bool) -> None:
    store = open_store(config)
    try:
        rows = store.recent_alerts(limit)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no alerts yet")
        return
    for row in rows:
        kind = "" if row["kind"] == "alert" else f" [{row['kind']}]"
        click.echo(
            f"{when(row['created_at'])}  {row['id']}  {row['rule_id']}  feed={row['feed']}{kind}"
        )
        click.echo(f"    {clean(row['title'] or '', 110)}")
        if row["story"] is not None:
            outlets = ", ".join(clean(s["outlet"], 60) for s in row["story"]["sources"])
            click.echo(f"    story {row['story']['id']}: {outlets}")
        for d in row["deliveries"]:
            error = f"  {clean(d['last_error'], 160)}" if d["last_error"] else ""
            click.echo(f"    -> {d['notifier']:<16} {d['status']:<8} tries={d['attempts']}{error}")


def known_id(config: Config, ident: str) -> bool:
    store = open_store(config)
    try:
        return store.has_delivery(ident)
    finally:
        store.close()


def retry(config: Config, ident: str | None) -> int:
    store = open_store(config)
    try:
        return store.requeue(ident, time.time())
    finally:
        store.close()


def show_feeds(config: Config, as_json: bool) -> None:
    store = open_store(config)
    try:
        states = {s.name: s for s in store.feed_states()}
    finally:
        store.close()
    now = time.time()
    rows: list[dict[str, Any]] = []
    for feed in config.feeds:
        s = states.get(feed.name)
        rows.append(
            {
                "name": feed.name,
                "enabled": feed.enabled,
                "url": redact_url(feed.url),  # tokens in user-info or query stay hidden
                "status": (s.last_status if s else None) or "never polled",
                "last_poll": s.last_poll_at if s else None,
                "last_success": s.last_success_at if s else None,
                "next_check": s.next_check_at if s else None,
                "items": s.items_total if s else 0,
                "errors": s.error_count if s else 0,
                "last_error": redact_urls(s.last_error) if s and s.last_error else None,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{'FEED':<24} {'STATUS':<13} {'LAST POLL':<10} {'NEXT':<10} {'ITEMS':>6} {'ERRORS':>6}"
    )
    for r in rows:
        status = r["status"] if r["enabled"] else "disabled"
        click.echo(
            f"{r['name']:<24} {status:<13} {in_or_ago(r['last_poll'], now):<10} "
            f"{in_or_ago(r['next_check'], now) if r['enabled'] else '-':<10} "
            f"{r['items']:>6} {r['errors']:>6}"
        )
        if r["last_error"]:
            click.echo(f"    last error: {clean(r['last_error'], 160)}")


def status(config: Config, as_json: bool) -> int:
    """Print a health summary; return 0 when healthy, 1 when something needs a look."""
    now = time.time()
    holder = lock_holder(config.database)
    problems: list[str] = []
    doc: dict[str, Any] = {"database": str(config.database), "daemon_pid": holder}
    if not config.database.exists():
        problems.append("no database yet: newsmon has never run with this config")
        doc.update(feeds={}, outbox={})
    else:
        store = Store(config.database, lock=False, readonly=True)
        try:
            health = store.health(now)
            states = {s.name: s for s in store.feed_states()}
            meta = store.meta()
        finally:
            store.close()
        enabled = [f for f in config.feeds if f.enabled]
        # "failing": the last poll failed (as the status page and /metrics count it);
        # "keeps failing": past poll.notify_after_failures, which needs attention.
        erroring = [f.name for f in enabled if f.name in states and states[f.name].error_count]
        failing = [
            n for n in erroring if states[n].error_count >= config.poll.notify_after_failures
        ]
        never = [f.name for f in enabled if f.name not in states or not states[f.name].last_poll_at]
        doc.update(
            feeds={
                "enabled": len(enabled),
                "last_poll_failed": erroring,
                "failing": failing,
                "never_polled": never,
            },
            outbox=health["outbox"],
            delivery_lag_seconds=round(health["lag"], 1),
            dead_last_24h=health["dead_24h"],
            reload_error=meta.get("reload_error"),
        )
        if enabled and len(erroring) == len(enabled):
            # Nothing is being monitored at all: no threshold makes that healthy.
            problems.append(f"every enabled feed is failing ({len(enabled)}): see `newsmon feeds`")
        if failing:
            problems.append(f"{len(failing)} feeds keep failing: {', '.join(failing)}")
        if health["dead_24h"]:
            problems.append(f"{health['dead_24h']} deliveries failed for good in the last 24h")
        if meta.get("reload_error"):
            problems.append("the last reload failed; the daemon runs on the previous config")
        if holder and health["lag"] > 3 * config.delivery.tick + 60:
            problems.append(f"deliveries are {health['lag']:.0f}s behind")
    doc["problems"] = problems
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        running = f"running (pid {holder})" if holder else "not running"
        click.echo(f"daemon:    {running}")
        click.echo(f"database:  {config.database}")
        feeds = doc["feeds"]
        if feeds:
            click.echo(
                f"feeds:     {feeds['enabled']} enabled, {len(feeds['last_poll_failed'])} "
                f"failing ({len(feeds['failing'])} for {config.poll.notify_after_failures}+ "
                f"polls in a row), {len(feeds['never_polled'])} never polled"
            )
            outbox = doc["outbox"]
            click.echo(
                "outbox:    "
                + (", ".join(f"{v} {k}" for k, v in sorted(outbox.items())) or "empty")
            )
        for line in (doc.get("reload_error") or "").splitlines():
            click.echo(f"reload:    {line}")
        click.echo("status:    " + ("OK" if not problems else "ATTENTION"))
        for problem in problems:
            click.echo(f"  - {problem}")
    return 1 if problems else 0


def send_test(config: Config, name: str) -> str | None:
    """Send a clearly marked test alert through one notifier, bypassing the outbox."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    item = Item(
        title=f"newsmon test alert for notifier {name!r} ({stamp})",
        summary="This is a test sent by `newsmon send-test`. If you can read it, the "
        "notifier's address and credentials work. No feed or rule was involved.",
        content="",
        link=None,
        guid=None,
        published=stamp,
    )
    alert = Alert(
        id=stable_id("test", name, stamp),
        rule_id="newsmon-test",
        rule_title="newsmon test alert",
        feed="newsmon",
        item=item,
        matched=("test",),
        created_at=now,
    )
    delivery = Delivery(id=stable_id(alert.id, name), alert=alert, notifier=name, attempts=0)

    async def go() -> str | None:
        client = http_client(config.poll.user_agent)
        try:
            return await build_notifiers(config, client)[name].send(delivery)
        finally:
            await client.aclose()

    return asyncio.run(go())
