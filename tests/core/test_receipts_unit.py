"""Reading carriers' receipts by their quirks, and writing the tenant's receipt."""

from __future__ import annotations

from smsswitch.config import CarrierQuirks
from smsswitch.core.receipts import deliver_sm_of, read_carrier_receipt, tenant_receipt, wants_receipt
from smsswitch.journal.records import MessageRecord, MessageState
from smsswitch.smpp.constants import Tag
from smsswitch.smpp.pdu import DeliverSm
from smsswitch.smpp.receipt import parse_receipt

TEXT = b"id:0A1B sub:001 dlvrd:000 submit date:2401011200 done date:2401011201 stat:UNDELIV err:034 text:hello"


def test_text_only_receipt() -> None:
    pdu = DeliverSm(esm_class=0x04, short_message=TEXT)
    receipt = read_carrier_receipt(pdu, CarrierQuirks(receipts_in="text"))
    assert receipt is not None
    assert (receipt.carrier_id, receipt.state, receipt.error) == ("0A1B", MessageState.UNDELIVERABLE, 34)


def test_tlv_only_receipt_with_network_error() -> None:
    pdu = DeliverSm(esm_class=0x04, tlvs={Tag.RECEIPTED_MESSAGE_ID: "99", Tag.MESSAGE_STATE: 5,
                                          Tag.NETWORK_ERROR_CODE: b"\x03\x00\x45"})  # fmt: skip
    receipt = read_carrier_receipt(pdu, CarrierQuirks(receipts_in="tlv"))
    assert receipt is not None and (receipt.carrier_id, receipt.state, receipt.error) == ("99", MessageState.UNDELIVERABLE, 0x45)


def test_tlvs_win_and_text_fills_the_error() -> None:
    pdu = DeliverSm(esm_class=0x04, short_message=TEXT, tlvs={Tag.RECEIPTED_MESSAGE_ID: "2587", Tag.MESSAGE_STATE: 5})
    receipt = read_carrier_receipt(pdu, CarrierQuirks())
    assert receipt is not None and (receipt.carrier_id, receipt.error) == ("2587", 34)


def test_tlv_quirk_still_reads_a_text_only_receipt_and_intermediate_states_are_not_final() -> None:
    """receipts_in=tlv skips the text when the TLVs are there; without them the text is
    still read rather than losing the receipt."""
    receipt = read_carrier_receipt(DeliverSm(esm_class=0x04, short_message=TEXT), CarrierQuirks(receipts_in="tlv"))
    assert receipt is not None and receipt.carrier_id == "0A1B"
    enroute = DeliverSm(esm_class=0x04, tlvs={Tag.RECEIPTED_MESSAGE_ID: "1", Tag.MESSAGE_STATE: 1})
    receipt = read_carrier_receipt(enroute, CarrierQuirks())
    assert receipt is not None and receipt.state is None


def test_wants_receipt_bits() -> None:
    assert wants_receipt(1, MessageState.DELIVERED) and wants_receipt(1, MessageState.EXPIRED)
    assert not wants_receipt(2, MessageState.DELIVERED) and wants_receipt(2, MessageState.REJECTED)
    assert not wants_receipt(0, MessageState.UNDELIVERABLE)


def test_tenant_receipt_pdu() -> None:
    record = MessageRecord(
        id="01a2073d439000000001", tenant="acme", source="Brand", destination="+263771234567", created=1700000000.0,
        source_ton=5, dest_ton=1, dest_npi=1, payload="Grüße aus Harare, schön".encode("latin-1"), data_coding=3,
    )  # fmt: skip
    pdu = deliver_sm_of(tenant_receipt(record, MessageState.UNDELIVERABLE, 0x22, 1700000060.0))
    assert (pdu.source_addr, pdu.source_addr_ton, pdu.destination_addr, pdu.dest_addr_ton) == ("263771234567", 1, "Brand", 5)
    assert pdu.esm_class == 0x04
    assert pdu.tlvs[Tag.RECEIPTED_MESSAGE_ID] == record.id and pdu.tlvs[Tag.MESSAGE_STATE] == 5
    assert pdu.tlvs[Tag.NETWORK_ERROR_CODE] == b"\x03\x00\x22"
    parsed = parse_receipt(pdu.short_message)
    assert parsed is not None and parsed.id == record.id and parsed.stat == "UNDELIV" and parsed.error_code == 34
    assert parsed.text == "Gr??e aus Harare, sc"  # first 20 characters, printable ASCII
