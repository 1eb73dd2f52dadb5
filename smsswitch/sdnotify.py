"""systemd's notify protocol without systemd: one datagram to $NOTIFY_SOCKET.

Used for Type=notify (READY=1 after replay and listeners are up), STATUS= lines, WATCHDOG=1
pings while the event loop is healthy, and STOPPING=1. Outside systemd (no NOTIFY_SOCKET) every
call is a cheap no-op, so the daemon code never branches on "am I under systemd".
"""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._address: str | bytes | None = None
        self._sock: socket.socket | None = None
        if address:
            # A leading '@' names a Linux abstract socket.
            self._address = "\0" + address[1:] if address.startswith("@") else address
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, **fields: object) -> bool:
        """Send e.g. notify(READY=1, STATUS="serving"); True if a datagram went out."""
        if self._sock is None or self._address is None:
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            self._sock.sendto(payload, self._address)
        except OSError:
            return False
        return True

    def watchdog_interval(self) -> float | None:
        """Half of WATCHDOG_USEC (systemd's advice), if this process is the one watched."""
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return int(usec) / 2_000_000
        except ValueError:
            return None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
