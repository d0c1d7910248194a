"""One item scanned once: normalized fields, the automaton's hits, lazy NFKC texts (pure).

Everything a rule needs to decide is computed here at most once per item, whatever the
number of rules: the automaton runs once per field (twice on non-ASCII text when some rule
folds accents), and verifiers cache their answers per field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.matching.automaton import Automaton, Spans
from monitor.matching.normal import nfkc, normalize


class ItemScan:
    def __init__(self, automaton: Automaton, fields: Mapping[str, str]) -> None:
        self.automaton = automaton
        self.texts = {name: text for name, text in fields.items() if text}
        self.plain: dict[str, str] = {}
        self.folded: dict[str, str] = {}
        self.spans: dict[str, Spans] = {}
        self.found: set[int] = set()
        self.cache: dict[tuple[int, str], Any] = {}
        self._raw: dict[tuple[str, bool], str] = {}
        accent_keys = automaton.has_accent_keys
        for name, text in self.texts.items():
            plain = normalize(text)
            self.plain[name] = plain
            if accent_keys and plain.isascii():
                spans = automaton.find(plain, None)
                self.folded[name] = plain
            else:
                spans = automaton.find(plain, False)
                if accent_keys:
                    folded = normalize(text, accents=True)
                    self.folded[name] = folded
                    spans.update(automaton.find(folded, True))
            self.spans[name] = spans
            self.found.update(spans)

    def plain_of(self, name: str, accents: bool) -> str:
        return (self.folded if accents else self.plain).get(name, "")

    def regex_hits(self, name: str, accents: bool) -> set[int]:
        """Which of the automaton's regex patterns match this field (one RE2 set pass)."""
        key = (-1, f"{name}:{accents}")
        hits: set[int] | None = self.cache.get(key)
        if hits is None:
            hits = self.automaton.regex_hits(self.raw(name, accents))
            self.cache[key] = hits
        return hits

    def raw(self, name: str, accents: bool = False) -> str:
        """The NFKC text of a field (accent-folded for fold_accents rules)."""
        key = (name, accents)
        out = self._raw.get(key)
        if out is None:
            out = nfkc(self.texts.get(name, ""), accents)
            self._raw[key] = out
        return out
