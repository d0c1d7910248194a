"""One item scanned once: normalized fields, the automaton's hits, lazy NFKC texts (pure).

Everything a rule needs to decide is computed here at most once per item, whatever the
number of rules: the automaton runs once per field (twice on non-ASCII text when some rule
folds accents), and verifiers cache their answers per field.

Deciding a rule only needs *which* keys occur in which field (``keys_in``); where they
occur (``spans_of``) is needed by ``near``, verifiers and evidence, on the few items and
rules that get that far, so positions are worked out from the raw hits on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitor.matching.automaton import Automaton, Hits, Spans
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
        self._spans: dict[str, Spans] = {}
        self._hits: dict[str, Hits] = {}
        self._found_for: dict[tuple[str, ...], set[int]] = {}
        self._raw: dict[tuple[str, bool], str] = {}
        self._regex: dict[tuple[str, bool], set[int]] = {}
        accent_keys = automaton.has_accent_keys
        for name, text in self.texts.items():
            plain = normalize(text)
            self.plain[name] = plain
            if not accent_keys and plain.isascii():
                # The common case: no position is worked out until something asks.
                hits, keys = automaton.ascii_hits(plain)
                self._hits[name] = hits
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

    def spans_of(self, name: str) -> Spans:
        """Every key found in a field, with the (start, end) of each occurrence."""
        spans = self._spans.get(name)
        if spans is None:
            hits = self._hits.get(name)
            spans = self.automaton.ascii_spans(hits) if hits is not None else {}
            self._spans[name] = spans
        return spans

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
