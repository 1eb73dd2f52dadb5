"""Shared pieces for the carrier tests: a recording sink, job and config factories, and a
simulator started on a free port inside the test's nursery."""

from __future__ import annotations

from typing import Callable

import attrs
import pytest
import trio

from smsswitch.carrier.api import SubmitJob, SubmitOutcome, SubmitResult
from smsswitch.carrier.simulator import CarrierSimulator
from smsswitch.config import ConnectorConfig, SimulatorConfig
from smsswitch.smpp.pdu import DataSm, DeliverSm, SubmitSm


class FakeSink:
    """Records every call in order; `deliver_status` decides the deliver_sm_resp statuses."""

    def __init__(self, deliver_status: Callable[[DeliverSm | DataSm], int] | None = None) -> None:
        self.calls: list[tuple[str, list]] = []
        self.sent: list[SubmitJob] = []
        self.results: list[SubmitResult] = []
        self.delivers: list[DeliverSm | DataSm] = []
        self.deliver_status = deliver_status or (lambda pdu: 0)
        self._changed = trio.Event()

    async def submits_sent(self, connector: str, jobs: list[SubmitJob]) -> None:
        self.calls.append(("sent", list(jobs)))
        self.sent.extend(jobs)
        self._poke()

    async def submit_results(self, connector: str, results: list[SubmitResult]) -> None:
        self.calls.append(("results", list(results)))
        self.results.extend(results)
        self._poke()

    async def carrier_delivers(self, connector: str, pdus: list[DeliverSm | DataSm]) -> list[int]:
        self.calls.append(("delivers", list(pdus)))
        self.delivers.extend(pdus)
        self._poke()
        return [self.deliver_status(pdu) for pdu in pdus]

    def _poke(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        with trio.fail_after(timeout):
            while not predicate():
                with trio.move_on_after(0.05):
                    await self._changed.wait()

    def outcomes(self) -> dict[str, list[SubmitResult]]:
        """message_id -> its results (a correct connector gives each exactly one)."""
        by_id: dict[str, list[SubmitResult]] = {}
        for result in self.results:
            by_id.setdefault(result.job.message_id, []).append(result)
        return by_id

    def accepted(self) -> list[SubmitResult]:
        return [r for r in self.results if r.outcome is SubmitOutcome.ACCEPTED]


def make_job(i: int, *, registered_delivery: int = 1, deadline: float | None = None) -> SubmitJob:
    pdu = SubmitSm(
        source_addr="SHOP",
        source_addr_ton=5,
        source_addr_npi=0,
        destination_addr=f"4477009{i:05d}",
        dest_addr_ton=1,
        dest_addr_npi=1,
        registered_delivery=registered_delivery,
        short_message=f"message number {i}".encode(),
    )
    return SubmitJob(message_id=f"m{i}", pdu=pdu, deadline=deadline)


def connector_config(port: int, **overrides) -> ConnectorConfig:
    base = ConnectorConfig(
        name="carrier-a",
        host="127.0.0.1",
        port=port,
        system_id="sim",
        password="simpass",
        window=10,
        response_timeout=1.0,
        enquire_link_interval=5.0,
        reconnect_initial=0.05,
        reconnect_max=0.3,
    )
    return attrs.evolve(base, **overrides)


def sim_config(**overrides) -> SimulatorConfig:
    return attrs.evolve(SimulatorConfig(port=0, receipt_delay=0.02, seed=7), **overrides)


async def start_sim(nursery: trio.Nursery, **overrides) -> CarrierSimulator:
    sim = CarrierSimulator(sim_config(**overrides))
    await nursery.start(sim.serve)
    return sim


@pytest.fixture
def sink() -> FakeSink:
    return FakeSink()


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> None:
    """Poll `predicate` until it holds (for state the sink does not see, e.g. the simulator's)."""
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(step)
