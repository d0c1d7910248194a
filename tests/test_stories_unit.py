"""Stories, the pure parts: cleaning, outlets, similarity, and how alerts show a story
("also in: ...", the webhook "story" key, a digest listing each story once)."""

from __future__ import annotations

import pytest

from monitor.models import Alert, Delivery, Item, Source
from monitor.notify.console import ConsoleNotifier, ConsoleSender
from monitor.notify.email import EmailNotifier, build_message
from monitor.notify.payload import alert_document, also_in
from monitor.notify.slack import digest_message, message
from monitor.stories import domain_of, fingerprint, outlet_of, similarity
from monitor.stories.normalize import clean_lead, clean_title, features

SW = "Seoul, Washington discuss end-of-war declaration"
LONG = "Moon - the last push for a declaration before his term ends in May"
GN = "Title of the story here and there - Outlet"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("UPDATE 1-S. Korea, US discuss it", "S. Korea, US discuss it"),
        ("(LEAD) N. Korea fires missile", "N. Korea fires missile"),
        ("(2nd LEAD) N. Korea fires missile", "N. Korea fires missile"),
        ("[속보] 한미, 종전선언 문안 협의", "한미, 종전선언 문안 협의"),
        ("[종합2보] 한미, 종전선언 문안 협의", "한미, 종전선언 문안 협의"),
        (SW + " - Yonhap", SW),
        (SW + " | The Korea Times", SW),
        # A dash inside the headline, followed by a long clause, stays.
        (LONG, LONG),
    ],
)  # fmt: skip
def test_clean_title(raw: str, clean: str) -> None:
    assert clean_title(raw) == clean


def test_clean_lead_drops_datelines_and_title_echoes() -> None:
    assert clean_lead("Seoul, Nov 10 (IANS) South Korea and").startswith("South Korea")
    assert clean_lead("SEOUL, Nov. 10 (Yonhap) -- South Korea and").startswith("South Korea")
    assert clean_lead("[서울=뉴시스]김현숙 기자 = 한미가 종전선언").startswith("한미가")
    # Google News repeats the title as the description: no lead.
    assert (
        clean_lead(
            "Title of the story here and there - Outlet",
            "Title of the story here and there - Outlet",
        )
        == ""
    )


def test_features_fold_variants_and_use_bigrams_for_hangul() -> None:
    assert features("S. Korea, U.S. talk") == features("South Korea, US talk")
    assert features("北 미사일") == features("북한 미사일")
    assert {"종전", "전선", "선언"} <= features("종전선언을")


def test_outlets() -> None:
    assert domain_of("https://en.yna.co.kr/view/AEN1") == "yna.co.kr"
    assert domain_of("https://www.bbc.co.uk/news/1") == "bbc.co.uk"
    assert domain_of("http://127.0.0.1:8080/x") == "127.0.0.1"
    assert domain_of("not a url") is None
    assert (
        outlet_of("Yonhap News Agency", "Ignored", "https://x.test/", "f") == "Yonhap News Agency"
    )
    assert outlet_of(None, "The Herald", "https://x.test/", "f") == "The Herald"
    assert outlet_of(None, None, "https://news.x.test/", "f") == "x.test"
    assert outlet_of(None, None, None, "feed-name") == "feed-name"


def test_copies_are_similar_and_hard_negatives_are_not() -> None:
    a = fingerprint(
        "S. Korea, US in active discussion over end of war declaration: Envoy",
        "Seoul, Nov 10 (IANS) South Korea and the US are actively discussing the possibility"
        " of declaring a formal end to the Korean War with North Korea, the envoy said.",
    )
    b = fingerprint(
        "UPDATE 1-South Korea, U.S. in active discussion over end-of-war declaration - Yonhap",
        "South Korea and the US are actively discussing the possibility of declaring a formal",
    )
    c = fingerprint(
        "Pyongyang rejects end-of-war declaration",
        "North Korea on Wednesday dismissed the proposal for a declaration, calling it premature"
        " while the hostile policy of the United States continues.",
    )
    assert set(a.keys) & set(b.keys)
    assert similarity(a.title, a.lead, b.title, b.lead) >= 0.8
    assert similarity(a.title, a.lead, c.title, c.lead) < 0.4
    # Same article through two feeds: the link key alone makes it a candidate.
    assert set(fingerprint("x", "", "a.test/1").keys) & set(fingerprint("y", "", "a.test/1").keys)


