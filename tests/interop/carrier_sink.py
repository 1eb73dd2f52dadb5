"""A recording stand-in for the switch core on the carrier side (the `CarrierSink` protocol)."""

from __future__ import annotations

import trio

from smsswitch.carrier.api import SubmitJob, SubmitResult
from smsswitch.smpp.pdu import DataSm, DeliverSm


class RecordingSink:
    """Keeps what a connector reports; `deliver_status` is what every deliver_sm is answered."""

    def __init__(self, deliver_status: int = 0) -> None:
        self.deliver_status = deliver_status
        self.sent: list[SubmitJob] = []
        self.results: list[SubmitResult] = []
        self.delivered: list[DeliverSm | DataSm] = []
        self._changed = trio.Event()

    async def submits_sent(self, connector: str, jobs: list[SubmitJob]) -> None:
        self.sent.extend(jobs)
        self._notify()

    async def submit_results(self, connector: str, results: list[SubmitResult]) -> None:
        self.results.extend(results)
        self._notify()

    async def carrier_delivers(self, connector: str, pdus: list[DeliverSm | DataSm]) -> list[int]:
        self.delivered.extend(pdus)
        self._notify()
        return [self.deliver_status] * len(pdus)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, condition, timeout: float = 10.0, what: str = "condition") -> None:
        with trio.move_on_after(timeout):
            while not condition():
                await self._changed.wait()
            return
        raise AssertionError(f"sink: {what} not met within {timeout}s: results={self.results!r} "
                             f"delivered={self.delivered!r}")
