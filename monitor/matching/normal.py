"""Text normalization shared by rule terms and item text (README "How terms match").

``normalize`` gives the *plain* text the automaton scans: NFKC, dotted abbreviations
joined (U.S. -> US), case folded, optionally accents removed, every character that is not
a letter, digit or mark turned into a space, space runs collapsed, and spaces between two
Hangul syllables dropped (Korean spacing varies: 종전 선언 = 종전선언).
"""

from __future__ import annotations

import re
import unicodedata

_CJK_RANGES = (
    (0x0E00, 0x0E7F),  # Thai
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7FF),  # Hangul syllables + Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana (NFKC folds most, not all contexts)
    (0x20000, 0x3134F),  # CJK extensions B-G
)
# The same ranges as a regex character-class body (for generated verifier patterns).
CJK_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CJK_RANGES)
HANGUL = "\uac00-\ud7a3"


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    if code < 0x0E00:  # fast path: Latin, Greek, Cyrillic, Arabic, ... (most text)
        return False
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LNM"


# Map every code point that is not a letter, number or mark to a space (cached per code).
class _SpaceTable(dict[int, int]):
    def __missing__(self, code: int) -> int:
        value = code if word_char(chr(code)) else 0x20
        self[code] = value
        return value


_TABLE = _SpaceTable()

# Two or more single letters each followed by a dot (U.S., U.N., e.g.); the last dot may
# be missing (U.S-led). A letter glued to a word before it (end.Next) does not start one.
ABBREV = re.compile(r"(?<![\w.])[^\W\d_](?:\.[^\W\d_](?![\w]))+\.?")
# Every ABBREV match has a dot followed by a letter: a search for that alone is ~15x
# cheaper than ABBREV's, and half of all summaries have a dot but only 1 in 20 that pair.
_DOT_LETTER = re.compile(r"\.[^\W\d_]")
_HANGUL_GAP = re.compile(f"([{HANGUL}]) (?=[{HANGUL}])")
# Combining diacritical marks only: accents on Latin, Greek and Cyrillic letters. Marks
# that carry meaning elsewhere (Thai, Devanagari vowel signs) are kept.
_ACCENTS = re.compile("[\u0300-\u036f]")


def _join_abbrev(m: re.Match[str]) -> str:
    return m.group().replace(".", "")


def fold_accents(text: str) -> str:
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", _ACCENTS.sub("", unicodedata.normalize("NFD", text)))


def nfkc(text: str, accents: bool = False) -> str:
    """The *raw* text regexes and case-sensitive checks read: NFKC (accents folded if asked)."""
    out = unicodedata.normalize("NFKC", text)
    return fold_accents(out) if accents else out


# The same mapping for ASCII text, lower-casing included, as one byte table: bytes.translate
# is a table look-up per byte, where str.translate calls into the dict above per character
# (most item text is ASCII: a third of the cost of normalizing a headline and summary).
_ASCII = bytes(ord(c.lower()) if c.isalnum() else 0x20 for c in map(chr, range(128)))
_ASCII = _ASCII + b" " * 128


def normalize(text: str, accents: bool = False) -> str:
    """NFKC, U.S. -> US, casefold, [accents off], punctuation to spaces, Hangul gaps closed."""
    folded = unicodedata.normalize("NFKC", text)
    if "." in folded and _DOT_LETTER.search(folded):
        folded = ABBREV.sub(_join_abbrev, folded)
    if folded.isascii():
        return " ".join(folded.encode("ascii").translate(_ASCII).decode("ascii").split())
    folded = folded.casefold()
    if accents:
        folded = fold_accents(folded)
    out = " ".join(folded.translate(_TABLE).split())
    if not out.isascii():
        out = _HANGUL_GAP.sub(r"\1", out)
    return out
