"""SMPP 3.4 PDU codec: whole frames (16-octet header included) <-> PDU objects.

`decode_pdu` raises nothing but PduError, whose `status` and `generic_nack` say exactly how
to answer the peer. `encode_pdu` raises PduEncodeError (a ValueError) for values that cannot
go on the wire. Per-class encode/decode functions are compiled once at import from the
field declarations in `smsswitch.smpp.pdu` (see `_codegen`).
"""

from __future__ import annotations

import struct
from typing import Callable

from smsswitch.smpp._codegen import HEADER, build_decoder, build_encoder
from smsswitch.smpp.constants import CommandStatus
from smsswitch.smpp.errors import PduEncodeError, PduError
from smsswitch.smpp.framer import peek_header
from smsswitch.smpp.pdu import PDU_CLASSES, Pdu

__all__ = ["decode_pdu", "encode_pdu", "peek_header", "PduError", "PduEncodeError"]

_DECODERS: dict[int, Callable[[bytes, int, int, int], Pdu]] = {
    command_id: build_decoder(cls) for command_id, cls in PDU_CLASSES.items()
}
_ENCODERS: dict[type, Callable[[Pdu], bytes]] = {
    cls: build_encoder(cls) for cls in PDU_CLASSES.values()
}
_unpack_header = HEADER.unpack_from


def decode_pdu(frame: bytes) -> Pdu:
    """Decode one whole PDU frame (as returned by Framer.feed)."""
    if frame.__class__ is not bytes:
        frame = bytes(frame)
    end = len(frame)
    if end < 16:
        raise PduError(
            CommandStatus.ESME_RINVCMDLEN, 0, 0, True, f"frame of {end} octets has no full header"
        )
    length, command_id, status, seq = _unpack_header(frame)
    if length != end:
        raise PduError(
            CommandStatus.ESME_RINVCMDLEN, seq, command_id, True,
            f"command_length {length} but frame has {end} octets",
        )
    decoder = _DECODERS.get(command_id)
    if decoder is None:
        raise PduError(
            CommandStatus.ESME_RINVCMDID, seq, command_id, True,
            f"unknown command_id 0x{command_id:08X}",
        )
    return decoder(frame, end, seq, status)


def encode_pdu(pdu: Pdu) -> bytes:
    """Encode a PDU object into one whole frame, command_length computed."""
    encoder = _ENCODERS.get(pdu.__class__)
    if encoder is None:
        raise PduEncodeError(f"not an SMPP PDU: {pdu!r}")
    try:
        return encoder(pdu)
    except PduEncodeError:
        raise
    except (struct.error, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise PduEncodeError(f"{type(pdu).__name__}: {exc}") from exc
