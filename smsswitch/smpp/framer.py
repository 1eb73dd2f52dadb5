"""Split an SMPP byte stream into whole PDU frames, whatever the read chunking.

The framer trusts command_length only within [16, max_command_length]: outside that the
stream cannot be resynchronised, so it raises FramingError (answer generic_nack
ESME_RINVCMDLEN and close). It never reserves memory for a frame before the bytes arrive,
so a peer announcing a large command_length costs nothing until it sends that much.
"""

from __future__ import annotations

import struct

from smsswitch.smpp.constants import HEADER_LENGTH, CommandStatus
from smsswitch.smpp.errors import FramingError, PduError

_HEADER = struct.Struct(">IIII")
_LENGTH = struct.Struct(">I")


def peek_header(frame: bytes) -> tuple[int, int, int, int]:
    """(command_length, command_id, command_status, sequence_number) of a frame, cheaply."""
    if len(frame) < HEADER_LENGTH:
        raise PduError(
            CommandStatus.ESME_RINVCMDLEN, 0, 0, True, f"{len(frame)} octets: no full header"
        )
    return _HEADER.unpack_from(frame)


class Framer:
    """Incremental frame splitter: feed(chunk) -> list of whole frames (bytes)."""

    __slots__ = ("max_command_length", "_buffer", "_error")

    def __init__(self, max_command_length: int = 65536) -> None:
        if max_command_length < HEADER_LENGTH:
            raise ValueError("max_command_length must be at least 16")
        self.max_command_length = max_command_length
        self._buffer = bytearray()
        self._error: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Octets held back waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Append `data`; return every frame now complete, in order."""
        if self._error is not None:
            # Frames that preceded the bad header were handed over with the first raise.
            raise FramingError(
                self._error.status, self._error.sequence_number, self._error.command_id,
                True, self._error.message,
            )
        buf = self._buffer
        if not buf:
            return self._feed_fresh(data)
        buf += data
        frames, consumed = self._split(buf)
        del buf[:consumed]
        return frames

    def _feed_fresh(self, data: bytes) -> list[bytes]:
        # Common case: nothing held back, so slice frames straight out of `data`.
        frames, consumed = self._split(data)
        if consumed < len(data):
            self._buffer += data[consumed:]
        return frames

    def _split(self, buf: bytes | bytearray) -> tuple[list[bytes], int]:
        frames: list[bytes] = []
        pos = 0
        size = len(buf)
        max_length = self.max_command_length
        unpack_length = _LENGTH.unpack_from
        while size - pos >= 4:
            (length,) = unpack_length(buf, pos)
            if length < HEADER_LENGTH or length > max_length:
                self._fail(buf, pos, length, frames)
            if size - pos < length:
                break
            frames.append(bytes(buf[pos : pos + length]))
            pos += length
        return frames, pos

    def _fail(self, buf: bytes | bytearray, pos: int, length: int, frames: list[bytes]) -> None:
        command_id = seq = 0
        if len(buf) - pos >= HEADER_LENGTH:
            _, command_id, _, seq = _HEADER.unpack_from(buf, pos)
        bound = "below 16" if length < HEADER_LENGTH else f"above {self.max_command_length}"
        self._error = FramingError(
            CommandStatus.ESME_RINVCMDLEN, seq, command_id, True,
            f"command_length {length} {bound}: stream cannot be framed", frames=frames,
        )
        self._buffer = bytearray()
        raise self._error
