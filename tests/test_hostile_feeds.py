"""fault-case group A (bad feed inputs) plus F1, F3 and F6, against the real
``newsmon`` command (daemon or ``once``) and loopback servers only.

The A-group daemon run serves many hostile feeds at once beside a good one: every hostile
feed gets one clear error line per failed poll naming the feed and the cause, the good
feed still alerts (ISO), nothing crashes, the database stays intact, and the daemon's peak
RSS (VmHWM) stays under 200 MB.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.feeds.jsonfeed import TITLE_LIMIT
from tests.conftest import (
    END_OF_WAR_RULE,
    SEED_LINK,
    SEED_TITLE,
    Workspace,
    base_config,
    plain_item,
    rss,
    seed_item_xml,
)
from tests.faults.faultsrv import FaultServer, SilentListener, gzip_bomb
from tests.faults.hosts import Answer, HostServer
from tests.faults.proc import Daemon, forged_lines, integrity, query
from tests.servers import FeedServer, WebhookReceiver

RSS_LIMIT_MB = 200
MARKER = "SECRET-HOSTFILE-MARKER-42"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
PUBLIC = "NEWSMON_TEST_PUBLIC_ADDRESSES"
WAR_TALKS_RULE = 'id: war-talks\nmatch: ["korean war"]\n'


def config(feeds: list[dict[str, Any]], hook: str, **poll: Any) -> dict[str, Any]:
    """base_config with short ticks and intervals (daemon-friendly)."""
    doc = base_config(feeds, hook)
    doc["poll"].update(
        {
            "tick": "1s",
            "min_interval": "1s",
            "default_interval": "1s",
            "per_host": 16,
            "notify_after_failures": 1000,
            **poll,
        }
    )
    doc["delivery"].update({"tick": "1s"})
    return doc


def item(guid: str | None, title: str | None, link: str | None = None, extra: str = "") -> str:
    parts = ["<item>"]
    if title is not None:
        parts.append(f"<title>{title}</title>")
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    parts.append(extra + "</item>")
    return "".join(parts)


def quadratic(refs: int) -> str:
    """docs/reliability.md ``quad``: one 50 KB entity referenced ``refs`` times."""
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "'
        + "A" * 50 * 1024
        + '">\n]>\n<rss version="2.0"><channel><title>'
        + "&a;" * refs
        + "</title><item><title>item</title><guid>1</guid></item></channel></rss>\n"
    )


def feed_lines(log: str, feed: str) -> list[str]:
    return [line for line in log.splitlines() if f" feed {feed}:" in line]


def error_lines(log: str, feed: str) -> list[str]:
    return [line for line in feed_lines(log, feed) if " WARNING " in line or " ERROR " in line]


def bodies(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [json.loads(r.body.decode("utf-8")) for r in receiver.received]


def alert_items(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    out = []
    for doc in bodies(receiver):
        assert isinstance(doc["item"], dict)
        out.append(doc["item"])
    return out


def once(
    ws: Workspace, *args: str, expect: int | None = None, env: dict[str, str] | None = None
) -> str:
    result = ws.run("once", *args, env=env)
    if expect is not None:
        assert result.returncode == expect, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert not forged_lines(result.stderr), result.stderr
    return result.stderr


# -- A1, A5, A6, F1 under the daemon ---------------------------------------------------------


def test_a_hostile_feeds_beside_a_good_one_daemon(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(MARKER)
    big_title = "End of war declaration draft " + "A" * (1 << 20)
    gzip_bomb()  # compress the 1 GiB once, before any client waits for it
    with FaultServer() as faults, SilentListener() as canary:
        canary_url = f"http://127.0.0.1:{canary.port}/x"
        docs: dict[str, tuple[bytes, str]] = {
            # A1: not (whole) feeds
            "html": (b"<!doctype html><html><body><form><input></form></body></html>", "text/html"),
            "json": (b'{"error": "login required"}', "application/json"),
            "empty": (b"", "application/rss+xml"),
            # A6: entity declarations, plain and hidden in UTF-16
            "quad": (quadratic(40_000).encode(), "application/rss+xml"),
            "quad16": (
                quadratic(2000)
                .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
                .encode("utf-16"),
                "application/xml",
            ),
            # F1: bodies that name a file or a URL
            "etc-hostname": (b"/etc/hostname", "application/rss+xml"),
            "file-url": (b"file:///etc/hostname", "application/rss+xml"),
            "canary-url": (canary_url.encode(), "application/rss+xml"),
            "secret-path": (str(secret).encode(), "application/rss+xml"),
            "secret-url": (f"file://{secret}".encode(), "text/plain"),
        }
        causes = {
            "html": "not a feed",
            "json": "not a feed",
            "empty": "not a feed",
            "empty200": "not a feed",
            "quad": "declares XML entities",
            "quad16": "declares XML entities",
            "etc-hostname": "not a feed",
            "file-url": "not a feed",
            "canary-url": "not a feed",
            "secret-path": "not a feed",
            "secret-url": "not a feed",
            "bomb": "response too large",
            "huge": "response too large",
            "endless": "response too large",
        }
        for name, (body, ctype) in docs.items():
            feed_server.put(f"/{name}", body, ctype)
        # 200 with no Content-Length and no body (HTTP/1.0, closed connection)
        feed_server.put("/empty200", b"", headers={"Content-Length": ""})
        # A1 truncated: the complete entry counts, the partial one is skipped.
        feed_server.put(
            "/truncated",
            rss([plain_item(1)])[: -len("</channel></rss>\n")] + b"<item><title>Cut off</ti",
        )
        feed_server.put("/good.xml", rss([plain_item(1)]))
        feed_server.put("/bigtitle.xml", rss([plain_item(2)]))
        urls = {name: feed_server.url(f"/{name}") for name in [*docs, "empty200", "truncated"]}
        urls |= {
            "bomb": faults.url("/gzipbomb"),
            "huge": faults.url("/huge?mb=20"),
            "endless": faults.url("/endless"),
            "good": feed_server.url("/good.xml"),
            "bigtitle": feed_server.url("/bigtitle.xml"),
        }
        feeds: list[dict[str, Any]] = [{"name": n, "url": u} for n, u in urls.items()]
        workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
        workspace.write_config(config(feeds, receiver.url(), max_body="5MiB"))

        with Daemon(workspace) as daemon:
            assert daemon.wait_for(
                lambda: all(feed_lines(daemon.output(), name) for name in urls), timeout=30
            ), daemon.output()
            assert daemon.wait_log(r"feed good: first poll"), daemon.output()
            assert daemon.wait_log(r"feed bigtitle: first poll"), daemon.output()
            # ISO: the good feeds alert while the hostile ones keep failing.
            feed_server.put("/good.xml", rss([seed_item_xml(), plain_item(1)]))
            feed_server.put(
                "/bigtitle.xml",
                rss([item("big-1", big_title, "https://n.test/big"), plain_item(2)]),
            )
            assert receiver.wait_for(2, timeout=20), daemon.output()
            # Every hostile feed failed at least twice (the next polls still run).
            assert daemon.wait_for(
                lambda: all(len(error_lines(daemon.output(), n)) >= 2 for n in causes), timeout=20
            ), daemon.output()
            time.sleep(1.5)  # one more tick: nothing repeats
            alive = daemon.alive()
            peak_mb = daemon.sample_rss() / 1024
            code = daemon.stop()
        log = daemon.output()
        accepts = canary.accepts
        hits = faults.hits

    assert alive, log
    assert code == 0, log
    assert "Traceback" not in log, log
    assert "internal error" not in log, log
    assert forged_lines(log) == []
    assert peak_mb < RSS_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"

    errors = {
        name: error_count
        for name, error_count in query(workspace.db, "SELECT name, error_count FROM feeds")
    }
    for name, cause in causes.items():
        lines = error_lines(log, name)
        # One clear line per failed poll, naming the feed and the cause; no other lines.
        assert len(lines) == errors[name], (name, lines)
        assert len(feed_lines(log, name)) == len(lines), name
        assert all(cause in line for line in lines), (name, lines[0])
        assert all(f"WARNING feed {name}: " in line for line in lines), lines[0]
    for name in ("good", "bigtitle", "truncated"):
        assert errors[name] == 0, name
        assert error_lines(log, name) == [], name
    assert "1 entries without identity skipped" in "\n".join(feed_lines(log, "truncated"))
    assert hits.count("/gzipbomb") >= 2
    assert hits.count("/endless") >= 2

    # F1: the body was never opened as a path or fetched as a URL.
    assert accepts == 0
    assert MARKER not in log
    tables = (
        "SELECT * FROM items",
        "SELECT * FROM alerts",
        "SELECT * FROM feeds",
        "SELECT * FROM meta",
    )
    dump = "\n".join(str(row) for sql in tables for row in query(workspace.db, sql))
    assert MARKER not in dump

    # The good feeds alerted exactly once each; the 1 MB title was cut to the field cap.
    items = alert_items(receiver)
    assert len(items) == 2
    by_feed = {i["feed"]: i for i in items}
    assert by_feed["good"]["title"] == SEED_TITLE
    big = by_feed["bigtitle"]["title"]
    assert isinstance(big, str)
    assert big.startswith("End of war declaration draft AAA")
    assert len(big) <= TITLE_LIMIT
    assert integrity(workspace.db) == "ok"


def test_a5_100k_entries_capped_within_deadline_and_rss(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    entries = "".join(
        f"<item><title>Ordinary headline {n}</title><guid>g{n}</guid>"
        f"<link>https://x.test/{n}</link></item>"
        for n in range(100_000)
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>{entries}'
        "</channel></rss>"
    ).encode()
    assert len(body) < 10 * 1024 * 1024  # inside the default poll.max_body
    feed_server.put("/big.xml", body)
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(
        config(
            [{"name": "big", "url": feed_server.url("/big.xml")}],
            receiver.url(),
            timeout="5s",
            max_entries=500,
        )
    )
    with Daemon(workspace) as daemon:
        assert daemon.wait_log("running: 1 feeds"), daemon.output()
        # Done within the total deadline (5 s) plus slack, under the RSS bound; stop
        # watching as soon as either is broken.
        done = daemon.wait_for(
            lambda: (
                bool(feed_lines(daemon.output(), "big")) or daemon.peak_kib > RSS_LIMIT_MB * 1024
            ),
            timeout=20,
        )
        peak_mb = daemon.sample_rss() / 1024
        log = daemon.output()
    assert done, f"not done within 20 s (peak RSS {peak_mb:.0f} MB)"
    assert feed_lines(log, "big"), f"not done within 20 s (peak RSS {peak_mb:.0f} MB)"
    assert "99500 entries over the per-feed cap ignored" in log
    assert peak_mb < RSS_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"


# -- A2: encoding mess -----------------------------------------------------------------------


def test_a2_encoding_mess_gives_valid_utf8_without_controls(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    head = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    tail = b"</channel></rss>"
    docs = {
        "latin1": head
        + b"<item><title>Caf\xe9 talk on end of war declaration</title><guid>l1</guid>"
        + b"<description>R\xe9sum\xe9 \xa9</description></item>"
        + tail,
        "badutf8": head
        + b"<item><title>Bad \xff\xfe\xc3 end of war declaration</title><guid>b1</guid>"
        + b"<description>tail \xed\xa0\x80 surrogate</description></item>"
        + tail,
        "controls": head
        + b"<item><title>NUL\x00 and C0\x01\x02\x1b[2J end of war declaration\x7f</title>"
        + b"<guid>c1</guid><description>bell\x07 back\x08 \x1b]0;title\x07</description></item>"
        + tail,
        "contradict": '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel>'
        "<title>t</title><item><title>종전선언 end of war declaration café</title>"
        "<guid>k1</guid></item></channel></rss>".encode(),
    }
    for name, body in docs.items():
        feed_server.put(f"/{name}.xml", body, "application/rss+xml; charset=utf-8")
    feeds: list[dict[str, Any]] = [
        {"name": name, "url": feed_server.url(f"/{name}.xml"), "backfill": True} for name in docs
    ]
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(config(feeds, receiver.url()))
    log = once(workspace, expect=0)
    assert receiver.wait_for(4)
    assert len(receiver.received) == 4
    for request in receiver.received:
        text = request.body.decode("utf-8")  # strict: valid UTF-8
        doc = json.loads(text)
        title, summary = doc["item"]["title"], doc["item"]["summary"]
        assert "end of war declaration" in title
        assert not CONTROL.search(title), doc["item"]
        assert not CONTROL.search(summary), doc["item"]
        assert "\x1b" not in text
    titles = {
        doc["item"]["feed"]: doc["item"]["title"]
        for doc in map(json.loads, (r.body for r in receiver.received))
    }
    assert titles["latin1"].startswith("Café talk")
    assert "종전선언" in titles["contradict"]
    assert "\x1b" not in log
    assert "\x00" not in log
    assert integrity(workspace.db) == "ok"


# -- A3: identity ----------------------------------------------------------------------------


def test_a3_identity_one_alert_per_rule_and_story(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    alpha = rss(
        [
            seed_item_xml(),
            # same story again under another guid, same link
            seed_item_xml(guid="syndicated-copy-7"),
            # no guid
            item(None, "Moon renews call for End-of-War Declaration at UN", "https://n.test/a"),
            # no link
            item("b-1", "Envoys weigh end of war declaration timing"),
            # no title: the summary matches
            item(
                "c-1",
                None,
                "https://n.test/c",
                "<description>Talks on a declaration to end the war continue</description>",
            ),
            # no date, matches both rules
            item("d-1", "Declaration ending the Korean War drafted", "https://n.test/d"),
            # duplicate guid inside the feed: the same item
            item("d-1", "Another end of war declaration story", "https://n.test/d2"),
            # nothing to identify it by: skipped and counted
            "<item><pubDate>Wed, 10 Nov 2021 09:12:00 +0000</pubDate></item>",
        ]
    )
    feed_server.put("/alpha.xml", alpha)
    feed_server.put("/beta.xml", rss([seed_item_xml(), plain_item(5)]))
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_rule("war-talks", WAR_TALKS_RULE)
    feeds: list[dict[str, Any]] = [
        {"name": "alpha", "url": feed_server.url("/alpha.xml"), "backfill": True},
        {"name": "beta", "url": feed_server.url("/beta.xml"), "backfill": True},
    ]
    workspace.write_config(config(feeds, receiver.url()))
    log = once(workspace, expect=0)
    assert "1 entries without identity skipped" in log
    once(workspace, "--force", expect=0)  # a second cycle repeats nothing
    got = sorted(
        (doc["rule"]["id"], doc["item"]["title"] or doc["item"]["summary"])
        for doc in bodies(receiver)
    )
    eow = "end-of-war-declaration"
    assert got == sorted(
        [
            (eow, SEED_TITLE),
            (eow, "Moon renews call for End-of-War Declaration at UN"),
            (eow, "Envoys weigh end of war declaration timing"),
            (eow, "Talks on a declaration to end the war continue"),
            (eow, "Declaration ending the Korean War drafted"),
            ("war-talks", SEED_TITLE),
            ("war-talks", "Declaration ending the Korean War drafted"),
        ]
    )
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 7
    # The seed story is in both feeds: one alert per rule, from whichever feed came first.
    seed = [d for d in bodies(receiver) if d["item"]["title"] == SEED_TITLE]
    assert len(seed) == 2
    assert len({d["item"]["feed"] for d in seed}) == 1


# -- A4: key drift ---------------------------------------------------------------------------


def test_a4_key_drift_between_polls_does_not_realert(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    v1 = rss(
        [
            item("g-1", "End of war declaration: envoys meet", "http://www.n.test/s/1"),
            item(
                None,
                "Declaration to end the war: Seoul hopeful",
                "http://it.n.test/s/2",
                "<description>Same text</description>",
            ),
            item(None, "End of war declaration gets a draft", "http://n.test/s/3?id=3"),
            item("g-4", "Declaration ending the Korean War nears", "https://n.test/s/4"),
        ]
    )
    v2 = rss(
        [
            # http -> https, www. dropped, tracking parameters
            item(
                "g-1",
                "End of war declaration: envoys meet",
                "https://n.test/s/1?utm_source=rss&utm_medium=feed&fbclid=x",
            ),
            # it. -> www. host (no guid): the title+summary hash still knows it
            item(
                None,
                "Declaration to end the war: Seoul hopeful",
                "https://www.n.test/s/2",
                "<description>Same text</description>",
            ),
            # no guid, link gains tracking parameters and https
            item(
                None,
                "End of war declaration gets a draft",
                "https://N.TEST:443/s/3?id=3&utm_campaign=x#top",
            ),
            # same guid, edited title
            item("g-4", "Declaration ending the Korean War nears (updated)", "https://n.test/s/4"),
            # a genuinely new story: proves this cycle can alert
            item("g-5", "Fresh end of war declaration proposal", "https://n.test/s/5"),
        ]
    )
    feed_server.put("/w.xml", v1)
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(
        config([{"name": "w", "url": feed_server.url("/w.xml")}], receiver.url())
    )
    assert "baseline" in once(workspace, expect=0)
    feed_server.put("/w.xml", v2)
    once(workspace, "--force", expect=0)
    assert receiver.wait_for(1)
    assert [i["title"] for i in alert_items(receiver)] == ["Fresh end of war declaration proposal"]


# -- A7: a feed added by SIGHUP --------------------------------------------------------------


@pytest.mark.slow
def test_a7_feed_added_on_reload_is_baselined_then_alerts(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    fifty = [
        item(f"n-{n}", f"End of war declaration talks, round {n}", f"https://n.test/{n}")
        for n in range(50)
    ]
    feed_server.put("/old.xml", rss([plain_item(1)]))
    feed_server.put("/new.xml", rss(fifty))
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    old = {"name": "old", "url": feed_server.url("/old.xml")}
    new = {"name": "new", "url": feed_server.url("/new.xml")}
    workspace.write_config(config([old], receiver.url()) | {"watch": False})
    with Daemon(workspace) as daemon:
        assert daemon.wait_log("feed old: first poll"), daemon.output()
        workspace.write_config(config([old, new], receiver.url()) | {"watch": False})
        daemon.hup()
        assert daemon.wait_log("reloaded: 2 feeds"), daemon.output()
        assert daemon.wait_log(r"feed new: first poll, 50 items recorded as the baseline")
        time.sleep(2.5)  # two more ticks and deliveries: still no flood
        assert receiver.received == []
        assert daemon.alive()
        feed_server.put(
            "/new.xml",
            rss([item("n-50", "End of war declaration talks resume", "https://n.test/50"), *fifty]),
        )
        assert receiver.wait_for(1, timeout=15), daemon.output()
        time.sleep(1.5)
        code = daemon.stop()
    assert code == 0
    assert [i["title"] for i in alert_items(receiver)] == ["End of war declaration talks resume"]
    assert "Traceback" not in daemon.output()


# -- F3: unsafe item links -------------------------------------------------------------------


def test_f3_only_http_links_reach_the_webhook(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    links = [
        "javascript:alert(1)",
        "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;",
        "file:///etc/passwd",
        " JaVaScRiPt:alert(2)",
        "http://exa mple.test/x",
        "https://n.test/" + "a" * 10_000,
        "java&#x09;script:alert(3)",
        "vbscript:msgbox(1)",
    ]
    items = [
        item(f"u-{n}", f"End of war declaration link test {n}", link)
        for n, link in enumerate(links)
    ]
    items.append(item("ok", "End of war declaration with a good link", "https://n.test/ok?a=1"))
    feed_server.put("/w.xml", rss(items))
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    workspace.write_config(
        config([{"name": "w", "url": feed_server.url("/w.xml"), "backfill": True}], receiver.url())
    )
    once(workspace, expect=0)
    assert receiver.wait_for(len(links) + 1)
    urls = {i["title"]: i["url"] for i in alert_items(receiver)}
    assert len(urls) == len(links) + 1
    assert urls.pop("End of war declaration with a good link") == "https://n.test/ok?a=1"
    assert set(urls.values()) == {None}, urls
    for request in receiver.received:
        text = request.body.decode()
        assert not re.search(r"(?i)(javascript|vbscript|data|file):", text), text[:300]


# -- F6: redirect guard ----------------------------------------------------------------------


def test_f6_public_first_hop_redirecting_to_private_is_refused(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    good = rss([seed_item_xml()])
    with (
        HostServer("127.0.0.2") as public,  # the "public" first hop for loopback targets
        HostServer("127.0.0.2", default=Answer(body=good)) as target2,
        HostServer("::1", default=Answer(body=good)) as target6,
    ):
        feed_server.put("/target.xml", good)
        redirects = {
            "to-127-0-0-1": feed_server.url("/target.xml"),
            "to-localhost": f"http://localhost:{feed_server.port}/target.xml",
            "to-0-0-0-0": f"http://0.0.0.0:{feed_server.port}/target.xml",
            "to-ipv6": target6.url("/t.xml"),
        }
        for name, target in redirects.items():
            public.answer(f"/{name}", Answer(302, (("Location", target),), b""))
        # Second orientation: 127.0.0.1 as the public first hop, 127.0.0.2 as the target.
        feed_server.redirect("/to-127-0-0-2", target2.url("/t.xml"), code=301)
        feeds: list[dict[str, Any]] = [
            {"name": n, "url": public.url(f"/{n}"), "backfill": True} for n in redirects
        ]
        workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
        workspace.write_config(config(feeds, receiver.url()))
        log = once(workspace, expect=1, env={PUBLIC: "127.0.0.2"})
        feed_server.clear_requests()
        workspace.write_config(
            config(
                [{"name": "to-127-0-0-2", "url": feed_server.url("/to-127-0-0-2")}], receiver.url()
            )
        )
        log2 = once(workspace, expect=1, env={PUBLIC: "127.0.0.1"})
        refused_hits = (len(target2.hits), len(target6.hits), feed_server.count("/target.xml"))
        posted = len(receiver.received)

        # Allowed by config: the same redirects are followed.
        workspace.write_config(
            config(
                [*feeds[:2], {"name": "to-ipv6", "url": public.url("/to-ipv6")}],
                receiver.url(),
                allow_private_redirects=True,
            )
        )
        # --force: the feeds that failed above are held by their 1 s backoff, and whether
        # that has run out by now depends on how fast the two runs above were.
        log3 = once(workspace, "--force", expect=0, env={PUBLIC: "127.0.0.2"})
        allowed_hits = (len(target6.hits), feed_server.count("/target.xml"))

    for name in redirects:
        [line] = error_lines(log, name)
        assert "redirect to a private address refused" in line, line
    [line] = error_lines(log2, "to-127-0-0-2")
    assert "redirect to a private address refused (127.0.0.2)" in line
    assert refused_hits == (0, 0, 0)
    assert posted == 0
    assert "refused" not in log3
    assert allowed_hits == (1, 2)
    assert receiver.wait_for(1)
    assert [i["url"] for i in alert_items(receiver)] == [SEED_LINK]


def test_f6_webhook_notifier_redirect_is_never_followed(
    workspace: Workspace, feed_server: FeedServer
) -> None:
    with HostServer("127.0.0.2") as target, HostServer() as hook:
        hook.answer("/hook", Answer(302, (("Location", target.url("/steal")),), b""))
        feed_server.put("/w.xml", rss([seed_item_xml()]))
        workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
        workspace.write_config(
            config(
                [{"name": "w", "url": feed_server.url("/w.xml"), "backfill": True}],
                hook.url("/hook"),
                allow_private_redirects=True,  # applies to feeds, never to notifiers
            )
        )
        log = once(workspace, expect=1)
        assert len(hook.hits) == 1
        assert target.hits == []
    assert "redirects are not followed" in log
