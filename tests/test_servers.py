"""Quick checks of the loopback test servers in tests/servers.py."""

from __future__ import annotations

import errno
import hashlib
import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.servers import FeedServer, WebhookReceiver, free_port

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def test_etag_round_trip_gives_304() -> None:
    with FeedServer() as srv, httpx.Client(timeout=5) as client:
        srv.put("/a.xml", FEED)
        first = client.get(srv.url("/a.xml"))
        assert first.status_code == 200
        assert first.content == FEED
        assert first.headers["content-type"] == "application/rss+xml; charset=utf-8"
        assert first.headers["content-length"] == str(len(FEED))
        etag, last_modified = first.headers["etag"], first.headers["last-modified"]
        assert etag == srv.etag("/a.xml")
        assert etag == f'"{hashlib.sha1(FEED, usedforsecurity=False).hexdigest()}"'

        again = client.get(srv.url("/a.xml"), headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""

        by_date = client.get(srv.url("/a.xml"), headers={"If-Modified-Since": last_modified})
        assert by_date.status_code == 304

        srv.put("/a.xml", FEED + b" ")
        changed = client.get(
            srv.url("/a.xml"),
            headers={"If-None-Match": etag, "If-Modified-Since": last_modified},
        )
        assert changed.status_code == 200
        assert changed.headers["etag"] != etag
        assert changed.headers["last-modified"] != last_modified
        assert srv.count("/a.xml") == 4
        assert srv.requests[1].headers["if-none-match"] == etag


def test_headers_override_and_omit_validators() -> None:
    with FeedServer() as srv:
        srv.put("/plain.xml", FEED, headers={"ETag": "", "Last-Modified": "", "X-Test": "1"})
        resp = httpx.get(srv.url("/plain.xml"), headers={"If-None-Match": "*"}, timeout=5)
        assert resp.status_code == 200
        assert "etag" not in resp.headers
        assert "last-modified" not in resp.headers
        assert resp.headers["x-test"] == "1"


def test_script_is_served_in_order_then_falls_back() -> None:
    with FeedServer() as srv, httpx.Client(timeout=5) as client:
        srv.put("/feed", FEED)
        srv.script(
            "/feed",
            [
                (500, {}, b"boom"),
                (429, {"Retry-After": "7"}, b""),
            ],
        )
        first = client.get(srv.url("/feed"))
        assert (first.status_code, first.content) == (500, b"boom")
        second = client.get(srv.url("/feed"))
        assert second.status_code == 429
        assert second.headers["retry-after"] == "7"
        third = client.get(srv.url("/feed"))
        assert (third.status_code, third.content) == (200, FEED)
        assert client.get(srv.url("/missing")).status_code == 404
        assert srv.count("/feed") == 3


def test_redirect() -> None:
    with FeedServer() as srv, httpx.Client(timeout=5) as client:
        srv.put("/new.xml", FEED)
        srv.redirect("/old.xml", "/new.xml")
        srv.redirect("/tmp.xml", "/new.xml", code=302)
        raw = client.get(srv.url("/old.xml"))
        assert raw.status_code == 301
        assert raw.headers["location"] == srv.url("/new.xml")
        assert client.get(srv.url("/tmp.xml")).status_code == 302
        followed = client.get(srv.url("/old.xml"), follow_redirects=True)
        assert followed.status_code == 200
        assert followed.content == FEED
        assert str(followed.url) == srv.url("/new.xml")


def test_webhook_receiver_records_and_waits() -> None:
    with WebhookReceiver() as hook, httpx.Client(timeout=5) as client:
        hook.script([(503, {"Retry-After": "1"}, b"busy")])
        first = client.post(hook.url(), json={"text": "hello"})
        assert (first.status_code, first.text) == (503, "busy")
        second = client.post(hook.url("/other"), content=b"raw", headers={"X-Sig": "abc"})
        assert (second.status_code, second.text) == (200, "ok")

        assert hook.wait_for(2, timeout=2)
        assert not hook.wait_for(3, timeout=0.05)
        got = hook.received
        assert [r.path for r in got] == ["/hook", "/other"]
        assert got[0].json() == {"text": "hello"}
        assert got[0].headers["content-type"] == "application/json"
        assert got[1].body == b"raw"
        assert got[1].headers["x-sig"] == "abc"
        with pytest.raises(json.JSONDecodeError):
            got[1].json()


def test_stop_closes_and_free_port_refuses() -> None:
    srv = FeedServer().start()
    url = srv.url("/x")
    srv.stop()
    srv.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{free_port()}/", timeout=2)


def test_free_port_stays_reserved_refused_and_reusable_by_a_late_server() -> None:
    port = free_port()
    # Reserved: nothing else may bind it (another worker's server, another free_port()).
    with socket.socket() as other, pytest.raises(OSError, match="in use") as taken:
        other.bind(("127.0.0.1", port))
    assert taken.value.errno == errno.EADDRINUSE
    assert port not in {free_port() for _ in range(50)}
    # Nothing listens: connecting is refused.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    # A server started late on it ("down, then up on the same port") binds and serves.
    late = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    try:
        assert late.server_address[1] == port
    finally:
        late.server_close()
