"""Logging: one line per event, text for people or JSON for log shippers.

Untrusted text (feed titles, server answers) reaches log lines only through ``repr()`` or
JSON escaping, so it cannot forge a line or send escape codes to a terminal.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from monitor.text import clean


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("feed", "rule", "notifier", "event"):
            value = getattr(record, key, None)
            if value is not None:
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=True)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if record.exc_info:
            return line
        return clean(line)  # belt and braces: never more than one line per record


_OVERRUN_ADVICE = {
    "poll": "raise poll.tick, or lower poll.concurrency or poll.timeout",
    "deliver": "raise delivery.tick, or lower delivery.timeout",
}


class SkippedRunFilter(logging.Filter):
    """APScheduler's "Execution of job ... skipped: maximum number of running instances
    reached" repeats every tick and names internals; say it once per job, in newsmon's
    words, with what to do."""

    def __init__(self) -> None:
        super().__init__()
        self.told: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances" not in str(record.msg):
            return True
        job = record.args[0] if isinstance(record.args, tuple) and record.args else None
        name = str(getattr(job, "id", None) or "a scheduled")
        if name not in self.told:
            self.told.add(name)
            advice = _OVERRUN_ADVICE.get(name, "check the log for slow feeds or receivers")
            logging.getLogger("newsmon.daemon").warning(
                "the %s job was still running when its next run was due, so that run was "
                "skipped (said once; it runs again at the next tick). If this happens often, "
                "%s",
                name,
                advice,
            )
        return False


_SKIPPED = SkippedRunFilter()


def report(line: str) -> None:
    """A command's closing report on stderr (``once``'s summary): as written, or one JSON
    line like the log's when logs are JSON, so that a log file of ``once --log-format
    json`` runs (the README's cron line) stays one JSON object per line. Printed whatever
    the log level: it is the command's answer, not a log event."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            record = logging.makeLogRecord(
                {"name": "newsmon", "levelno": logging.INFO, "levelname": "INFO", "msg": line}
            )
            line = handler.formatter.format(record)
            break
    print(line, file=sys.stderr, flush=True)


def setup(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter stays out, even when debugging: httpx logs every request URL at
    # INFO/DEBUG, and a Slack webhook URL *is* its secret.
    for noisy in ("httpx", "httpcore", "hpack"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(
        logging.DEBUG if level == "debug" else logging.WARNING
    )
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if _SKIPPED not in scheduler_log.filters:
        scheduler_log.addFilter(_SKIPPED)
