"""newsmon: a news-monitoring alert daemon (import package ``monitor``)."""

from __future__ import annotations

__version__ = "0.1.0"
