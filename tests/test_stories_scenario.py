"""Stories end to end (issue 11), against the loopback feed server and webhook receiver,
through ``newsmon once`` and the daemon: the seed IANS story from several outlets is one
story and one alert, a later copy attaches to it, a different development on the same
topic is its own alert, and ``min_sources`` waits for corroboration by distinct outlets
(two feeds of one outlet count once)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from tests.conftest import END_OF_WAR_RULE, Workspace, base_config, plain_item, rss
from tests.faults.proc import Daemon
from tests.servers import FeedServer, WebhookReceiver

SEED_LEAD = (
    "Seoul, Nov 10 (IANS) South Korea and the US are actively discussing the possibility of "
    "declaring a formal end to the Korean War with North Korea, South Korean Ambassador to "
    "the US Lee Soo-hyuck said. Lee said the countries are also working to devise an end of "
    "the Korean War declaration draft."
)


def copy_item(
    title: str, link: str, guid: str, lead: str = SEED_LEAD, source: str | None = None
) -> str:
    src = f'<source url="https://src.test/">{escape(source)}</source>' if source else ""
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f'<guid isPermaLink="false">{escape(guid)}</guid>'
        f"<description>{escape(lead)}</description>{src}</item>"
    )


# The seed report as three more outlets republish it: other guids and links, and the
# edits wire copies get (update tag, "South Korea" spelled out, outlet suffix, dateline
# and a trimmed lead).
ORIGINAL = copy_item(
    "S. Korea, US in active discussion over end of war declaration: Envoy",
    "https://www.example-news.test/world/2021/11/10/end-of-war-declaration-envoy",
    "ians-2021-11-10-end-of-war-declaration-envoy",
)
COPY_2 = copy_item(
    "UPDATE 1-South Korea, US in active discussion over end-of-war declaration: envoy",
    "https://news.second-outlet.test/article/88412?ref=rss",
    "second-88412",
    SEED_LEAD.replace("Seoul, Nov 10 (IANS) ", "SEOUL, Nov 10 (IANS) -- ")[:180],
)
COPY_3 = copy_item(
    "S.Korea, U.S. in active discussion over end of war declaration: Envoy - Third Daily",
    "https://third-daily.test/2021/11/10/skorea-us-end-of-war",
    "td-20211110-0042",
    SEED_LEAD.removeprefix("Seoul, Nov 10 (IANS) "),
)
COPY_4 = copy_item(
    "South Korea, US in active discussion over end of war declaration: envoy",
    "https://www.fourth-wire.test/news/end-of-war-envoy.html",
    "fw-1",
    SEED_LEAD,
)
# Same topic, same day, a different development: must be its own story and alert.
REJECTION = copy_item(
    "N. Korea rejects end-of-war declaration as premature, demands end of hostile policy",
    "https://news.second-outlet.test/article/88530",
    "second-88530",
    "North Korea's vice foreign minister said on Wednesday that an end-of-war declaration "
    "would be premature while Washington keeps its hostile policy, dismissing Seoul's "
    "proposal in a statement carried by state media.",
)


def _feeds(server: FeedServer, names: list[str], **extra: Any) -> list[dict[str, Any]]:
    return [{"name": n, "url": server.url(f"/{n}.xml"), **extra.get(n, {})} for n in names]


def _stories(ws: Workspace) -> list[dict[str, Any]]:
    result = ws.run("stories", "--json")
    assert result.returncode == 0, result.stderr
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


def _story_with(stories: list[dict[str, Any]], word: str) -> list[dict[str, Any]]:
    return [s for s in stories if any(word in i["title"] for i in s["items"])]


def test_one_story_one_alert_across_outlets(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    workspace.write_rule("end-of-war-declaration", END_OF_WAR_RULE)
    names = ["wire", "second", "third", "fourth"]
    workspace.write_config(base_config(_feeds(feed_server, names), receiver.url()))
    for i, name in enumerate(names):
        feed_server.put(f"/{name}.xml", rss([plain_item(100 + i)]))
    assert workspace.run("once").returncode == 0  # baseline

    # One cycle: the seed report from three feeds of three outlets -> one alert.
    feed_server.put("/wire.xml", rss([ORIGINAL, plain_item(100)]))
    feed_server.put("/second.xml", rss([COPY_2, plain_item(101)]))
    feed_server.put("/third.xml", rss([COPY_3, plain_item(102)]))
    result = workspace.run("once")
    assert result.returncode == 0, result.stderr
    assert "1 new alerts" in result.stderr, result.stderr
    assert receiver.wait_for(1)
    body = receiver.received[0].json()
    assert body["story"]["id"]
    # The body names the sources known when the alert was made: the first copy polled.
    [made_with] = body["story"]["sources"]
    assert made_with["feed"] == body["item"]["feed"]
    listed = json.loads(workspace.run("alerts", "--json").stdout)
    [now] = [a["story"] for a in listed if a["story"]]
    assert now["id"] == body["story"]["id"]
    assert sorted(s["outlet"] for s in now["sources"]) == [
        "example-news.test", "second-outlet.test", "third-daily.test",
    ]  # fmt: skip

    stories = _stories(workspace)
    [seed] = _story_with(stories, "active discussion")
    assert seed["id"] == body["story"]["id"]
    assert len(seed["items"]) == 3
    assert seed["first_seen"].endswith("Z")
    assert all(set(i) == {"feed", "outlet", "title", "url", "first_seen"} for i in seed["items"])
    # The baseline's ordinary items are singletons, listed too.
    assert sum(1 for s in stories if len(s["items"]) == 1) >= 4

    # A cycle later, a fourth copy: no new alert; the story has four copies and
    # `alerts` names four sources. The rejection story, same topic, same day: its own alert.
    feed_server.put("/fourth.xml", rss([COPY_4, plain_item(103)]))
    feed_server.put("/second.xml", rss([REJECTION, COPY_2, plain_item(101)]))
    result = workspace.run("once")
    assert result.returncode == 0, result.stderr
    assert "1 new alerts" in result.stderr, result.stderr
    assert receiver.wait_for(2)
    other = receiver.received[1].json()
    assert other["item"]["title"].startswith("N. Korea rejects")
    assert other["story"]["id"] != body["story"]["id"]
    assert [s["outlet"] for s in other["story"]["sources"]] == ["second-outlet.test"]

    [seed] = _story_with(_stories(workspace), "active discussion")
    assert len(seed["items"]) == 4
    listed = json.loads(workspace.run("alerts", "--json").stdout)
    [first] = [a for a in listed if a["story"] and a["story"]["id"] == seed["id"]]
    assert len(first["story"]["sources"]) == 4
    text = workspace.run("alerts").stdout
    assert "fourth-wire.test" in text
    assert "third-daily.test" in text

    # Nothing more on a quiet cycle.
    assert workspace.run("once").returncode == 0
    assert len(receiver.received) == 2


CORROBORATED_RULE = END_OF_WAR_RULE.replace(
    "id: end-of-war-declaration", "id: end-of-war-declaration\nmin_sources: 2\nwithin: 1d"
)


def test_min_sources_waits_for_a_second_outlet_in_the_daemon(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    workspace.write_rule("end-of-war-declaration", CORROBORATED_RULE)
    names = ["herald-main", "herald-world", "second", "third"]
    outlet = {"outlet": "The Herald"}
    feeds = _feeds(feed_server, names, **{"herald-main": outlet, "herald-world": outlet})
    for feed in feeds:
        feed["interval"] = "1s"
    config = base_config(feeds, receiver.url())
    config["poll"].update({"tick": "1s", "min_interval": "1s"})
    config["delivery"].update({"tick": "1s"})
    workspace.write_config(config)
    for i, name in enumerate(names):
        feed_server.put(f"/{name}.xml", rss([plain_item(200 + i)]))

    with Daemon(workspace) as daemon:
        assert daemon.wait_log("baseline", count=4), daemon.output()
        # One outlet, in two of its feeds: one source, no alert.
        feed_server.put("/herald-main.xml", rss([ORIGINAL, plain_item(200)]))
        feed_server.put(
            "/herald-world.xml",
            rss([copy_item("S. Korea, US in active discussion over end of war declaration: "
                           "Envoy", "https://herald.test/world/1", "hw-1"), plain_item(201)]),
        )  # fmt: skip
        assert daemon.wait_for(lambda: _copies(workspace) == 2), daemon.output()
        assert daemon.wait_log(r"feed herald-world: \d+ items, 1 new, 0 alerts"), daemon.output()
        assert receiver.received == []

        # A second outlet carries it: one alert naming both.
        feed_server.put("/second.xml", rss([COPY_2, plain_item(202)]))
        assert receiver.wait_for(1, timeout=30), daemon.output()
        body = receiver.received[0].json()
        assert [s["outlet"] for s in body["story"]["sources"]] == [
            "The Herald",
            "second-outlet.test",
        ]

        # A third: nothing more.
        feed_server.put("/third.xml", rss([COPY_3, plain_item(203)]))
        assert daemon.wait_for(lambda: _copies(workspace) == 4), daemon.output()
        assert daemon.wait_log(r"feed third: \d+ items, 1 new, 0 alerts"), daemon.output()
    assert len(receiver.received) == 1


def _copies(ws: Workspace) -> int:
    from tests.faults.proc import query

    rows = query(
        ws.db,
        "SELECT max(n) FROM (SELECT count(*) AS n FROM story_items GROUP BY story_id)",
    )
    return int(rows[0][0] or 0)
