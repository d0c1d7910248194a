"""``run`` and ``once``: the daemon, and one cycle for cron."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.group import cli, command_settings, common, fail_config
from monitor.errors import ConfigError, StateError

if TYPE_CHECKING:
    from monitor.service.runtime import Loaded
    from monitor.store import Store


def _host_port(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(
            "expected HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:8080",
            param_hint="--http",
        )
    return host.strip("[]"), int(port)


def _load(config_path: Path) -> tuple[Loaded, Store]:
    """The config, its rules and the store it names, or exit: 2 on a config error, 1 when
    the store cannot be opened (another daemon holds it, a newer schema)."""
    from monitor.service.runtime import load_all
    from monitor.store import Store

    try:
        loaded = load_all(config_path, examples=False)
        return loaded, Store(loaded.config.database)
    except ConfigError as exc:
        fail_config(exc)
    except StateError as exc:
        click.echo(f"newsmon: {exc}", err=True)
    sys.exit(1)


@cli.command()
@common
@click.option("--http", "http", metavar="HOST:PORT", default=None,
              help="Serve /healthz, /metrics and a status page (off by default).")  # fmt: skip
@click.pass_context
def run(ctx: click.Context, /, http: str | None, **given: Any) -> None:
    """Run the daemon: poll feeds on their schedules and deliver alerts until stopped."""
    from monitor.service.daemon import Daemon

    settings = command_settings(ctx, **given)
    address = _host_port(http)
    loaded, store = _load(settings["config_path"])

    async def main() -> int:
        return await Daemon(settings["config_path"], loaded, store, address).run()

    try:
        code = asyncio.run(main())
    finally:
        store.close()
    sys.exit(code)


@cli.command()
@common
@click.option("--force", is_flag=True, help="Also poll feeds held by Retry-After or backoff.")
@click.pass_context
def once(ctx: click.Context, /, force: bool, **given: Any) -> None:
    """Poll every enabled feed now, record, deliver what is due, then exit.

    Exit 0 when every feed and delivery succeeded, 1 when some failed, 2 on a config error.
    """
    from monitor.service.log import report as say
    from monitor.service.runtime import Runtime

    settings = command_settings(ctx, **given)
    loaded, store = _load(settings["config_path"])

    async def cycle() -> int:
        runtime = Runtime(loaded, store)
        try:
            await runtime.start()
            polls = await runtime.poll(all_now=True, force=force)
            report = await runtime.deliver(drain=True)
        finally:
            await runtime.aclose()
        failed = [p for p in polls if p.status == "error"]
        polled = {p.feed for p in polls}
        enabled = [f.name for f in loaded.config.feeds if f.enabled]
        held = len(enabled) - len(polled)
        # A feed skipped because of its error backoff is still failing: say so in the
        # exit code, or cron would see success while every feed is down.
        still_failing = [
            s.name
            for s in store.feed_states([n for n in enabled if n not in polled])
            if s.last_status == "error"
        ]
        summary = (
            f"newsmon: {len(polls)} feeds polled ({len(failed)} failed"
            + (f", {held} held by backoff/Retry-After; --force polls them" if held else "")
            + f"), {sum(p.alerts for p in polls)} new alerts, {report.sent} deliveries sent"
            + (f", {report.retry} to retry, {report.dead} failed for good" if report.failed else "")
        )
        say(summary)
        if still_failing:
            say(f"newsmon: still failing (held by backoff): {', '.join(still_failing)}")
        if report.left:
            left = ", ".join(f"{name} {count}" for name, count in sorted(report.left.items()))
            say(f"newsmon: deliveries still due: {left} (sent on the next run or by the daemon)")
        return 1 if failed or still_failing or report.failed else 0

    try:
        code = asyncio.run(cycle())
    finally:
        store.close()
    sys.exit(code)
