"""The running service: the daemon (the only APScheduler user) and its reloads, the
runtime that loads config and rules, the per-feed pipeline, delivery of the outbox,
schedules, the status page and /metrics, logging and the admin commands behind the CLI.

Owns: wiring the layers below together and every side effect's timing. Must not: hold
SQL (that is ``store``), parse feeds (``feeds``) or decide matches (``matching``).
"""
