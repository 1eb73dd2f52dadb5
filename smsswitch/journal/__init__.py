"""The LMDB journal: durable accept with group commit, correlation, outbox, replay.

Public surface (import from here):
    open_journal, Journal, JournalConfig         - open, commit ops, read records
    MessageRecord, MessageState, OutboxEntry, OutboxKind, DeadLetter, PartInfo, ...
    PutMessage, Transition, Correlate, AddOutbox, AckOutbox, ... (ops)
    JournalError and its kinds (each carries `smpp_status`)
    iter_replay, summarize (replay); purge, erase, redrive (retention)
"""

from smsswitch.journal.errors import (
    InvalidOperationError,
    JournalError,
    JournalFullError,
    JournalOverloadedError,
    JournalUnavailableError,
)
from smsswitch.journal.ids import MessageIdGenerator, id_time
from smsswitch.journal.journal import Journal, JournalConfig, open_journal
from smsswitch.journal.ops import (
    AckOutbox,
    AddOutbox,
    Correlate,
    DeadLetterMessage,
    DeadLetterOutbox,
    DeleteDeadLetter,
    DeleteMessage,
    Op,
    PutMessage,
    Redrive,
    RescheduleOutbox,
    Transition,
)
from smsswitch.journal.records import (
    IN_FLIGHT_STATES,
    PENDING_STATES,
    TERMINAL_STATES,
    DeadLetter,
    DeadLetterKind,
    HistoryEntry,
    MessageRecord,
    MessageState,
    OutboxEntry,
    OutboxKind,
    PartInfo,
)
from smsswitch.journal.replay import ReplayAction, ReplayItem, ReplaySummary, iter_replay, summarize
from smsswitch.journal.retention import EraseCounts, erase, purge, purge_dead_letters, redrive

__all__ = [
    "AckOutbox", "AddOutbox", "Correlate", "DeadLetter", "DeadLetterKind", "DeadLetterMessage",
    "DeadLetterOutbox", "DeleteDeadLetter", "DeleteMessage", "EraseCounts", "HistoryEntry",
    "IN_FLIGHT_STATES", "InvalidOperationError", "Journal", "JournalConfig", "JournalError",
    "JournalFullError", "JournalOverloadedError", "JournalUnavailableError", "MessageIdGenerator",
    "MessageRecord", "MessageState", "Op", "OutboxEntry", "OutboxKind", "PENDING_STATES",
    "PartInfo", "PutMessage", "Redrive", "ReplayAction", "ReplayItem", "ReplaySummary",
    "RescheduleOutbox", "TERMINAL_STATES", "Transition", "erase", "id_time", "iter_replay",
    "open_journal", "purge", "purge_dead_letters", "redrive", "summarize",
]  # fmt: skip
