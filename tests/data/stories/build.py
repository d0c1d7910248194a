"""Build labelled.jsonl, the labelled set for story grouping (see README.md here).

Run from the repository root: ``.venv/bin/python tests/data/stories/build.py``. The output
is deterministic (seeded edits), so the file in git is what this script writes.
"""

from __future__ import annotations

import html
import json
import random
import re
from pathlib import Path

from monitor.text import html_to_text

HERE = Path(__file__).parent
CORPUS = HERE.parent / "corpus"

# Real copies of one report in several Korean outlets (mostly Newsis wire copies run by
# Donga, Chosun, Segye, Nocut), read one by one; knews line numbers (0-based).
REAL_KO_COPIES = [
    [2365, 2701, 2380], [1517, 1851], [1434, 1449], [1179, 1207, 1227], [865, 878],
    [820, 1455, 764], [792, 805], [767, 1453], [475, 1305], [456, 459], [455, 683],
    [453, 495], [451, 561], [349, 584], [307, 482], [192, 449], [191, 620], [124, 161],
    [31, 45], [2958, 3045], [454, 503], [104, 256], [1171, 1843], [452, 483], [1657, 1698],
]  # fmt: skip
# Same event, different outlets' own articles (rssfeed ids, 8-char prefixes), read and
# grouped by hand. Hard negatives among them are put in separate groups (see README).
EVENTS = [
    ["96308ef8", "e952d2f2"],  # Cambodian soldier killed in border clash
    ["a95dde85", "2419b95c", "809ef827"],  # Gaza aid site: dozens injured, UN says
    ["180d05bc", "3f7d8deb"],  # Maradona trial judge steps down
    ["1fb4126a", "58aa38df", "ac10b97b", "f8e89da1", "e74439b2"],  # Merz: long-range aid
    ["d1c6fb67", "d76d760a"],  # German court rejects RWE climate case
    ["7a863a67", "c35aa174"],  # Musk disappointed by the bill
    ["a78e2316", "72396c1a"],  # Netanyahu: Mohammed Sinwar killed
    ["bbd55cad", "1c1664a7", "91156d1d"],  # US stops student visa interviews
    ["6b66b0c7", "acbd9312"],  # Starship loses control
    ["6bfedf84", "ea93d68d", "7cdf277a", "809237fc", "bbb96c51", "10702419"],  # surgeon
    ["8bce63d3", "6f2acae4"],  # Trump: Putin 'playing with fire'
    ["6e58eaab", "6176ea76"],  # Macron and his wife's push
]
# Same topic, different story: each its own group (the point of these items).
HARD_NEGATIVES = [
    "03369210",  # Kremlin reacts to long-range weapons (vs. Merz's announcement)
    "0be4a2c5", "eedeade0",  # Trump suspends 50% EU tariffs / Trump threatens 50% tariff
    "87e88bb3", "319f43c4",  # warning shots at diplomats / at a Gaza food centre
    "a28e369f", "c07c1abf", "e2a5b73b",  # embassy staff shooting: three developments
]  # fmt: skip
# Daily columns whose titles are only a date: different stories, same title words.
KO_DATE_COLUMNS = [2208, 2916, 1015, 1113, 942, 938, 679, 677]

OUTLETS_EN = ["Wire One", "Daily Two", "Herald Three", "Times Four", "Post Five"]
OUTLETS_KO = ["뉴시스", "연합뉴스", "동아일보", "세계일보", "노컷뉴스"]


def _en_copy(rng: random.Random, title: str, lead: str, outlet: str) -> tuple[str, str, str]:
    """A copy of an English report as republishers edit it; returns (title, lead, how)."""
    how = []
    t = title
    for a, b in (("South Korea", "S. Korea"), ("North Korea", "N. Korea"), ("US ", "U.S. ")):
        if a in t and rng.random() < 0.7:
            t = t.replace(a, b)
            how.append(f"{a.strip()}->{b.strip()}")
    pick = rng.random()
    if pick < 0.3:
        t = rng.choice(["UPDATE 1-", "UPDATE 2-", "(LEAD) ", "RPT-", "BREAKING: "]) + t
        how.append("update tag")
    if rng.random() < 0.5:
        t = t + rng.choice([" - ", " | "]) + outlet
        how.append("outlet suffix")
    if rng.random() < 0.3 and ":" in t:
        head, _, tail = t.partition(":")
        if len(tail.split()) <= 3:
            t = head
            how.append("attribution cut")
    if rng.random() < 0.2:
        t = t[0].lower() + t[1:] if t[:1].isupper() and rng.random() < 0.5 else t.upper()
        how.append("case")
    form = rng.random()
    sentences = re.split(r"(?<=[.!?])\s+", lead)
    if form < 0.25:
        lead2 = sentences[0]
        how.append("lead: first sentence")
    elif form < 0.45:
        lead2 = lead[:160]
        how.append("lead: cut at 160 chars")
    elif form < 0.6:
        lead2 = f"{title} - {outlet}"
        how.append("lead: title echo (aggregator)")
    elif form < 0.75:
        lead2 = rng.choice(["SEOUL, May 28 (Yonhap) -- ", "LONDON (Reuters) - ", "(AFP) - "]) + lead
        how.append("lead: dateline added")
    else:
        lead2 = lead
    return t, lead2, ", ".join(how) or "verbatim"


