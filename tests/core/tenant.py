"""A tenant ESME on smpplib (a third-party client), blocking: call it from a worker thread
(`await trio.to_thread.run_sync(tenant.submit, ...)`). It records every deliver_sm it gets
and answers them ROK, or never answers when `answer=False`."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import attrs
import smpplib.client
import smpplib.consts
import smpplib.exceptions

PASSWORD = "secret"


@attrs.define
class Delivery:
    esm_class: int
    source: str
    destination: str
    text: bytes
    receipted_message_id: str | None
    message_state: int | None
    network_error_code: bytes | None
    data_coding: int


def _s(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


class SmpplibTenant:
    def __init__(self, port: int, system_id: str, kind: str = "transceiver", *, answer: bool = True) -> None:
        self.client = smpplib.client.Client("127.0.0.1", port, timeout=0.2, allow_unknown_opt_params=True)
        self.system_id = system_id
        self.kind = kind
        self.answer = answer
        self.deliveries: list[Delivery] = []
        self.responses: list[tuple[int, str]] = []
        self.query_answers: list[Any] = []
        self._lock = threading.Lock()
        self.client.set_message_received_handler(self._on_deliver)
        self.client.set_message_sent_handler(self._on_submit_resp)
        self.client.set_query_resp_handler(self._on_query_resp)
        self.client.set_error_pdu_handler(lambda pdu: None)  # statuses are read by the handlers

    # ------------------------------------------------------------ handlers (reader thread)

    def _on_deliver(self, pdu: Any, **_: Any) -> int:
        nec = getattr(pdu, "network_error_code", None)
        delivery = Delivery(
            esm_class=int(pdu.esm_class or 0),
            source=_s(pdu.source_addr),
            destination=_s(pdu.destination_addr),
            text=pdu.short_message or b"",
            receipted_message_id=_s(getattr(pdu, "receipted_message_id", None)) or None,
            message_state=getattr(pdu, "message_state", None),
            network_error_code=nec if nec is None or isinstance(nec, bytes) else str(nec).encode("latin-1"),
            data_coding=int(pdu.data_coding or 0),
        )
        with self._lock:
            self.deliveries.append(delivery)
        if not self.answer:
            raise _NoAnswer
        return smpplib.consts.SMPP_ESME_ROK

    def _on_submit_resp(self, pdu: Any, **_: Any) -> None:
        self.responses.append((int(pdu.status), _s(getattr(pdu, "message_id", ""))))

    def _on_query_resp(self, pdu: Any, **_: Any) -> None:
        self.query_answers.append(pdu)

    # ------------------------------------------------------------ blocking API

    def bind(self) -> None:
        self.client.connect()
        getattr(self.client, f"bind_{self.kind}")(system_id=self.system_id, password=PASSWORD)

    def submit(self, dest: str, text: str, registered_delivery: int = 1, timeout: float = 5.0, **fields: Any) -> tuple[int, str]:
        """Send one submit_sm and read until its response; returns (status, message_id)."""
        before = len(self.responses)
        self.client.send_message(
            source_addr_ton=fields.pop("source_addr_ton", 5), source_addr_npi=fields.pop("source_addr_npi", 0),
            source_addr=fields.pop("source_addr", "Brand"),
            dest_addr_ton=fields.pop("dest_addr_ton", 1), dest_addr_npi=fields.pop("dest_addr_npi", 1),
            destination_addr=dest, short_message=text.encode(), registered_delivery=registered_delivery,
            **fields,
        )  # fmt: skip
        self._read_until(lambda: len(self.responses) > before, timeout)
        return self.responses[before]

    def query(self, message_id: str, timeout: float = 5.0) -> Any:
        before = len(self.query_answers)
        self.client.query_message(message_id=message_id, source_addr_ton=5, source_addr_npi=0, source_addr="Brand")
        self._read_until(lambda: len(self.query_answers) > before, timeout)
        return self.query_answers[before]

    def wait_deliveries(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        self._read_until(lambda: len(self.deliveries) >= count, timeout)
        return list(self.deliveries)

    def read_for(self, seconds: float, *, closed_ok: bool = False) -> None:
        """Keep reading (and answering, or not) for a while. With `closed_ok`, the server
        closing the session meanwhile ends the read quietly (it unbinds a receiver that lets
        deliver_sm time out again and again)."""
        deadline = time.monotonic() + seconds
        try:
            self._read_until(lambda: time.monotonic() >= deadline, seconds + 1.0)
        except smpplib.exceptions.ConnectionError:
            if not closed_ok:
                raise

    def close(self) -> None:
        try:
            if self.client.state != smpplib.consts.SMPP_CLIENT_STATE_CLOSED:
                self.client.unbind()
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        finally:
            self.client.disconnect()

    def _read_until(self, done: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.system_id}: condition not met in {timeout}s")
            try:
                self.client.read_once(auto_send_enquire_link=False)
            except socket.timeout:
                continue
            except _NoAnswer:
                continue


class _NoAnswer(Exception):
    """Raised from the deliver handler so smpplib sends no deliver_sm_resp."""
