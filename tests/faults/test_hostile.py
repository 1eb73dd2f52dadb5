"""Hostile input against the daemon process, while a good tenant keeps submitting throughout:
hypothesis-driven random and mutated PDUs and byte streams (each held to SMPP 3.4 by
tests/faults/fuzzing.check), command_length up to 0xFFFFFFFF, slowloris before and after the
bind, a connection flood against the caps, failed binds limited per source IP, and how
credentials are checked and stored. scripts/fuzz_server.py runs the same cases by the 100,000.
"""

from __future__ import annotations

import hmac
import socket
import struct
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsswitch.client import connect
from smsswitch.harness import DaemonProcess, write_config
from smsswitch.passwords import hash_password, verify_password
from tests.faults import fuzzing
from tests.faults.fuzzing import MUTATIONS, TEMPLATES, Case, Frame, GoodTenant
from tests.faults.rig import daemon_log_problems, rss_kib

pytestmark = pytest.mark.timeout(180)

SERVER = {
    "max_connections": 60,
    "max_connections_per_ip": 10,
    "max_command_length": 65536,
    "bind_timeout": 3,
    "idle_timeout": 3,
    "response_timeout": 2,
    "enquire_link_interval": 30,
    "failed_bind_delay": 0,
    "failed_binds_per_ip_per_minute": 5,
}

frames = st.builds(
    Frame,
    template=st.integers(0, len(TEMPLATES) - 1),
    mutations=st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 2**32 - 1), st.integers(0, 2**16 - 1)),
                       max_size=3),  # fmt: skip
    keep_length=st.booleans(),
)
cases = st.builds(
    Case,
    bound=st.booleans(),
    frames=st.lists(frames, max_size=6),
    junk=st.binary(max_size=64),
    chunks=st.sampled_from([1, 1, 2, 5]),
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Any:
    config = write_config(tmp_path_factory.mktemp("hostile"), {
        "server": SERVER,
        "tenants": {"fuzz": fuzzing.fuzz_tenant_config()},
    })  # fmt: skip
    with DaemonProcess(config) as process:
        process.start()
        with GoodTenant(process.smpp_port) as good:
            yield process, good
            assert process.process.poll() is None, "the daemon died"
        assert not good.failures, f"the good tenant was disturbed: {good.failures[:3]}"
        assert good.ok > 10
        problems = daemon_log_problems(process)
        assert not problems, "caught exceptions in the daemon log:\n" + "\n".join(problems[:5])


def alive(process: DaemonProcess) -> None:
    assert process.process is not None and process.process.poll() is None, f"daemon died:\n{process.log_tail()}"


def test_random_and_mutated_pdus(daemon: Any) -> None:
    process, good = daemon
    addresses = fuzzing.sources(200)  # 127.0.0.2-201; the tests below use 250 and up
    seen: Counter[str] = Counter()

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=cases)
    def one(case: Case) -> None:
        outcome = fuzzing.play(case, process.smpp_port, next(addresses))
        problems = fuzzing.check(case, outcome)
        assert not problems, f"{fuzzing.summarize(problems)}\ncase: {fuzzing.describe(case, outcome)}"
        alive(process)
        seen["reset" if outcome.reset else "closed" if outcome.closed_by_server else "eof"] += 1

    one()
    assert sum(seen.values()) >= 250
    assert good.ok > 0 and not good.failures


def raw(port: int, source: str) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    started = time.monotonic()
    data = b""
    sock.settimeout(limit)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return data, time.monotonic() - started


def test_command_length_up_to_4gib_allocates_nothing(daemon: Any) -> None:
    process, _ = daemon
    pid = process.process.pid
    before = rss_kib(pid)
    for i, length in enumerate((0xFFFFFFFF, 0x7FFFFFFF, 65537, 15, 0)):
        sock = raw(process.smpp_port, f"127.0.0.{250 + i % 3}")
        try:
            sock.sendall(struct.pack(">IIII", length, 4, 0, 77))
            if length > 16:
                try:  # and then a megabyte that claims to be its body
                    sock.sendall(b"\xab" * (1 << 20))
                except (BrokenPipeError, ConnectionResetError):
                    pass
            data, _ = read_until_closed(sock, 5)
        finally:
            sock.close()
        headers, _ = fuzzing.frames_of(data)
        assert headers and headers[0][1:3] == (fuzzing.GENERIC_NACK, fuzzing.RINVCMDLEN), (length, data[:32].hex())
    # A frame just under the limit is buffered (64 KiB), never more.
    socks = []
    try:
        for i in range(8):
            sock = raw(process.smpp_port, f"127.0.0.{250 + i % 3}")
            sock.sendall(struct.pack(">IIII", 65536, 4, 0, 1) + b"\x00" * 60000)
            socks.append(sock)
        time.sleep(0.3)
        grown = rss_kib(pid) - before
    finally:
        for sock in socks:
            sock.close()
    assert grown < 8 * 1024, f"RSS grew {grown} KiB"
    alive(process)


