"""Errors of the SMPP codec: each carries the exact status a peer should be answered with."""

from __future__ import annotations

from smsswitch.smpp.constants import CommandStatus


class PduError(Exception):
    """A received PDU could not be decoded.

    `status` is the SMPP status to answer with. `generic_nack` says which PDU carries it:
    True means answer with generic_nack (unparsable header, wrong command_length, unknown
    command_id, or a PDU that has no response of its own such as a malformed *_resp,
    outbind or alert_notification); False means answer with the command's own *_resp
    carrying `status` and `sequence_number`.
    """

    def __init__(
        self,
        status: CommandStatus | int,
        sequence_number: int = 0,
        command_id: int = 0,
        generic_nack: bool = False,
        message: str = "",
    ) -> None:
        super().__init__(message or f"SMPP decode error status=0x{int(status):08X}")
        self.status = CommandStatus(status) if status in CommandStatus._value2member_map_ else status
        self.sequence_number = sequence_number
        self.command_id = command_id
        self.generic_nack = generic_nack
        self.message = message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, sequence_number={self.sequence_number},"
            f" command_id=0x{self.command_id:08X}, generic_nack={self.generic_nack},"
            f" message={self.message!r})"
        )


class FramingError(PduError):
    """The byte stream can no longer be split into PDUs (command_length < 16 or too large).

    The connection is lost: answer generic_nack ESME_RINVCMDLEN and close. `frames` holds
    the whole frames that arrived before the bad header in the same feed, so the caller can
    still process (or at least answer) them.
    """

    def __init__(
        self,
        status: CommandStatus | int,
        sequence_number: int = 0,
        command_id: int = 0,
        generic_nack: bool = True,
        message: str = "",
        frames: list[bytes] | None = None,
    ) -> None:
        super().__init__(status, sequence_number, command_id, generic_nack, message)
        self.frames: list[bytes] = frames if frames is not None else []


class PduEncodeError(ValueError):
    """A PDU object holds a value that cannot go on the wire (too long, NUL inside, range)."""
