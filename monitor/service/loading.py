"""Load and validate a config with all its rules (``check``, ``once``, ``run``, reload).

Kept apart from runtime.py so that ``newsmon check`` imports no HTTP client, feed
parser or scheduler: it only reads files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from monitor.config import Config, rules_dir_of, sort_problems
from monitor.errors import ConfigError
from monitor.feeds.expat import check_expat
from monitor.matching.rules import RuleSet, check_examples, check_rules, load_rules
from monitor.notify import load_config

log = logging.getLogger("newsmon")


@dataclass(frozen=True)
class Loaded:
    config: Config
    rules: RuleSet


def load_all(path: Path, *, examples: bool = True) -> Loaded:
    """Config plus every rule, fully validated; raise ConfigError listing every problem."""
    check_expat()
    try:
        config = load_config(path)
    except ConfigError as exc:
        # Still read the rule files, so one `newsmon check` shows their problems too.
        rules_dir = rules_dir_of(path)
        extra = load_rules(rules_dir)[1] if rules_dir is not None else []
        raise ConfigError(sort_problems([*exc.problems, *extra])) from None
    rules, problems = load_rules(config.rules_dir)
    if not config.rules_dir.is_dir():
        # Name the key, its line and the folder it resolved to (beside the config file,
        # not the current folder).
        default = "" if ("rules_dir",) in config.marks.positions else " (the default)"
        problems = [
            config.marks.problem(
                ("rules_dir",), f"rules folder not found: {config.rules_dir}{default}"
            )
        ]
    cross = check_rules(rules, config)
    if not examples:
        example_problems = {str(p) for r in rules.rules for p in check_examples(rules, r)}
        for problem in cross:
            if str(problem) in example_problems:
                log.warning("rule example fails: %s", problem)
        cross = [p for p in cross if str(p) not in example_problems]
    problems += cross
    if problems:
        raise ConfigError(sort_problems(problems))
    if not rules.rules:
        log.warning("no rules in %s: feeds are polled but nothing can alert", config.rules_dir)
    return Loaded(config, rules)
