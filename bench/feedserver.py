"""The benchmark's feed server: N feeds over several loopback addresses, in its own process.

Feeds are RSS 2.0 or Atom documents whose items are real headlines and descriptions from
the HuffPost corpus in tests/data/corpus (the same text the fixture tests use). Feed ``i``
has published ``count[i]`` items and serves the newest ``items`` of them. Most feeds send
an ETag and a Last-Modified and answer a matching conditional request with 304; every
``NO_VALIDATORS``-th feed sends neither, so it returns the same body again and again.
``POST /hook`` (the benchmark's webhook receiver) answers 204.

It is an asyncio server speaking just enough HTTP/1.1 (keep-alive, Content-Length), so
that the server costs little next to the client being measured. The parent drives it
over a pipe: ``("step", fraction, new, seed)`` gives ``fraction`` of the feeds ``new``
more items, ``("all_new",)`` replaces every feed's items, ``("stop",)`` ends it.
"""

from __future__ import annotations

import asyncio
import email.utils
import html
import json
import random
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

CORPUS = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "data"
    / "corpus"
    / "huffpost_news_category_v3_first10k.jsonl"
)
NO_VALIDATORS = 10  # every 10th feed: no ETag, no Last-Modified (an unchanged body each time)
ATOM_EVERY = 4  # every 4th feed is Atom, the rest RSS 2.0
EPOCH = 1_700_000_000


@dataclass(frozen=True)
class Story:
    title: str
    summary: str
    link: str


def load_corpus() -> list[Story]:
    stories = []
    with CORPUS.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            stories.append(Story(row["headline"], row["short_description"], row["link"]))
    return stories


def host_of(i: int, hosts: int) -> str:
    return f"127.0.0.{2 + i % hosts}"


def feed_path(i: int) -> str:
    return f"/f{i}.xml"


class Feeds:
    def __init__(self, n: int, items: int, stories: list[Story]) -> None:
        self.n, self.items, self.stories = n, items, stories
        self.count = [items] * n
        self.bodies: list[bytes] = [b""] * n
        for i in range(n):
            self.bodies[i] = self.render(i)

    def story(self, i: int, k: int) -> Story:
        return self.stories[(i * 7919 + k * 104729) % len(self.stories)]

    def render(self, i: int) -> bytes:
        first = self.count[i] - self.items
        atom = i % ATOM_EVERY == 0
        parts = []
        for k in range(self.count[i] - 1, first - 1, -1):
            s = self.story(i, k)
            link = html.escape(f"{s.link}?feed={i}&n={k}&utm_source=rss")
            date = EPOCH + k * 60
            desc = html.escape(f"<p>{html.escape(s.summary)}</p>")
            if atom:
                iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(date))
                parts.append(
                    f"<entry><title>{html.escape(s.title)}</title>"
                    f'<link rel="alternate" href="{link}"/>'
                    f"<id>tag:bench.example,2024:{i}/{k}</id><updated>{iso}</updated>"
                    f'<summary type="html">{desc}</summary></entry>'
                )
            else:
                parts.append(
                    f"<item><title>{html.escape(s.title)}</title><link>{link}</link>"
                    f'<guid isPermaLink="false">bench-{i}-{k}</guid>'
                    f"<pubDate>{email.utils.formatdate(date, usegmt=True)}</pubDate>"
                    f"<description>{desc}</description></item>"
                )
        body = "".join(parts)
        if atom:
            doc = (
                '<?xml version="1.0" encoding="utf-8"?>\n'
                '<feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>Bench feed {i}</title><id>tag:bench.example,2024:{i}</id>"
                f"<updated>2024-01-01T00:00:00Z</updated>{body}</feed>"
            )
        else:
            doc = (
                '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                f"<title>Bench feed {i}</title><link>https://bench.example/{i}</link>"
                f"<description>benchmark feed</description>{body}</channel></rss>"
            )
        return doc.encode("utf-8")

    def step(self, fraction: float, new: int, seed: int) -> int:
        rng = random.Random(seed)
        changed = rng.sample(range(self.n), round(self.n * fraction))
        for i in changed:
            self.count[i] += new
            self.bodies[i] = self.render(i)
        return len(changed)

    def all_new(self) -> None:
        for i in range(self.n):
            self.count[i] += self.items
            self.bodies[i] = self.render(i)

    def validators(self, i: int) -> tuple[str, str] | None:
        if i % NO_VALIDATORS == NO_VALIDATORS - 1:
            return None
        return f'"{i}-{self.count[i]}"', email.utils.formatdate(EPOCH + self.count[i], usegmt=True)


class _Http(asyncio.Protocol):
    def __init__(self, feeds: Feeds) -> None:
        self.feeds = feeds
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            method, target = head[0].split(" ")[:2]
            self.respond(method, target, headers)

    def respond(self, method: str, target: str, headers: dict[str, str]) -> None:
        assert self.transport is not None
        status, extra, body = "404 Not Found", "", b"not found"
        if method == "POST" and target.startswith("/hook"):
            status, body = "204 No Content", b""
        elif target.startswith("/f") and target.endswith(".xml"):
            try:
                i = int(target[2:-4])
            except ValueError:
                i = -1
            if 0 <= i < self.feeds.n:
                status, body = "200 OK", self.feeds.bodies[i]
                extra = "Content-Type: application/xml; charset=utf-8\r\n"
                valid = self.feeds.validators(i)
                if valid is not None:
                    etag, modified = valid
                    extra += f"ETag: {etag}\r\nLast-Modified: {modified}\r\n"
                    if headers.get("if-none-match") == etag or (
                        "if-none-match" not in headers
                        and headers.get("if-modified-since") == modified
                    ):
                        status, body = "304 Not Modified", b""
        self.transport.write(
            f"HTTP/1.1 {status}\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body
        )


def serve(conn: Connection, n: int, items: int, hosts: int, port: int) -> None:
    """Process entry point: bind, report ``("ready", port)``, obey commands until stop."""
    feeds = Feeds(n, items, load_corpus())
    loop = asyncio.new_event_loop()
    servers = []
    for h in range(min(hosts, n)):
        servers.append(
            loop.run_until_complete(
                loop.create_server(lambda: _Http(feeds), host_of(h, hosts), port, backlog=1024)
            )
        )
    conn.send(("ready", port))
    stop = asyncio.Event()

    def command(msg: tuple[object, ...]) -> None:
        if msg[0] == "step":
            _, fraction, new, seed = msg
            assert isinstance(fraction, float)
            assert isinstance(new, int)
            assert isinstance(seed, int)
            conn.send(("done", feeds.step(fraction, new, seed)))
        elif msg[0] == "all_new":
            feeds.all_new()
            conn.send(("done", n))
        else:
            stop.set()

    def reader() -> None:
        while True:
            try:
                msg = conn.recv()
            except EOFError:
                msg = ("stop",)
            loop.call_soon_threadsafe(command, msg)
            if msg[0] == "stop":
                return

    threading.Thread(target=reader, daemon=True).start()
    loop.run_until_complete(stop.wait())
    for server in servers:
        server.close()
    loop.close()
