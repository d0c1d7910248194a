"""The workers table: one row per running ``newsmon run`` (heartbeat, version, hashes)."""

from __future__ import annotations

from typing import Any

from monitor.store.db import Database

_COLUMNS = (
    "id", "host", "pid", "version", "config_hash", "rules_hash", "started_at", "heartbeat",
    "stopped_at",
)  # fmt: skip
FORGET_AFTER = 7 * 86400.0  # a worker silent this long is dropped from the list


class WorkerStore(Database):
    def register_worker(
        self,
        worker_id: str,
        *,
        host: str,
        pid: int,
        version: str,
        config_hash: str,
        rules_hash: str,
        now: float,
    ) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO workers (id, host, pid, version, config_hash,"
                " rules_hash, started_at, heartbeat, stopped_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (worker_id, host, pid, version, config_hash, rules_hash, now, now),
            )

    def worker_heartbeat(
        self, worker_id: str, now: float, config_hash: str, rules_hash: str
    ) -> None:
        """Once per poll tick; the hashes change when the worker reloads."""
        with self.write() as conn:
            conn.execute(
                "UPDATE workers SET heartbeat = ?, config_hash = ?, rules_hash = ? WHERE id = ?",
                (now, config_hash, rules_hash, worker_id),
            )

    def worker_stopped(self, worker_id: str, now: float) -> None:
        with self.write() as conn:
            conn.execute("UPDATE workers SET stopped_at = ? WHERE id = ?", (now, worker_id))

    def workers(self, now: float) -> list[dict[str, Any]]:
        """Workers running or stopped within a day, oldest first."""
        rows = self.conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM workers"
            " WHERE stopped_at IS NULL OR stopped_at >= ? ORDER BY started_at, id",
            (now - 86400,),
        ).fetchall()
        return [dict(zip(_COLUMNS, r, strict=True)) for r in rows]

    def forget_workers(self, now: float) -> int:
        with self.write() as conn:
            return conn.execute(
                "DELETE FROM workers WHERE heartbeat < ?", (now - FORGET_AFTER,)
            ).rowcount
