"""``send-test``, ``import-opml`` and ``db copy``: setting up notifiers, feeds and the
database."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from monitor.cli.group import cli, common, config_only
from monitor.errors import DeliveryError


@cli.command("send-test")
@common
@click.argument("notifier")
@click.pass_context
def send_test(ctx: click.Context, /, notifier: str, **given: Any) -> None:
    """Send a clearly marked test alert through NOTIFIER to check its settings."""
    from monitor.service import admin

    config = config_only(ctx, given)
    if notifier not in config.notifiers:
        known = ", ".join(config.notifiers) or "none configured"
        raise click.UsageError(f"unknown notifier {notifier!r} (known: {known})")
    try:
        note = admin.send_test(config, notifier)
    except DeliveryError as exc:
        click.echo(f"newsmon: test alert to {notifier} failed: {exc}", err=True)
        sys.exit(1)
    click.echo(f"test alert sent to {notifier}" + (f" ({note})" if note else ""))


@cli.command("import-opml")
@common
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Feed file to write (default feeds/<opml name>.yaml next to the config).",
)
@click.option("--tag", "tags", multiple=True, help="Tag every imported feed (repeatable).")
@click.option("--interval", default=None, help="Poll interval for the imported feeds, e.g. 30m.")
@click.option("--dry-run", is_flag=True, help="Show what would be imported; write nothing.")
@click.pass_context
def import_opml(
    ctx: click.Context, /, opml_file: Path, output: Path | None, tags: tuple[str, ...],
    interval: str | None, dry_run: bool, **given: Any,
) -> None:  # fmt: skip
    """Add feeds from a feed reader's OPML export, as a feed file (config.yaml is never
    rewritten; list the file under feed_files: in config.yaml)."""
    from monitor.config.validation import parse_duration
    from monitor.feeds import opml

    config = config_only(ctx, given)
    entries = opml.read_opml(opml_file)
    target = output or config.path.parent / "feeds" / f"{opml.slugify(opml_file.stem)}.yaml"
    if target.exists() and not dry_run:
        raise click.UsageError(f"{target} exists; choose another --output or remove it")
    if interval is not None:
        try:
            parse_duration(interval)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--interval") from None
    with click.progressbar(
        length=len(entries), label="importing", file=sys.stderr, hidden=len(entries) < 200
    ) as bar:
        feeds, skipped = opml.plan_import(
            config, entries, extra_tags=[opml.slugify(t, "") for t in tags], progress=bar.update
        )
    for reason in skipped:
        click.echo(f"skipped: {reason}", err=True)
    if dry_run:
        for feed in feeds:
            click.echo(f"would add {feed.name}: {feed.url}")
        click.echo(f"{len(feeds)} feeds would be added, {len(skipped)} skipped")
        return
    if not feeds:
        click.echo(f"nothing to import ({len(skipped)} skipped)")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(opml.render(feeds, opml_file, interval), encoding="utf-8")
    click.echo(f"wrote {len(feeds)} feeds to {target} ({len(skipped)} skipped)")
    if not opml.covered(config, target):
        pattern = os.path.relpath(target.parent, config.path.parent) + "/*.yaml"
        click.echo(
            f"add this line to {config.path.name} to use them:  feed_files: [{pattern}]",
            err=True,
        )


@cli.group()
def db() -> None:
    """Database tools (moving to PostgreSQL)."""


@db.command("copy")
@common
@click.option("--to", "to", required=True, metavar="URL",
              help="postgresql://user:password@host:5432/dbname (an empty database).")  # fmt: skip
@click.pass_context
def db_copy(ctx: click.Context, /, to: str, **given: Any) -> None:
    """Copy this config's SQLite database into PostgreSQL, nothing re-alerted.

    Stop the daemon first. Then set `database:` to the URL and start the workers."""
    from monitor.models import PostgresURL, is_postgres_url
    from monitor.store import lock_holder
    from monitor.store.copy import copy_database

    config = config_only(ctx, given)
    if not is_postgres_url(to):
        raise click.BadParameter("expected a postgresql:// URL", param_hint="--to")
    if not isinstance(config.database, Path):
        raise click.ClickException(f"{config.path}: database is already {config.database}")
    holder = lock_holder(config.database)
    if holder is not None:
        raise click.ClickException(f"newsmon (pid {holder}) is using {config.database}; stop it")
    target = PostgresURL(to)
    counts = copy_database(
        config.database, target, lambda table, n: click.echo(f"{table}: {n} rows", err=True)
    )
    click.echo(
        f"copied {config.database} into {target}: {counts.get('feeds', 0)} feeds, "
        f"{counts.get('items', 0)} items, {counts.get('alerts', 0)} alerts, "
        f"{counts.get('outbox', 0)} deliveries. Now set `database: {target}` in "
        f"{config.path.name} and start the workers."
    )