def _delivery(n: int, rule: str, sources: tuple[Source, ...], story: str | None = "s1") -> Delivery:
    item = Item(f"Title {n}", "Summary", "", f"https://a.test/{n}", f"g{n}", None)
    alert = Alert(
        f"a{n}", rule, rule.title(), "wire", item, ("term",), 0.0, story_id=story, sources=sources
    )
    return Delivery(f"d{n}", alert, "n", 0)


SOURCES = (
    Source("example-news.test", "wire", "https://a.test/1"),
    Source("Outlet Two", "two", None),
    Source("Outlet Three", "three", "https://c.test/3"),
    Source("Outlet Four", "four", "https://d.test/4"),
    Source("Outlet Five", "five", "https://e.test/5"),
)


def test_also_in_names_other_outlets_and_counts_the_rest() -> None:
    assert also_in(_delivery(1, "r", SOURCES[:1])) is None
    assert also_in(_delivery(1, "r", SOURCES[:2])) == "also in: Outlet Two"
    assert (
        also_in(_delivery(1, "r", SOURCES)) == "also in: Outlet Two, Outlet Three, Outlet Four, +1"
    )


def test_webhook_body_story_key_is_additive() -> None:
    doc = alert_document(_delivery(1, "r", SOURCES[:2]))
    assert doc["story"] == {
        "id": "s1",
        "sources": [
            {"outlet": "example-news.test", "feed": "wire", "url": "https://a.test/1"},
            {"outlet": "Outlet Two", "feed": "two", "url": None},
        ],
    }
    assert "story" not in alert_document(_delivery(1, "r", (), story=None))


def test_slack_email_console_show_also_in(capsys: pytest.CaptureFixture[str]) -> None:
    d = _delivery(1, "r", SOURCES[:3])
    assert "also in: Outlet Two, Outlet Three" in str(message(d)["blocks"])
    mail = build_message(
        EmailNotifier(kind="email", host="h", sender="a@b.test", to=["c@d.test"]), [d], "m1"
    )
    assert "Also in: Outlet Two, Outlet Three" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    import asyncio

    asyncio.run(ConsoleSender("c", ConsoleNotifier(kind="console")).send(d))
    assert "also in: Outlet Two, Outlet Three" in capsys.readouterr().out


def test_digests_list_each_story_once(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        _delivery(1, "rule-a", SOURCES[:2]),
        _delivery(2, "rule-b", SOURCES[:2]),
        _delivery(3, "rule-a", (), story="s2"),
    ]
    blocks = str(digest_message(rows)["blocks"])
    assert blocks.count("Title 1") == 1
    assert "also matched: Rule-B" in blocks
    assert "Title 3" in blocks
    mail = build_message(
        EmailNotifier(kind="email", host="h", sender="a@b.test", to=["c@d.test"]), rows, "m2"
    )
    assert mail.get_body(("plain",)).get_content().count("Title 1") == 1  # type: ignore[union-attr]
    import asyncio

    asyncio.run(ConsoleSender("c", ConsoleNotifier(kind="console")).send_digest(rows))
    out = capsys.readouterr().out
    assert out.count("Title 1") == 1
    assert "also matched: Rule-B" in out


def test_spelling_variants_skipped_only_where_they_cannot_match() -> None:
    """``_canon`` skips a variant's regex when its literal is absent; the result must be
    what applying every variant in order gives (a replacement can create a later match:
    "s. korean" -> "south korean" -> "south korea")."""
    import random
    import unicodedata

    from monitor.stories import normalize as norm

    def every_pass(text: str) -> str:
        for pattern, repl, _ in norm._VARIANTS:
            text = pattern.sub(repl, text)
        return text

    pieces = ["s. korea", "s.korea", "n. korea", "rok", "dprk", "u.s.", "u. s. a.", "u.n. ",
              "united states", "america", "washington", "seoul", "pyongyang", "south korean",
              "north korean", "end-of-war", "korean", "n", " ", "x", "'s"]  # fmt: skip
    rng = random.Random(11)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 8)))
        canon = norm._canon(text)
        folded = unicodedata.normalize("NFKC", text).casefold().translate(norm._HANJA)
        assert canon == every_pass(folded), text
