"""The store's contract, run on both backends (``store_target``: SQLite and PostgreSQL).

One set of query methods serves both; these tests are what keeps them meaning the same.
PostgreSQL-only behaviour (several workers at once) is at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.errors import StateError
from monitor.models import Item, KeyedItem, PostgresURL
from monitor.store import Route, Store
from monitor.store.pgschema import PG_MIGRATIONS
from monitor.store.schema import MIGRATIONS

T0 = 1_700_000_000.0
RULE = Route("r1", "Rule one", ("war",), ("hook",))


@pytest.fixture
def store(store_target: Path | PostgresURL) -> Iterator[Store]:
    s = Store(store_target)
    yield s
    s.close()


def keyed(n: int, link: str | None = None, title: str | None = None) -> KeyedItem:
    link = link or f"https://news.example/{n}"
    title = title or f"Headline {n}"
    item = Item(title, "summary", "", link, f"g{n}", None)
    return KeyedItem(item, (f"guid:g{n}", f"link:{link}"), link, title.lower())


def record(
    store: Store,
    feed: str,
    items: list[KeyedItem],
    now: float = T0,
    *,
    alert: bool = True,
    routes: tuple[Route, ...] = (RULE,),
    window: float = 7 * 86400,
) -> tuple[int, int]:
    out = store.record_poll(
        feed, items, lambda _item: list(routes), now=now, alert=alert, title_window=window,
        next_check_at=now + 600, etag=None, last_modified=None,
    )  # fmt: skip
    return out.new_items, len(out.alerts)


def test_schema_is_created_at_the_newest_version_and_reopens(store_target: object) -> None:
    assert isinstance(store_target, Path | PostgresURL)
    first = Store(store_target)
    assert first.schema_version() == len(MIGRATIONS) == len(PG_MIGRATIONS)
    first.close()
    again = Store(store_target)  # a second open migrates nothing and works
    assert again.schema_version() == len(MIGRATIONS)
    again.sync_feeds([("a", "https://a.example/feed")], T0)
    assert [s.name for s in again.feed_states()] == ["a"]
    again.close()


def test_the_writing_connection_keeps_a_32_mib_page_cache(tmp_path: Path) -> None:
    """SQLite's default is 2 MiB; a busy story window reads and writes pages all over its
    key index (docs/stories.md). Read-only connections keep the default."""
    store = Store(tmp_path / "s.db")
    try:
        assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == -32 * 1024
    finally:
        store.close()
    reader = Store(tmp_path / "s.db", lock=False, readonly=True)
    try:
        assert reader.conn.execute("PRAGMA cache_size").fetchone()[0] == -2000
    finally:
        reader.close()


def test_a_schema_newer_than_the_code_is_refused(store_target: object) -> None:
    assert isinstance(store_target, Path | PostgresURL)
    s = Store(store_target)
    if s.shared:
        s.conn.execute("UPDATE newsmon_schema SET version = 99")
    else:
        s.conn.execute("PRAGMA user_version=99")
    s.close()
    with pytest.raises(StateError, match="schema version 99, newer than this newsmon"):
        Store(store_target, lock=False)
    with pytest.raises(StateError, match="newer than this newsmon"):
        Store(store_target, lock=False, readonly=True)


def test_claims_lease_due_feeds_once(store: Store) -> None:
    store.sync_feeds([("a", "https://a.example/"), ("b", "https://b.example/")], T0)
    claimed = store.claim_due_feeds(["a", "b"], T0, lease=60, limit=10)
    assert sorted(s.name for s in claimed) == ["a", "b"]
    assert all(s.next_check_at == T0 + 60 for s in claimed)
    assert store.claim_due_feeds(["a", "b"], T0 + 1, lease=60, limit=10) == []
    # the lease runs out (a crash mid-poll): due again
    again = store.claim_due_feeds(["a", "b"], T0 + 61, lease=60, limit=1)
    assert len(again) == 1
    # once: every feed not held, due or not
    assert len(store.claim_due_feeds(["a", "b"], T0 + 62, lease=60, limit=10, all_now=True)) == 2


def test_a_changed_source_forgets_validators(store: Store) -> None:
    store.sync_feeds([("a", "https://a.example/")], T0)
    record(store, "a", [keyed(1)], alert=False)
    store.sync_feeds([("a", "https://other.example/")], T0 + 5)
    (state,) = store.feed_states(["a"])
    assert (state.url, state.next_check_at, state.baseline_done) == (
        "https://other.example/", T0 + 5, True,
    )  # fmt: skip


def test_record_poll_baseline_then_new_items_alert_once(store: Store) -> None:
    store.sync_feeds([("a", "https://a.example/")], T0)
    assert record(store, "a", [keyed(1), keyed(2)], alert=False) == (2, 0)
    assert record(store, "a", [keyed(1), keyed(2), keyed(3)], T0 + 10) == (1, 1)
    assert record(store, "a", [keyed(3)], T0 + 20) == (0, 0)
    (state,) = store.feed_states(["a"])
    assert (state.items_total, state.last_status, state.baseline_done) == (3, "ok", True)
    assert store.outbox_counts() == {"pending": 1}


def test_one_alert_per_rule_and_story_across_feeds(store: Store) -> None:
    store.sync_feeds([("a", "https://a.example/"), ("b", "https://b.example/")], T0)
    same = "https://news.example/shared"
    assert record(store, "a", [keyed(1, link=same)]) == (1, 1)
    assert record(store, "b", [keyed(2, link=same)], T0 + 1) == (1, 0)
    # the same title (another link) inside the title window: a repeat
    assert record(store, "b", [keyed(3, title="Headline 1")], T0 + 2) == (1, 0)
    # ... and after the window: a new alert
    assert record(store, "b", [keyed(4, title="Headline 1")], T0 + 100, window=50) == (1, 1)
    # another rule is its own
    other = Route("r2", "Rule two", ("war",), ("hook",))
    assert record(store, "c", [keyed(5, link=same)], T0 + 3, routes=(other,)) == (1, 1)


def test_a_title_repeat_does_not_use_up_its_link(store: Store) -> None:
    store.sync_feeds([("a", "https://a.example/")], T0)
    assert record(store, "a", [keyed(1)]) == (1, 1)
    # new link, title repeat: no alert, and its link stays free
    assert record(store, "a", [keyed(2, title="Headline 1")], T0 + 1, window=50) == (1, 0)
    assert record(store, "b", [keyed(3, link="https://news.example/2")], T0 + 60, window=50) == (
        1, 1,
    )  # fmt: skip


def test_outbox_lease_outcomes_and_requeue(store: Store) -> None:
    store.sync_feeds([("a", "https://a.example/")], T0)
    record(store, "a", [keyed(1), keyed(2)], routes=(Route("r", "R", ("x",), ("h1", "h2")),))
    rows = store.claim_deliveries(["h1", "h2"], T0, lease=30, limit=10)
    assert len(rows) == 4
    assert store.claim_deliveries(["h1", "h2"], T0 + 1, lease=30, limit=10) == []
    store.mark_sent(rows[0].id, T0 + 2)
    store.mark_retry(rows[1].id, T0 + 2, "503", T0 + 100)
    store.mark_dead(rows[2].id, T0 + 2, "400")
    store.release([rows[3].id])
    assert store.outbox_counts() == {"sent": 1, "pending": 2, "dead": 1}
    assert store.requeue(None, T0 + 3) == 1
    # a lease that ran out (crash mid-send) is due again, with the same id
    taken = store.claim_deliveries(["h1", "h2"], T0 + 3, lease=30, limit=10)
    assert rows[1].id not in {d.id for d in taken}
    redo = store.claim_deliveries(["h1", "h2"], T0 + 40, lease=30, limit=10)
    assert {d.id for d in redo} == {d.id for d in taken}
    got = store.delivery(rows[0].id)
    assert got is not None
    assert got.alert.item.title.startswith("Headline")


def test_release_all_sending_is_a_single_process_recovery(store: Store) -> None:
    store.sync_feeds([("a", "https://a.example/")], T0)
    record(store, "a", [keyed(1)])
    assert len(store.claim_deliveries(["hook"], T0, lease=30, limit=10)) == 1
    # SQLite: nothing else runs, so a 'sending' row at start was left by a crash.
    # PostgreSQL: another worker may be sending it right now; its lease decides.
    assert store.release_all_sending() == (0 if store.shared else 1)


def test_notices_once_per_key_and_notifier_state(store: Store) -> None:
    assert store.add_notice("feed-a-failing", "t", "x", ["hook"], T0) is True
    assert store.add_notice("feed-a-failing", "t", "x", ["hook"], T0 + 1) is False
    assert store.outbox_counts() == {"pending": 1}
    store.disable_notifier("hook", "410 gone", "h1", T0)
    store.disable_notifier("hook", "410 again", "h2", T0)  # replaces
    assert store.disabled_notifiers() == {"hook": ("410 again", "h2")}
    store.enable_notifier("hook")
    assert store.disabled_notifiers() == {}


def test_meta_listings_and_health(store: Store) -> None:
    store.set_meta("k", "v1")
    store.set_meta("k", "v2")
    assert store.meta() == {"k": "v2"}
    store.set_meta("k", None)
    assert store.meta() == {}
    store.sync_feeds([("a", "https://a.example/")], T0)
    record(store, "a", [keyed(1)])
    (alert,) = store.recent_alerts()
    assert alert["rule_id"] == "r1"
    assert alert["deliveries"][0]["status"] == "pending"
    assert store.alerts_by_day(T0 - 86400) == [("2023-11-14", "r1", 1)]
    health = store.health(T0 + 5)
    assert health["outbox"] == {"pending": 1}
    assert health["lag"] == 5.0
    assert store.integrity_ok()


def test_failures_redirects_and_not_modified(store: Store) -> None:
    store.sync_feeds([("a", "https://a.example/")], T0)
    state = store.record_failure("a", T0, "boom", T0 + 30)
    assert (state.error_count, state.failing_since, state.hold_until) == (1, T0, T0 + 30)
    store.mark_failure_noticed("a")
    store.record_not_modified("a", T0 + 31, T0 + 90, "Tue, 01 Jan 2030 00:00:00 GMT")
    store.flush()  # a 304 is a deferred update, written with the next transaction
    (state,) = store.feed_states(["a"])
    assert (state.error_count, state.notice_sent, state.last_status) == (0, False, "not_modified")
    new = "https://new.example/"
    assert not store.note_redirect("a", new, T0, times=2, span=10)
    assert store.note_redirect("a", new, T0 + 20, times=2, span=10)
    assert store.feed_states(["a"])[0].url == new


def test_prune_forgets_old_keys_items_and_alerts(store: Store) -> None:
    store.sync_feeds([("a", "https://a.example/")], T0)
    record(store, "a", [keyed(1)])
    (row,) = store.claim_deliveries(["hook"], T0, lease=30, limit=1)
    store.mark_sent(row.id, T0)
    pruned = store.prune_batch(T0 + 900, T0 + 900)
    assert pruned == {
        "item_keys": 2, "items": 1, "alerts": 1, "deliveries": 1, "story_items": 0,
        "story_keys": 0,
    }  # fmt: skip
    # the story's alert key went with its alert: the same link alerts again
    assert record(store, "a", [keyed(1)], T0 + 2000) == (1, 1)


def test_workers_table(store: Store) -> None:
    store.register_worker(
        "w1", host="h", pid=1, version="0", config_hash="c", rules_hash="r", now=T0
    )
    store.worker_heartbeat("w1", T0 + 5, "c2", "r2")
    (w,) = store.workers(T0 + 6)
    assert (w["heartbeat"], w["config_hash"], w["rules_hash"]) == (T0 + 5, "c2", "r2")
    store.worker_stopped("w1", T0 + 7)
    assert store.workers(T0 + 8)[0]["stopped_at"] == T0 + 7
    assert store.forget_workers(T0 + 8 * 86400) == 1


def test_exclusive_job(store_target: Path | PostgresURL) -> None:
    one = Store(store_target)
    two = Store(store_target, lock=False)
    try:
        with one.exclusive("housekeeping") as first, two.exclusive("housekeeping") as second:
            assert first is True
            # PostgreSQL: one holder at a time. SQLite: one process (the file lock) anyway.
            assert second is (not one.shared)
        with two.exclusive("housekeeping") as after:
            assert after is True
    finally:
        two.close()
        one.close()


# -- PostgreSQL: the same schema, and several workers at once -------------------------


def _columns(store: Store) -> dict[str, list[str]]:
    if store.shared:
        rows = store.conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name != 'newsmon_schema'"
            " ORDER BY table_name, ordinal_position"
        ).fetchall()
    else:
        rows = store.conn.execute(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p"
            " WHERE m.type = 'table' ORDER BY m.name, p.cid"
        ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def test_both_backends_have_the_same_tables_and_columns(
    tmp_path: Path, pg_url: PostgresURL
) -> None:
    lite, pg = Store(tmp_path / "x.db"), Store(pg_url)
    try:
        assert _columns(pg) == _columns(lite)
    finally:
        lite.close()
        pg.close()


def test_concurrent_claims_never_share_a_feed(pg_url: PostgresURL) -> None:
    names = [f"f{i}" for i in range(300)]
    setup = Store(pg_url)
    setup.sync_feeds([(n, f"https://{n}.example/") for n in names], T0)
    stores = [Store(pg_url) for _ in range(3)]
    got: list[list[str]] = [[] for _ in stores]
    start = threading.Barrier(len(stores))

    def claim(i: int) -> None:
        start.wait()
        while batch := stores[i].claim_due_feeds(names, T0, lease=60, limit=7):
            got[i].extend(s.name for s in batch)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    everything = [n for g in got for n in g]
    assert sorted(everything) == sorted(names)  # each feed claimed exactly once
    assert sum(1 for g in got if g) >= 2  # and the work was shared
    for s in [setup, *stores]:
        s.close()


def test_concurrent_records_of_one_story_make_one_alert(pg_url: PostgresURL) -> None:
    feeds = [f"f{i}" for i in range(6)]
    setup = Store(pg_url)
    setup.sync_feeds([(n, f"https://{n}.example/") for n in feeds], T0)
    stores = [Store(pg_url) for _ in feeds]
    start = threading.Barrier(len(feeds))
    # every feed carries the same 20 stories, in a different order: a deadlock between
    # two recording transactions is broken by the server and the loser runs again
    stories = [keyed(n, link=f"https://news.example/s{n}") for n in range(20)]
    made = [0] * len(feeds)
    errors: list[BaseException] = []

    def go(i: int) -> None:
        order = stories[i:] + stories[:i]
        start.wait()
        try:
            made[i] = record(stores[i], feeds[i], order)[1]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(feeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []  # every recording committed (a deadlock loser ran again)
    assert sum(made) == 20
    assert setup.outbox_counts() == {"pending": 20}
    for s in [setup, *stores]:
        s.close()


def test_an_unreachable_server_is_reported_without_its_password() -> None:
    url = PostgresURL("postgresql://newsmon:s3cret-pw@127.0.0.1:1/none")
    with pytest.raises(StateError) as err:
        Store(url)
    assert "cannot reach the database postgresql://newsmon:***@127.0.0.1:1/none" in str(err.value)
    assert "s3cret-pw" not in str(err.value)
