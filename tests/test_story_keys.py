"""The story band-key index on both backends: retention keeps it to the story window, and
the upgrade to integer keys (schema version 7) keeps stories already in the window
findable."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.feeds.identity import story_link
from monitor.models import PostgresURL
from monitor.store import Store, StoryPolicy, more_to_prune
from monitor.store.dialect import postgres_ddl
from monitor.store.schema import MIGRATIONS
from monitor.stories import THRESHOLD, fingerprint, similarity
from monitor.stories.normalize import clean_lead, clean_title, features
from monitor.stories.signature import BANDS, ROWS, _minhash, _permutations

T0 = 1_700_000_000.0
DAY = 86400.0
WINDOW = 3600.0
POLICY = StoryPolicy(WINDOW, similarity, THRESHOLD)

FIRE = (
    "Wildfire forces thousands to evacuate near Lake Tahoe resort towns",
    "Firefighters battled strong winds on Tuesday as the blaze spread across dry forest"
    " toward the resort towns on the southern shore, officials said.",
)
FLOOD = (
    "Flash floods sweep through mountain villages in northern Pakistan overnight",
    "Rescue teams searched for survivors after torrents of water and mud destroyed homes"
    " and bridges in several valleys, the disaster agency said.",
)


@pytest.fixture
def store(store_target: Path | PostgresURL) -> Iterator[Store]:
    s = Store(store_target)
    yield s
    s.close()


def attach(store: Store, item_id: str, title: str, lead: str, now: float, link: str) -> str:
    key = story_link(link)
    sp = fingerprint(title, lead, key, item_id)
    with store.write() as conn:
        return store.attach_story(conn, item_id, "f", title, link, key, sp, now, POLICY)


def copy_of(story: tuple[str, str]) -> tuple[str, str]:
    """Another outlet's copy: a tagged title, the lead trimmed."""
    return "UPDATE 1-" + story[0] + " - Wire", story[1][:120]


def count(store: Store, sql: str) -> int:
    return int(store.conn.execute(sql).fetchone()[0])


def test_retention_drops_band_keys_older_than_the_window_and_keeps_the_copies(
    store: Store,
) -> None:
    fire = attach(store, "old", *FIRE, T0, "https://a.test/fire")
    flood = attach(store, "new", *FLOOD, T0 + 3000, "https://a.test/flood")
    old_keys = len(fingerprint(*FIRE, story_link("https://a.test/fire")).keys)
    new_keys = len(fingerprint(*FLOOD, story_link("https://a.test/flood")).keys)
    assert count(store, "SELECT count(*) FROM story_keys") == old_keys + new_keys

    got = store.prune(T0 + 4000, 90 * DAY, 365 * DAY, story_window=WINDOW)
    assert (got["story_keys"], got["story_items"]) == (old_keys, 0)
    # the copies stay for `newsmon stories` (retention.items); only the look-up keys went
    assert count(store, "SELECT count(*) FROM story_items") == 2
    assert count(store, "SELECT count(*) FROM story_keys") == new_keys
    assert count(store, "SELECT count(*) FROM story_keys WHERE item_id = 'new'") == new_keys
    # a copy inside the window still groups; outside it never did (the look-up's bound)
    assert attach(store, "copy-new", *copy_of(FLOOD), T0 + 4000, "https://b.test/1") == flood
    assert attach(store, "copy-old", *copy_of(FIRE), T0 + 4000, "https://b.test/2") != fire
    assert [s["id"] for s in store.stories_since(0) if len(s["items"]) == 2] == [flood]


