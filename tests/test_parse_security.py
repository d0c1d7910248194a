"""The entity guard and the parse API rule (docs/reliability.md): documents declaring XML
entities are refused before feedparser sees them, in every layout and encoding that
feedparser itself would read; a feed body is never taken as a path or URL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from monitor.errors import FeedRefused, NotAFeed
from monitor.feeds.parse import parse_feed, refuse_entities

TAIL = (
    "</title><link>http://example.invalid/</link><description>d</description>"
    "<item><title>item</title><guid>1</guid></item></channel></rss>\n"
)


def billion_laughs() -> list[str]:
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE rss [", ' <!ENTITY lol "lol">']
    lines.append(' <!ENTITY lol1 "' + "&lol;" * 10 + '">')
    lines += [f' <!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">' for i in range(2, 10)]
    lines.append("]>")
    return lines


def quadratic(kb: int, refs: int, sameline: bool = False, malformed: bool = False) -> str:
    sep = "" if sameline else "\n"
    end = TAIL if not malformed else "</title><item><title>x</titl></item></channel></rss>\n"
    return (
        f'<?xml version="1.0"?>{sep}<!DOCTYPE rss [{sep}<!ENTITY a "'
        + "A" * (kb * 1024)
        + f'">{sep}]>{sep}<rss version="2.0"><channel><title>'
        + "&a;" * refs
        + end
    )


def hostile(secret: Path) -> dict[str, bytes]:
    bl = billion_laughs()
    one = "<!DOCTYPE rss [" + "".join(line.strip() for line in bl[2:-1]) + "]>"
    docs = {
        "bl_multiline": "\n".join(bl) + '\n<rss version="2.0"><channel><title>&lol9;' + TAIL,
        "bl_oneline": '<?xml version="1.0"?>\n'
        + one
        + '\n<rss version="2.0"><channel><title>&lol9;'
        + TAIL,
        "bl_sameline": '<?xml version="1.0"?>'
        + one
        + '<rss version="2.0"><channel><title>&lol9;'
        + TAIL,
        "xxe_multiline": f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY xxe SYSTEM "file://{secret}">\n]>\n<rss version="2.0"><channel><title>T&xxe;'  # noqa: E501
        + TAIL,
        "xxe_sameline": f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]><rss version="2.0"><channel><title>T&xxe;'  # noqa: E501
        + TAIL,
        "xxe_param": f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "file://{secret}"> %p;]><rss version="2.0"><channel><title>T'  # noqa: E501
        + TAIL,
        "quad_2000": quadratic(50, 2000),
        "quad_40000": quadratic(50, 40000),
        "quad_malformed": quadratic(50, 100, malformed=True),
        "quad_sameline": quadratic(50, 2000, sameline=True),
        "cdata_in_dtd": '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<![CDATA[\n<!ENTITY a "'
        + "A" * 50 * 1024
        + '">\n]]>\n]>\n<rss version="2.0"><channel><title>'
        + "&a;" * 2000
        + TAIL,
    }
    out = {name: doc.encode() for name, doc in docs.items()}
    utf16 = quadratic(50, 2000).replace(
        '<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>'
    )
    out["utf16_bom"] = utf16.encode("utf-16")
    out["utf32"] = (
        quadratic(50, 2000)
        .replace('version="1.0"?>', 'version="1.0" encoding="utf-32"?>')
        .encode("utf-32")
    )
    return out


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("SECRET-HOSTFILE-MARKER-42")
    return path


def test_every_entity_declaring_document_is_refused_quickly(secret: Path) -> None:
    for name, body in hostile(secret).items():
        started = time.monotonic()
        with pytest.raises(FeedRefused, match="entities"):
            parse_feed(body)
        assert time.monotonic() - started < 1.0, name


def test_utf16le_declared_only_in_the_http_header_is_refused() -> None:
    body = quadratic(50, 2000).replace('<?xml version="1.0"?>', "").lstrip().encode("utf-16-le")
    with pytest.raises(FeedRefused):
        refuse_entities(body, {"content-type": "application/xml; charset=utf-16le"})


def test_entity_text_inside_an_item_cdata_is_fine() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>How XXE works</title><guid>x1</guid><description><![CDATA["
        b'<!ENTITY x SYSTEM "file:///etc/hostname"> is the classic payload]]>'
        b"</description></item></channel></rss>"
    )
    parsed = parse_feed(body)
    assert [i.title for i in parsed.items] == ["How XXE works"]
    # The declaration is HTML markup inside the description, so the text keeps the prose.
    assert parsed.items[0].summary.endswith("is the classic payload")


def test_legitimate_utf16_feed_parses() -> None:
    doc = (
        '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>종전선언 논의</title><guid>k1</guid></item></channel></rss>"
    )
    parsed = parse_feed(doc.encode("utf-16"))
    assert parsed.items[0].title == "종전선언 논의"


@pytest.mark.parametrize("as_text", ["path", "file-url"])
def test_body_naming_a_local_file_is_not_read(secret: Path, as_text: str) -> None:
    body = str(secret) if as_text == "path" else f"file://{secret}"
    with pytest.raises(NotAFeed):
        parse_feed(body.encode())


def test_empty_and_html_bodies_are_not_feeds() -> None:
    for body in (b"", b"   \n", b"<html><body><form><input name=p></form></body></html>"):
        with pytest.raises(NotAFeed):
            parse_feed(body)


def test_control_characters_and_html_are_stripped_from_text() -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        "<title>it&#x1b;[2Jem\u2028two</title><guid>g</guid>"
        "<description>&lt;p&gt;Hello &amp;amp; &lt;b&gt;bye&lt;/b&gt;&lt;/p&gt;"
        "&lt;script&gt;alert(1)&lt;/script&gt;</description>"
        "<link>javascript:alert(1)</link></item></channel></rss>"
    ).encode()
    [item] = parse_feed(body).items
    assert item.title == "it [2Jem two"
    assert item.summary == "Hello & bye"
    assert item.link is None


def test_entries_are_capped() -> None:
    items = "".join(f"<item><title>n{i}</title><guid>{i}</guid></item>" for i in range(50))
    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    parsed = parse_feed(body, max_entries=10)
    assert len(parsed.items) == 10
    assert parsed.truncated == 40
