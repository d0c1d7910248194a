"""One written term compiled: the literal the automaton looks for, plus a verifier when the
literal alone cannot decide (pure).

- A plain term (``end of war``, ``종전선언``) is exactly one automaton key.
- A single prefix wildcard (``declar*``) is one key whose end needs no word boundary.
- A phrase with wildcards (``declar* end of war``) uses its longest literal piece as the
  key; a hit is then verified by a generated regex over the plain (normalized) text.
- Terms that keep symbols (``C++``, ``C#``, ``.NET``, ``#MeToo``), dotted abbreviations
  (``U.S.``) and every term of a ``case_sensitive`` rule are verified by a generated regex
  over the NFKC text, because normalization removes exactly what they care about.

Generated patterns are sequences of literals and single character classes with ``*``/``+``
between disjoint classes, so Python's ``re`` runs them without catastrophic backtracking.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from monitor.matching.normal import ABBREV, CJK_CLASS, fold_accents, is_cjk, normalize


class TermError(ValueError):
    """A term that cannot be compiled; the message is shown with the term's file:line:col."""


@dataclass(frozen=True)
class Piece:
    text: str  # plain (normalized) literal
    open_end: bool  # followed by a wildcard: the word may go on


@dataclass(frozen=True)
class TermSpec:
    pieces: tuple[Piece, ...]
    key: Piece  # the piece the automaton finds (the longest)
    plain_re: re.Pattern[str] | None  # verifier over the plain text
    raw_re: re.Pattern[str] | None  # verifier over the NFKC text
    words: int  # how many words the term spans (a window must hold them)


_TOKEN = re.compile(
    rf"(?P<abbr>{ABBREV.pattern})"
    r"|(?P<word>[^\W_]+)"
    r"|(?P<star>\*)"
    r"|(?P<tsym>(?<=[^\W_])[+#]+)"  # C++, C#, F#
    r"|(?P<lsym>(?:(?<=\s)|^)[#.@](?=[^\W_]))"  # #MeToo, .NET, @user
    r"|(?P<sep>.)",
    re.S,
)
# A word boundary: the neighbour is not a letter or digit, or it is CJK. The CJK class is
# case-sensitive on purpose: under IGNORECASE, re would expand its 200,000 code points.
_CJK = f"(?-i:[{CJK_CLASS}])"
_START = f"(?:(?<![^\\W_])|(?<={_CJK}))"
_END = f"(?:(?![^\\W_])|(?={_CJK}))"


def _wildcards(nf: str, written: str) -> None:
    for m in re.finditer(r"\*", nf):
        run = re.search(r"[^\W_]*$", nf[: m.start()])
        letters = len(run.group()) if run else 0
        if letters == 0:
            raise TermError(f"term {written!r}: a bare * is not allowed (write declar*)")
        if letters < 3:
            raise TermError(
                f"term {written!r}: a wildcard needs at least 3 letters before * (too broad)"
            )
        after = nf[m.end() : m.end() + 1]
        if after and (unicodedata.category(after)[0] in "LNM"):
            raise TermError(f"term {written!r}: * may only end a word (declar*)")


def _pieces(nf: str, accents: bool) -> tuple[Piece, ...]:
    parts = nf.split("*")
    out: list[Piece] = []
    for i, part in enumerate(parts):
        text = normalize(part, accents)
        if text:
            out.append(Piece(text, i < len(parts) - 1))
    return tuple(out)


def _plain_pattern(pieces: tuple[Piece, ...]) -> re.Pattern[str]:
    body = ""
    for i, piece in enumerate(pieces):
        if i:
            prev = pieces[i - 1].text[-1]
            both_hangul = _hangul(prev) and _hangul(piece.text[0])
            body += " ?" if both_hangul else " "
        body += re.escape(piece.text) + ("[^ ]*" if piece.open_end else "")
    first, last = pieces[0], pieces[-1]
    start = "" if is_cjk(first.text[0]) else f"(?<![^ {CJK_CLASS}])"
    end = "" if last.open_end or is_cjk(last.text[-1]) else f"(?![^ {CJK_CLASS}])"
    return re.compile(start + body + end)


