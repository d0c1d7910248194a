"""config.yaml, feed files and rule-file YAML: loading, ``${VAR}`` expansion, validation.

Owns: the strict YAML loader (line/column marks, duplicate keys and aliases refused),
the settings models, durations and sizes, and ``file:line:col: key.path: message``
problems. Must not: fetch, match, touch the database or know the notifier kinds (their
settings models are passed in by the caller, from ``monitor.notify.MODELS``).
"""

from __future__ import annotations

from monitor.config.loader import load_config, local_feed_problems, rules_dir_of, sort_problems
from monitor.config.model import (
    DEFAULT_USER_AGENT,
    SLUG,
    Config,
    DedupeConfig,
    Defaults,
    DeliveryConfig,
    FeedConfig,
    NotifierModels,
    NotifierSettings,
    PollConfig,
    RetentionConfig,
)
from monitor.config.validation import Count, Digest, Duration, Size, Strict

__all__ = [
    "DEFAULT_USER_AGENT",
    "SLUG",
    "Config",
    "Count",
    "DedupeConfig",
    "Defaults",
    "DeliveryConfig",
    "Digest",
    "Duration",
    "FeedConfig",
    "NotifierModels",
    "NotifierSettings",
    "PollConfig",
    "RetentionConfig",
    "Size",
    "Strict",
    "load_config",
    "local_feed_problems",
    "rules_dir_of",
    "sort_problems",
]
