"""YAML config loading that remembers where every value came from, plus a small strict schema.

Operators edit our YAML by hand, so every complaint must point at file:line:column, typos
must never be ignored, and all errors are reported at once rather than one per run.

Loading::

    doc = load_yaml("config/routes.yaml")     # raises ConfigErrors (syntax, duplicate keys)
    doc["mt"][0]["name"]                        # plain dict/list/str/int/float/bool/None values
    doc.value_mark("mt")                        # Mark(file, line, column), 1-based
    doc["mt"].item_mark(0), doc.key_mark("mt"), doc.mark

Mappings load as `YamlMap` (a dict) and lists as `YamlList` (a list); both carry the marks of
their own start and of each key/value/item. Scalars are plain Python values; their position is
asked of the container holding them.

Scalars resolve like YAML 1.2's core schema with config-friendly choices: `true`/`false` only
(so the country `NO` stays a string), no sexagesimal (`20:00` stays a string), no timestamps,
and numbers written with a leading `+` or a leading zero stay strings (`+26377`, `0771234567`
are phone numbers, not integers).

Checking against a schema::

    TENANT = Schema({
        "system_id": Field(str, required=True),
        "password": Field(str, required=True),
        "tps": Field(int, default=100, check=positive),
        "groups": Field(ListOf(str), default=[]),
    }, name="tenant")
    DAEMON = Schema({"tenants": Field(MapOf(TENANT), default={})}, name="config")

    errors: list[ConfigError] = []
    cfg = DAEMON.validate(doc, errors, at=Mark(path, 1, 1))
    if errors:
        raise ConfigErrors(errors)

`validate` returns a new YamlMap with defaults filled in (every declared key is present) and
the same marks. Unknown keys are errors with a difflib suggestion ("unknown key 'conector'
(hint: did you mean 'connector'?)"), wrong types name the expected type, and a `check`
callable may convert the value or raise `Invalid("why", hint=...)` (reported at the value's
position) or a ConfigError/ConfigErrors of its own with more precise positions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import yaml

__all__ = [
    "ConfigError",
    "ConfigErrors",
    "ConfigWarning",
    "Field",
    "Invalid",
    "ListOf",
    "MapOf",
    "Mark",
    "Schema",
    "YamlList",
    "YamlMap",
    "load_yaml",
    "load_yaml_text",
]


@attrs.frozen
class Mark:
    """A position in a config file, 1-based."""

    file: str
    line: int
    column: int

    def error(self, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(self.file, self.line, self.column, message, hint)

    def warning(self, message: str, hint: str | None = None) -> ConfigWarning:
        return ConfigWarning(self.file, self.line, self.column, message, hint)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ConfigError(Exception):
    """One problem in a config file, printed as `file:line:column: message (hint: ...)`."""

    severity = "error"

    def __init__(self, file: str, line: int, column: int, message: str, hint: str | None = None):
        super().__init__(file, line, column, message, hint)
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.hint = hint

    @property
    def mark(self) -> Mark:
        return Mark(self.file, self.line, self.column)

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.args == other.args  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.args))


class ConfigWarning(ConfigError):
    """Same shape as an error, but the file is still usable (e.g. a shadowed rule)."""

    severity = "warning"


class ConfigErrors(Exception):
    """All the problems found in one pass; raised so callers see every one, not the first."""

    def __init__(self, errors: list[ConfigError]):
        super().__init__(errors)
        self.errors = list(errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class Invalid(ValueError):
    """Raised by a Field's `check` to reject a value at that value's position."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


# --------------------------------------------------------------------------------------------
# Loading


class YamlMap(dict):
    """A YAML mapping: a dict that also knows where it and each of its keys/values start."""

    __slots__ = ("mark", "_key_marks", "_value_marks")

    def __init__(self, items: Any = (), mark: Mark | None = None):
        super().__init__(items)
        self.mark = mark or Mark("<unknown>", 1, 1)
        self._key_marks: dict[Any, Mark] = {}
        self._value_marks: dict[Any, Mark] = {}

    def key_mark(self, key: Any) -> Mark:
        """Where `key` is written; the mapping's own mark if it is absent (a default)."""
        return self._key_marks.get(key, self.mark)

    def value_mark(self, key: Any) -> Mark:
        """Where the value of `key` starts; falls back to the key, then the mapping."""
        return self._value_marks.get(key) or self.key_mark(key)

    def set_marks(self, key: Any, key_mark: Mark, value_mark: Mark) -> None:
        self._key_marks[key] = key_mark
        self._value_marks[key] = value_mark


