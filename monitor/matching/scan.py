"""One item scanned once: normalized fields, the automaton's hits, lazy NFKC texts (pure).

Everything a rule needs to decide is computed here at most once per item, whatever the
number of rules: the automaton runs once per field (twice on non-ASCII text when some rule
folds accents), and verifiers cache their answers per field.

Deciding a rule only needs *which* keys occur in which field (``keys_in``); where they
occur (``word_positions``) is needed by ``near`` and evidence, on the few items and rules
that get that far: in an ASCII field (the common case) the automaton only says which keys
it found, and a key's positions are looked up again with ``str.find`` when asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitor.matching.automaton import Automaton, Spans
from monitor.matching.normal import nfkc, normalize


class ItemScan:
    def __init__(self, automaton: Automaton, fields: Mapping[str, str]) -> None:
        self.automaton = automaton
        self.texts = {name: text for name, text in fields.items() if text}
        self.plain: dict[str, str] = {}
        self.folded: dict[str, str] = {}
        self.keys_in: dict[str, set[int]] = {}
        self.found: set[int] = set()
        self.cache: dict[tuple[int, str], Any] = {}
        self._spans: dict[str, Spans] = {}  # fields scanned with positions (non-ASCII)
        self._padded: dict[str, str] = {}  # " text ": the ASCII texts the hits are in
        self._found_for: dict[tuple[str, ...], set[int]] = {}
        self._raw: dict[tuple[str, bool], str] = {}
        self._regex: dict[tuple[str, bool], set[int]] = {}
        self._words: dict[tuple[int, str], list[tuple[int, int]]] = {}
        accent_keys = automaton.has_accent_keys
        for name, text in self.texts.items():
            plain = normalize(text)
            self.plain[name] = plain
            if not accent_keys and plain.isascii():
                # The common case: no position is worked out until something asks.
                padded = f" {plain} "
                keys = automaton.ascii_keys(padded)
                self._padded[name] = padded
            else:
                if accent_keys and plain.isascii():
                    spans = automaton.find(plain, None)
                    self.folded[name] = plain
                else:
                    spans = automaton.find(plain, False)
                    if accent_keys:
                        folded = normalize(text, accents=True)
                        self.folded[name] = folded
                        spans.update(automaton.find(folded, True))
                self._spans[name] = spans
                keys = set(spans)
            self.keys_in[name] = keys
            self.found |= keys

    def word_positions(self, name: str, key: int, accents: bool) -> list[tuple[int, int]]:
        """Word intervals (first, last) of a key's occurrences in a field, in order (what
        ``near`` measures windows in). ``accents``: the key is a fold_accents one."""
        cache_key = (key, name)
        out = self._words.get(cache_key)
        if out is None:
            padded = self._padded.get(name)
            if padded is not None:  # an ASCII field: the automaton kept no positions
                out = self.automaton.word_positions(padded, key)
            else:
                plain = (self.folded if accents else self.plain).get(name, "")
                spans = self._spans.get(name, {}).get(key, [])
                out = [(plain.count(" ", 0, s), plain.count(" ", 0, e)) for s, e in spans]
            self._words[cache_key] = out
        return out

    def found_for(self, fields: Sequence[str]) -> set[int]:
        """The keys found in any of ``fields`` (a rule's fields): ``found`` itself when the
        rule reads every field that has text, as most rules do."""
        key = tuple(fields)
        out = self._found_for.get(key)
        if out is None:
            if self.keys_in.keys() <= set(key):
                out = self.found
            else:
                out = set()
                for name in key:
                    out |= self.keys_in.get(name, set())
            self._found_for[key] = out
        return out

    def plain_of(self, name: str, accents: bool) -> str:
        return (self.folded if accents else self.plain).get(name, "")

    def regex_hits(self, name: str, accents: bool) -> set[int]:
        """Which of the automaton's regex patterns match this field (one RE2 set pass)."""
        hits = self._regex.get((name, accents))
        if hits is None:
            hits = self.automaton.regex_hits(self.raw(name, accents))
            self._regex[(name, accents)] = hits
        return hits

    def raw(self, name: str, accents: bool = False) -> str:
        """The NFKC text of a field (accent-folded for fold_accents rules)."""
        key = (name, accents)
        out = self._raw.get(key)
        if out is None:
            out = nfkc(self.texts.get(name, ""), accents)
            self._raw[key] = out
        return out
