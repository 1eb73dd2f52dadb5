"""Daemon config loading: the shipped example loads, and broken files give file:line errors."""

from pathlib import Path

import pytest

from smsswitch.config_load import load_config
from smsswitch.yamlconf import ConfigErrors

ROOT = Path(__file__).resolve().parents[2]
HASH = "scrypt$16384$8$1$2f79d7d01d8fc1d30416912e415d25ad$074e1bc58901dab36c9ae0244ed4fcba6a822fb6cf40edee84e3d54be35b4b1c"


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "routes.yaml").write_text("version: 1\nmt: []\n")
    path = tmp_path / "smsswitch.yaml"
    path.write_text(body)
    return path


def test_example_config_loads() -> None:
    config = load_config(ROOT / "config" / "smsswitch.yaml")
    assert {t.name for t in config.tenants} == {"demo", "acme"}
    assert config.connector("sim").sessions == 2
    assert config.simulator.enabled and config.simulator.port == config.connector("sim").port
    assert Path(config.journal.path).is_absolute()
    assert config.routes_file.endswith("routes.yaml")
    acme = config.tenant("acme")
    assert acme.bind_tps == 200 and str(acme.allowed_networks[0]) == "127.0.0.0/8"


def test_defaults_fill_absent_sections(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "routes: routes.yaml\n"))
    assert config.server.listeners[0].port == 2775
    assert config.journal.path == str((tmp_path / "var" / "journal").resolve())
    assert config.tenants == () and config.connectors == ()


def test_every_error_has_file_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "routes: routes.yaml\n"
        "servr: {}\n"  # typo
        "tenants:\n"
        "  t1:\n"
        "    password: clear\n"  # clear text refused
        "    password_hash: nothash\n"
        "connectors:\n"
        "  c1:\n"
        "    host: h\n"
        "    port: 99999\n"
        "    system_id: x\n"
        "    bind_mode: duplex\n",
    )
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    text = str(info.value)
    assert f"{path}:2:1: unknown key 'servr'" in text and "did you mean 'server'" in text
    assert f"{path}:5:" in text and "smsswitch hash-password" in text
    assert f"{path}:6:" in text and "password_hash is not a hash" in text
    assert f"{path}:10:" in text and "port must be 0..65535" in text
    assert f"{path}:12:" in text and "'duplex' is not one of" in text


def test_secrets_from_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_PW", "from-env")
    (tmp_path / "pw.txt").write_text("from-file\n")
    (tmp_path / "hash.txt").write_text(HASH + "\n")
    path = write(
        tmp_path,
        "routes: routes.yaml\n"
        "tenants:\n  t: {password_hash: {file: hash.txt}}\n"
        "connectors:\n"
        "  a: {host: h, port: 1, system_id: x, password: {env: SIM_PW}}\n"
        "  b: {host: h, port: 1, system_id: x, password: {file: pw.txt}}\n",
    )
    config = load_config(path)
    assert config.connector("a").password == "from-env"
    assert config.connector("b").password == "from-file"
    assert config.tenant("t").password_hash == HASH


def test_missing_env_secret_and_routes_file_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("routes: nowhere.yaml\nconnectors:\n  a: {host: h, port: 1, system_id: x, password: {env: NOPE_NOT_SET}}\n")
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    text = str(info.value)
    assert f"{path}:1:" in text and "file not found" in text
    assert f"{path}:3:" in text and "'NOPE_NOT_SET' is not set" in text


def test_yaml_syntax_error_points_at_line(tmp_path: Path) -> None:
    path = write(tmp_path, "routes: routes.yaml\ntenants: [\n")
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    assert f"{path}:" in str(info.value)


def test_policy_file_is_optional_relative_to_the_config_and_must_exist(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "routes: routes.yaml\n")).policy_file is None
    (tmp_path / "policy.yaml").write_text("version: 1\n")
    config = load_config(write(tmp_path, "routes: routes.yaml\npolicy: policy.yaml\n"))
    assert config.policy_file == str((tmp_path / "policy.yaml").resolve())
    path = write(tmp_path, "routes: routes.yaml\npolicy: nowhere.yaml\npolicies: x\n")
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    lines = [str(e) for e in info.value.errors]
    assert any(line.startswith(f"{path}:2:") and "file not found" in line and "nowhere.yaml" in line for line in lines)
    assert any(line.startswith(f"{path}:3:") and "unknown key 'policies'" in line for line in lines)


def test_failover_on_takes_status_names_and_numbers(tmp_path: Path) -> None:
    base = "routes: routes.yaml\nconnectors:\n  c1:\n    host: h\n    port: 2775\n    system_id: x\n"
    config = load_config(write(tmp_path, base + "    failover_on: [ESME_RINVDSTADR, esme_rsubmitfail, '0x0B', 0x62, 11]\n"))
    assert config.connector("c1").failover_on == frozenset({0x0B, 0x45, 0x62})
    assert load_config(write(tmp_path, base)).connector("c1").failover_on == frozenset()
    path = write(tmp_path, base + "    failover_on: [ESME_RINVDSTADR, ESME_NOPE, 0]\n")
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    text = str(info.value)
    assert f"{path}:7:" in text and "'ESME_NOPE' is neither a command_status name" in text
    assert "command_status is 1..0xFFFFFFFF, got 0" in text


def test_cpus_default_to_anywhere_and_name_the_ones_given(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "routes: routes.yaml\n")).cpus.main == ()
    config = load_config(write(tmp_path, "routes: routes.yaml\ncpus: {main: [0], journal_writer: 0}\n"))
    assert (config.cpus.main, config.cpus.journal_writer) == ((0,), (0,))


def test_a_cpu_this_machine_does_not_offer_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "routes: routes.yaml\ncpus:\n  main: [0]\n  journal_writer: [4095]\n")
    with pytest.raises(ConfigErrors) as info:
        load_config(path)
    assert f"{path}:4:" in str(info.value) and "CPU 4095 is not online on this machine" in str(info.value)


def test_online_cpus_reads_the_kernel_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from smsswitch import config_load

    online = tmp_path / "online"
    online.write_text("0-2,5,7-8\n")
    real_path = config_load.Path
    monkeypatch.setattr(config_load, "Path", lambda p: online if p == "/sys/devices/system/cpu/online" else real_path(p))
    assert config_load.online_cpus() == {0, 1, 2, 5, 7, 8}
