"""The checker on a corpus of broken files: each file ends with the exact lines it must produce."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from smsswitch.routing import check_routes, compile_routes
from smsswitch.routing.cli import format_problem, read_daemon_names
from smsswitch.yamlconf import ConfigErrors, ConfigWarning

from .conftest import CONNECTORS, FULL, TENANTS

HERE = Path(__file__).parent
BROKEN = sorted((HERE / "broken").glob("*.yaml"))
REPO = HERE.parent.parent


def expected_lines(path: Path) -> list[str]:
    return [line.removeprefix("# expect: ") for line in path.read_text().splitlines() if line.startswith("# expect: ")]


def test_corpus_has_one_file_per_error_kind() -> None:
    assert len(BROKEN) >= 20
    assert all(expected_lines(path) for path in BROKEN)


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_file_reports_exactly(path: Path) -> None:
    errors, warnings = check_routes(path, {"demo", "acme"}, {"sim", "backup"})
    problems = sorted(errors + warnings, key=lambda p: (p.line, p.column))
    got = [format_problem(p).removeprefix(f"{path}:") for p in problems]
    assert got == expected_lines(path)
    assert all(p.file == str(path) for p in problems)
    if errors:
        with pytest.raises(ConfigErrors) as info:
            compile_routes(path, {"demo", "acme"}, {"sim", "backup"})
        assert info.value.errors == errors


def test_shadowed_rules_are_warnings_and_the_table_still_loads() -> None:
    table = compile_routes(HERE / "broken" / "shadowed.yaml", {"demo", "acme"}, {"sim", "backup"})
    assert [w.line for w in table.warnings] == [6, 11, 18]
    assert all(isinstance(w, ConfigWarning) for w in table.warnings)


def test_good_files_are_clean() -> None:
    assert check_routes(FULL, TENANTS, CONNECTORS) == ([], [])
    names = read_daemon_names(str(REPO / "config" / "smsswitch.yaml"))
    assert {"demo", "acme"} <= names.tenants and "sim" in names.connectors
    assert check_routes(REPO / "config" / "routes.yaml", names.tenants, names.connectors) == ([], [])


def test_names_are_not_checked_without_a_config() -> None:
    errors, _ = check_routes(HERE / "broken" / "unknown_connector.yaml", None, None)
    assert errors == []


def test_content_hash_is_sha256_of_the_file_bytes() -> None:
    table = compile_routes(FULL, TENANTS, CONNECTORS)
    assert table.content_hash == hashlib.sha256(FULL.read_bytes()).hexdigest()
    assert table.source == str(FULL)


def test_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    errors, warnings = check_routes(tmp_path / "nope.yaml")
    assert len(errors) == 1 and "cannot read route file" in errors[0].message and errors[0].line == 1


def test_shadow_detection_scales_with_prefix_rules() -> None:
    # 3,000 prefix rules: candidates come from the prefix map, not from every earlier rule.
    rules = [{"name": f"r{i}", "match": {"prefixes": [f"+2637{i:05d}"]}, "connectors": ["sim"]} for i in range(3000)]
    rules.insert(0, {"name": "broad", "match": {"prefixes": ["+263700"]}, "connectors": ["sim"]})
    rules.append({"name": "narrow", "match": {"prefixes": ["+26370015"]}, "connectors": ["sim"]})
    table = compile_routes({"version": 1, "mt": rules})
    shadowed = {w.message.split("'")[1] for w in table.warnings}
    assert shadowed == {f"r{i}" for i in range(1000)} | {"narrow"}  # +263700xxx are under "broad"


def test_a_broken_section_does_not_cause_follow_on_errors() -> None:
    from smsswitch.yamlconf import load_yaml_text

    doc = load_yaml_text(
        "version: 1\ntenant_groups: {retail: [demo, nobody]}\nmt:\n"
        "  - {name: r, match: {tenant_groups: [retail]}, connectors: [sim]}\n"
        "  - {name: s, match: {tenants: [ghost]}, connectors: [sim]}\n",
        "f.yaml",
    )
    errors, _ = check_routes_doc(doc)
    assert [str(e) for e in errors] == [
        "f.yaml:2:32: unknown tenant 'nobody' (hint: known tenants: demo)",
        "f.yaml:5:33: unknown tenant 'ghost' (hint: known tenants: demo)",
    ]


def check_routes_doc(doc):  # noqa: ANN001, ANN201
    try:
        compile_routes(doc, {"demo"}, {"sim"})
    except ConfigErrors as exc:
        return exc.errors, []
    return [], []