def test_slowloris_before_and_after_the_bind_times_out(daemon: Any) -> None:
    """1 byte per second: before the bind, bind_timeout (3 s) ends it; after the bind, a PDU
    that never completes is no activity: idle_timeout (3 s) + unbind response_timeout (2 s)."""
    process, _ = daemon
    results: dict[str, float] = {}

    def trickle(name: str, source: str, prefix: bytes, body: bytes, limit: float) -> None:
        sock = raw(process.smpp_port, source)
        try:
            sock.sendall(prefix)
            if prefix:
                sock.recv(65536)  # bind_resp
            started = time.monotonic()
            for byte in body:
                if time.monotonic() - started > limit:
                    break
                try:
                    sock.sendall(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    results[name] = time.monotonic() - started
                    return
                sock.settimeout(1.0)
                try:
                    if sock.recv(65536) == b"":
                        results[name] = time.monotonic() - started
                        return
                except TimeoutError:
                    pass
                except ConnectionResetError:
                    results[name] = time.monotonic() - started
                    return
            results[name] = float("inf")
        finally:
            sock.close()

    threads = [
        threading.Thread(target=trickle, args=("unbound", "127.0.0.253", b"", fuzzing.GOOD_BIND, 20)),
        threading.Thread(target=trickle, args=("bound", "127.0.0.254", fuzzing.GOOD_BIND, TEMPLATES[5], 20)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results["unbound"] <= 3 + 2, results
    assert results["bound"] <= 3 + 2 + 2, results
    alive(process)


def test_connection_flood_is_capped_overall_and_per_ip(daemon: Any) -> None:
    process, good = daemon

    def open_many(source: str, count: int) -> list[socket.socket]:
        return [raw(process.smpp_port, source) for _ in range(count)]

    def still_open(sock: socket.socket) -> bool:
        sock.setblocking(False)  # (checked well within bind_timeout: 3 s)
        try:
            return sock.recv(1) != b""
        except BlockingIOError:
            return True
        except ConnectionResetError:
            return False

    socks: list[socket.socket] = []
    try:
        one_ip = open_many("127.0.0.240", 15)
        socks += one_ip
        time.sleep(0.3)  # the refused ones are closed at once
        assert sum(still_open(s) for s in one_ip) == 10  # max_connections_per_ip
        for i in range(6):
            socks += open_many(f"127.0.0.{241 + i}", 10)
        time.sleep(0.3)
        open_now = sum(still_open(s) for s in socks)
        assert open_now <= 60 - 1  # max_connections, the good tenant holds one
        assert open_now >= 50
    finally:
        for sock in socks:
            sock.close()
    time.sleep(0.5)
    # Capacity comes back once the flood is gone; the good tenant never noticed.
    async def bind_once() -> None:
        async with connect("127.0.0.1", process.smpp_port, "acme", "acmepass"):
            pass

    trio.run(bind_once)
    assert not good.failures
    alive(process)


def test_failed_binds_are_limited_per_source_ip(daemon: Any) -> None:
    process, _ = daemon

    def raw_bind(source: str, password: str) -> int:
        from smsswitch.smpp.codec import encode_pdu
        from smsswitch.smpp.pdu import BindTransmitter

        sock = raw(process.smpp_port, source)
        try:
            sock.sendall(encode_pdu(BindTransmitter(sequence_number=1, system_id="demo", password=password)))
            data = b""
            while not fuzzing.frames_of(data)[0]:
                chunk = sock.recv(65536)
                assert chunk, "closed without a bind_resp"
                data += chunk
            return fuzzing.frames_of(data)[0][0][2]
        finally:
            sock.close()

    assert [raw_bind("127.0.0.230", "wrong") for _ in range(5)] == [0x0E] * 5  # ESME_RINVPASWD
    assert raw_bind("127.0.0.230", "demopass") == 0x0D  # ESME_RBINDFAIL: that IP is blocked
    assert raw_bind("127.0.0.231", "demopass") == 0  # another IP is not
    alive(process)


def test_credentials_are_compared_in_constant_time_and_stored_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = hash_password("s3cret", n=16)
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr("smsswitch.passwords.hmac.compare_digest", spy)
    assert verify_password("s3cret", stored)
    assert not verify_password("s3cret!", stored)
    assert not verify_password("", stored)
    # Every check, right or wrong, ends in one compare_digest of two full-length digests.
    assert calls == [(32, 32)] * 3
    assert "s3cret" not in stored
    # The config refuses clear text: a tenant `password:`, a password_hash or an API key
    # key_hash that is not a hash.
    import subprocess
    import sys

    def check_config(overrides: dict[str, Any]) -> str:
        path = write_config(tmp_path / str(len(list(tmp_path.iterdir()))), overrides)
        done = subprocess.run([sys.executable, "-m", "smsswitch.cli", "check-config", str(path)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 1, done.stdout
        return done.stderr

    assert "stored only as hashes" in check_config({"tenants": {"demo": {"password": "demopass"}}})
    assert "password_hash is not a hash" in check_config({"tenants": {"demo": {"password_hash": "demopass"}}})
    assert "is not a hash" in check_config(
        {"tenants": {"demo": {"api_keys": [{"id": "k1", "key_hash": "k1.cleartexttoken", "scopes": ["send"]}]}}}
    )



def test_bind_storm_leaves_no_memory_behind(daemon: Any) -> None:
    """Each bind check is a 16 MiB scrypt (up to 4 at once); glibc used to keep those blocks
    in thread arenas after the first: +64 MiB resident after one storm. No more."""
    process, _ = daemon
    pid = process.process.pid

    async def storm() -> None:
        async def one() -> None:
            async with connect("127.0.0.1", process.smpp_port, "demo", "demopass"):
                await trio.sleep(0.3)

        async with trio.open_nursery() as nursery:
            for _ in range(8):
                nursery.start_soon(one)

    before = rss_kib(pid, "RssAnon")
    for _ in range(3):
        trio.run(storm)
    grown = rss_kib(pid, "RssAnon") - before
    assert grown < 16 * 1024, f"the daemon's heap kept {grown} KiB after three storms of 8 binds"
    alive(process)
