"""MinHash/LSH band keys and the precise similarity that verifies a candidate (pure).

Finding the earlier copy of an item must not cost more as the database grows, so it is a
look-up, not a scan: each item stores a few *band keys* (LSH over a MinHash of its title
features, and of its lead features), indexed in the database; only items sharing a band
key are candidates, and each candidate is verified by ``similarity`` on the features
themselves. MinHash comes from datasketch (its ``affine32`` scheme with a fixed seed, so a
key computed today matches one stored last week); the banding is ours, because its
``MinHashLSH`` keeps the index in memory or Redis, not in our database. A key is a 64-bit
integer (``models.band_key``: the band in the top byte, 56 bits of the band's digest), the
smallest entry the index can hold.

Band shape (docs/stories.md has the measurements): 16 bands of 3 rows. Two titles with
feature Jaccard 0.5 share a band with probability 1-(1-0.5^3)^16 = 0.88, at 0.7 with
0.9997; unrelated titles (Jaccard below 0.1) almost never (0.016).
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from typing import Any

from monitor.models import LEAD_BAND, LINK_KEY, TITLE_BAND, StoryPrint, band_key
from monitor.stories.normalize import clean_lead, clean_title, features

BANDS = 16
ROWS = 3
_SEED = 20211110  # the seed article's date; never change it (stored keys would not match)

# Verification. A pair is one story when ``similarity`` >= THRESHOLD (chosen on the
# labelled set in tests/data/stories: the lowest value that keeps precision >= 0.97 on
# copies of one report, with margin).
THRESHOLD = 0.65


@cache
def _minhash() -> Any:
    """datasketch's class, imported on first use: importing the package takes ~1.3 s
    (it loads scipy and its asyncio backends), which every command would otherwise pay."""
    from datasketch import MinHash  # noqa: PLC0415

    return MinHash


@cache
def _permutations() -> Any:
    return _minhash()(num_perm=BANDS * ROWS, seed=_SEED, scheme="affine32").permutations


def _bands(kind: int, feats: frozenset[str]) -> list[int]:
    if not feats:
        return []
    mh = _minhash()(num_perm=BANDS * ROWS, permutations=_permutations(), scheme="affine32")
    mh.update_batch([f.encode("utf-8") for f in sorted(feats)])
    values = mh.hashvalues
    keys = []
    for band in range(BANDS):
        chunk = values[band * ROWS : (band + 1) * ROWS].tobytes()
        keys.append(band_key(kind + band, hashlib.blake2b(chunk, digest_size=8).digest()))
    return keys


def fingerprint(
    title: str, summary: str, link_key: str | None = None, outlet: str = ""
) -> StoryPrint:
    """Band keys for an item. ``link_key`` (its canonical link) is one more key, so the
    same article reached through two feeds is always a candidate of itself."""
    t = clean_title(title)
    lead = clean_lead(summary, title)
    tf, lf = features(t), features(lead)
    # Too few features make keys that unrelated items share ("Story 12", a lead of
    # "Read more"): such an item is found through its link only.
    keys = (_bands(TITLE_BAND, tf) if len(tf) >= 3 else []) + (
        _bands(LEAD_BAND, lf) if len(lf) >= 8 else []
    )
    if link_key:
        keys.append(band_key(LINK_KEY, hashlib.blake2b(link_key.encode(), digest_size=10).digest()))
    return StoryPrint(t, lead, tuple(keys), outlet)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Containment: a trimmed lead is mostly inside the full one."""
    small = min(len(a), len(b))
    return len(a & b) / small if small >= 8 else 0.0


def _numbers(feats: frozenset[str]) -> set[str]:
    return {f for f in feats if f.isdigit() or re.fullmatch(r"\d*d\d+x\d+", f)}


def similarity(title_a: str, lead_a: str, title_b: str, lead_b: str) -> float:
    """How surely two cleaned (title, lead) pairs are copies of one report, 0..1.

    The title decides most; a shared lead (containment, so a trimmed lead still counts)
    lifts a reworded title, and a different lead pulls a similar title down: two
    developments on one topic often share most title words but never their first lines."""
    ta, tb = features(title_a), features(title_b)
    t = _jaccard(ta, tb)
    na, nb = _numbers(ta), _numbers(tb)
    if na != nb and na and nb:
        # Different numbers in otherwise similar titles ("... number 1" / "... number 2",
        # a death toll, a date, a score) are more often two reports than one.
        t *= 0.5
    # Short titles with no lead to compare are coarse evidence (4 of 6 words shared is
    # 0.67): they need a near-identical title.
    short = 0.15 if min(len(ta), len(tb)) < 7 else 0.0
    la, lb = features(lead_a), features(lead_b)
    if not la or not lb:
        return t - short
    lead = _overlap(la, lb)
    if lead == 0.0 and min(len(la), len(lb)) < 8:
        return t - short
    return 0.5 * t + 0.5 * lead