def _ko_copy(rng: random.Random, title: str, lead: str, outlet: str) -> tuple[str, str, str]:
    how = []
    t = title
    for a, b in (("북한", "北"), ("미국", "美"), ("한국", "韓"), ("‘", "'"), ("’", "'"), ("…", "...")):
        if a in t and rng.random() < 0.7:
            t = t.replace(a, b)
            how.append(f"{a}->{b}")
    pick = rng.random()
    if pick < 0.3:
        t = rng.choice(["[속보] ", "[종합] ", "[단독] ", "[종합2보] "]) + t
        how.append("update tag")
    elif pick < 0.5:
        t = t + rng.choice(["(종합)", "(1보)", "(종합2보)"])
        how.append("update tag (end)")
    if rng.random() < 0.3:
        t = t + rng.choice([" - ", " | "]) + outlet
        how.append("outlet suffix")
    form = rng.random()
    if form < 0.3:
        lead2 = f"[서울={outlet}]홍길동 기자 = " + lead
        how.append("lead: dateline added")
    elif form < 0.55:
        lead2 = lead[:120]
        how.append("lead: cut at 120 chars")
    elif form < 0.65:
        lead2 = ""
        how.append("lead: none")
    else:
        lead2 = lead
    return t, lead2, ", ".join(how) or "verbatim"


def _ko_lead(record: dict[str, str]) -> str:
    return html_to_text(record.get("partialText") or "", 600)


def main() -> None:
    rng = random.Random(20211110)
    rss = json.loads((CORPUS / "rssfeed_15_outlets_2025-05-28.json").read_text())
    by_id = {r["id"][:8]: r for r in rss}
    knews = [
        json.loads(line)
        for line in (CORPUS / "knews_korean_headlines_2022-08-01.jsonl").read_text().splitlines()
    ]
    out: list[dict[str, str]] = []

    def add(group: str, kind: str, outlet: str, title: str, lead: str, how: str, ref: str) -> None:
        out.append({"id": f"{len(out):04d}", "group": group, "kind": kind, "outlet": outlet,
                    "title": title, "summary": lead, "how": how, "ref": ref})  # fmt: skip

    used_rss: set[str] = set()
    for g, ids in enumerate(EVENTS):
        for i in ids:
            r = by_id[i]
            used_rss.add(i)
            add(f"E{g}", "event", r["source"], html.unescape(r["title"]).strip(),
                html_to_text(r["description"] or "", 600), "as published", f"rss:{i}")  # fmt: skip
    for i in HARD_NEGATIVES:
        r = by_id[i]
        used_rss.add(i)
        add(f"N{i}", "single", r["source"], html.unescape(r["title"]).strip(),
            html_to_text(r["description"] or "", 600), "as published", f"rss:{i}")  # fmt: skip
    used_ko: set[int] = set()
    for g, lines in enumerate(REAL_KO_COPIES):
        for k in lines:
            r = knews[k]
            used_ko.add(k)
            add(f"K{g}", "copy-real", r["publisher"], html.unescape(r["title"]).strip(),
                _ko_lead(r), "as published", f"knews:{k}")  # fmt: skip
    for k in KO_DATE_COLUMNS:
        r = knews[k]
        used_ko.add(k)
        add(f"D{k}", "single", r["publisher"], html.unescape(r["title"]).strip(), _ko_lead(r),
            "as published", f"knews:{k}")  # fmt: skip

    # Constructed copies: 60 English and 60 Korean originals with a real lead, each
    # with two copies edited the way republishers edit (recorded in "how").
    en = [r for r in rss if r["id"][:8] not in used_rss and len(html_to_text(
        r["description"] or "", 600)) > 80 and r["source"] not in ("ANSA", "El País")]  # fmt: skip
    rng.shuffle(en)
    seen_titles: set[str] = set()
    picked = []
    for r in en:
        if r["title"] not in seen_titles:
            seen_titles.add(r["title"])
            picked.append(r)
    for g, r in enumerate(picked[:60]):
        title, lead = html.unescape(r["title"]).strip(), html_to_text(r["description"], 600)
        add(f"C{g}", "copy-made", r["source"], title, lead, "original", f"rss:{r['id'][:8]}")
        for outlet in rng.sample(OUTLETS_EN, 2):
            t, lead2, how = _en_copy(rng, title, lead, outlet)
            add(f"C{g}", "copy-made", outlet, t, lead2, how, f"rss:{r['id'][:8]}")
    ko = [k for k, r in enumerate(knews) if k not in used_ko and len(_ko_lead(r)) > 80
          and not r["title"].startswith("[") and len(r["title"]) > 15]  # fmt: skip
    rng.shuffle(ko)
    seen_titles = set()
    count = 0
    for k in ko:
        r = knews[k]
        if r["title"] in seen_titles:
            continue
        seen_titles.add(r["title"])
        title, lead = html.unescape(r["title"]).strip(), _ko_lead(r)
        add(f"M{count}", "copy-made", r["publisher"], title, lead, "original", f"knews:{k}")
        for outlet in rng.sample(OUTLETS_KO, 2):
            t, lead2, how = _ko_copy(rng, title, lead, outlet)
            add(f"M{count}", "copy-made", outlet, t, lead2, how, f"knews:{k}")
        count += 1
        if count == 60:
            break
    with (HERE / "labelled.jsonl").open("w", encoding="utf-8") as f:
        for row in out:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(out)} items written")


if __name__ == "__main__":
    main()
