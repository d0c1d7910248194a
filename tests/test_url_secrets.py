"""Feed URLs may carry tokens in their query string or user-info. newsmon shows the host
and path only: in log lines, operator notices, ``newsmon feeds`` (table and JSON) and the
status page. The failing feed here redirects to an invalid URL holding secrets, so the
error text itself (which quotes the Location) carries them too."""

from __future__ import annotations

import json

from monitor.text import redact_url, redact_urls
from tests.conftest import Workspace, base_config
from tests.faults.faultsrv import FaultServer
from tests.servers import WebhookReceiver
from tests.test_web import RunningDaemon

USER_SECRET = "userinfo-s3cret"
QUERY_SECRET = "query-s3cret"


def test_redact_url_keeps_host_and_path() -> None:
    assert (
        redact_url(f"https://bot:{USER_SECRET}@feeds.example.org:8443/a/rss?key={QUERY_SECRET}#x")
        == "https://feeds.example.org:8443/a/rss?…"
    )
    assert redact_url("https://feeds.example.org/rss") == "https://feeds.example.org/rss"
    assert redact_url("/srv/feeds/local.xml") == "/srv/feeds/local.xml"
    text = f"too many redirects: loop back to http://u:{USER_SECRET}@h.test/x?t={QUERY_SECRET}."
    assert redact_urls(text) == "too many redirects: loop back to http://h.test/x?…."


def test_feed_url_secrets_are_never_printed(
    workspace: Workspace, receiver: WebhookReceiver
) -> None:
    with FaultServer() as faults:
        plain = faults.url(f"/scripted?token={QUERY_SECRET}")
        secret_url = plain.replace("http://", f"http://bot:{USER_SECRET}@")
        # The server redirects to an invalid URL with secrets of its own in it: the error
        # message quotes that Location.
        location = f"http://bot:{USER_SECRET}@xn--/feed?token={QUERY_SECRET}"
        faults.script(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n\r\n".encode())
        doc = base_config([{"name": "private", "url": secret_url}], receiver.url("/hook"))
        doc["poll"]["notify_after_failures"] = 1
        doc["notifiers"]["ops"] = {"kind": "webhook", "url": receiver.url("/ops"), "timeout": "5s"}
        doc["defaults"]["ops_notify"] = ["ops"]
        workspace.write_config(doc)

        result = workspace.run("once")
        assert result.returncode == 1, result.stderr
        assert "redirect to an invalid URL" in result.stderr, (
            result.stderr
        )  # the error is there ...
        shown = {"once log": result.stderr}
        table = workspace.run("feeds")
        shown["feeds"] = table.stdout + table.stderr
        assert "127.0.0.1" in table.stdout + workspace.run("feeds", "--json").stdout
        shown["feeds --json"] = workspace.run("feeds", "--json").stdout
        shown["status"] = workspace.run("status").stdout
        notices = [json.loads(r.body) for r in receiver.received if r.path == "/ops"]
        assert notices, "the operator notice was not sent"
        shown["notice"] = json.dumps(notices, ensure_ascii=False)

        workspace.write_config({**doc, "poll": {**doc["poll"], "tick": "1s"}})
        with RunningDaemon(workspace) as daemon:
            assert daemon.wait_for(lambda: "status page on http://" in daemon.output())
            code, _, page = daemon.request("/")
            assert code == 200
            shown["status page"] = page
            shown["daemon log"] = daemon.output()

    for place, text in shown.items():
        assert USER_SECRET not in text, f"{place}: {text}"
        assert QUERY_SECRET not in text, f"{place}: {text}"
    assert "127.0.0.1" in shown["status page"]  # the host and path are shown
    assert "/scripted" in shown["status page"]
