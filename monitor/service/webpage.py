"""The HTML status page: one self-contained document (inline CSS and SVG, no scripts).

Everything that comes from the database or from feeds goes through :func:`esc` (text and
attribute values alike) and links only through :func:`monitor.text.safe_url`. Feed URLs
are not shown (they may carry API keys); only their host name is.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from monitor.store import FeedState
from monitor.text import clean, redact_url, redact_urls, safe_url

DAY = 86400
CHART_DAYS = 14
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Okabe-Ito / Tableau-like colours that stay distinct for colour-blind readers.
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip

CSS = """
:root{--bg:#f4f5f7;--card:#fff;--ink:#1d2330;--muted:#667085;--line:#e4e7ec;
--ok:#067647;--okbg:#dcfae6;--warn:#93370d;--warnbg:#fef0c7;--bad:#b42318;--badbg:#fee4e2;
--idle:#475467;--idlebg:#eaecf0}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
header{background:#1d2330;color:#f2f4f7;padding:14px 28px}
header h1{margin:0;font-size:20px;font-weight:650;display:inline-block}
header .ver{margin-left:8px;font-size:12px;color:#98a2b3}
header dl{display:flex;flex-wrap:wrap;gap:4px 22px;margin:6px 0 0;font-size:12.5px}
header dt{color:#98a2b3;display:inline}
header dd{margin:0 0 0 5px;display:inline;font-family:ui-monospace,Menlo,Consolas,monospace}
main{max-width:1240px;margin:0 auto;padding:18px 24px 32px}
.banner{background:var(--badbg);border:1px solid #fda29b;border-left:6px solid var(--bad);
border-radius:8px;padding:12px 16px;margin-bottom:16px;color:var(--bad)}
.banner strong{display:block;margin-bottom:4px}
.banner pre{margin:0;white-space:pre-wrap;word-break:break-word;color:#7a271a;
font:12.5px/1.5 ui-monospace,Menlo,Consolas,monospace}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;
margin-bottom:16px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 14px}
.tile b{display:block;font-size:22px;font-weight:650}
.tile span{color:var(--muted);font-size:12.5px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:14px 18px;margin-bottom:16px;overflow-x:auto}
h2{font-size:15px;margin:0 0 10px;font-weight:650}
h2 small{color:var(--muted);font-weight:400;margin-left:6px}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:var(--muted);font-weight:600;font-size:12px;
border-bottom:1px solid var(--line);padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top}
tbody tr:last-child td{border-bottom:0}
tbody tr:nth-child(even){background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.time{white-space:nowrap;font-variant-numeric:tabular-nums}
td.nw{white-space:nowrap}
td.err{color:var(--bad);max-width:340px;overflow-wrap:anywhere}
.host{display:block;color:var(--muted);font-size:12px}
a{color:#1d4ed8;text-decoration:none}a:hover{text-decoration:underline}
.muted{color:var(--muted)}
.badge{display:inline-block;border-radius:999px;padding:1px 8px;font-size:12px;
font-weight:600;white-space:nowrap;margin:1px 4px 1px 0}
.ok{color:var(--ok);background:var(--okbg)}.warn{color:var(--warn);background:var(--warnbg)}
.bad{color:var(--bad);background:var(--badbg)}.idle{color:var(--idle);background:var(--idlebg)}
.chart svg{display:block;width:100%;height:auto;max-width:1180px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:8px 0 4px;font-size:12.5px}
.sw{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:5px;
vertical-align:-1px}
details{margin-top:8px;font-size:12.5px}summary{cursor:pointer;color:var(--muted)}
footer{color:var(--muted);font-size:12px;text-align:center}
"""


def esc(value: object) -> str:
    """HTML-escape any value for text or a double-quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def utc(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts else "-"


def span(seconds: float) -> str:
    """A short human duration: 42 s, 7 min, 3 h 5 min, 2 d 4 h."""
    s = int(max(0.0, seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 2 * DAY:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // DAY} d {s % DAY // 3600} h"


def relative(ts: float | None, now: float, *, future: bool = False) -> str:
    """``<span title="UTC time">5 s ago</span>`` (or ``in 5 s``, ``due``, ``-``)."""
    if not ts:
        return '<span class="muted">-</span>'
    delta = ts - now
    if delta >= 1:
        text = f"in {span(delta)}"
    elif future:
        text = "due" if delta > -60 else f"overdue {span(-delta)}"
    else:
        text = "just now" if delta > -1 else f"{span(-delta)} ago"
    return f'<span title="{esc(utc(ts))} UTC">{esc(text)}</span>'


def badge(text: str, kind: str, title: str | None = None) -> str:
    attr = f' title="{esc(title)}"' if title else ""
    return f'<span class="badge {kind}"{attr}>{esc(text)}</span>'


def _header(info: dict[str, Any], now: float) -> str:
    beat = now - float(info.get("heartbeat") or now)
    items = [
        ("uptime", span(now - float(info.get("started_at") or now))),
        ("config", info.get("config", "-")),
        ("pid", info.get("pid", "-")),
        ("last tick", f"{span(beat)} ago"),
        ("page rendered", f"{utc(now)} UTC"),
    ]
    dl = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in items)
    return (
        f'<header><h1>newsmon</h1><span class="ver">{esc(info.get("version", ""))}</span>'
        f"<dl>{dl}</dl></header>"
    )


def _banner(error: str | None) -> str:
    if not error:
        return ""
    return (
        '<div class="banner" role="alert"><strong>The last reload failed: newsmon keeps '
        "running on the last good configuration.</strong>"
        f"<pre>{esc(error)}</pre></div>"
    )


def _s(n: int, word: str) -> str:
    """``word`` in the plural unless ``n`` is 1."""
    return word if n == 1 else word + "s"


def _tiles(
    info: dict[str, Any], health: dict[str, Any], failing: int, never: int, alerts: int
) -> str:
    outbox: dict[str, int] = health.get("outbox", {})
    pending = outbox.get("pending", 0) + outbox.get("sending", 0)
    feeds, rules = len(info.get("feeds", [])), len(info.get("rules", []))
    notifiers = len(info.get("notifiers", []))
    tiles = [
        (feeds, f"{_s(feeds, 'feed')} · {failing} failing"
         + (f" · {never} never polled" if never else "")),
        (rules, f"{_s(rules, 'rule')} · {notifiers} {_s(notifiers, 'notifier')}"),
        (alerts, f"{_s(alerts, 'alert')} in the last {CHART_DAYS} days"),
        (outbox.get("sent", 0), f"delivered · {pending} pending"),
        (outbox.get("dead", 0), f"dead · {health.get('dead_24h', 0)} in the last 24 h"),
        (span(float(health.get("lag", 0.0))), "delivery lag (oldest due)"),
    ]  # fmt: skip
    cells = "".join(
        f'<div class="tile"><b>{esc(v)}</b><span>{esc(t)}</span></div>' for v, t in tiles
    )
    return f'<div class="tiles">{cells}</div>'


def _feed_status(state: FeedState | None, now: float) -> str:
    if state is None or not state.last_poll_at:
        return badge("never polled", "idle", "configured, but not polled yet")
    if state.last_status == "error":
        held = state.hold_until and state.hold_until > now
        return badge(
            "error", "bad", f"backing off until {utc(state.hold_until)} UTC" if held else None
        )
    if state.last_status == "ok":
        return badge("ok", "ok")
    if state.last_status == "not_modified":
        return badge("not modified", "ok", "HTTP 304: nothing new")
    return badge(state.last_status or "unknown", "warn")


def _where(url: str) -> str:
    """Host and path of a feed URL: never its user-info or query (tokens live there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https"):
        return ""
    return redact_url(url).split("://", 1)[1]


def _feeds(configured: Sequence[str], states: Sequence[FeedState], now: float) -> str:
    by_name = {s.name: s for s in states}
    rows = []
    for name in configured:
        s = by_name.get(name)
        host = _where(s.source_url or s.url) if s else ""
        full_error = redact_urls(s.last_error or "") if s else ""
        error = clean(full_error, 160)
        rows.append(
            f'<tr><td><b>{esc(name)}</b><span class="host">{esc(host)}</span></td>'
            f"<td>{_feed_status(s, now)}</td>"
            f'<td class="time">{relative(s.last_poll_at if s else None, now)}</td>'
            f'<td class="time">{relative(s.next_check_at if s else None, now, future=True)}</td>'
            f'<td class="num">{s.items_total if s else 0}</td>'
            f'<td class="num">{s.error_count if s else 0}</td>'
            f'<td class="err" title="{esc(full_error)}">{esc(error)}</td></tr>'
        )
    if not rows:
        rows.append('<tr><td colspan="7" class="muted">No enabled feeds in the config.</td></tr>')
    extra = len(set(by_name) - set(configured))
    note = (
        f'<p class="muted">{extra} more feed(s) in the database are not in the running '
        "config (disabled or removed).</p>"
        if extra
        else ""
    )
    head = (
        "<tr><th>Feed</th><th>Status</th><th>Last poll</th><th>Next check</th>"
        '<th class="num">Items</th><th class="num">Errors</th><th>Last error</th></tr>'
    )
    return (
        f"<section><h2>Feeds<small>{len(configured)} enabled</small></h2>"
        f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>{note}</section>"
    )


_DELIVERY = {"sent": "ok", "pending": "warn", "sending": "warn", "dead": "bad"}


def _delivery(d: dict[str, Any]) -> str:
    status = str(d.get("status") or "?")
    tip = f"{d.get('attempts', 0)} attempt(s)"
    if d.get("sent_at"):
        tip += f"; sent {utc(d['sent_at'])} UTC"
    if d.get("last_error"):
        tip += f"; last error: {clean(str(d['last_error']), 400)}"
    return badge(f"{d.get('notifier', '?')}: {status}", _DELIVERY.get(status, "idle"), tip)


def _alerts(alerts: Sequence[dict[str, Any]]) -> str:
    rows = []
    for a in alerts:
        title = esc(clean(a.get("title") or "(no title)", 200))
        url = safe_url(a.get("link"))
        if url:
            title = f'<a href="{esc(url)}" rel="noopener noreferrer nofollow">{title}</a>'
        rule = esc(a.get("rule_id"))
        if a.get("kind") not in (None, "alert"):
            rule = badge(str(a.get("kind")), "idle") + rule
        deliveries = "".join(_delivery(d) for d in a.get("deliveries", [])) or (
            '<span class="muted">no notifier</span>'
        )
        rows.append(
            f'<tr><td class="time">{esc(utc(a.get("created_at")))}</td><td class="nw">{rule}</td>'
            f'<td class="nw">{esc(a.get("feed"))}</td><td>{title}</td>'
            f'<td class="nw">{deliveries}</td></tr>'
        )
    if not rows:
        rows.append('<tr><td colspan="5" class="muted">No alerts yet.</td></tr>')
    head = "<tr><th>Time (UTC)</th><th>Rule</th><th>Feed</th><th>Title</th><th>Delivery</th></tr>"
    return (
        f"<section><h2>Recent alerts<small>newest first</small></h2>"
        f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def chart_days(now: float) -> list[str]:
    """The last ``CHART_DAYS`` UTC days, oldest first, as ``YYYY-MM-DD``."""
    today = int(now // DAY) * DAY
    return [time.strftime("%Y-%m-%d", time.gmtime(today - i * DAY)) for i in range(CHART_DAYS)][
        ::-1
    ]


def _nice_step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if top / step <= 5:
            return step
    return int(10 ** len(str(top // 5)))


def _chart(by_day: Sequence[tuple[str, str, int]], now: float) -> tuple[str, int]:
    days = chart_days(now)
    rules = sorted({rule for _, rule, _ in by_day})
    counts = {(day, rule): n for day, rule, n in by_day}
    colour = {rule: PALETTE[i % len(PALETTE)] for i, rule in enumerate(rules)}
    totals = [sum(counts.get((d, r), 0) for r in rules) for d in days]
    step = _nice_step(max(totals, default=0) or 1)
    top = max(step, -(-max(totals, default=0) // step) * step)
    width, height, left, right, pad_top, bottom = 1160, 210, 44, 10, 14, 30
    plot_w, plot_h = width - left - right, height - pad_top - bottom
    slot = plot_w / len(days)
    bar = slot * 0.62
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-title"><title id="chart-title">Alerts per rule per day, '
        f"last {CHART_DAYS} days (UTC)</title>",
        '<g font-size="11" fill="#667085" font-family="system-ui,sans-serif">',
    ]
    for tick in range(0, top + 1, step):
        y = pad_top + plot_h - tick / top * plot_h
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{"#98a2b3" if tick == 0 else "#eaecf0"}"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = pad_top + plot_h
        for rule in rules:
            n = counts.get((day, rule), 0)
            if not n:
                continue
            h = n / top * plot_h
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour[rule]}"><title>{esc(day)} · {esc(rule)}: {n}</title></rect>'
            )
        if totals[i]:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'fill="#1d2330">{totals[i]}</text>'
            )
        month, mday = int(day[5:7]), int(day[8:10])
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 17}" text-anchor="middle">'
            f"{_MONTHS[month - 1]} {mday}</text>"
        )
    parts.append(
        f'<text x="12" y="{pad_top + plot_h / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {pad_top + plot_h / 2:.0f})">alerts</text></g></svg>'
    )
    legend = (
        "".join(
            f'<span><i class="sw" style="background:{colour[r]}"></i>{esc(r)}</span>' for r in rules
        )
        or '<span class="muted">No alerts in this period.</span>'
    )
    head = "".join(f'<th class="num">{esc(d[5:])}</th>' for d in days)
    body = "".join(
        f"<tr><td>{esc(r)}</td>"
        + "".join(f'<td class="num">{counts.get((d, r), 0) or ""}</td>' for d in days)
        + f'<td class="num"><b>{sum(counts.get((d, r), 0) for d in days)}</b></td></tr>'
        for r in rules
    )
    table = (
        f"<details><summary>Show as a table</summary><table><thead><tr><th>Rule</th>{head}"
        f'<th class="num">Total</th></tr></thead><tbody>{body}</tbody></table></details>'
    )
    html_ = (
        f'<section class="chart"><h2>Alerts per rule per day<small>last {CHART_DAYS} days, '
        f'UTC</small></h2>{"".join(parts)}<div class="legend">{legend}</div>{table}</section>'
    )
    return html_, sum(totals)


def render_page(
    info: dict[str, Any],
    states: Sequence[FeedState],
    alerts: Sequence[dict[str, Any]],
    by_day: Sequence[tuple[str, str, int]],
    health: dict[str, Any],
    now: float,
) -> str:
    """The whole status page as one HTML document."""
    configured: list[str] = list(info.get("feeds", []))
    by_name = {s.name: s for s in states}
    never = sum(1 for n in configured if n not in by_name or not by_name[n].last_poll_at)
    failing = sum(1 for n in configured if n in by_name and by_name[n].last_status == "error")
    chart, alerts_14d = _chart(by_day, now)
    body = (
        _header(info, now)
        + "<main>"
        + _banner(info.get("reload_error"))
        + _tiles(info, health, failing, never, alerts_14d)
        + _feeds(configured, states, now)
        + chart
        + _alerts(alerts)
        + "<footer>Read-only view · refreshes every 30 s · "
        '<a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a></footer></main>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta http-equiv="refresh" content="30"><link rel="icon" href="data:,">'
        f"<title>newsmon {esc(info.get('version', ''))}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )
