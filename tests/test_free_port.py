"""harness.free_port draws ports below the kernel's ephemeral range, where no bind(0) or
outgoing connection can take them before the process they are for binds them."""

import socket

from smsswitch import harness


def test_ports_are_free_and_below_the_ephemeral_range() -> None:
    low = harness._ephemeral_low()
    ports = [harness.free_port() for _ in range(20)]
    assert len(set(ports)) > 1  # drawn, not one fixed port
    for port in ports:
        assert max(1024, low - 10_000) <= port < low
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # and free (for a listener) when handed out


def test_a_port_in_use_is_drawn_again(monkeypatch) -> None:  # noqa: ANN001
    with socket.socket() as held:
        held.bind(("127.0.0.1", harness.free_port()))
        held.listen()
        taken = held.getsockname()[1]
        other = harness.free_port()
        draws = iter([taken, taken, other])

        class Scripted:
            def randrange(self, start: int, stop: int) -> int:
                return next(draws)

        monkeypatch.setattr(harness.random, "SystemRandom", Scripted)
        assert harness.free_port() == other
