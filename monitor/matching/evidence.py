"""Evidence of a match: which element fired and a snippet of the text around it (pure).

Snippets are cut from the NFKC text of the field (what the rule read), about 160
characters centred on the hit, cut on spaces so no word is split, with "…" where text
was left out. Only matching rules pay for this.
"""

from __future__ import annotations

import re
from itertools import islice

from monitor.matching.ruletree import Fired, Near, Regex, Term
from monitor.matching.scan import ItemScan
from monitor.models import Evidence

SNIPPET = 160
_WORD = re.compile(r"[^\W_]+")


def cut(text: str, start: int, end: int, width: int = SNIPPET) -> str:
    """About ``width`` characters of ``text`` around [start, end), cut on spaces."""
    if len(text) <= width:
        return text
    room = max(0, width - (end - start))
    lo = max(0, start - room // 2)
    hi = min(len(text), max(end, lo + width))
    lo = max(0, min(lo, hi - width))
    if lo > 0:
        space = text.find(" ", lo, start)
        lo = space + 1 if space >= 0 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space >= 0 else hi
    out = text[lo:hi].strip()
    return ("…" if lo > 0 else "") + out + ("…" if hi < len(text) else "")


def _word_span(raw: str, first: int, last: int) -> tuple[int, int] | None:
    """Character span in the NFKC text of plain words first..last (approximate: the k-th
    run of letters and digits; Hangul spacing and abbreviations can shift it)."""
    # Only the runs up to ``last`` are needed: stop there instead of splitting the whole
    # field (a 10,000-rule profile spent a quarter of the evidence time on this list).
    runs = [m.span() for m in islice(_WORD.finditer(raw), last + 1)]
    if not runs:
        return None
    first = min(first, len(runs) - 1)
    last = min(max(last, first), len(runs) - 1)
    return runs[first][0], runs[last][1]


def span_of(leaf: Term | Near | Regex, scan: ItemScan, name: str) -> tuple[int, int] | None:
    raw = scan.raw(name, leaf.accents if not isinstance(leaf, Near) else leaf.terms[0].accents)
    if isinstance(leaf, Regex):
        m = leaf.compiled.search(raw)
        return m.span() if m else None
    if isinstance(leaf, Term):
        if leaf.spec.raw_re is not None:
            found = leaf.spec.raw_re.search(raw)
            return found.span() if found else None
        positions = leaf.positions(scan, name)
        return _word_span(raw, *positions[0]) if positions else None
    window = leaf.window(scan, name)
    return _word_span(raw, window[1], window[2]) if window else None


def collect(fired: Fired, scan: ItemScan) -> tuple[Evidence, ...]:
    out: list[Evidence] = []
    seen: set[int] = set()
    for leaf, name in fired:
        if id(leaf) in seen:
            continue
        seen.add(id(leaf))
        raw = scan.raw(name)
        if len(raw) <= SNIPPET:  # a short field (most titles) is its own snippet
            snippet = raw
        else:
            span = span_of(leaf, scan, name)
            snippet = cut(raw, *span) if span else cut(raw, 0, 0)
        out.append(Evidence(leaf.path, leaf.written, name, snippet))
    return tuple(out)