class YamlList(list):
    """A YAML sequence: a list that also knows where it and each item start."""

    __slots__ = ("mark", "_item_marks")

    def __init__(self, items: Any = (), mark: Mark | None = None, item_marks: list[Mark] | None = None):
        super().__init__(items)
        self.mark = mark or Mark("<unknown>", 1, 1)
        self._item_marks = list(item_marks or [])

    def item_mark(self, index: int) -> Mark:
        if 0 <= index < len(self._item_marks):
            return self._item_marks[index]
        return self.mark


def _mark(filename: str, yaml_mark: Any) -> Mark:
    return Mark(filename, yaml_mark.line + 1, yaml_mark.column + 1)


class _Resolver(yaml.resolver.BaseResolver):
    """Scalar typing for config files (see the module docstring for the choices)."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null",
    re.compile(r"^(?:~|null|Null|NULL|)$"),
    ["~", "n", "N", ""],
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:-?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$"),
    list("-0123456789"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?"
        r"|-?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-.0123456789"),
)


class _Constructor(yaml.constructor.SafeConstructor):
    """Builds YamlMap/YamlList with marks and records duplicate keys instead of dropping them."""

    filename = "<string>"

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[ConfigError] = []

    def construct_yaml_int(self, node: Any) -> int:
        text = self.construct_scalar(node)
        return int(text, 16) if text.startswith("0x") else int(text)

    def construct_yaml_float(self, node: Any) -> float:
        text = self.construct_scalar(node).lower()
        if text.endswith("inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        return float(text)

    def construct_yaml_map(self, node: Any) -> Any:
        data = YamlMap(mark=_mark(self.filename, node.start_mark))
        yield data
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                self.problems.append(
                    _mark(self.filename, key_node.start_mark).error("a mapping key must be a plain value")
                )
                continue
            key_mark = _mark(self.filename, key_node.start_mark)
            if key in data:
                self.problems.append(
                    key_mark.error(f"duplicate key {key!r}", hint=f"first given at line {data.key_mark(key).line}")
                )
                continue
            data[key] = self.construct_object(value_node, deep=True)
            data.set_marks(key, key_mark, _mark(self.filename, value_node.start_mark))

    def construct_yaml_seq(self, node: Any) -> Any:
        data = YamlList(mark=_mark(self.filename, node.start_mark))
        yield data
        data.extend(self.construct_object(child, deep=True) for child in node.value)
        data._item_marks = [_mark(self.filename, child.start_mark) for child in node.value]


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)
_Constructor.add_constructor("tag:yaml.org,2002:float", _Constructor.construct_yaml_float)
_Constructor.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_yaml_map)
_Constructor.add_constructor("tag:yaml.org,2002:seq", _Constructor.construct_yaml_seq)

if hasattr(yaml, "CParser"):

    class _Loader(yaml.CParser, _Constructor, _Resolver):  # type: ignore[misc]
        """libyaml's parser with our constructor and resolver."""

        def __init__(self, stream: str) -> None:
            yaml.CParser.__init__(self, stream)
            _Constructor.__init__(self)
            _Resolver.__init__(self)

