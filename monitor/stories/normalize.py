"""Title and lead text made comparable across outlets (pure).

Wire copies of one report differ in ways that say nothing about the story: an update tag
("UPDATE 1-", "(LEAD)", "[속보]"), an outlet suffix (" - Yonhap", " | Reuters"), a dateline
("Seoul, Nov 10 (IANS) ", "[서울=뉴시스]홍길동 기자 = "), spelling of country names
("S. Korea", "South Korea", "ROK"; "北", "美") and a trimmed lead. ``features`` turns the
rest into a set of comparable tokens: Latin-script words (a crude plural fold, stopwords
dropped) and, for Hangul/Han/Kana, overlapping character bigrams, because Korean attaches
particles to nouns (종전선언을, 종전선언은) and does not always separate words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from monitor.matching.normal import CJK_CLASS

# Update tags wire services and outlets put before a headline. Only these: other bracketed
# words are column names ("[오늘의 날씨] 2022년 8월 1일" and "[TV하이라이트]2022년 8월 1일"
# are two stories whose titles differ only there).
_TAGS = r"(?:속보|단독|종합\d?보?|\d보|상보|긴급|update\s*\d*|urgent|breaking|lead)"
_PREFIX = re.compile(
    rf"""^\s*(?:
        (?:update|wrapup|corrected|refile|rpt|exclusive|breaking|urgent|factbox|analysis)
            (?:\s*\d+)?\s*[-:|]\s*
      | \((?:\d+(?:st|nd|rd|th)\s+)?(?:lead|urgent|update|news\ focus|news\ analysis|
            recasts?|adds?[^)]*|corrected|refile)\)\s*
      | [\[【(]{_TAGS}[\]】)]\s*
    )+""",
    re.IGNORECASE | re.VERBOSE,
)
_END_TAG = re.compile(rf"\s*[\[(]{_TAGS}[\])]\s*$", re.IGNORECASE)
# " - Yonhap", " | Reuters", " — The Korea Times": a short last segment after a dash/bar.
_SUFFIX = re.compile(r"\s+[-|–—]\s+([^-|–—]{1,40})$")
# Datelines at the start of a lead.
_DATELINES = (
    re.compile(r"^\s*\[[^\]=]{1,20}=[^\]]{1,20}\][^=]{0,30}=\s*"),  # [서울=뉴시스]홍길동 기자 =
    re.compile(
        r"^\s*\(?[A-Z][A-Za-z .'-]{1,40},?\s+[A-Z][a-z]{2,4}\.?\s+\d{1,2}\s*"
        r"\([^)]{2,20}\)\s*[-—–:]*\s*"
    ),
    re.compile(r"^\s*[A-Z][A-Z .'-]{2,30}\s*\([^)]{2,20}\)\s*[-—–:]+\s*"),  # SEOUL (Reuters) -
    re.compile(r"^\s*\([^)]{2,20}\)\s*[-—–:]+\s*"),  # (Yonhap) --
)
_LEAD_CHARS = 300  # a trimmed lead keeps at least its first sentence or two

# Spelling variants of the same names, applied to lower-cased NFKC text, in this order. Each
# comes with a literal that every match contains: an ``in`` test skips the regex pass when
# the literal is absent (most texts have none of them; 14 regex passes were half the cost
# of a lead's features).
_VARIANTS = (
    (re.compile(r"\bs\.\s*korea"), "south korea", "korea"),
    (re.compile(r"\bn\.\s*korea"), "north korea", "korea"),
    (re.compile(r"\brok\b"), "south korea", "rok"),
    (re.compile(r"\bdprk\b"), "north korea", "dprk"),
    (re.compile(r"\bu\.\s*s\.(?:\s*a\.)?"), "us", "u."),
    (re.compile(r"\bu\.\s*n\.\s"), "un ", "u."),
    (re.compile(r"\bunited states\b"), "us", "united states"),
    (re.compile(r"\bamerica\b"), "us", "america"),
    (re.compile(r"\bwashington\b"), "us", "washington"),
    (re.compile(r"\bseoul\b"), "south korea", "seoul"),
    (re.compile(r"\bpyongyang\b"), "north korea", "pyongyang"),
    (re.compile(r"\bsouth korean\b"), "south korea", "south korean"),
    (re.compile(r"\bnorth korean\b"), "north korea", "north korean"),
    (re.compile(r"\bend-of-war\b"), "end of war", "end-of-war"),
)
# One-character Hanja abbreviations in Korean headlines.
_HANJA = str.maketrans(
    {"北": "북한", "美": "미국", "韓": "한국", "日": "일본", "中": "중국", "與": "여당",
     "野": "야당", "靑": "청와대", "英": "영국", "佛": "프랑스", "獨": "독일", "露": "러시아"}
)  # fmt: skip

_STOP = """a an the of in on at to for from by with and or but as is are was were be been
over after before into about amid says said say will would could may might its it this
that these those has have had not no"""
STOPWORDS = frozenset(_STOP.split())


def clean_title(title: str) -> str:
    """The headline without update tags and a trailing outlet name."""
    text = unicodedata.normalize("NFKC", title).strip()
    text = _PREFIX.sub("", text)
    text = _END_TAG.sub("", text)
    m = _SUFFIX.search(text)
    if m and len(m.group(1).split()) <= 4 and len(text) - len(m.group(0)) >= 12:
        text = text[: m.start()]
    return text.strip()


def clean_lead(summary: str, title: str = "") -> str:
    """The start of the lead: dateline removed, cut to a few hundred characters. A lead
    that only repeats the title (Google News) counts as no lead."""
    text = unicodedata.normalize("NFKC", summary).strip()
    for pattern in _DATELINES:
        text = pattern.sub("", text, count=1)
    text = text[:_LEAD_CHARS]
    if title and text.casefold().startswith(clean_title(title).casefold()[:40]):
        return ""
    return text


def _canon(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().translate(_HANJA)
    for pattern, repl, literal in _VARIANTS:
        if literal in text:
            text = pattern.sub(repl, text)
    return text


def _plural(word: str) -> str:
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


# Runs of Han/Hangul/Kana/Thai, or runs of other word characters (one regex: a per-character
# script test was most of the cost of a fingerprint).
_CJK = CJK_CLASS
_TOKEN = re.compile(rf"([{_CJK}]+)|([^\W{_CJK}]+)")
# A Korean date is one token: "2022년 7월 30일" must not weigh as five shared features.
_KO_DATE = re.compile(r"(?:(\d{4})\s*년\s*)?(\d{1,2})\s*월\s*(\d{1,2})\s*일")


@lru_cache(maxsize=8192)  # a stored copy is verified again for each later near-copy
def features(text: str) -> frozenset[str]:
    """Comparable tokens of already-cleaned text: Latin words and CJK character bigrams."""
    out: set[str] = set()
    canon = _KO_DATE.sub(lambda m: f" {m.group(1) or ''}d{m.group(2)}x{m.group(3)} ", _canon(text))
    for cjk, word in _TOKEN.findall(canon):
        if cjk:
            if len(cjk) == 1:
                out.add(cjk)
            out.update(cjk[i : i + 2] for i in range(len(cjk) - 1))
        elif word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            out.add(_plural(word))
    return frozenset(out)
