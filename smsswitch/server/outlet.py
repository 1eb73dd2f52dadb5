"""The DeliveryOutlet of one receiver/transceiver bind: where the core puts deliver_sm.

Bounded twice: at most `capacity` deliveries are queued or on the wire, and the session's
window caps those on the wire. The core calls `offer` (never blocks, says no when full);
the connection's sender task takes what the window allows, many per write, and matches
each deliver_sm_resp back by sequence number. No task per delivery, no unbounded list.
"""

from __future__ import annotations

from collections import deque

import trio

from smsswitch.server.api import BindInfo, OutboundDelivery

__all__ = ["DELIVERY_TIMED_OUT", "SessionOutlet"]

#: Status reported to `TenantSink.deliveries_answered` for a deliver_sm the tenant never
#: answered within deliver_timeout (not an SMPP status: the core retries it).
DELIVERY_TIMED_OUT = -1


class SessionOutlet:
    """Implements `smsswitch.server.api.DeliveryOutlet` for one bound session."""

    def __init__(self, bind: BindInfo, capacity: int) -> None:
        self.bind = bind
        self.capacity = max(1, capacity)
        self._queued: deque[OutboundDelivery] = deque()
        self._on_wire: dict[int, OutboundDelivery] = {}  # sequence_number -> delivery
        self._accepting = True
        self._wakeup = trio.Event()

    # ------------------------------------------------------------ core side

    def offer(self, delivery: OutboundDelivery) -> bool:
        """Queue if there is room; False when full or the bind is going away."""
        if not self._accepting or len(self._queued) + len(self._on_wire) >= self.capacity:
            return False
        self._queued.append(delivery)
        self._wakeup.set()
        return True

    def room(self) -> int:
        if not self._accepting:
            return 0
        return max(0, self.capacity - len(self._queued) - len(self._on_wire))

    # ------------------------------------------------------------ connection side

    @property
    def queued(self) -> int:
        return len(self._queued)

    @property
    def in_flight(self) -> int:
        return len(self._on_wire)

    def wake(self) -> None:
        """Something changed (window room, shutdown): let the sender look again."""
        self._wakeup.set()

    async def wait(self) -> None:
        """Until `offer` or `wake` is called (returns at once if it was since last time)."""
        await self._wakeup.wait()
        self._wakeup = trio.Event()

    def take(self, n: int) -> list[OutboundDelivery]:
        """Up to n queued deliveries, oldest first, to put on the wire now."""
        queued = self._queued
        return [queued.popleft() for _ in range(min(n, len(queued)))]

    def put_back(self, deliveries: list[OutboundDelivery]) -> None:
        """Deliveries taken but not sent (the session refused them): front of the queue."""
        self._queued.extendleft(reversed(deliveries))

    def mark_sent(self, sequence_number: int, delivery: OutboundDelivery) -> None:
        self._on_wire[sequence_number] = delivery

    def settle(self, sequence_number: int) -> OutboundDelivery | None:
        """The deliver_sm with this sequence number was answered or timed out."""
        delivery = self._on_wire.pop(sequence_number, None)
        if delivery is not None and self._accepting and self._queued:
            self._wakeup.set()  # window room for what waits (with nothing queued, `offer` wakes)
        return delivery

    def stop(self) -> None:
        """The bind is unbinding: take nothing new (queued ones stay for `close`)."""
        self._accepting = False
        self._wakeup.set()

    def close(self) -> list[OutboundDelivery]:
        """Everything not positively answered, for `TenantSink.outlet_down`."""
        self._accepting = False
        unanswered = list(self._on_wire.values()) + list(self._queued)
        self._on_wire.clear()
        self._queued.clear()
        self._wakeup.set()
        return unanswered
