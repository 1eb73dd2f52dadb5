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
the templates' literal segments (see TemplateSet) finds the one or two a message can match,
so the cost grows with how much templates share, not with how many there are (500
templates: ~5 µs a match against ~50 µs for a linear scan; scripts/bench_policy.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

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
    segments: tuple[str | Placeholder, ...]  # literal, placeholder, literal, ... (normalised)


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
        segments=tuple(joined),
    )


#: Most places a text placeholder's next literal is looked for before giving up on the index.
MAX_TEXT_CROSSINGS = 8
_TEXT = object()  # trie token: a text placeholder

# Runs a leading placeholder of this kind can span; the index skips such a run in one step.
_RUNS = {"digits": re.compile("[0-9]*"), "alnum": re.compile(r"[^\W_]*")}


class _AlnumStarts:
    """`ch in _AlnumStarts()`: can an alnum run start with `ch` (a letter or digit)."""

    def __contains__(self, ch: str) -> bool:
        return ch.isalnum()


# Cheap first-character test before a run regex is tried at all.
_RUN_STARTS: dict[re.Pattern[str] | None, Any] = {_RUNS["digits"]: frozenset("0123456789"), _RUNS["alnum"]: _AlnumStarts()}


class _Node:
    """A radix-tree node. `edges`: first character → (label, child); `skips`: (run regex,
    its possible first characters, child) for a digits/alnum placeholder, (None, None,
    child) for a text placeholder; `ending`: templates whose indexed key ends here;
    `only`: the one template below this node, when there is just one (the walk stops)."""

    __slots__ = ("ending", "edges", "skips", "only")

    def __init__(self) -> None:
        self.ending: list[Template] = []
        self.edges: dict[str, tuple[str, _Node]] = {}
        self.skips: tuple[tuple[re.Pattern[str] | None, Any, _Node], ...] = ()
        self.only: Template | None = None


class TemplateSet:
    """A tenant's templates, indexed; `match` returns the first in file order that matches.

    The index is a trie over the templates' literal segments: literal text is walked as a
    radix tree (one step per branching point, not per character), and a digits or alnum
    placeholder is crossed by skipping the text's run of digits / letters in one regex step,
    and a text placeholder by finding where the literal after it occurs (str.find); then
    the walk goes on. It stops as soon as a single template remains below; the few
    templates it collects are filtered by length and literal suffix and tried with their
    regex, so a match costs a few dict steps and one or two regexes whatever the count.
    """

    __slots__ = ("templates", "_root")

    def __init__(self, templates: Iterable[Template]) -> None:
        self.templates = tuple(sorted(templates, key=_by_index))
        tree: dict = {}
        for template in self.templates:
            node = tree
            for token in _index_key(template):
                node = node.setdefault(token, {})
            node.setdefault(_END, []).append(template)
        self._root = _build(tree)

    def __len__(self) -> int:
        return len(self.templates)

    def candidates(self, text: str) -> list[Template]:
        """Templates that `text` (normalised) may match, in file order: a superset of the
        matching ones, usually one or two."""
        found: list[Template] = []
        size = len(text)
        stack = [(self._root, 0)]
        while stack:
            node, position = stack.pop()
            if node.only is not None:
                reached = [node.only]
            else:
                reached = node.ending
                for run, starts, child in node.skips:
                    if run is None:
                        reached = _cross_text(text, position, child, stack, reached)
                    elif position < size and text[position] in starts:
                        stack.append((child, run.match(text, position).end()))
                if position < size:
                    edge = node.edges.get(text[position])
                    if edge is not None and text.startswith(edge[0], position):
                        stack.append((edge[1], position + len(edge[0])))
            for template in reached:
                if template.min_len <= size <= template.max_len and text.endswith(template.suffix):
                    found.append(template)
        if len(found) > 1:
            found = sorted(set(found), key=_by_index)  # reached twice only past MAX_TEXT_CROSSINGS
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


def _by_index(template: Template) -> int:
    return template.index


def _index_key(template: Template) -> list[object]:
    """The template as trie tokens: literal characters; a run regex for each digits or
    alnum placeholder whose next literal cannot continue its run (so the run's end is the
    placeholder's end; otherwise the key stops there and the regex decides); _TEXT for a
    text placeholder (crossed by searching for the literal after it)."""
    tokens: list[object] = []
    segments = template.segments
    for position, segment in enumerate(segments):
        if isinstance(segment, str):
            tokens.extend(segment)
            continue
        after = segments[position + 1] if position + 1 < len(segments) else ""
        if segment.kind == "text":
            tokens.append(_TEXT)
            continue
        run = _RUNS[segment.kind]
        if segment.low == 0 or (after and run.fullmatch(after[0])):  # type: ignore[arg-type]
            break  # an empty run, or one the next literal continues: the regex decides
        tokens.append(run)
    return tokens


def _cross_text(
    text: str, position: int, after: _Node, stack: list[tuple[_Node, int]], reached: list[Template]
) -> list[Template]:
    """Cross a text placeholder starting at `position`: continue the walk after each place
    where a literal that may follow it occurs. Returns `reached` plus the templates that end
    with the placeholder, and every template below a literal that occurs too often."""
    if after.only is not None:
        return [*reached, after.only]
    if after.ending:
        reached = [*reached, *after.ending]
    for label, child in after.edges.values():
        start, crossings = position, 0
        while (found := text.find(label, start)) >= 0:
            if crossings == MAX_TEXT_CROSSINGS:
                reached = [*reached, *_all_below(child)]
                break
            stack.append((child, found + len(label)))
            crossings += 1
            start = found + 1
    return reached


def _all_below(node: _Node) -> list[Template]:
    found = list(node.ending)
    for _, child in node.edges.values():
        found.extend(_all_below(child))
    for _, _, child in node.skips:
        found.extend(_all_below(child))
    return found


def _build(tree: dict) -> _Node:
    """Character trie → radix nodes: chains of single literal children with nothing ending
    on them become one edge labelled with the whole chain."""
    node = _Node()
    node.ending = tree.get(_END, [])
    skips = []
    for token, child in tree.items():
        if token is _END:
            continue
        if not isinstance(token, str):
            run = None if token is _TEXT else token
            skips.append((run, _RUN_STARTS.get(run), _build(child)))
            continue
        label = token
        while _END not in child and len(child) == 1:
            ((next_token, next_child),) = child.items()
            if not isinstance(next_token, str):
                break
            label += next_token
            child = next_child
        node.edges[token] = (label, _build(child))
    node.skips = tuple(skips)
    below = _templates_below(node)
    node.only = below[0] if len(below) == 1 else None
    return node


def _templates_below(node: _Node) -> list[Template]:
    found = list(node.ending)
    for _, child in node.edges.values():
        found.extend(child.only and [child.only] or _templates_below(child))
        if len(found) > 1:
            return found
    for _, _, child in node.skips:
        found.extend(_templates_below(child))
        if len(found) > 1:
            return found
    return found