def _hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def _word_pattern(word: str) -> str:
    # Korean spacing is not significant: allow spaces between two Hangul syllables.
    out = ""
    for i, ch in enumerate(word):
        if i and _hangul(ch) and _hangul(word[i - 1]):
            out += r"\s*"
        out += re.escape(ch)
    return out


# Cheap test for what needs a raw verifier: dotted abbreviations and kept symbols.
_SPECIAL = re.compile(rf"{ABBREV.pattern}|[^\W_][+#]|(?:(?<=\s)|^)[#.@][^\W_]")


def _raw_pattern(nf: str, case_sensitive: bool, cjk_bound: bool = True) -> tuple[str, bool]:
    """Regex over the NFKC text; also says whether the term keeps symbols or abbreviations."""
    tokens = [(m.lastgroup or "sep", m.group()) for m in _TOKEN.finditer(nf)]
    while tokens and tokens[0][0] == "sep":
        tokens.pop(0)
    while tokens and tokens[-1][0] == "sep":
        tokens.pop()
    special = any(kind in ("abbr", "tsym", "lsym") for kind, _ in tokens)
    body = ""
    prev_kind, prev_text = "", ""
    for kind, text in tokens:
        if kind == "sep":
            if prev_kind != "sep":
                body += "\x00"  # placeholder, resolved below when the next token is known
        elif kind == "word":
            if prev_kind == "sep":
                joinable = _hangul(prev_text[-1:] or " ") and _hangul(text[0])
                body = body.replace("\x00", r"[\W_]*" if joinable else r"[\W_]+")
            body += _word_pattern(text)
        elif kind == "star":
            body += r"[^\W_]*"
        elif kind == "abbr":
            body = body.replace("\x00", r"[\W_]+")
            letters = text.replace(".", "")
            dotted = r"\.\s?".join(re.escape(c) for c in letters) + r"\.?"
            bare = letters if case_sensitive else letters.upper()
            body += f"(?:{dotted}|(?-i:{re.escape(bare)}))"
        else:  # kept symbol
            body = body.replace("\x00", r"[\W_]+")
            body += re.escape(text)
        if kind != "sep":
            prev_text = text
        prev_kind = kind
    first_kind, first = tokens[0] if tokens else ("", "")
    last_kind, last = tokens[-1] if tokens else ("", "")
    if first_kind == "lsym":
        start = r"(?<![\w.#@])"
    elif first and is_cjk(first[0]):
        start = ""
    else:
        start = _START if cjk_bound else r"(?<![^\W_])"
    if last_kind == "tsym":
        end = r"(?![\w+#])"
    elif last_kind == "star" or (last and is_cjk(last[-1])):
        end = ""
    else:
        end = _END if cjk_bound else r"(?![^\W_])"
    return start + body + end, special


# Rules share many terms (a topic word, a name), and a TermSpec is immutable: compile each
# (term, options) once per process. Bounded so that years of reloads cannot grow it forever.
_MEMO = 1 << 17


def compile_term(written: str, *, case_sensitive: bool = False, accents: bool = False) -> TermSpec:
    """The spec of one written term; ``TermError`` (never cached) if it cannot be compiled."""
    return compiled_term(written, bool(case_sensitive), bool(accents))


@functools.lru_cache(maxsize=_MEMO)
def compiled_term(written: str, case_sensitive: bool, accents: bool) -> TermSpec:
    """``compile_term`` with positional options (both bool): the memoized one."""
    nf = unicodedata.normalize("NFKC", written)
    if accents:
        nf = fold_accents(nf)
    if "*" in nf:
        _wildcards(nf, written)
    pieces = _pieces(nf, accents)
    if not pieces:
        raise TermError(f"term {written!r} has no letters or digits")
    key = max(pieces, key=lambda p: len(p.text))
    plain_re = _plain_pattern(pieces) if len(pieces) > 1 else None
    raw_re = None
    if case_sensitive or _SPECIAL.search(nf):
        raw, _ = _raw_pattern(nf, case_sensitive)
        raw_re = re.compile(raw, 0 if case_sensitive else re.IGNORECASE)
    words = len(" ".join(p.text for p in pieces).split())
    return TermSpec(pieces, key, plain_re, raw_re, words)
