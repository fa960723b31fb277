"""The rule language: a hand-written tokenizer and recursive-descent parser, compiled to closures (no eval).

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)?
    operand := NUMBER | STRING | "true" | "false" | FIGURE | "(" expr ")"

Numbers as ``90``, ``-1.5``, ``2e9``; strings in double or single quotes (``\\"`` and ``\\\\`` escaped); figures
as in the batch JSON (``xentui.alerts.figures``).  Text and flags compare with ``==`` and ``!=`` only; a bare
figure (``stale``) is its truth.  Logic is three-valued: a comparison with an unknown figure is unknown, ``and``
/ ``or`` / ``not`` follow Kleene, and a rule whose condition is unknown does not hold.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xentui.alerts.figures import ALL, HOST, HostFacts, Kind

MAX_CHARS = 500
MAX_TOKENS = 200
MAX_DEPTH = 20

# A tick's subjects -> per subject True, False or None (unknown): evaluated a column at a time, not a domain at a
# time (a list comprehension per node: about 0.1 ms per node at 1000 domains).
Condition = Callable[["Frame"], list[bool | None]]

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\(|\))
""", re.VERBOSE)
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}
_KEYWORDS = ("and", "or", "not", "true", "false")


class RuleError(ValueError):
    """What is wrong with an expression, in one line."""


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, op, end
    text: str
    col: int  # 1-based


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_CHARS:
        raise RuleError(f"the expression is {len(text)} characters long; at most {MAX_CHARS}")
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            hint = " (== compares)" if text[pos] == "=" else " (use and, or, not)" if text[pos] in "&|!" else ""
            raise RuleError(f"at column {pos + 1}: unexpected {text[pos]!r}{hint}")
        if m.lastgroup != "space":
            tokens.append(Token(m.lastgroup or "", m.group(), pos + 1))
            if len(tokens) > MAX_TOKENS:
                raise RuleError(f"more than {MAX_TOKENS} words and symbols; split it into several rules")
        pos = m.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.DOTALL)


@dataclass(frozen=True)
class _Term:
    """An operand: a constant (``getter`` None) or a figure."""

    kind: Kind
    value: Any = None
    getter: Callable[[Any], Any] | None = None
    text: str = ""


class Compiled:
    """A parsed condition: the callable, the figures it reads (in order), and whether it reads a domain's."""

    def __init__(self, condition: Condition, figures: tuple[str, ...]):
        self.condition = condition
        self.figures = figures
        self.over_domains = any(f not in HOST for f in figures)


def compile_expr(text: str) -> Compiled:
    """``text`` parsed and compiled, or RuleError saying what is wrong and where."""
    parser = _Parser(tokenize(text))
    if parser.peek().kind == "end":
        raise RuleError("the expression is empty; e.g. cpu_pct > 90")
    condition = parser.expr(0)
    if parser.peek().kind != "end":
        raise RuleError(f"at column {parser.peek().col}: unexpected {parser.peek().text!r} (and or or missing?)")
    return Compiled(condition, tuple(dict.fromkeys(parser.figures)))


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.pos = 0
        self.figures: list[str] = []

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def word(self, word: str) -> bool:
        token = self.peek()
        if token.kind == "name" and token.text == word:
            self.pos += 1
            return True
        return False

    def expr(self, depth: int) -> Condition:
        if depth > MAX_DEPTH:
            raise RuleError(f"nested more than {MAX_DEPTH} deep")
        parts = [self.conjunction(depth)]
        while self.word("or"):
            parts.append(self.conjunction(depth))
        return parts[0] if len(parts) == 1 else _fold(tuple(parts), _or2)

    def conjunction(self, depth: int) -> Condition:
        parts = [self.negation(depth)]
        while self.word("and"):
            parts.append(self.negation(depth))
        return parts[0] if len(parts) == 1 else _fold(tuple(parts), _and2)

    def negation(self, depth: int) -> Condition:
        if self.word("not"):
            if depth > MAX_DEPTH:
                raise RuleError(f"nested more than {MAX_DEPTH} deep")
            return _not(self.negation(depth + 1))
        return self.compare(depth)

    def compare(self, depth: int) -> Condition:
        if self.peek().text == "(" and self.peek().kind == "op":
            self.take()
            inner = self.expr(depth + 1)
            if self.take().text != ")":
                raise RuleError(f"at column {self.tokens[self.pos - 1].col}: ')' expected")
            return inner
        left = self.operand()
        if not (self.peek().kind == "op" and self.peek().text in _COMPARE):
            return _truth(left)
        op = self.take().text
        right = self.operand()
        if self.peek().kind == "op" and self.peek().text in _COMPARE:
            raise RuleError(f"at column {self.peek().col}: one comparison at a time; join them with and")
        return _comparison(left, op, right)

    def operand(self) -> _Term:
        token = self.take()
        if token.kind == "number":
            return _Term(Kind.NUMBER, float(token.text), text=token.text)
        if token.kind == "string":
            return _Term(Kind.TEXT, _unquote(token.text), text=token.text)
        if token.kind == "name" and token.text in ("true", "false"):
            return _Term(Kind.FLAG, token.text == "true", text=token.text)
        if token.kind == "name" and token.text not in _KEYWORDS:
            if token.text not in ALL:
                near = difflib.get_close_matches(token.text, ALL, n=3)
                raise RuleError(f"at column {token.col}: unknown figure {token.text!r}"
                                + (f" (did you mean {', '.join(near)}?)" if near else
                                   " (figures are named as in the batch JSON, e.g. cpu_pct, state, host_mem_pct)"))
            self.figures.append(token.text)
            kind, getter = ALL[token.text]
            return _Term(kind, getter=getter, text=token.text)
        found = "the end" if token.kind == "end" else repr(token.text)
        raise RuleError(f"at column {token.col}: a figure, number or string expected, found {found}")


