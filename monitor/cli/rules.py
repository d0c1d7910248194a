"""``check``, ``test-rule`` and ``backtest``: the config and rules, checked and tried."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.group import cli, command_settings, common, config_only, fail_config
from monitor.errors import ConfigError, StateError

if TYPE_CHECKING:
    from monitor.config import Config


def _database_problem(config: Config) -> str | None:
    """Why the configured database cannot be used (unreachable, schema newer than this
    newsmon), or None. A SQLite file that does not exist yet is fine: it is created.
    The store is imported only when there is a database to open."""
    if isinstance(config.database, Path) and not config.database.exists():
        return None
    from monitor.store import Store

    try:
        Store(config.database, lock=False, readonly=True).close()
    except StateError as exc:
        return str(exc)
    return None


@cli.command()
@common
@click.pass_context
def check(ctx: click.Context, /, **given: Any) -> None:
    """Validate the config and every rule file and run each rule's examples."""
    from monitor.config import local_feed_problems
    from monitor.matching.lint import rule_warnings
    from monitor.service.loading import load_all

    settings = command_settings(ctx, **given)
    try:
        loaded = load_all(settings["config_path"], examples=True)
    except ConfigError as exc:
        fail_config(exc)
        return
    missing = local_feed_problems(loaded.config)
    if missing:
        fail_config(ConfigError(missing))
        return
    rules = loaded.rules.rules
    for rule in rules:
        for warning in rule_warnings(rule):
            click.echo(f"warning: {warning}", err=True)
    examples = sum(len(r.examples_match) + len(r.examples_no_match) for r in rules)
    problem = _database_problem(loaded.config)
    if problem is not None:
        click.echo(f"newsmon: {problem}", err=True)
        sys.exit(1)
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

    command_settings(ctx, **given)
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
        fail_config(exc)
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

    config = config_only(ctx, given)
    try:
        seconds = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    try:
        result = backtest.run(
            config, rule_file, seconds, against, progress=not as_json and sys.stderr.isatty()
        )
    except ConfigError as exc:
        fail_config(exc)
        return
    except StateError as exc:
        click.echo(f"newsmon: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(result.document(), ensure_ascii=False, indent=2))
    else:
        for line in backtest.render(result, since):
            click.echo(line)
