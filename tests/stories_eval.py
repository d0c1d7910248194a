"""Pairwise precision and recall of story grouping on tests/data/stories/labelled.jsonl,
through the real grouping path (band keys in SQLite, verified candidates)."""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.feeds.identity import story_link
from monitor.store import Store, StoryPolicy
from monitor.stories import THRESHOLD, fingerprint, similarity

LABELLED = Path(__file__).parent / "data" / "stories" / "labelled.jsonl"
COPY_KINDS = ("copy-real", "copy-made")


def load() -> list[dict[str, Any]]:
    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]


@contextmanager
def temp_store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.db", lock=False)
        try:
            yield store
        finally:
            store.close()


def group(rows: list[dict[str, Any]], threshold: float = THRESHOLD) -> dict[str, str]:
    """Item id -> story id, grouping the rows in order as newsmon would."""
    policy = StoryPolicy(72 * 3600.0, similarity, threshold)
    out: dict[str, str] = {}
    with temp_store() as store, store.write() as conn:
        for n, row in enumerate(rows):
            link = f"https://{row['outlet'].replace(' ', '-')}.test/{row['id']}"
            sp = fingerprint(row["title"], row["summary"], story_link(link), row["outlet"])
            out[row["id"]] = store.attach_story(
                conn, row["id"], row["outlet"], row["title"], link, story_link(link), sp,
                1000.0 + n, policy,
            )  # fmt: skip
    return out


@dataclass
class Scores:
    precision: float
    copy_recall: float
    event_recall: float
    true_pairs: int
    copy_pairs: int
    event_pairs: int
    false_merges: list[tuple[str, str]]
    missed_copies: list[tuple[str, str]]


def score(rows: list[dict[str, Any]], stories: dict[str, str]) -> Scores:
    tp = fp = copy_hit = copy_all = event_hit = event_all = 0
    false_merges, missed = [], []
    for a, b in itertools.combinations(rows, 2):
        same = a["group"] == b["group"]
        said = stories[a["id"]] == stories[b["id"]]
        if said and same:
            tp += 1
        elif said:
            fp += 1
            false_merges.append((a["title"], b["title"]))
        if same and a["kind"] in COPY_KINDS:
            copy_all += 1
            copy_hit += said
            if not said:
                missed.append((a["title"], b["title"]))
        elif same:
            event_all += 1
            event_hit += said
    return Scores(
        precision=tp / (tp + fp) if tp + fp else 1.0,
        copy_recall=copy_hit / copy_all if copy_all else 1.0,
        event_recall=event_hit / event_all if event_all else 1.0,
        true_pairs=copy_all + event_all,
        copy_pairs=copy_all,
        event_pairs=event_all,
        false_merges=false_merges,
        missed_copies=missed,
    )