def test_story_key_retention_runs_in_bounded_batches(store: Store) -> None:
    attach(store, "old", *FIRE, T0, "https://a.test/fire")
    attach(store, "older", *FLOOD, T0 - 1, "https://a.test/flood")
    # limit 1 allows 16 keys per batch: the oldest instant's keys all go (one item's
    # 33), the next batch takes the rest, then nothing is left to do
    first = store.prune_batch(T0 - 90 * DAY, T0 - 365 * DAY, 1, story_keys_before=T0 + 1)
    assert first["story_keys"] == len(fingerprint(*FLOOD, story_link("https://a.test/flood")).keys)
    assert more_to_prune(first, 1)
    second = store.prune_batch(T0 - 90 * DAY, T0 - 365 * DAY, 1, story_keys_before=T0 + 1)
    assert second["story_keys"] > 0
    third = store.prune_batch(T0 - 90 * DAY, T0 - 365 * DAY, 1, story_keys_before=T0 + 1)
    assert third["story_keys"] == 0
    assert not more_to_prune(third, 1)
    assert count(store, "SELECT count(*) FROM story_items") == 2


def v6_keys(title: str, lead: str, link_key: str) -> list[str]:
    """The text band keys schema version 6 stored (signature.py before integer keys)."""
    keys = []
    for prefix, feats in (
        ("t", features(clean_title(title))),
        ("l", features(clean_lead(lead, title))),
    ):
        mh = _minhash()(num_perm=BANDS * ROWS, permutations=_permutations(), scheme="affine32")
        mh.update_batch([f.encode("utf-8") for f in sorted(feats)])
        for band in range(BANDS):
            chunk = mh.hashvalues[band * ROWS : (band + 1) * ROWS].tobytes()
            keys.append(f"{prefix}{band}:{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
    keys.append("u:" + hashlib.blake2b(link_key.encode(), digest_size=10).hexdigest())
    return keys


def _as_version_6(store: Store) -> None:
    """Put the v6 story_keys table back and mark the database as version 6."""
    ddl = (
        "CREATE TABLE story_keys (key TEXT NOT NULL, first_seen REAL NOT NULL,"
        " item_id TEXT NOT NULL, PRIMARY KEY (key, first_seen, item_id))",
        "CREATE INDEX story_keys_first_seen ON story_keys (first_seen)",
    )
    with store.write() as conn:
        conn.execute("DROP TABLE story_keys")
        for statement in ddl:
            conn.execute(postgres_ddl(statement) if store.shared else statement)
        if store.shared:
            conn.execute("UPDATE newsmon_schema SET version = 6")
        else:
            conn.execute("PRAGMA user_version=6")


def test_upgrade_converts_text_keys_so_a_story_in_the_window_still_groups(
    store_target: Path | PostgresURL,
) -> None:
    assert len(MIGRATIONS) == 7, "this test builds a version-6 database"
    store = Store(store_target)
    _as_version_6(store)
    link = "https://a.test/fire"
    first = fingerprint(*FIRE, story_link(link))
    with store.write() as conn:
        conn.execute(
            "INSERT INTO stories (id, title, first_seen, last_seen) VALUES ('s1', ?, ?, ?)",
            (FIRE[0], T0, T0),
        )
        conn.execute(
            "INSERT INTO story_items (item_id, story_id, feed, outlet, title, url, link_key,"
            " first_seen, ctitle, clead) VALUES ('i1', 's1', 'f', 'a', ?, ?, ?, ?, ?, ?)",
            (FIRE[0], link, story_link(link), T0, first.title, first.lead),
        )
        conn.executemany(
            "INSERT INTO story_keys (key, first_seen, item_id) VALUES (?, ?, 'i1')",
            [(k, T0) for k in v6_keys(*FIRE, str(story_link(link)))],
        )
    store.close()

    store = Store(store_target)  # migrates to version 7
    try:
        assert store.schema_version() == 7
        stored = {int(r[0]) for r in store.conn.execute("SELECT key FROM story_keys")}
        assert stored == set(first.keys)  # each old key is the new key of the same band
        # a copy seen after the upgrade (inside the window) joins the story
        assert attach(store, "i2", *copy_of(FIRE), T0 + 600, "https://b.test/x") == "s1"
        # and the same link through another feed: found by its link key alone
        assert attach(store, "i3", "Something else entirely", "", T0 + 700, link) == "s1"
    finally:
        store.close()
