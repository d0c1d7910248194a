"""``alerts``, ``stories``, ``feeds`` and ``status``: what the database holds, for people
and scripts (and ``alerts --retry``: sending again what failed)."""

from __future__ import annotations

import sys
from typing import Any

import click

from monitor.cli.group import cli, common, config_only


@cli.command()
@common
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0),
              help="How many recent alerts to list.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--retry", "retry_id", metavar="ID", help="Send the unsent rows of this alert "
              "(or delivery) id again now.")  # fmt: skip
@click.option("--retry-dead", is_flag=True, help="Send every dead delivery again now.")
@click.pass_context
def alerts(
    ctx: click.Context, /, limit: int, as_json: bool, retry_id: str | None, retry_dead: bool,
    **given: Any,
) -> None:  # fmt: skip
    """List recent alerts with each notifier's delivery status and last error."""
    from monitor.service import admin

    config = config_only(ctx, given)
    if retry_id and retry_dead:
        raise click.UsageError("use --retry ID or --retry-dead, not both")
    if retry_id or retry_dead:
        if retry_id and not admin.known_id(config, retry_id):
            raise click.UsageError(
                f"no alert or delivery with id {retry_id!r} (`newsmon alerts` lists the ids)"
            )
        count = admin.retry(config, retry_id)
        click.echo(f"{count} deliveries queued again; the next delivery tick sends them")
        sys.exit(0 if count else 1)
    admin.show_alerts(config, limit, as_json)


@cli.command()
@common
@click.option("--since", default="24h", show_default=True, metavar="DURATION",
              help="Stories with a copy first seen this recently (30m, 24h, 7d).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array instead of text.")
@click.pass_context
def stories(ctx: click.Context, /, since: str, as_json: bool, **given: Any) -> None:
    """Recent stories, newest first, each with its copies (outlet, feed, link)."""
    from monitor.config.validation import parse_duration

    config = config_only(ctx, given)
    try:
        seconds = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    from monitor.service import storylist

    storylist.show_stories(config, seconds, as_json)


@cli.command()
@common
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def feeds(ctx: click.Context, /, as_json: bool, **given: Any) -> None:
    """One row per configured feed: status, last poll, next check, items, errors."""
    from monitor.service import admin

    admin.show_feeds(config_only(ctx, given), as_json)


@cli.command()
@common
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def status(ctx: click.Context, /, as_json: bool, **given: Any) -> None:
    """Health summary for people and scripts: exit 0 = OK, 1 = needs attention.

    Attention means: feeds failing poll.notify_after_failures times in a row, deliveries
    dead in the last 24 h, a failed reload, or (daemon running) deliveries lagging.
    """
    from monitor.service import admin

    sys.exit(admin.status(config_only(ctx, given), as_json))
