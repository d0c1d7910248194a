"""Command line: ``newsmon [--config PATH] COMMAND [--config PATH] ...``.

Exit codes: 0 success; 1 a feed or delivery failed (each reported), or no match for
``test-rule``; 2 invalid config or rules, or bad usage.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from monitor import __version__
from monitor.errors import ConfigError, DeliveryError, NewsmonError, StateError
from monitor.service import log as logsetup

# Each command imports what it uses: pydantic models, httpx, feedparser, APScheduler,
# sqlite-utils and prometheus-client together cost ~0.9 s, which `--help`, `check` and
# the admin commands would otherwise pay for parts they never touch.
if TYPE_CHECKING:
    from monitor.config import Config

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_CONFIG = "config.yaml"


def common(func: F) -> F:
    """Options every command accepts after its name as well as before it."""
    func = click.option(
        "--config", "config_path", type=click.Path(path_type=Path), default=None,
        help=f"Config file (default ./{DEFAULT_CONFIG}).",
    )(func)  # fmt: skip
    func = click.option(
        "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default=None,
        help="Log verbosity (default info).",
    )(func)  # fmt: skip
    return click.option(
        "--log-format", type=click.Choice(["text", "json"]), default=None,
        help="Log line format on stderr (default text).",
    )(func)  # fmt: skip


def _settings(ctx: click.Context, **given: Any) -> dict[str, Any]:
    base = dict(ctx.obj or {})
    for key, value in given.items():
        if value is not None:
            base[key] = value
    base.setdefault("config_path", None)
    if base["config_path"] is None:
        base["config_path"] = Path(DEFAULT_CONFIG)
    logsetup.setup(base.get("log_level") or "info", base.get("log_format") or "text")
    return base


def _fail_config(exc: ConfigError) -> None:
    for problem in exc.problems:
        click.echo(str(problem), err=True)
    click.echo(f"newsmon: {len(exc.problems)} problem(s); nothing was run", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common
@click.version_option(__version__, prog_name="newsmon")
@click.pass_context
def cli(
    ctx: click.Context, config_path: Path | None, log_level: str | None, log_format: str | None
) -> None:
    """newsmon: poll news feeds, match keyword rules, alert once to Slack, email or webhooks."""
    ctx.obj = {"config_path": config_path, "log_level": log_level, "log_format": log_format}


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


@cli.command()
@common
@click.option("--http", "http", metavar="HOST:PORT", default=None,
              help="Serve /healthz, /metrics and a status page (off by default).")  # fmt: skip
@click.pass_context
def run(ctx: click.Context, /, http: str | None, **given: Any) -> None:
    """Run the daemon: poll feeds on their schedules and deliver alerts until stopped."""
    from monitor.service.daemon import Daemon
    from monitor.service.runtime import load_all
    from monitor.store import Store

    settings = _settings(ctx, **given)
    address = _host_port(http)
    try:
        loaded = load_all(settings["config_path"], examples=False)
        store = Store(loaded.config.database)
    except ConfigError as exc:
        _fail_config(exc)
        return
    except StateError as exc:
        click.echo(f"newsmon: {exc}", err=True)
        sys.exit(1)

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
    from monitor.service.runtime import Runtime, load_all
    from monitor.store import Store

    settings = _settings(ctx, **given)
    try:
        loaded = load_all(settings["config_path"], examples=False)
        store = Store(loaded.config.database)
    except ConfigError as exc:
        _fail_config(exc)
        return
    except StateError as exc:
        click.echo(f"newsmon: {exc}", err=True)
        sys.exit(1)

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
        click.echo(summary, err=True)
        if still_failing:
            click.echo(
                f"newsmon: still failing (held by backoff): {', '.join(still_failing)}", err=True
            )
        if report.left:
            left = ", ".join(f"{name} {count}" for name, count in sorted(report.left.items()))
            click.echo(
                f"newsmon: deliveries still due: {left} (sent on the next run or by the daemon)",
                err=True,
            )
        return 1 if failed or still_failing or report.failed else 0

    try:
        code = asyncio.run(cycle())
    finally:
        store.close()
    sys.exit(code)


@cli.command()
@common
@click.pass_context
def check(ctx: click.Context, /, **given: Any) -> None:
    """Validate the config and every rule file and run each rule's examples."""
    from monitor.config import local_feed_problems
    from monitor.matching.lint import rule_warnings
    from monitor.service.loading import load_all

    settings = _settings(ctx, **given)
    try:
        loaded = load_all(settings["config_path"], examples=True)
    except ConfigError as exc:
        _fail_config(exc)
        return
    missing = local_feed_problems(loaded.config)
    if missing:
        _fail_config(ConfigError(missing))
        return
    rules = loaded.rules.rules
    for rule in rules:
        for warning in rule_warnings(rule):
            click.echo(f"warning: {warning}", err=True)
    examples = sum(len(r.examples_match) + len(r.examples_no_match) for r in rules)
    click.echo(
        f"ok: {settings['config_path']}: {len(loaded.config.feeds)} feeds, "
        f"{len(loaded.config.notifiers)} notifiers, {len(rules)} rules, {examples} examples pass"
    )


