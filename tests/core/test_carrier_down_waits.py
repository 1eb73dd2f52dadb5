"""A single-carrier route whose carrier stays away longer than failover_after: the connector
hands its queued messages back, they wait on disk (QUEUED, not ended), and go out exactly once
when the carrier returns."""

from pathlib import Path

import attrs
import trio

from smsswitch.carrier.simulator import CarrierSimulator
from smsswitch.client import connect
from tests.core.harness import DEST, PASSWORD, running


async def test_messages_wait_on_disk_while_the_only_carrier_is_down(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with running(tmp_path, connector={"failover_after": 1.0}) as h:
            port = h.connectors["sim"].config.port
            h.sim.stop()
            await h.wait_for(lambda: h.connectors["sim"].health().sessions_bound == 0)
            async with connect("127.0.0.1", h.port, "acme", PASSWORD) as client:
                ids = [(await client.submit("+" + DEST, f"m{i}", source="ACME"))[0] for i in range(5)]
                await h.wait_for(lambda: h.connectors["sim"].health().handed_back >= 1, timeout=15)
                await h.wait_for(lambda: all(h.state(i) == "QUEUED" for i in ids), timeout=5)
                await trio.sleep(2.5)  # a few refill passes: nothing goes back into the dead connector
                assert h.connectors["sim"].health().queue_depth == 0
                assert all(h.state(i) == "QUEUED" for i in ids)
                async with trio.open_nursery() as nursery:
                    sim = CarrierSimulator(attrs.evolve(h.sim.config, port=port))
                    await nursery.start(sim.serve)
                    receipted = set()
                    while len(receipted) < len(ids):
                        delivered = await client.next_delivery(20)
                        assert delivered is not None, f"{len(receipted)} of {len(ids)} receipts"
                        receipted.add(delivered.receipted_message_id)
                    assert receipted == set(ids)
                    assert len(sim.received()) == len(ids)  # each exactly once
                    sim.stop()
                    nursery.cancel_scope.cancel()
