"""Nothing an outlet writes reaches a mail header, a Slack link or a mention: the real
``newsmon once`` against aiosmtpd and the Slack mock (which validates Block Kit with
slack_sdk's models and checks mrkdwn links and entities)."""

from __future__ import annotations

import re

from tests.conftest import Workspace, rss
from tests.faults.slackmock import SlackMock, mrkdwn_violations
from tests.faults.smtpserver import ScriptedSMTP
from tests.servers import FeedServer, WebhookReceiver
from tests.test_delivery import DESK, deliveries, email, item, once, setup, slack

# CR LF "Reply-To: attacker@evil.test" CR LF "Bcc: x@y.test", as an RFC 2047 encoded word.
ENCODED_WORD = "=?utf-8?b?DQpSZXBseS1UbzogYXR0YWNrZXJAZXZpbC50ZXN0DQpCY2M6IHhAeS50ZXN0?="
EXPECTED_HEADERS = {
    "subject", "from", "to", "date", "message-id", "mime-version", "content-type",
    "content-transfer-encoding",
}  # fmt: skip


def test_encoded_word_in_a_title_adds_no_mail_header(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    titles = [
        f"Armistice {ENCODED_WORD}",
        f"Armistice talks {ENCODED_WORD} and more {ENCODED_WORD}",
        "Armistice =?utf-8?q?=0D=0ABcc:_q@y.test?= q-encoded",
        "Armistice 종전선언 " + ENCODED_WORD,
    ]
    with ScriptedSMTP() as smtp:
        setup(workspace, feed_server, receiver.url(), {"desk": email(smtp.port)}, ["desk"])
        feed_server.put("/w.xml", rss([item(n, t) for n, t in enumerate(titles, 1)]))
        once(workspace, expect=0)
        attempts = smtp.attempts
    assert len(attempts) == len(titles)
    for received in attempts:
        assert received.rcpt_tos == (DESK,)
        head = received.content.split(b"\r\n\r\n", 1)[0].decode("ascii")
        names = {
            line.split(":", 1)[0].lower() for line in head.split("\r\n") if line[:1] not in " \t"
        }
        assert names <= EXPECTED_HEADERS, head
        msg = received.message()
        assert msg.get_all("Reply-To") is None, head
        assert msg.get_all("Bcc") is None, head
        [subject] = msg.get_all("Subject") or []
        assert not re.search("[\r\n]", str(subject)), repr(subject)
        # (Python may fold the whole value onto a continuation line: strip that blank.)
        assert str(subject).strip().startswith("[newsmon] Watch list: Armistice")
    assert [r["status"] for r in deliveries(workspace)] == ["sent"] * len(titles)


LINK = "https://www.example-news.test/story/1?ref=" + "c" * 900


def test_slack_title_of_ampersands_and_long_link_keeps_link_and_entities_whole(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    title = "Armistice " + "&" * 700
    with SlackMock() as mock:
        setup(workspace, feed_server, receiver.url(), {"team": slack(mock.url())}, ["team"])
        feed_server.put("/w.xml", rss([item(1, title, link=LINK)]))
        once(workspace)
        [post] = mock.posts
    assert post.violations == (), post.violations
    assert post.status == 200
    heading = post.json()["blocks"][0]["text"]["text"]
    assert heading.startswith(f"*<{LINK}|Armistice &amp;&amp;"), heading[:120]
    assert heading.endswith("…>*"), heading[-40:]
    assert len(heading) <= 3000
    assert [r["status"] for r in deliveries(workspace)] == ["sent"]


AMP_RULE = 'id: watch\ntitle: Watch list\nmatch:\n  any: ["amp", "gt", "lt", "armistice"]\n'


def test_slack_highlight_never_lands_inside_an_escape(
    workspace: Workspace, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    summary = "Armistice: the amp & the gt > the lt < all loud & clear, amp again"
    with SlackMock() as mock:
        setup(workspace, feed_server, receiver.url(), {"team": slack(mock.url())}, ["team"])
        workspace.write_rule("watch", AMP_RULE)
        feed_server.put("/w.xml", rss([item(1, "Armistice talks", summary)]))
        once(workspace, expect=0)
        [post] = mock.posts
    assert post.violations == (), post.violations
    snippet = post.json()["blocks"][2]["text"]["text"]
    assert snippet == (
        "*Armistice*: the *amp* &amp; the *gt* &gt; the *lt* &lt; all loud &amp; clear, *amp* again"
    ), snippet


def test_mrkdwn_check_catches_what_it_must() -> None:
    # The mock's own guard, broken on purpose: each of these must be reported.
    assert mrkdwn_violations("t", "*<https://a.test/|title &amp*")
    assert mrkdwn_violations("t", "*<https://a.test/|title*")
    assert mrkdwn_violations("t", "the &*amp*; x")
    assert mrkdwn_violations("t", "a > b")
    assert not mrkdwn_violations("t", "*<https://a.test/|a &amp; b &lt;c&gt;>*")


def test_forged_header_guard_refuses_a_header_newsmon_did_not_write() -> None:
    from email.message import EmailMessage

    from monitor.notify.email import forged_headers

    msg = EmailMessage()
    msg["Subject"] = "[newsmon] fine"
    msg["From"] = "a@example.test"
    msg.set_content("x")
    assert forged_headers(msg) == []
    msg["Reply-To"] = "attacker@evil.test"
    msg["Bcc"] = "x@y.test"
    assert forged_headers(msg) == ["bcc", "reply-to"]
