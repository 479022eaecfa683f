"""A small GBNF recognizer for tests: does a grammar (llama.cpp's format) admit a whole string?

Only what alamp's grammars use: literals, character classes, rule references, groups, alternation and the postfix
operators ``* + ?``. Matching returns the set of end positions of every way a rule can match from a position (memoized),
so ambiguity and optional parts need no backtracking logic. Not for left-recursive grammars (llama.cpp refuses those
too).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache

__all__ = ["Grammar"]


@dataclass(frozen=True)
class _Lit:
    text: str


@dataclass(frozen=True)
class _Class:
    negated: bool
    ranges: tuple[tuple[str, str], ...]

    def admits(self, char: str) -> bool:
        inside = any(lo <= char <= hi for lo, hi in self.ranges)
        return inside != self.negated


@dataclass(frozen=True)
class _Ref:
    name: str


@dataclass(frozen=True)
class _Seq:
    items: tuple[object, ...]


@dataclass(frozen=True)
class _Alt:
    options: tuple[object, ...]


@dataclass(frozen=True)
class _Repeat:
    item: object
    low: int
    high: int | None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "]": "]", "[": "[", "-": "-", '"': '"', "/": "/", "^": "^"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n":
            self.pos += 1

    def alternatives(self) -> object:
        options = [self.sequence()]
        while self.pos < len(self.text) and self.text[self.pos] == "|":
            self.pos += 1
            options.append(self.sequence())
        return options[0] if len(options) == 1 else _Alt(tuple(options))

    def sequence(self) -> object:
        items: list[object] = []
        while True:
            self.ws()
            if self.pos >= len(self.text) or self.text[self.pos] in "|)":
                return _Seq(tuple(items))
            item = self.atom()
            self.ws()
            while self.pos < len(self.text) and self.text[self.pos] in "*+?{":
                op = self.text[self.pos]
                if op == "{":
                    end = self.text.index("}", self.pos)
                    low_text, _, high_text = self.text[self.pos + 1 : end].partition(",")
                    low = int(low_text or 0)
                    high = low if "," not in self.text[self.pos : end] else (int(high_text) if high_text else None)
                    item, self.pos = _Repeat(item, low, high), end + 1
                else:
                    item = _Repeat(item, 0 if op != "+" else 1, 1 if op == "?" else None)
                    self.pos += 1
                self.ws()
            items.append(item)

    def atom(self) -> object:
        char = self.text[self.pos]
        if char == '"':
            end = self.pos + 1
            while self.text[end] != '"':
                end += 2 if self.text[end] == "\\" else 1
            literal = json.loads(self.text[self.pos : end + 1])
            self.pos = end + 1
            return _Lit(literal)
        if char == "[":
            self.pos += 1
            negated = self.text[self.pos] == "^"
            self.pos += negated
            ranges: list[tuple[str, str]] = []
            while self.text[self.pos] != "]":
                lo = self.char_in_class()
                if self.text[self.pos] == "-" and self.text[self.pos + 1] != "]":
                    self.pos += 1
                    ranges.append((lo, self.char_in_class()))
                else:
                    ranges.append((lo, lo))
            self.pos += 1
            return _Class(negated, tuple(ranges))
        if char == "(":
            self.pos += 1
            inner = self.alternatives()
            assert self.text[self.pos] == ")", f"unbalanced group at {self.pos}"
            self.pos += 1
            return inner
        name = re.match(r"[A-Za-z0-9-]+", self.text[self.pos :])  # llama.cpp's rule names: no underscore
        assert name, f"unexpected {self.text[self.pos : self.pos + 20]!r}"
        self.pos += len(name.group(0))
        return _Ref(name.group(0))

    def char_in_class(self) -> str:
        char = self.text[self.pos]
        if char == "\\":
            self.pos += 2
            return _ESCAPES.get(self.text[self.pos - 1], self.text[self.pos - 1])
        self.pos += 1
        return char


class Grammar:
    """A parsed GBNF grammar. ``Grammar(text).admits(s)``: whether ``root`` matches all of ``s``."""

    def __init__(self, text: str) -> None:
        self.rules: dict[str, object] = {}
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, sep, body = line.partition("::=")
            assert sep, f"not a rule: {line!r}"
            assert re.fullmatch(r"[A-Za-z0-9-]+", name.strip()), f"llama.cpp refuses the rule name {name.strip()!r}"
            parser = _Parser(body.strip())
            self.rules[name.strip()] = parser.alternatives()
            assert parser.pos == len(parser.text), f"rule {name.strip()!r}: unparsed {parser.text[parser.pos :]!r}"
        missing = {r.name for r in self._refs()} - set(self.rules)
        assert not missing, f"undefined rules: {sorted(missing)}"

    def _refs(self) -> list[_Ref]:
        found: list[_Ref] = []

        def walk(node: object) -> None:
            if isinstance(node, _Ref):
                found.append(node)
            elif isinstance(node, _Seq):
                for item in node.items:
                    walk(item)
            elif isinstance(node, _Alt):
                for option in node.options:
                    walk(option)
            elif isinstance(node, _Repeat):
                walk(node.item)

        for rule in self.rules.values():
            walk(rule)
        return found

    def admits(self, text: str, *, root: str = "root") -> bool:
        @cache
        def ends(node: object, pos: int) -> frozenset[int]:
            if isinstance(node, _Lit):
                return frozenset({pos + len(node.text)}) if text.startswith(node.text, pos) else frozenset()
            if isinstance(node, _Class):
                return frozenset({pos + 1}) if pos < len(text) and node.admits(text[pos]) else frozenset()
            if isinstance(node, _Ref):
                return ends(self.rules[node.name], pos)
            if isinstance(node, _Alt):
                return frozenset().union(*(ends(option, pos) for option in node.options))
            if isinstance(node, _Seq):
                current = frozenset({pos})
                for item in node.items:
                    current = frozenset().union(*(ends(item, p) for p in current)) if current else current
                return current
            if isinstance(node, _Repeat):
                reached: set[int] = {pos} if node.low == 0 else set()
                frontier, visited, count = frozenset({pos}), set(), 0
                while frontier and (node.high is None or count < node.high):
                    step = frozenset().union(*(ends(node.item, p) for p in frontier))
                    count += 1
                    if count >= node.low:
                        reached |= step
                        # Past the minimum only new positions can lead anywhere new (positions never decrease).
                        step = step - visited
                        visited |= step
                    frontier = step
                return frozenset(reached)
            raise TypeError(node)

        return len(text) in ends(self.rules[root], 0)
