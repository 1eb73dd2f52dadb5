"""Approved message templates: parsed once, matched cheaply against hundreds per tenant.

A template is literal text with placeholders, `{name:kind(n-m)}` (or `(n)` for an exact
length); `{{` and `}}` are literal braces. Kinds:

    digits(n-m)  ASCII digits 0-9
    alnum(n-m)   letters and digits of any script (no spaces or punctuation)
    text(n-m)    any characters, spaces included

Lengths count characters of the decoded text (an emoji is one character, in UCS2 as well).
Literal text must match exactly, case included; whitespace is normalised on both sides
(runs of spaces, tabs and newlines are one space; leading and trailing ones are ignored),
and both are compared in Unicode NFC.

Each template compiles to one anchored regex, used only after a cheap prefilter: a trie over
the templates' literal prefixes finds the few whose opening text the message starts with,
and their suffix and length bounds drop most of the rest before any regex runs. So the cost
grows with the length of the shared prefix, not with the number of templates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import attrs

__all__ = ["Template", "TemplateError", "TemplateMatch", "TemplateSet", "normalize_text", "parse_template"]

KINDS = {"digits": "[0-9]", "alnum": r"[^\W_]", "text": "."}
#: Longest placeholder we accept: the text of a 10-part message in GSM7.
MAX_PLACEHOLDER = 1600
_PLACEHOLDER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):([a-z]+)\((\d+)(?:-(\d+))?\)")
_END = object()  # trie key under which the templates whose prefix ends here are listed


def normalize_text(text: str) -> str:
    """Whitespace runs become one space, ends trimmed, and non-ASCII text in Unicode NFC (a
    phone may send "é" as e + combining accent): how templates and messages compare."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


