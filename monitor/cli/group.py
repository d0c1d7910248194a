"""The ``newsmon`` group, the options every command accepts before or after its name,
and ``main``: errors turned into exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from monitor import __version__
from monitor.errors import ConfigError, NewsmonError
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


def command_settings(ctx: click.Context, **given: Any) -> dict[str, Any]:
    base = dict(ctx.obj or {})
    for key, value in given.items():
        if value is not None:
            base[key] = value
    base.setdefault("config_path", None)
    if base["config_path"] is None:
        base["config_path"] = Path(DEFAULT_CONFIG)
    logsetup.setup(base.get("log_level") or "info", base.get("log_format") or "text")
    return base


def fail_config(exc: ConfigError) -> None:
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


def config_only(ctx: click.Context, given: dict[str, Any]) -> Config:
    from monitor.notify import load_config

    settings = command_settings(ctx, **given)
    try:
        return load_config(settings["config_path"])
    except ConfigError as exc:
        fail_config(exc)
        raise AssertionError("unreachable") from exc


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