else:  # pragma: no cover - libyaml is present in our env

    class _Loader(  # type: ignore[no-redef]
        yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
        _Constructor, _Resolver,
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _Constructor.__init__(self)
            _Resolver.__init__(self)


def load_yaml_text(text: str, filename: str = "<string>") -> Any:
    """Parse YAML text; see `load_yaml`. `filename` is what error positions name."""
    loader = _Loader(text)
    loader.filename = filename
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = "YAML syntax error: " + (exc.problem or exc.context or "invalid YAML")
        hint = None
        if exc.context and exc.problem:
            message += f" ({exc.context})"
            if exc.context_mark is not None and exc.context_mark is not mark:
                hint = f"{exc.context.removeprefix('while ')} started at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        raise ConfigErrors([ConfigError(filename, line, column, message, hint)]) from None
    except yaml.YAMLError as exc:
        raise ConfigErrors([ConfigError(filename, 1, 1, f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if loader.problems:
        raise ConfigErrors(loader.problems)
    return data


def load_yaml(path: str | Path) -> Any:
    """Load a YAML file into YamlMap/YamlList/scalars with positions; raises ConfigErrors.

    An unreadable file is a ConfigError at line 1 too, so callers have one error path.
    """
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigErrors([ConfigError(filename, 1, 1, f"cannot read file: {exc}")]) from None
    return load_yaml_text(text, filename)


# --------------------------------------------------------------------------------------------
# Schema

_MISSING: Any = object()

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
    type(None): "nothing (null)",
}


def _describe(kind: Any) -> str:
    if isinstance(kind, tuple):
        return " or ".join(_describe(k) for k in kind)
    if isinstance(kind, Schema):
        return "a mapping"
    if isinstance(kind, ListOf):
        return f"a list of {_describe(kind.item).removeprefix('a ').removeprefix('an ')}s"
    if isinstance(kind, MapOf):
        return "a mapping"
    return _TYPE_NAMES.get(kind, getattr(kind, "__name__", str(kind)))


def _got(value: Any) -> str:
    for kind in (bool, str, int, float, list, dict, type(None)):
        if isinstance(value, kind):
            return _TYPE_NAMES[kind]
    return type(value).__name__


@attrs.frozen
class ListOf:
    """A list whose items are all `item` (a type, tuple of types, Schema, ListOf or MapOf).

    `single=True` also accepts one bare item (`tenants: acme` == `tenants: [acme]`).
    `check` is applied to each item, at the item's position.
    """

    item: Any
    single: bool = True
    check: Callable[[Any], Any] | None = None
    min_items: int = 0


@attrs.frozen
class MapOf:
    """A mapping with free-form keys (e.g. names); every value must be `value`."""

    value: Any
    key: Any = str
    check_key: Callable[[Any], Any] | None = None
    check: Callable[[Any], Any] | None = None


@attrs.frozen
class Field:
    """One allowed key of a Schema.

    kind: a type or tuple of types (bool is never accepted as int; int is accepted as float),
    a Schema, ListOf, MapOf, or None for "any value". `check(value) -> value` runs after the
    type check and may convert the value or raise Invalid / ConfigError / ConfigErrors.
    `default` is used as is when the key is absent: give it in its checked/converted form.
    """

    kind: Any = None
    required: bool = False
    default: Any = None
    check: Callable[[Any], Any] | None = None
    doc: str = ""


@attrs.frozen
class Schema:
    """The allowed keys of a mapping. Unknown keys, missing required keys and wrong types are
    all reported (collected into the `errors` list passed to `validate`)."""

    fields: dict[str, Field]
    name: str = "mapping"

    def validate(
        self, value: Any, errors: list[ConfigError], at: Mark | None = None, partial: bool = False
    ) -> YamlMap | None:
        """Check `value` (normally a YamlMap); returns a new YamlMap with defaults, or None.

        The errors it appends to `errors` are in file order. With `partial=True` a mapping
        with errors still comes back, holding only the keys whose values passed (so a caller
        can go on checking the rest of the file without tripping over the broken parts).
        """
        start = len(errors)
        where = at or getattr(value, "mark", Mark("<unknown>", 1, 1))
        result = _validate_schema(self, value, where, errors, partial) if partial else _validate(self, value, where, errors)
        errors[start:] = sorted(errors[start:], key=lambda e: (e.file, e.line, e.column))
        return None if result is _MISSING else result


def _run_check(check: Callable[[Any], Any], value: Any, at: Mark, errors: list[ConfigError]) -> Any:
    try:
        return check(value)
    except Invalid as exc:
        errors.append(at.error(exc.message, exc.hint))
    except ConfigErrors as exc:
        errors.extend(exc.errors)
    except ConfigError as exc:
        errors.append(exc)
    return _MISSING


def _validate(kind: Any, value: Any, at: Mark, errors: list[ConfigError]) -> Any:
    """Validate `value` found at `at` against `kind`; returns the value or _MISSING on error."""
    if kind is None:
        return value
    if isinstance(kind, Schema):
        return _validate_schema(kind, value, at, errors)
    if isinstance(kind, ListOf):
        return _validate_list(kind, value, at, errors)
    if isinstance(kind, MapOf):
        return _validate_map(kind, value, at, errors)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if k is bool and isinstance(value, bool):
            return value
        if k is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if k is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if k in (list, dict) and isinstance(value, k):
            return value
        if k not in (bool, int, float, list, dict) and isinstance(value, k):
            return value
    errors.append(at.error(f"expected {_describe(kind)}, got {_got(value)}"))
    return _MISSING


def _validate_schema(schema: Schema, value: Any, at: Mark, errors: list[ConfigError], partial: bool = False) -> Any:
    if not isinstance(value, dict):
        errors.append(at.error(f"{schema.name}: expected a mapping, got {_got(value)}"))
        return _MISSING
    source = value if isinstance(value, YamlMap) else YamlMap(value, mark=at)
    result = YamlMap(mark=source.mark)
    ok = True
    for key in source:
        if key not in schema.fields:
            ok = False
            names = list(schema.fields)
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "allowed keys: " + ", ".join(names)
            errors.append(source.key_mark(key).error(f"unknown key {key!r} in {schema.name}", hint))
    for name, field in schema.fields.items():
        if name not in source:
            if field.required:
                ok = False
                errors.append(source.mark.error(f"{schema.name}: missing required key {name!r}"))
                continue
            default = field.default
            result[name] = default.copy() if isinstance(default, (list, dict)) else default
            result.set_marks(name, source.mark, source.mark)
            continue
        value_at = source.value_mark(name)
        checked = _validate(field.kind, source[name], value_at, errors)
        if checked is not _MISSING and field.check is not None:
            checked = _run_check(field.check, checked, value_at, errors)
        if checked is _MISSING:
            ok = False
            continue
        result[name] = checked
        result.set_marks(name, source.key_mark(name), value_at)
    return result if ok or partial else _MISSING


def _validate_list(kind: ListOf, value: Any, at: Mark, errors: list[ConfigError]) -> Any:
    if not isinstance(value, list):
        wants_mapping = isinstance(kind.item, (Schema, MapOf)) or kind.item is dict
        if kind.single and value is not None and (wants_mapping or not isinstance(value, dict)):
            value = YamlList([value], mark=at, item_marks=[at])
        else:
            errors.append(at.error(f"expected {_describe(kind)}, got {_got(value)}"))
            return _MISSING
    source = value if isinstance(value, YamlList) else YamlList(value, mark=at)
    if len(source) < kind.min_items:
        errors.append(at.error(f"expected at least {kind.min_items} item(s), got {len(source)}"))
        return _MISSING
    items, marks, ok = [], [], True
    for index, item in enumerate(source):
        item_at = source.item_mark(index)
        checked = _validate(kind.item, item, item_at, errors)
        if checked is not _MISSING and kind.check is not None:
            checked = _run_check(kind.check, checked, item_at, errors)
        if checked is _MISSING:
            ok = False
            continue
        items.append(checked)
        marks.append(item_at)
    return YamlList(items, mark=source.mark, item_marks=marks) if ok else _MISSING


def _validate_map(kind: MapOf, value: Any, at: Mark, errors: list[ConfigError]) -> Any:
    if not isinstance(value, dict):
        errors.append(at.error(f"expected a mapping, got {_got(value)}"))
        return _MISSING
    source = value if isinstance(value, YamlMap) else YamlMap(value, mark=at)
    result = YamlMap(mark=source.mark)
    ok = True
    for key, item in source.items():
        key_at, value_at = source.key_mark(key), source.value_mark(key)
        checked_key = _validate(kind.key, key, key_at, errors)
        if checked_key is not _MISSING and kind.check_key is not None:
            checked_key = _run_check(kind.check_key, checked_key, key_at, errors)
        checked = _validate(kind.value, item, value_at, errors)
        if checked is not _MISSING and kind.check is not None:
            checked = _run_check(kind.check, checked, value_at, errors)
        if checked_key is _MISSING or checked is _MISSING:
            ok = False
            continue
        result[checked_key] = checked
        result.set_marks(checked_key, key_at, value_at)
    return result if ok else _MISSING