class TemplateError(ValueError):
    """A template that cannot be compiled; `offset` is where in its text the problem is."""

    def __init__(self, message: str, offset: int = 0, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint


@attrs.frozen
class Placeholder:
    name: str
    kind: str
    low: int
    high: int


@attrs.frozen(eq=False)
class Template:
    """One approved template, compiled. `prefix`/`suffix` are its literal ends, used to
    prefilter; `min_len`/`max_len` bound the length of a matching (normalised) text."""

    name: str
    source: str
    index: int
    regex: re.Pattern[str]
    prefix: str
    suffix: str
    min_len: int
    max_len: int
    placeholders: tuple[Placeholder, ...]


@attrs.frozen
class TemplateMatch:
    template: str
    values: dict[str, str]


def parse_template(name: str, source: str, index: int = 0) -> Template:
    """Compile `source`; raises TemplateError with the offending offset in `source`."""
    pieces: list[str | Placeholder] = []
    literal: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "{" and source.startswith("{{", i) or ch == "}" and source.startswith("}}", i):
            literal.append(ch)
            i += 2
        elif ch == "}":
            raise TemplateError("unmatched '}'", i, "write '}}' for a literal brace")
        elif ch == "{":
            close = source.find("}", i)
            if close < 0:
                raise TemplateError("unclosed '{'", i, "write '{{' for a literal brace")
            pieces.append("".join(literal))
            literal = []
            pieces.append(_placeholder(source[i + 1 : close], i))
            i = close + 1
        else:
            literal.append(ch)
            i += 1
    pieces.append("".join(literal))
    return _compile(name, source, index, pieces)


def _placeholder(body: str, offset: int) -> Placeholder:
    found = _PLACEHOLDER.fullmatch(body.strip())
    if not found:
        raise TemplateError(
            f"bad placeholder {{{body}}}", offset, "write {name:digits(4-8)}, {name:text(1-30)} or {name:alnum(6)}"
        )
    name, kind, low_text, high_text = found.groups()
    if kind not in KINDS:
        raise TemplateError(f"unknown placeholder kind {kind!r}", offset, "use digits, alnum or text")
    low = int(low_text)
    high = int(high_text) if high_text is not None else low
    if high < low or high < 1 or high > MAX_PLACEHOLDER:
        raise TemplateError(f"bad length {low}-{high} in {{{body}}}", offset, f"need 0 <= n <= m, 1 <= m <= {MAX_PLACEHOLDER}")
    return Placeholder(name, kind, low, high)


def _compile(name: str, source: str, index: int, pieces: list[str | Placeholder]) -> Template:
    # Normalise the literals as messages are normalised: inner runs to one space; the
    # template's own ends trimmed. A literal's edge space next to a placeholder is kept.
    joined: list[str | Placeholder] = []
    for position, piece in enumerate(pieces):
        if isinstance(piece, Placeholder):
            joined.append(piece)
            continue
        text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", piece))
        if position == 0:
            text = text.lstrip()
        if position == len(pieces) - 1:
            text = text.rstrip()
        joined.append(text)
    placeholders = tuple(p for p in joined if isinstance(p, Placeholder))
    # `pieces` alternates literal, placeholder, literal, ...: an empty literal between two
    # placeholders means they touch, and where one ends would be a guess (and a backtrack).
    for position in range(2, len(joined) - 1, 2):
        if joined[position] == "":
            before = joined[position - 1]
            assert isinstance(before, Placeholder)
            raise TemplateError(
                f"placeholder {before.name!r} touches the next one", source.find("{" + before.name),
                "put literal text (a space at least) between placeholders",
            )
    names = [p.name for p in placeholders]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise TemplateError(f"placeholder {duplicate!r} appears twice", source.find("{" + duplicate))
    if not placeholders and not joined[0]:
        raise TemplateError("empty template")
    pattern = "".join(
        f"(?P<{p.name}>{KINDS[p.kind]}{{{p.low},{p.high}}})" if isinstance(p, Placeholder) else re.escape(p)
        for p in joined
    )
    literals = [p for p in joined if isinstance(p, str)]
    literal_len = sum(len(p) for p in literals)
    return Template(
        name=name,
        source=source,
        index=index,
        regex=re.compile(pattern, re.DOTALL),
        prefix=literals[0],
        suffix=literals[-1] if placeholders else "",
        min_len=literal_len + sum(p.low for p in placeholders),
        max_len=literal_len + sum(p.high for p in placeholders),
        placeholders=placeholders,
    )


class TemplateSet:
    """A tenant's templates with the prefix trie; `match` returns the first in file order."""

    __slots__ = ("templates", "_trie", "_longest_prefix")

    def __init__(self, templates: Iterable[Template]) -> None:
        self.templates = tuple(sorted(templates, key=lambda t: t.index))
        self._trie: dict = {}
        self._longest_prefix = 0
        for template in self.templates:
            node = self._trie
            for ch in template.prefix:
                node = node.setdefault(ch, {})
            node.setdefault(_END, []).append(template)
            self._longest_prefix = max(self._longest_prefix, len(template.prefix))

    def __len__(self) -> int:
        return len(self.templates)

    def candidates(self, text: str) -> list[Template]:
        """Templates whose literal prefix `text` starts with and whose suffix and length
        bounds fit it, in file order. `text` must be normalised."""
        found: list[Template] = []
        node = self._trie
        size = len(text)
        position = 0
        while True:
            ending = node.get(_END)
            if ending:
                for template in ending:
                    if template.min_len <= size <= template.max_len and text.endswith(template.suffix):
                        found.append(template)
            if position >= size:
                break
            node = node.get(text[position])
            if node is None:
                break
            position += 1
        if len(found) > 1:
            found.sort(key=lambda t: t.index)
        return found

    def match(self, text: str) -> TemplateMatch | None:
        """The first template (in file order) that `text` matches, or None."""
        normal = normalize_text(text)
        for template in self.candidates(normal):
            found = template.regex.fullmatch(normal)
            if found is not None:
                return TemplateMatch(template.name, found.groupdict())
        return None

    def match_name(self, text: str) -> str | None:
        """Like `match` but only the name (the hot path: no dict of values)."""
        normal = normalize_text(text)
        for template in self.candidates(normal):
            if template.regex.fullmatch(normal) is not None:
                return template.name
        return None
