"""Journal failures, typed so that callers can answer the peer with the right SMPP status.

The server maps them: JournalOverloadedError -> ESME_RMSGQFUL (try again later),
JournalFullError -> ESME_RMSGQFUL, JournalUnavailableError -> ESME_RSYSERR. The
`smpp_status` attribute carries that choice so nobody has to repeat the table.
"""

from __future__ import annotations

from smsswitch.smpp.constants import CommandStatus


class JournalError(Exception):
    """Base of every journal failure; nothing committed before it is affected."""

    smpp_status: CommandStatus = CommandStatus.ESME_RSYSERR


class JournalOverloadedError(JournalError):
    """The writer's bounded queue is full: back off instead of buffering without bound."""

    smpp_status = CommandStatus.ESME_RMSGQFUL


class JournalFullError(JournalError):
    """The disk or the configured maximum map size is exhausted; clears when space returns."""

    smpp_status = CommandStatus.ESME_RMSGQFUL


class JournalUnavailableError(JournalError):
    """The journal cannot write (I/O error, read-only file system, closed or read-only handle)."""

    smpp_status = CommandStatus.ESME_RSYSERR


class InvalidOperationError(JournalError):
    """An operation value could not be applied (a bug in the caller, never a disk problem)."""
