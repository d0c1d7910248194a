"""Placeholder replaced by the status page module (see StatusServer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


class StatusServer:
    """Serves /healthz, /metrics and a read-only status page on a background thread."""

    def __init__(
        self, host: str, port: int, db_path: Path, info: Callable[[], dict[str, Any]]
    ) -> None:
        self.host, self.port, self.db_path, self.info = host, port, db_path, info

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pass