class Frame:
    """One tick's subjects for the rules: every domain (each with its host's facts), or every host alone; each
    figure read once a tick into a column that every rule shares."""

    __slots__ = ("_columns", "_facts", "_hosts", "_keys", "_names", "size", "views")

    def __init__(self, views: Sequence[Any], facts: Mapping[str, HostFacts], over_domains: bool = True):
        self.views = views if over_domains else ()  # DomainView per subject
        self._facts = facts  # HostFacts by the name the domains carry (DomainView.host)
        self._hosts: list[HostFacts] | None = None if over_domains else list(facts.values())
        self.size = len(self.views) if over_domains else len(facts)
        self._columns: dict[str, list[Any]] = {}
        self._keys: list[str] | None = None
        self._names: list[tuple[str, str]] | None = None

    @property
    def keys(self) -> list[str]:
        """Each domain subject's key (``DomainSample.key``), built once a tick for every rule."""
        if self._keys is None:
            self._keys = [v.sample.key for v in self.views]
        return self._keys

    @property
    def names(self) -> list[tuple[str, str]]:
        """Each subject's (host, name) for a rule's ``match``: a domain's host and name, or a host's name twice."""
        if self._names is None:
            self._names = ([(v.sample.host, v.sample.name) for v in self.views] if self.views else
                           [(h.name, h.name) for h in self.hosts])
        return self._names

    @property
    def hosts(self) -> list[HostFacts]:
        """The HostFacts of each subject."""
        if self._hosts is None:
            facts, none = self._facts, HostFacts("", {})
            self._hosts = [facts.get(v.sample.host, none) for v in self.views]
        return self._hosts

    def column(self, name: str) -> list[Any]:
        column = self._columns.get(name)
        if column is None:
            get = ALL[name][1]
            if name not in HOST:
                column = list(map(get, self.views))
            elif self._hosts is None and len(self._facts) == 1:  # one host: one value for every domain
                column = [get(next(iter(self._facts.values())))] * self.size
            else:
                by_host = {id(h): get(h) for h in self._facts.values()}
                column = [by_host.get(id(h)) for h in self.hosts]
            self._columns[name] = column
        return column


def _truth(term: _Term) -> Condition:
    if term.getter is None:
        raise RuleError(f"{term.text} alone is no condition; compare a figure, e.g. cpu_pct > 90")
    if term.kind is not Kind.FLAG:
        raise RuleError(f"{term.text} is a {term.kind.value} figure: compare it, e.g. {term.text} "
                        + ("> 90" if term.kind is Kind.NUMBER else '== "running"'))
    name = term.text
    return lambda frame: [None if x is None else bool(x) for x in frame.column(name)]


_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_AGAINST: dict[str, Callable[[list[Any], Any], list[bool | None]]] = {  # a column against a constant
    "==": lambda col, c: [None if x is None else x == c for x in col],
    "!=": lambda col, c: [None if x is None else x != c for x in col],
    "<": lambda col, c: [None if x is None else x < c for x in col],
    "<=": lambda col, c: [None if x is None else x <= c for x in col],
    ">": lambda col, c: [None if x is None else x > c for x in col],
    ">=": lambda col, c: [None if x is None else x >= c for x in col],
}


def _comparison(left: _Term, op: str, right: _Term) -> Condition:
    if left.kind is not right.kind:
        raise RuleError(f"{left.text} is {left.kind.value} and {right.text} is {right.kind.value}: they cannot be "
                        "compared")
    if left.kind is not Kind.NUMBER and op not in ("==", "!="):
        raise RuleError(f"{left.text} {op} {right.text}: {left.kind.value} compares with == or != only")
    if left.getter is None and right.getter is None:
        result = _COMPARE[op](left.value, right.value)
        return lambda frame: [result] * frame.size
    if left.getter is None:
        left, op, right = right, _FLIP[op], left
    name, against = left.text, _AGAINST[op]
    if right.getter is None:
        const = right.value
        return lambda frame: against(frame.column(name), const)
    fn, other = _COMPARE[op], right.text
    return lambda frame: [None if x is None or y is None else fn(x, y)
                          for x, y in zip(frame.column(name), frame.column(other), strict=True)]


def _and2(a: list[bool | None], b: list[bool | None]) -> list[bool | None]:
    return [False if x is False or y is False else None if x is None or y is None else True
            for x, y in zip(a, b, strict=True)]


def _or2(a: list[bool | None], b: list[bool | None]) -> list[bool | None]:
    return [True if x is True or y is True else None if x is None or y is None else False
            for x, y in zip(a, b, strict=True)]


def _fold(parts: tuple[Condition, ...], join: Callable[[list[bool | None], list[bool | None]], list[bool | None]]
          ) -> Condition:
    def folded(frame: Frame) -> list[bool | None]:
        result = parts[0](frame)
        for part in parts[1:]:
            result = join(result, part(frame))
        return result
    return folded


def _not(part: Condition) -> Condition:
    return lambda frame: [None if x is None else not x for x in part(frame)]
