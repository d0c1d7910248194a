"""Compile a rule file's ``match`` into a tree (``ruletree.py``), reporting file:line:col.

Elements: a term (string, optionally with prefix wildcards), a nested group (any/all/
none), ``{near: {terms: [...], within: N, ordered: false}}`` and ``{regex: PATTERN}``.
"""

from __future__ import annotations

import datetime
import functools
import unicodedata
from typing import Any

import re2

from monitor.config.validation import unknown_key
from monitor.config.yamlfile import KeyPath, Marks
from monitor.errors import Problem
from monitor.matching.automaton import Automaton
from monitor.matching.ruletree import Group, Near, Node, Regex, Term
from monitor.matching.terms import TermError, compiled_term

MAX_DEPTH = 8
MAX_WITHIN = 1000


@functools.lru_cache(maxsize=4096)  # few shapes (match.any[2], ...) recur in every rule file
def _path_text(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _re2_options(case_sensitive: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # errors are reported as rule problems, not on stderr
    options.case_sensitive = case_sensitive
    return options


class Compiler:
    def __init__(
        self,
        automaton: Automaton,
        marks: Marks,
        *,
        case_sensitive: bool = False,
        fold_accents: bool = False,
    ) -> None:
        self.automaton = automaton
        self.marks = marks
        self.case_sensitive = bool(case_sensitive)
        self.accents = bool(fold_accents)
        self._options = self.case_sensitive or self.accents
        self._known = automaton.terms
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def _problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(self.marks.problem(path, message))

    def term(self, data: str, path: KeyPath) -> Term | None:
        # The options are part of the memo key (a plain str for the default options: a
        # str is not tracked by the garbage collector, a tuple is).
        memo = (data, self.case_sensitive, self.accents) if self._options else data
        known = self._known.get(memo)
        if known is not None:  # the same term in an earlier rule: its spec and key
            return Term(data, known.key, known.spec, _path_text(path), self.accents)
        try:
            spec = compiled_term(data, self.case_sensitive, self.accents)
        except TermError as exc:
            self._problem(path, str(exc))
            return None
        key = self.automaton.add(spec.key.text, spec.key.open_end, self.accents)
        term = Term(data, key.index, spec, _path_text(path), self.accents)
        self._known[memo] = term
        return term

    def element(self, data: Any, path: KeyPath, depth: int) -> Node | None:
        if isinstance(data, str):
            return self.term(data, path)
        if isinstance(data, dict):
            if "near" in data or "regex" in data:
                return self.special(data, path)
            return self.group(data, path, depth + 1)
        if isinstance(data, bool | int | float | datetime.date) or data is None:
            if isinstance(data, bool):
                hint = " (YAML reads yes/no/on/off as booleans: quote the term)"
            elif isinstance(data, datetime.date):
                hint = f" (YAML reads an unquoted {data.isoformat()} as a date: quote the term)"
            else:
                hint = " (quote it)"
            self._problem(path, f"expected a term (string) or a group{hint}")
            return None
        self._problem(path, "expected a term (string) or a group")
        return None

    def special(self, data: dict[str, Any], path: KeyPath) -> Node | None:
        kind = "near" if "near" in data else "regex"
        extra = [k for k in data if k != kind]
        if extra:
            self._problem(
                (*path, extra[0]), f"a {{{kind}: …}} element has no other keys (got {extra[0]!r})"
            )
            return None
        if kind == "regex":
            return self.regex(data["regex"], (*path, "regex"))
        return self.near(data["near"], (*path, "near"))

    def regex(self, pattern: Any, path: KeyPath) -> Regex | None:
        if not isinstance(pattern, str) or not pattern:
            self._problem(path, "expected a pattern (a non-empty string)")
            return None
        try:
            # The text is NFKC, so the pattern is too (a full-width ＵＮ means UN).
            nf = unicodedata.normalize("NFKC", pattern)
            compiled = re2.compile(nf, _re2_options(self.case_sensitive))
        except re2.error as exc:
            reason = exc.args[0] if exc.args else exc
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            self._problem(
                path,
                f"invalid or unsupported regular expression {pattern!r}: {reason}"
                " (RE2 syntax: no backreferences or lookaround)",
            )
            return None
        if compiled.search("") is not None:
            self._problem(path, f"regular expression {pattern!r} matches the empty text")
            return None
        index = self.automaton.add_regex(nf, self.case_sensitive)
        return Regex(pattern, compiled, _path_text(path[:-1]), self.accents, index)

    def near(self, data: Any, path: KeyPath) -> Near | None:
        if not isinstance(data, dict):
            self._problem(path, "expected {terms: [...], within: N, ordered: false}")
            return None
        for key in data:
            if key not in ("terms", "within", "ordered"):
                self._problem(
                    (*path, key), f"unknown key {key!r} (near has terms, within, ordered)"
                )
                return None
        terms_data = data.get("terms")
        within = data.get("within")
        ordered = data.get("ordered", False)
        ok = True
        if not isinstance(terms_data, list) or not terms_data:
            self._problem((*path, "terms") if "terms" in data else path, "needs terms: [...]")
            ok = False
        if not isinstance(within, int) or isinstance(within, bool) or not 1 <= within <= MAX_WITHIN:
            where = (*path, "within") if "within" in data else path
            self._problem(where, f"needs within: a whole number of words from 1 to {MAX_WITHIN}")
            ok = False
        if not isinstance(ordered, bool):
            self._problem((*path, "ordered"), "expected true or false")
            ok = False
        if not ok:
            return None
        assert isinstance(terms_data, list)
        assert isinstance(within, int)
        terms: list[Term] = []
        for i, value in enumerate(terms_data):
            if not isinstance(value, str):
                self._problem((*path, "terms", i), "a near term is a word, phrase or wildcard")
                continue
            term = self.term(value, (*path, "terms", i))
            if term is not None:
                terms.append(term)
        if len(terms) != len(terms_data):
            return None
        sizes = [t.spec.words for t in terms]
        words = sum(sizes) if ordered else max(sizes)
        if words > within:
            self._problem(
                (*path, "within"), f"within: {within} is narrower than the terms ({words} words)"
            )
            return None
        return Near(tuple(terms), within, ordered, _path_text(path[:-1]))

    def group(
        self, data: dict[str, Any], path: KeyPath, depth: int, bare: bool = False
    ) -> Group | None:
        """``bare``: ``match:`` written as a string or list (= any); its elements sit at
        match[i] in the file, which is where errors must point."""
        if depth > MAX_DEPTH:
            self._problem(path, f"groups nest deeper than {MAX_DEPTH}")
            return None
        clauses: dict[str, tuple[Node, ...]] = {}
        typo = False
        for key, value in data.items():
            if key not in ("any", "all", "none"):
                typo = True  # reported here; "needs any: or all:" would only confuse
                self._problem(
                    (*path, key),
                    unknown_key(key, ["any", "all", "none"])
                    + " (a group has any, all, none; an element may be {near: …} or {regex: …})",
                )
                continue
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items:
                self._problem((*path, key), "expected a non-empty list of terms or groups")
                continue
            compiled = []
            for i, item in enumerate(items):
                if bare:
                    where = path if isinstance(value, str) else (*path, i)
                else:
                    where = (*path, key, i)
                # A term (most elements) skips element()'s dispatch: load time.
                node = (
                    self.term(item, where)
                    if type(item) is str
                    else self.element(item, where, depth)
                )
                if node is not None:
                    compiled.append(node)
            clauses[key] = tuple(compiled)
        if not data:
            self._problem(path, "an empty group matches nothing")
        elif depth >= 1 and "any" not in data and "all" not in data and not typo:
            self._problem(
                path,
                "a group needs any: or all: (none: alone matches everything not vetoed;"
                " put none: beside the any:/all: it restricts)",
            )
        return Group(**clauses, path=_path_text(path))


def compile_match(data: Any, compiler: Compiler) -> Group | None:
    path: KeyPath = ("match",)
    if isinstance(data, str | list):
        group = compiler.group({"any": data}, path, 0, bare=True)
    elif isinstance(data, dict) and ("near" in data or "regex" in data):
        node = compiler.special(data, path)
        group = Group(any=(node,), path="match") if node is not None else None
    elif isinstance(data, dict):
        group = compiler.group(data, path, 0)
    else:
        compiler.problems.append(
            compiler.marks.problem(path, "expected a term, a list of terms or a group")
        )
        return None
    if group is not None and not group.any and not group.all and not compiler.problems:
        compiler.problems.append(
            compiler.marks.problem(path, "needs any: or all: (none: alone would match everything)")
        )
    return group
