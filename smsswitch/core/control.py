"""query_sm, cancel_sm and replace_sm: a tenant asking about or changing its own messages.

Answers come from the journal. Cancel and replace only touch messages no carrier has
seen: QUEUED (or scheduled) and not handed to a connector. While one of them commits, the
message is claimed so the feeder cannot hand it over in between.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs
import structlog

from smsswitch.core.feeder import Feeder
from smsswitch.journal.errors import JournalError
from smsswitch.journal.journal import Journal
from smsswitch.journal.ops import PutMessage, Transition
from smsswitch.journal.records import HistoryEntry, MessageRecord, MessageState
from smsswitch.server.api import BindInfo, QueryAnswer
from smsswitch.server.smpp_time import format_absolute
from smsswitch.smpp.constants import CommandStatus

log = structlog.get_logger("smsswitch.core")

#: States in which a message is still ours alone to change.
CHANGEABLE = frozenset({MessageState.ACCEPTED, MessageState.QUEUED})


class MessageControl:
    def __init__(self, journal: Journal, feeder: Feeder, *, clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.feeder = feeder
        self.clock = clock

    def _own(self, bind: BindInfo, message_id: str) -> MessageRecord | None:
        """The tenant's own message (another tenant's id reads as unknown)."""
        if not message_id or len(message_id) > 64:
            return None
        record = self.journal.get(message_id)
        if record is None or record.tenant != bind.tenant.name:
            return None
        return record

    def query(self, bind: BindInfo, message_id: str) -> QueryAnswer:
        record = self._own(bind, message_id)
        if record is None:
            return QueryAnswer(CommandStatus.ESME_RQUERYFAIL, message_id)
        state = record.state
        return QueryAnswer(
            CommandStatus.ESME_ROK,
            record.id,
            final_date=format_absolute(record.updated) if state.terminal else "",
            message_state=int(state.smpp),
            error_code=(record.error or 0) & 0xFF,
        )

    def _changeable(self, record: MessageRecord | None) -> bool:
        return (
            record is not None
            and record.state in CHANGEABLE
            and record.id not in self.feeder.handed
            and record.id not in self.feeder.claimed
        )

    async def cancel(self, bind: BindInfo, message_id: str) -> int:
        record = self._own(bind, message_id)
        if not self._changeable(record):
            return CommandStatus.ESME_RCANCELFAIL
        assert record is not None
        op = Transition(record.id, MessageState.DELETED, self.clock(), detail="cancel_sm", expect=CHANGEABLE)
        applied = await self._commit_claimed(record.id, op)
        return CommandStatus.ESME_ROK if applied else CommandStatus.ESME_RCANCELFAIL

    async def replace(
        self, bind: BindInfo, message_id: str, payload: bytes, registered_delivery: int,
        validity: float | None, schedule: float | None,
    ) -> int:
        record = self._own(bind, message_id)
        if not self._changeable(record):
            return CommandStatus.ESME_RREPLACEFAIL
        assert record is not None
        now = self.clock()
        replaced = attrs.evolve(
            record,
            payload=payload,
            registered_delivery=registered_delivery,
            validity=validity if validity is not None else record.validity,
            schedule=schedule if schedule is not None else record.schedule,
            updated=now,
            due=None,  # recomputed from the (new) schedule
            history=(*record.history, HistoryEntry(record.state, now, "replace_sm")),
        )
        applied = await self._commit_claimed(record.id, PutMessage(replaced))
        if applied:
            self.feeder.kick()
            if replaced.schedule is not None:
                self.feeder.note_due(replaced.schedule)
        return CommandStatus.ESME_ROK if applied is not None else CommandStatus.ESME_RREPLACEFAIL

    async def _commit_claimed(self, message_id: str, op: object) -> bool | None:
        """Commit one op with the message claimed; its result, or None if the journal failed."""
        self.feeder.claimed.add(message_id)
        try:
            (result,) = await self.journal.commit([op])
        except JournalError as exc:
            log.warning("mt.change_not_journalled", error=str(exc))
            return None
        finally:
            self.feeder.claimed.discard(message_id)
        return bool(result) if not isinstance(op, PutMessage) else True
