"""Log masking and the sd_notify datagram, against a real unix datagram socket."""

import io
import json
import socket
from pathlib import Path

import structlog

from smsswitch.logs import configure_logging, mask_number
from smsswitch.sdnotify import Notifier


def test_numbers_and_text_are_masked_at_info() -> None:
    out = io.StringIO()
    configure_logging(level="info", fmt="json", stream=out)
    structlog.get_logger().info("mo_received", to="+263771234567", text="my secret code 1234", tenant="demo")
    event = json.loads(out.getvalue())
    assert event["to"] == mask_number("+263771234567")
    assert "1234567" not in out.getvalue() and "secret" not in out.getvalue()
    assert event["text"] == "<19 chars>" and event["tenant"] == "demo"


def test_unmask_shows_everything_and_debug_is_filtered_at_info() -> None:
    out = io.StringIO()
    configure_logging(level="info", fmt="json", unmask=True, stream=out)
    log = structlog.get_logger()
    log.debug("noisy", to="+1")
    log.info("mo_received", to="+263771234567")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["to"] == "+263771234567"


def test_mask_keeps_prefix_and_last_two() -> None:
    assert mask_number("+263771234567") == "+26377*****67"
    assert mask_number("60682") == "6**82"  # short codes are masked too
    assert "1234" not in mask_number("+447700901234")


def test_notify_sends_datagram(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.settimeout(5)
    notifier = Notifier(path)
    assert notifier.enabled and notifier.notify(READY=1, STATUS="serving")
    assert receiver.recv(1024) == b"READY=1\nSTATUS=serving"
    notifier.close()
    receiver.close()


def test_notify_without_socket_is_noop(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier().notify(READY=1)
