"""Texts the interop cases send, and how to read back what a peer received."""

from __future__ import annotations

from typing import Any

#: GSM 03.38 with extension-table characters (escaped by 0x1B on the wire).
GSM_TEXT = "Price 5€ [promo] {x} ~ ^ | \\ and @£$¥ é"
#: GSM 03.38 octets (unpacked) of "5€ [promo]".
GSM_EURO_BRACKETS = bytes.fromhex("351b65201b3c70726f6d6f1b3e")
#: Needs UCS2: Cyrillic plus emoji beyond the BMP (surrogate pairs), one with a skin-tone modifier.
UCS2_TEXT = "Привет, мир! 👋🏽 😀 ёЁ"
#: Longer than one GSM part (160 septets).
LONG_TEXT = "Long GSM text over three parts: " + "".join(f"<{i:03d}> abc" for i in range(45))


def text_of(pdu: dict[str, Any]) -> str:
    """A PDU's text as the peer decoded it: message_payload when present, else short_message."""
    for field in ("message_payload", "short_message"):
        value = pdu.get(field)
        if isinstance(value, dict) and value.get("text"):
            return value["text"]
    return ""


def udh_concat(pdu: dict[str, Any]) -> tuple[int, int, int] | None:
    """(reference, total, sequence) from an 8- or 16-bit concatenation UDH element, or sar TLVs."""
    value = pdu.get("short_message")
    for element in (value or {}).get("udh") or []:
        octets = bytes.fromhex(element)
        if octets[0] == 0x00 and len(octets) >= 5:
            return octets[2], octets[3], octets[4]
        if octets[0] == 0x08 and len(octets) >= 6:
            return int.from_bytes(octets[2:4], "big"), octets[4], octets[5]
    if "sar_msg_ref_num" in pdu:
        return pdu["sar_msg_ref_num"], pdu["sar_total_segments"], pdu["sar_segment_seqnum"]
    return None


def reassemble(pdus: list[dict[str, Any]]) -> str:
    """The text of one message sent as parts (or whole), parts ordered by sequence."""
    if len(pdus) == 1 and udh_concat(pdus[0]) is None:
        return text_of(pdus[0])
    parts = sorted(pdus, key=lambda p: (udh_concat(p) or (0, 0, 0))[2])
    return "".join(text_of(p) for p in parts)


def split_gsm(text: str, per_part: int = 153) -> list[str]:
    """Split plain GSM text (no extension characters) into concatenated-SMS parts."""
    return [text[i:i + per_part] for i in range(0, len(text), per_part)]
