"""Long messages: counting and splitting into parts, reading UDHs, reassembling parts.

One SMS carries 140 octets of user data: 160 GSM septets, 140 octets, or 70 UCS2 units.
A concatenated part gives up 6 octets (8-bit reference UDH: 153 / 134 / 67) or 7 octets
(16-bit reference: 152 / 133 / 66). A part never ends inside a GSM escape pair or a UTF-16
surrogate pair, the same rule handsets follow, so part counts match what phones show.

Three ways to send a long message over SMPP (ConcatMethod): our own UDH in each
short_message (esm_class UDHI), sar_* TLVs (the SMSC writes the UDH, so parts are sized
to leave room for it), or the whole text in one message_payload TLV.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Hashable

import attrs

from smsswitch.smpp import gsm0338
from smsswitch.smpp.constants import CommandStatus
from smsswitch.smpp.text import Alphabet, alphabet_for, encode_str

#: Octets of user data in one SMS.
USER_DATA_OCTETS = 140
#: A concatenated message has at most this many parts (the UDH counts them in one octet).
MAX_PARTS = 255
#: Largest message_payload TLV value (16-bit length).
MAX_PAYLOAD_OCTETS = 0xFFFF

IEI_CONCAT_8BIT = 0x00
IEI_CONCAT_16BIT = 0x08
UDH_CONCAT_8BIT_LENGTH = 6  # UDHL 05, IEI 00, IEDL 03, ref, total, seq
UDH_CONCAT_16BIT_LENGTH = 7  # UDHL 06, IEI 08, IEDL 04, ref hi, ref lo, total, seq


class ConcatMethod(enum.Enum):
    """How a long message travels to the next hop."""

    UDH8 = "udh8"  # UDH with an 8-bit reference in each short_message
    UDH16 = "udh16"  # UDH with a 16-bit reference in each short_message
    SAR = "sar"  # sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs
    PAYLOAD = "payload"  # one PDU, whole text in the message_payload TLV


class MessageTooLong(ValueError):
    """More than MAX_PARTS parts (or a payload over 64 KiB); answer ESME_RINVMSGLEN."""

    status = CommandStatus.ESME_RINVMSGLEN


@attrs.frozen(slots=True)
class Segment:
    """One PDU's worth of a message: what goes in short_message and the flags with it.

    `udhi`: set ESM_CLASS_UDHI in esm_class. `sar_*`: the TLV values to send (None: no
    sar TLVs). `message_payload`: not None for ConcatMethod.PAYLOAD; then short_message
    is empty and these octets go in the message_payload TLV.
    """

    short_message: bytes
    udhi: bool = False
    sar_msg_ref_num: int | None = None
    sar_total_segments: int | None = None
    sar_segment_seqnum: int | None = None
    message_payload: bytes | None = None


@attrs.frozen(slots=True)
class ConcatInfo:
    """The concatenation information element of a UDH."""

    reference: int
    total: int
    sequence: int
    reference_bits: int  # 8 or 16


@attrs.frozen(slots=True)
class Udh:
    """A parsed User Data Header: its length in octets (incl. the UDHL octet), every
    information element as (iei, data) in order, and the concatenation IE if valid."""

    length: int
    elements: tuple[tuple[int, bytes], ...]
    concat: ConcatInfo | None


# --- capacities ------------------------------------------------------------------------

_SEPTET_ALPHABETS = frozenset({Alphabet.GSM})
_DEFAULT_ALPHABET_OCTET_COST = bytes(
    2 if chr(b) in gsm0338.EXTENSION_CHARS else 1 for b in range(256)
)  # Latin-1/ASCII octets sent as data_coding 0 become septets on air: [ ] { } cost two
_NOT_EXTENSION_OCTETS = bytes(b for b in range(256) if _DEFAULT_ALPHABET_OCTET_COST[b] == 1)


def _capacity(alphabet: Alphabet, udh_length: int, septets_on_air: bool) -> int:
    """Units one part holds after a UDH of `udh_length` octets.

    Units are septets when the text becomes GSM 7-bit on air, octets otherwise (for
    UCS2 rounded down to whole 16-bit units).
    """
    if septets_on_air:
        return (USER_DATA_OCTETS - udh_length) * 8 // 7
    octets = USER_DATA_OCTETS - udh_length
    if alphabet is Alphabet.UCS2:
        octets -= octets % 2
    return octets


def _udh_length(method: ConcatMethod, reference: int) -> int:
    if method is ConcatMethod.UDH16:
        return UDH_CONCAT_16BIT_LENGTH
    if method is ConcatMethod.SAR and reference > 0xFF:
        # The SMSC may need a 16-bit reference IE for this sar_msg_ref_num: leave room.
        return UDH_CONCAT_16BIT_LENGTH
    return UDH_CONCAT_8BIT_LENGTH


# --- splitting -------------------------------------------------------------------------

_NOT_HIGH_SURROGATE_LEAD = bytes(b for b in range(256) if not 0xD8 <= b <= 0xDB)


def _ends_inside_escape(data: bytes, start: int, end: int) -> bool:
    """True if data[end - 1] is an ESC that escapes data[end].

    Pairs are counted from `start`, a pair boundary: in a run of ESCs that starts there
    or after a non-ESC octet, an odd run length means the last ESC opens a pair.
    """
    index = end - 1
    while index >= start and data[index] == gsm0338.ESCAPE:
        index -= 1
    return (end - 1 - index) % 2 == 1


def _chunk_ends(
    data: bytes,
    alphabet: Alphabet,
    limit: int,
    septets_on_air: bool,
    packed_after_udh: int | None,
) -> list[int]:
    """End offsets of the parts of `data`, each holding at most `limit` units.

    `packed_after_udh`: GSM septets will be packed after a UDH of this many octets, so a
    part must also fit USER_DATA_OCTETS once packed (see gsm0338.pack_septets on CR).
    """
    size = len(data)
    if alphabet is Alphabet.GSM:
        escapes = gsm0338.ESCAPE in data
        ends = []
        start = 0
        while start < size:
            end = min(start + limit, size)
            if end < size and escapes and _ends_inside_escape(data, start, end):
                end -= 1  # keep ESC with the character it escapes
            if packed_after_udh is not None:
                fill = gsm0338.fill_bits_for_udh(packed_after_udh)
                budget = USER_DATA_OCTETS - packed_after_udh
                while gsm0338.packed_length(data[start:end], fill) > budget:
                    end -= 1  # a trailing CR on the boundary needs one more CR
                    if escapes and _ends_inside_escape(data, start, end):
                        end -= 1
            ends.append(end)
            start = end
        return ends
    if septets_on_air:  # Latin-1/ASCII as data_coding 0: count septets per octet
        cost = _DEFAULT_ALPHABET_OCTET_COST
        ends = []
        used = 0
        for index, octet in enumerate(data):
            units = cost[octet]
            if used + units > limit:
                ends.append(index)
                used = 0
            used += units
        ends.append(size)
        return ends
    if alphabet is Alphabet.UCS2 and data[0::2].translate(None, _NOT_HIGH_SURROGATE_LEAD):
        ends = []
        start = 0
        while start < size:
            end = min(start + limit, size)
            if end < size and 0xD8 <= data[end - 2] <= 0xDB:
                end -= 2  # keep a surrogate pair in one part
            ends.append(end)
            start = end
        return ends
    return list(range(limit, size, limit)) + [size]


def _units(data: bytes, septets_on_air: bool, alphabet: Alphabet) -> int:
    if septets_on_air and alphabet is not Alphabet.GSM:
        return len(data) + len(data.translate(None, _NOT_EXTENSION_OCTETS))
    return len(data)


def build_concat_udh(reference: int, total: int, sequence: int, sixteen_bit: bool = False) -> bytes:
    """The UDH (with its UDHL octet) for part `sequence` of `total`."""
    if sixteen_bit:
        return bytes((5 + 1, IEI_CONCAT_16BIT, 4, reference >> 8, reference & 0xFF, total, sequence))
    return bytes((5, IEI_CONCAT_8BIT, 3, reference, total, sequence))


def _prepare(
    message: str | bytes,
    data_coding: int,
    default_alphabet: Alphabet,
) -> tuple[bytes, Alphabet, bool]:
    alphabet = alphabet_for(data_coding, default_alphabet)
    data = encode_str(message, alphabet) if isinstance(message, str) else bytes(message)
    septets_on_air = alphabet in _SEPTET_ALPHABETS or (
        data_coding == 0 and alphabet in (Alphabet.LATIN1, Alphabet.ASCII)
    )
    return data, alphabet, septets_on_air


def _fits_one(data: bytes, alphabet: Alphabet, septets_on_air: bool, packed: bool) -> bool:
    if packed and alphabet is Alphabet.GSM:
        return gsm0338.packed_length(data) <= USER_DATA_OCTETS
    return _units(data, septets_on_air, alphabet) <= _capacity(alphabet, 0, septets_on_air)


def split_message(
    message: str | bytes,
    data_coding: int,
    method: ConcatMethod = ConcatMethod.UDH8,
    reference: int = 0,
    default_alphabet: Alphabet = Alphabet.GSM,
    packed: bool = False,
) -> list[Segment]:
    """Split `message` into the PDUs' worth of octets to send, in part order.

    `message` is text (encoded here for `data_coding`) or octets already in that
    coding. A message that fits one SMS comes back as one plain Segment whatever the
    method. `packed` sends GSM text as packed 7-bit (septets after the UDH's fill bits).
    Raises DataCodingError, UnicodeEncodeError (text the coding cannot hold),
    MessageTooLong, and ValueError for a reference out of range for the method.
    """
    _check_reference(method, reference)
    data, alphabet, septets_on_air = _prepare(message, data_coding, default_alphabet)
    pack = packed and alphabet is Alphabet.GSM
    if _fits_one(data, alphabet, septets_on_air, pack):
        return [Segment(gsm0338.pack_septets(data) if pack else data)]
    if method is ConcatMethod.PAYLOAD:
        payload = gsm0338.pack_septets(data) if pack else data
        if len(payload) > MAX_PAYLOAD_OCTETS:
            raise MessageTooLong(f"message_payload of {len(payload)} octets")
        return [Segment(b"", message_payload=payload)]
    udh_length = _udh_length(method, reference)
    fill = gsm0338.fill_bits_for_udh(udh_length) if pack else None
    limit = _capacity(alphabet, udh_length, septets_on_air)
    ends = _chunk_ends(data, alphabet, limit, septets_on_air, udh_length if pack else None)
    total = len(ends)
    if total > MAX_PARTS:
        raise MessageTooLong(f"{total} parts, at most {MAX_PARTS}")
    segments = []
    start = 0
    sixteen = method is ConcatMethod.UDH16
    for sequence, end in enumerate(ends, 1):
        chunk = data[start:end]
        if fill is not None:
            chunk = gsm0338.pack_septets(chunk, fill)
        if method is ConcatMethod.SAR:
            segments.append(Segment(chunk, False, reference, total, sequence))
        else:
            segments.append(Segment(build_concat_udh(reference, total, sequence, sixteen) + chunk, True))
        start = end
    return segments


def count_segments(
    message: str | bytes,
    data_coding: int,
    method: ConcatMethod = ConcatMethod.UDH8,
    reference: int = 0,
    default_alphabet: Alphabet = Alphabet.GSM,
    packed: bool = False,
) -> int:
    """How many SMS `message` costs when sent by `method` (a payload still costs the parts
    the SMSC will cut it into, counted as 8-bit-reference UDH parts)."""
    data, alphabet, septets_on_air = _prepare(message, data_coding, default_alphabet)
    pack = packed and alphabet is Alphabet.GSM
    if _fits_one(data, alphabet, septets_on_air, pack):
        return 1
    udh_length = _udh_length(method, reference)
    limit = _capacity(alphabet, udh_length, septets_on_air)
    return len(_chunk_ends(data, alphabet, limit, septets_on_air, udh_length if pack else None))


def _check_reference(method: ConcatMethod, reference: int) -> None:
    top = 0xFF if method is ConcatMethod.UDH8 else 0xFFFF
    if not 0 <= reference <= top:
        raise ValueError(f"reference {reference} out of range 0..{top} for {method.value}")


# --- reading ---------------------------------------------------------------------------


def parse_udh(short_message: bytes) -> tuple[Udh | None, bytes]:
    """Split a short_message sent with UDHI into its UDH and the payload after it.

    Tolerant: unknown IEs are kept, a truncated last IE ends the IE list, and a
    concatenation IE with total 0 or a sequence outside 1..total is ignored (23.040).
    Returns (None, short_message) when there is no readable UDH at all (empty, or a UDHL
    longer than the message) so the caller can refuse the message or treat it as plain.
    """
    if not short_message:
        return None, short_message
    end = 1 + short_message[0]
    if end > len(short_message):
        return None, short_message
    elements = []
    concat = None
    index = 1
    while index + 2 <= end:
        iei = short_message[index]
        data_end = index + 2 + short_message[index + 1]
        if data_end > end:
            break
        data = short_message[index + 2 : data_end]
        elements.append((iei, data))
        if iei == IEI_CONCAT_8BIT and len(data) == 3:
            concat = _concat_info(data[0], data[1], data[2], 8) or concat
        elif iei == IEI_CONCAT_16BIT and len(data) == 4:
            concat = _concat_info((data[0] << 8) | data[1], data[2], data[3], 16) or concat
        index = data_end
    return Udh(end, tuple(elements), concat), short_message[end:]


def _concat_info(reference: int, total: int, sequence: int, bits: int) -> ConcatInfo | None:
    if total == 0 or not 1 <= sequence <= total:
        return None
    return ConcatInfo(reference, total, sequence, bits)


# --- reassembly ------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Incomplete:
    """A long message given up on (too old, or evicted to make room), with what arrived:
    `parts` as (sequence, payload) in sequence order, so a caller may still forward them."""

    key: Hashable
    reference: int
    total: int
    parts: tuple[tuple[int, bytes], ...]
    first_seen: float
    evicted: bool


class _Pending:
    __slots__ = ("first_seen", "parts")

    def __init__(self, first_seen: float) -> None:
        self.first_seen = first_seen
        self.parts: dict[int, bytes] = {}


class Reassembler:
    """Collects the parts of long messages until each is whole. Bounded in memory.

    A message is identified by (key, reference, total); `key` is the caller's, e.g.
    (bind, source_addr, destination_addr). Parts may come in any order; a repeated
    sequence number keeps the first payload. At most `max_pending_messages` messages wait
    at once: one more evicts the oldest. Messages older than `max_age` (time of first
    part, in the caller's clock) are dropped by expire(), which also reports evictions.
    """

    def __init__(self, max_pending_messages: int, max_age: float) -> None:
        if max_pending_messages < 1:
            raise ValueError("max_pending_messages must be at least 1")
        self.max_pending_messages = max_pending_messages
        self.max_age = max_age
        # Insertion order is first-arrival order, so the oldest is always first.
        self._pending: dict[tuple[Hashable, int, int], _Pending] = {}
        # Evictions wait here for expire(); bounded like everything else.
        self._evicted: collections.deque[Incomplete] = collections.deque(maxlen=max_pending_messages)

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: Hashable, ref: int, total: int, seq: int, payload: bytes, now: float) -> bytes | None:
        """Store one part; return the whole payload (parts in order) once all are in.

        Raises ValueError for total outside 1..255 or seq outside 1..total.
        """
        if not 1 <= seq <= total <= MAX_PARTS:
            raise ValueError(f"part {seq} of {total} is not a valid part number")
        if total == 1:
            return payload
        ident = (key, ref, total)
        pending = self._pending.get(ident)
        if pending is None:
            if len(self._pending) >= self.max_pending_messages:
                oldest = next(iter(self._pending))
                self._evicted.append(self._give_up(oldest, self._pending.pop(oldest), evicted=True))
            pending = self._pending[ident] = _Pending(now)
        parts = pending.parts
        if seq in parts:
            return None
        parts[seq] = payload
        if len(parts) < total:
            return None
        del self._pending[ident]
        return b"".join(parts[index] for index in range(1, total + 1))

    def expire(self, now: float) -> list[Incomplete]:
        """Drop messages whose first part is `max_age` old or older; return them together
        with those evicted since the last call (evicted first)."""
        given_up = list(self._evicted)
        self._evicted.clear()
        deadline = now - self.max_age
        while self._pending:
            ident, pending = next(iter(self._pending.items()))
            if pending.first_seen > deadline:
                break
            del self._pending[ident]
            given_up.append(self._give_up(ident, pending, evicted=False))
        return given_up

    @staticmethod
    def _give_up(ident: tuple[Hashable, int, int], pending: _Pending, evicted: bool) -> Incomplete:
        key, reference, total = ident
        parts = tuple(sorted(pending.parts.items()))
        return Incomplete(key, reference, total, parts, pending.first_seen, evicted)
