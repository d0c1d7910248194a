"""One Aho-Corasick automaton for the literal keys of every rule (pure).

Semantics (README "How terms match"): terms match case-insensitively after normalization
(``normal.py``). A key edge that is a Han, Kana, Hangul or Thai character needs no word
boundary; every other edge needs a non-alphanumeric neighbour or the end of the text,
except the end of a wildcard piece (``declar*``), which may go on.

All keys of all rules go into one automaton (docs/performance.md: 11-24 µs per item from 10 to
10,000 phrases, against 1,000x that for a regex per rule). Wildcards in phrases, ``near``,
symbols and case are decided by verifiers on the few items the automaton lets through
(``terms.py``, ``ruletree.py``). Each field is scanned on its own, so no phrase spans two
fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import ahocorasick
import re2

from monitor.matching.normal import is_cjk, normalize

FIELDS = ("title", "summary", "content", "link", "author", "tags", "feed")

Spans = dict[int, list[tuple[int, int]]]  # key index -> [(start, end)] in the plain text

__all__ = ["FIELDS", "Automaton", "Key", "Spans", "normalize"]


@dataclass(frozen=True)
class Key:
    """One normalized literal in the automaton, and which edges need a word boundary.
    ``accents``: the key of a ``fold_accents`` rule, found in the accent-folded text."""

    index: int
    text: str
    bounded_start: bool
    bounded_end: bool
    accents: bool = False


@dataclass
class Automaton:
    """Finds which keys occur, with boundaries and positions, in one normalized text."""

    keys: list[Key] = field(default_factory=list)
    # "<bounded start><bounded end><accents>text" -> key ("101war"): a str, which the
    # garbage collector does not track, where a tuple per key would be (load time).
    _by_spec: dict[str, Key] = field(default_factory=dict)
    # For the rule compiler: a written term (with its options) -> the first Term made of
    # it, so a term shared by many rules is compiled and registered once per load.
    terms: dict[Any, Any] = field(default_factory=dict)
    _auto: ahocorasick.Automaton | None = None
    _padded: ahocorasick.Automaton | None = None
    # Per key index, for hits of the padded automaton: how far back from the end of the
    # padded word the key starts, and its length (what a span is made of).
    back: list[int] = field(default_factory=list)
    length: list[int] = field(default_factory=list)
    # ... and the padded word itself, whether it leads with a space, and how many spaces
    # the key holds: ``word_positions`` finds one key's words with ``str.find``.
    word: list[str] = field(default_factory=list)
    lead: list[int] = field(default_factory=list)
    inner: list[int] = field(default_factory=list)
    has_accent_keys: bool = False
    # Every {regex:} element of every rule in one RE2 set: one pass per field tells which
    # patterns match, however many there are (the regex counterpart of the automaton).
    patterns: list[str] = field(default_factory=list)
    _set: Any = None

    def add_regex(self, pattern: str, case_sensitive: bool) -> int:
        self.patterns.append(pattern if case_sensitive else f"(?i){pattern}")
        self._set = None
        return len(self.patterns) - 1

    def regex_hits(self, raw: str) -> set[int]:
        """Indexes of the patterns that match somewhere in ``raw`` (an NFKC text)."""
        if not self.patterns or not raw:
            return set()
        return set(self._regex_set().Match(raw) or ())

    def _regex_set(self) -> Any:
        if self._set is None:
            options = re2.Options()
            options.log_errors = False
            rset = re2.Set.SearchSet(options)
            for pattern in self.patterns:
                rset.Add(pattern)
            rset.Compile()
            self._set = rset
        return self._set

    def add(self, text: str, open_end: bool = False, accents: bool = False) -> Key:
        """Register a normalized literal; the same literal always gives the same key."""
        start = not is_cjk(text[0])
        end = not open_end and not is_cjk(text[-1])
        spec = f"{start:d}{end:d}{accents:d}{text}"
        key = self._by_spec.get(spec)
        if key is None:
            key = Key(len(self.keys), text, start, end, accents)
            self.keys.append(key)
            self._by_spec[spec] = key
            self.has_accent_keys |= accents
            self._auto = None
            self._padded = None
        return key

    def build(self) -> None:
        """Build both automata and the regex set now (at load), not on the first item."""
        self._built()
        self._built_padded()
        if self.patterns:
            self._regex_set()

    def _built(self) -> ahocorasick.Automaton:
        if self._auto is None:
            by_text: dict[str, list[Key]] = {}
            for key in self.keys:
                by_text.setdefault(key.text, []).append(key)
            auto = ahocorasick.Automaton()
            for text, keys in by_text.items():
                auto.add_word(text, tuple(keys))
            if self.keys:
                auto.make_automaton()
            self._auto = auto
        return self._auto

    def _built_padded(self) -> ahocorasick.Automaton:
        """The ASCII keys with a space on each edge that needs a word boundary (" war ",
        " declar" for ``declar*``), for ASCII texts padded with a space at both ends: the
        automaton itself then rejects hits inside words, and no neighbour check is left
        for Python. (In ASCII text no neighbour can be CJK, the one exception.) A word
        maps to its key's index, or to a tuple of them when fold_accents keys exist (a
        literal may then be two keys): ``ascii_keys`` gathers keys by C code alone.
        ``word_positions`` finds one key's padded word again with ``str.find``."""
        if self._padded is None:
            words: dict[str, list[int]] = {}
            self.word = []
            for key in self.keys:
                lead = " " if key.bounded_start else ""
                word = lead + key.text + (" " if key.bounded_end else "")
                self.word.append(word)
                if key.text.isascii():  # (the others cannot occur in an ASCII text)
                    words.setdefault(word, []).append(key.index)
            # end index of the word in the padded text - back = start in the plain text
            self.back = [len(k.text) + k.bounded_end for k in self.keys]
            self.length = [len(k.text) for k in self.keys]
            self.lead = [int(k.bounded_start) for k in self.keys]
            self.inner = [k.text.count(" ") for k in self.keys]
            auto = ahocorasick.Automaton()
            for word, indexes in words.items():
                auto.add_word(word, tuple(indexes) if self.has_accent_keys else indexes[0])
            if words:
                auto.make_automaton()
            self._padded = auto
        return self._padded

    def ascii_keys(self, padded_text: str) -> set[int]:
        """The keys found in an ASCII text padded with a space at both ends, for automata
        without ``fold_accents`` keys (every key applies). Deciding a rule needs only
        the keys; ``word_positions`` works out where one key is, if asked."""
        padded = self._built_padded()
        if len(padded_text) < 3 or len(padded) == 0:
            return set()
        assert not self.has_accent_keys  # (their words map to tuples: see find)
        return set(map(itemgetter(1), padded.iter(padded_text)))

    def word_positions(self, padded_text: str, index: int) -> list[tuple[int, int]]:
        """Word intervals (first, last) of one ASCII key in a padded ASCII text, in order:
        ``str.find`` for its padded word, whose occurrences are exactly the automaton's."""
        word = self.word[index]
        lead = self.lead[index]
        inner = self.inner[index]
        count = padded_text.count
        out = []
        at = padded_text.find(word)
        while at >= 0:
            # spaces before the key in the plain text (the padding's own one excluded)
            first = count(" ", 0, at + lead) - 1
            out.append((first, first + inner))
            at = padded_text.find(word, at + 1)
        return out

    def find(self, normalized: str, accents: bool | None = False) -> Spans:
        """Keys found in one normalized text, with every span. ``accents``: which keys to
        accept (False: ordinary keys, True: fold_accents keys, None: both)."""
        found: Spans = {}
        if not self.keys or not normalized:
            return found
        if normalized.isascii():
            padded = self._built_padded()
            if len(padded) == 0:
                return found
            keys, back, sizes = self.keys, self.back, self.length
            for end, value in padded.iter(f" {normalized} "):
                for index in value if type(value) is tuple else (value,):
                    if accents is not None and keys[index].accents != accents:
                        continue
                    start = end - back[index]
                    found.setdefault(index, []).append((start, start + sizes[index]))
            return found
        n = len(normalized)
        for end, keys in self._built().iter(normalized):
            length = len(keys[0].text)
            start = end - length + 1
            before = normalized[start - 1] if start > 0 else " "
            after = normalized[end + 1] if end + 1 < n else " "
            # A word-character neighbour breaks the match unless it is CJK.
            start_ok = before == " " or is_cjk(before)
            end_ok = after == " " or is_cjk(after)
            for key in keys:
                if accents is not None and key.accents != accents:
                    continue
                if key.bounded_start and not start_ok:
                    continue
                if key.bounded_end and not end_ok:
                    continue
                found.setdefault(key.index, []).append((start, end + 1))
        return found
