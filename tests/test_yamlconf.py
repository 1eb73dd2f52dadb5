"""yamlconf: positions on everything, config-friendly scalars, strict schema with all errors."""

from __future__ import annotations

import pytest

from smsswitch.yamlconf import (
    ConfigError,
    ConfigErrors,
    Field,
    Invalid,
    ListOf,
    MapOf,
    Mark,
    Schema,
    YamlList,
    YamlMap,
    load_yaml,
    load_yaml_text,
)

DOC = """\
name: demo
numbers: [+26377, 0771234567, NO, 20:00, yes, 1.5, 42, 0x1F, ~, true]
nested:
  items:
    - a
    - b
"""


def test_positions_of_keys_values_items() -> None:
    doc = load_yaml_text(DOC, "c.yaml")
    assert isinstance(doc, YamlMap)
    assert doc.mark == Mark("c.yaml", 1, 1)
    assert doc.key_mark("numbers") == Mark("c.yaml", 2, 1)
    assert doc.value_mark("numbers") == Mark("c.yaml", 2, 10)
    items = doc["nested"]["items"]
    assert isinstance(items, YamlList)
    assert items.item_mark(1) == Mark("c.yaml", 6, 7)
    assert doc["nested"].value_mark("items") == Mark("c.yaml", 5, 5)


def test_config_friendly_scalars() -> None:
    doc = load_yaml_text(DOC)
    assert doc["numbers"] == ["+26377", "0771234567", "NO", "20:00", "yes", 1.5, 42, 31, None, True]


def test_syntax_error_has_parser_position(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigErrors) as info:
        load_yaml(path)
    (err,) = info.value.errors
    assert (err.file, err.line, err.column) == (str(path), 2, 2)
    assert "YAML syntax error" in str(err)


def test_duplicate_keys_are_errors_not_overwrites() -> None:
    with pytest.raises(ConfigErrors) as info:
        load_yaml_text("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert [str(e) for e in info.value.errors] == ["d.yaml:3:1: duplicate key 'a' (hint: first given at line 1)"]


def test_missing_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_yaml(tmp_path / "nope.yaml")
    assert info.value.errors[0].line == 1
    assert "cannot read file" in info.value.errors[0].message


def test_config_error_format() -> None:
    err = ConfigError("f.yaml", 3, 7, "bad thing", hint="do this")
    assert str(err) == "f.yaml:3:7: bad thing (hint: do this)"
    assert str(ConfigError("f.yaml", 3, 7, "bad thing")) == "f.yaml:3:7: bad thing"


def _positive(value: int) -> int:
    if value <= 0:
        raise Invalid("must be positive", hint="use 1 or more")
    return value


CONNECTOR = Schema(
    {
        "host": Field(str, required=True),
        "port": Field(int, default=2775, check=_positive),
        "tags": Field(ListOf(str), default=[]),
    },
    name="connector",
)
ROOT = Schema({"connectors": Field(MapOf(CONNECTOR), default={}), "debug": Field(bool, default=False)}, name="config")


def test_schema_fills_defaults_and_keeps_marks() -> None:
    doc = load_yaml_text("connectors:\n  sim: {host: localhost, tags: one}\n", "s.yaml")
    errors: list[ConfigError] = []
    cfg = ROOT.validate(doc, errors)
    assert errors == []
    assert cfg == {"connectors": {"sim": {"host": "localhost", "port": 2775, "tags": ["one"]}}, "debug": False}
    assert cfg["connectors"].key_mark("sim") == Mark("s.yaml", 2, 3)
    assert cfg["connectors"]["sim"]["tags"].item_mark(0) == Mark("s.yaml", 2, 32)


def test_schema_collects_every_error() -> None:
    text = "connectors:\n  a: {hots: x, port: 0}\n  b: {host: 5, tags: [x, 3]}\ndebg: true\n"
    errors: list[ConfigError] = []
    assert ROOT.validate(load_yaml_text(text, "e.yaml"), errors) is None
    assert [str(e) for e in errors] == [
        "e.yaml:2:6: connector: missing required key 'host'",
        "e.yaml:2:7: unknown key 'hots' in connector (hint: did you mean 'host'?)",
        "e.yaml:2:22: must be positive (hint: use 1 or more)",
        "e.yaml:3:13: expected a string, got an integer",
        "e.yaml:3:26: expected a string, got an integer",
        "e.yaml:4:1: unknown key 'debg' in config (hint: did you mean 'debug'?)",
    ]


def test_unknown_key_without_close_match_lists_allowed_keys() -> None:
    errors: list[ConfigError] = []
    CONNECTOR.validate(load_yaml_text("host: x\nzzz: 1\n", "u.yaml"), errors)
    assert str(errors[0]) == "u.yaml:2:1: unknown key 'zzz' in connector (hint: allowed keys: host, port, tags)"


def test_bool_is_not_an_int_and_root_must_be_mapping() -> None:
    errors: list[ConfigError] = []
    CONNECTOR.validate(load_yaml_text("host: x\nport: true\n", "b.yaml"), errors)
    assert str(errors[0]) == "b.yaml:2:7: expected an integer, got true or false"
    errors = []
    ROOT.validate(load_yaml_text("- 1\n", "r.yaml"), errors)
    assert str(errors[0]) == "r.yaml:1:1: config: expected a mapping, got a list"
    errors = []
    ROOT.validate(None, errors, at=Mark("empty.yaml", 1, 1))
    assert str(errors[0]) == "empty.yaml:1:1: config: expected a mapping, got nothing (null)"


def test_list_accepts_a_single_value_or_mapping() -> None:
    window = Schema({"tz": Field(str, default="UTC")}, name="window")
    rule = Schema({"tenants": Field(ListOf(str)), "time": Field(ListOf(window))}, name="rule")
    errors: list[ConfigError] = []
    cfg = rule.validate(load_yaml_text("tenants: acme\ntime: {tz: Africa/Harare}\n", "l.yaml"), errors)
    assert errors == []
    assert cfg == {"tenants": ["acme"], "time": [{"tz": "Africa/Harare"}]}
    assert cfg["tenants"].item_mark(0) == Mark("l.yaml", 1, 10)


def test_partial_validation_keeps_the_good_keys() -> None:
    errors: list[ConfigError] = []
    doc = load_yaml_text("connectors: {a: {port: 1}}\ndebug: true\n", "p.yaml")
    assert ROOT.validate(doc, errors) is None
    errors = []
    partial = ROOT.validate(doc, errors, partial=True)
    assert partial == {"debug": True}
    assert [str(e) for e in errors] == ["p.yaml:1:17: connector: missing required key 'host'"]