@cli.command("test-rule")
@common
@click.argument("rule_file", type=click.Path(path_type=Path))
@click.option("--text", default=None, help="Text to test.")
@click.option("--url", default=None, help="Test every item of this feed (URL or local file).")
@click.option(
    "--item-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Test one item from a JSON file: title, summary, content, link, author, tags, feed.",
)
@click.option(
    "--field",
    type=click.Choice(["any", "title", "summary", "content", "link", "author", "tags", "feed"]),
    default="any",
    show_default=True,
    help="Which item field --text stands for; 'any' = every field the rule reads.",
)
@click.pass_context
def test_rule(
    ctx: click.Context,
    /,
    rule_file: Path,
    text: str | None,
    url: str | None,
    item_file: Path | None,
    field: str,
    **given: Any,
) -> None:
    """Does the rule in RULE_FILE match --text, --item-file or each item at --url?
    Explain every hit, miss and veto (and each near element's window).

    Exit 0 = match (at least one item for --url), 1 = no match, 2 = error (like grep).
    """
    from monitor.matching.automaton import Automaton
    from monitor.matching.rules import RuleSet, check_examples, load_rule
    from monitor.service import ruletest

    _settings(ctx, **given)
    if sum(x is not None for x in (text, url, item_file)) != 1:
        raise click.UsageError("give exactly one of --text, --url and --item-file")
    automaton = Automaton()
    try:
        rule = load_rule(rule_file, automaton, str(rule_file))
        ruleset = RuleSet([rule], automaton)
        if text is not None:
            cases = [("", ruletest.text_fields(rule, text, field))]
        elif item_file is not None:
            cases = [("", ruletest.item_from_json(item_file))]
        else:
            assert url is not None
            cases = list(ruletest.feed_items(url))
    except ConfigError as exc:
        _fail_config(exc)
        return
    if text is not None and field != "any" and field not in rule.fields:
        click.echo(f"the rule does not read the {field} field (fields: {', '.join(rule.fields)})")
    hits = 0
    for label, fields in cases:
        if label:
            click.echo(f"--- {label}")
        ok, lines = ruletest.report(ruleset, rule, fields)
        hits += ok
        for line in lines:
            click.echo(line)
    if url is not None:
        click.echo(f"{hits} of {len(cases)} items match")
    for problem in check_examples(ruleset, rule):
        click.echo(f"warning: {problem}", err=True)
    sys.exit(0 if hits else 1)


def _config_only(ctx: click.Context, given: dict[str, Any]) -> Config:
    from monitor.notify import load_config

    settings = _settings(ctx, **given)
    try:
        return load_config(settings["config_path"])
    except ConfigError as exc:
        _fail_config(exc)
        raise AssertionError("unreachable") from exc


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

    config = _config_only(ctx, given)
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

    config = _config_only(ctx, given)
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

    admin.show_feeds(_config_only(ctx, given), as_json)


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

    sys.exit(admin.status(_config_only(ctx, given), as_json))


@cli.command("backtest")
@common
@click.argument("rule_file", type=click.Path(path_type=Path))
@click.option("--since", default="30d", show_default=True, help="How far back: 30d, 12h, ...")
@click.option(
    "--against",
    type=click.Path(path_type=Path),
    default=None,
    help="An older version of the rule: also list what the new one gains and loses.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def backtest_cmd(
    ctx: click.Context,
    /,
    rule_file: Path,
    since: str,
    against: Path | None,
    as_json: bool,
    **given: Any,
) -> None:
    """What would RULE_FILE have caught among the items stored in the database?"""
    from monitor.config.validation import parse_duration
    from monitor.service import backtest

    config = _config_only(ctx, given)
    try:
        seconds = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    try:
        result = backtest.run(
            config, rule_file, seconds, against, progress=not as_json and sys.stderr.isatty()
        )
    except ConfigError as exc:
        _fail_config(exc)
        return
    except StateError as exc:
        click.echo(f"newsmon: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(result.document(), ensure_ascii=False, indent=2))
    else:
        for line in backtest.render(result, since):
            click.echo(line)


@cli.command("send-test")
@common
@click.argument("notifier")
@click.pass_context
def send_test(ctx: click.Context, /, notifier: str, **given: Any) -> None:
    """Send a clearly marked test alert through NOTIFIER to check its settings."""
    from monitor.service import admin

    config = _config_only(ctx, given)
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

    config = _config_only(ctx, given)
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


def main() -> None:
    try:
        cli.main(prog_name="newsmon", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        sys.exit(130)
    except NewsmonError as exc:
        click.echo(f"newsmon: {exc}", err=True)
        sys.exit(1)
