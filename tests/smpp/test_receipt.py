"""Delivery receipt text: the Appendix B form out, carriers' variations in."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsswitch.smpp.constants import MessageState
from smsswitch.smpp.receipt import (
    STAT_BY_STATE,
    Receipt,
    carrier_id_variants,
    format_receipt,
    parse_receipt,
    stat_to_state,
    state_to_stat,
)

SUBMIT = datetime(2024, 3, 9, 14, 5)
DONE = datetime(2024, 3, 9, 14, 7)


def test_format_is_appendix_b() -> None:
    text = format_receipt("4f2a0001", 1, 1, SUBMIT, DONE, "DELIVRD", 0, "Hello there, this is long")
    assert text == (
        "id:4f2a0001 sub:001 dlvrd:001 submit date:2403091405 done date:2403091407"
        " stat:DELIVRD err:000 Text:Hello there, this is"
    )


def test_format_takes_a_message_state_and_raw_err() -> None:
    text = format_receipt("1", 1, 0, SUBMIT, DONE, MessageState.UNDELIVERABLE, "0x1A", "")
    assert " stat:UNDELIV err:0x1A Text:" in text


def test_parse_appendix_b() -> None:
    receipt = parse_receipt(
        "id:1234567890 sub:001 dlvrd:001 submit date:2403091405 done date:2403091407"
        " stat:DELIVRD err:000 text:Hello"
    )
    assert receipt == Receipt(
        id="1234567890",
        sub=1,
        dlvrd=1,
        submit_date=SUBMIT,
        done_date=DONE,
        stat="DELIVRD",
        err="000",
        text="Hello",
        state=MessageState.DELIVERED,
        error_code=0,
    )


def test_keys_in_any_case_dates_with_seconds_and_text_with_colons() -> None:
    receipt = parse_receipt(
        "ID:ab12 SUB:001 DLVRD:000 Submit Date:240309140530 Done Date:240309140745"
        " Stat:UNDELIV Err:0x0B Text:see: id:99 stat:DELIVRD"
    )
    assert receipt is not None
    assert receipt.id == "ab12"
    assert receipt.submit_date == datetime(2024, 3, 9, 14, 5, 30)
    assert receipt.done_date == datetime(2024, 3, 9, 14, 7, 45)
    assert receipt.state is MessageState.UNDELIVERABLE
    assert receipt.error_code == 0x0B
    assert receipt.text == "see: id:99 stat:DELIVRD"  # keys inside the text are text


def test_missing_fields_unknown_keys_and_other_orders() -> None:
    receipt = parse_receipt("stat:DELIVRD id:77 foo:bar network:23410 err:5")
    assert receipt is not None
    assert (receipt.id, receipt.stat, receipt.err, receipt.error_code) == ("77", "DELIVRD", "5", 5)
    assert receipt.sub is None and receipt.submit_date is None and receipt.text is None


def test_space_after_colon_and_underscore_keys() -> None:
    receipt = parse_receipt("id: 42 sub: 1 dlvrd: 1 submit_date: 2403091405 done_date:2403091407 stat: ACCEPTD")
    assert receipt is not None
    assert (receipt.id, receipt.sub, receipt.dlvrd) == ("42", 1, 1)
    assert receipt.submit_date == SUBMIT and receipt.done_date == DONE
    assert receipt.state is MessageState.ACCEPTED


def test_full_year_dates() -> None:
    receipt = parse_receipt("id:1 submit date:20240309140530 stat:DELIVRD")
    assert receipt is not None and receipt.submit_date == datetime(2024, 3, 9, 14, 5, 30)


def test_bad_values_become_none() -> None:
    receipt = parse_receipt("id:1 sub:x dlvrd: submit date:2413991405 done date:12 stat:WEIRD err:zz")
    assert receipt is not None
    assert receipt.sub is None and receipt.dlvrd is None
    assert receipt.submit_date is None and receipt.done_date is None
    assert receipt.stat == "WEIRD" and receipt.state is None
    assert receipt.err == "zz" and receipt.error_code is None


def test_bytes_and_trailing_nul() -> None:
    receipt = parse_receipt(b"id:9 stat:delivrd err:000 text:caf\xe9\x00")
    assert receipt is not None
    assert receipt.stat == "DELIVRD" and receipt.state is MessageState.DELIVERED
    assert receipt.text == "café"


def test_not_a_receipt() -> None:
    assert parse_receipt("Hello, see you at 10:30") is None
    assert parse_receipt("") is None
    assert parse_receipt("paid:5 text:id:1 stat:DELIVRD") is None  # keys only inside the text


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("DELIVRD", MessageState.DELIVERED),
        ("DELIVERED", MessageState.DELIVERED),
        ("EXPIRED", MessageState.EXPIRED),
        ("DELETED", MessageState.DELETED),
        ("UNDELIV", MessageState.UNDELIVERABLE),
        ("UNDELIVERABLE", MessageState.UNDELIVERABLE),
        ("ACCEPTD", MessageState.ACCEPTED),
        ("ACCEPTED", MessageState.ACCEPTED),
        ("UNKNOWN", MessageState.UNKNOWN),
        ("REJECTD", MessageState.REJECTED),
        ("REJECTED", MessageState.REJECTED),
        ("ENROUTE", MessageState.ENROUTE),
        ("delivrd", MessageState.DELIVERED),
        ("2", MessageState.DELIVERED),
        ("BOGUS", None),
    ],
)
def test_stat_to_state(stat: str, state: MessageState | None) -> None:
    assert stat_to_state(stat) is state


def test_state_to_stat_round_trips() -> None:
    for state in MessageState:
        assert stat_to_state(state_to_stat(state)) is state
        assert len(state_to_stat(state)) == 7
    assert state_to_stat(99) == "UNKNOWN"


def test_carrier_id_variants() -> None:
    assert carrier_id_variants("00FF") == ("ff", "255")
    assert carrier_id_variants("255") == ("255", "ff", "597")
    assert carrier_id_variants("0123") == ("123", "7b", "291")
    assert carrier_id_variants(" 6F1A-2B ") == ("6f1a-2b",)
    assert carrier_id_variants("000") == ("0",)
    assert carrier_id_variants("00xyz7\x00") == ("xyz7",)
    assert carrier_id_variants("00-ab") == ("00-ab",)
    assert carrier_id_variants("") == ()
    # Hex from submit_sm_resp and decimal in the receipt meet on a shared variant.
    assert set(carrier_id_variants("16fee0e525")) & set(carrier_id_variants("98765432101"))


# --- properties ------------------------------------------------------------------------

DATES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda moment: moment.replace(second=0, microsecond=0)
)
IDS = st.text(alphabet="0123456789abcdefABCDEF-_.", min_size=1, max_size=40)


@given(
    IDS,
    st.integers(0, 999),
    st.integers(0, 999),
    DATES,
    DATES,
    st.sampled_from(sorted(STAT_BY_STATE.values())),
    st.integers(0, 999),
    st.text(max_size=40),
)
def test_format_then_parse_round_trips(
    message_id: str, sub: int, dlvrd: int, submit: datetime, done: datetime, stat: str, err: int, text: str
) -> None:
    receipt = parse_receipt(format_receipt(message_id, sub, dlvrd, submit, done, stat, err, text))
    assert receipt is not None
    assert (receipt.id, receipt.sub, receipt.dlvrd) == (message_id, sub, dlvrd)
    assert (receipt.submit_date, receipt.done_date) == (submit, done)
    assert (receipt.stat, receipt.err, receipt.error_code) == (stat, f"{err:03d}", err)
    assert receipt.state is stat_to_state(stat)
    assert receipt.text == text[:20].rstrip("\x00").lstrip()  # NUL padding is not text


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_parse_never_raises(data: str | bytes) -> None:
    result = parse_receipt(data)
    assert result is None or isinstance(result, Receipt)


@given(st.lists(st.sampled_from(["id:", "ID:", "stat:", "text:", "sub:", "err:", " ", "7", "x", ":", "date:",
                                 "submit date:", "DELIVRD", "\x00", "é"]), max_size=40))
def test_parse_never_raises_on_key_soup(pieces: list[str]) -> None:
    result = parse_receipt("".join(pieces))
    assert result is None or isinstance(result, Receipt)


@given(st.text(max_size=70))
def test_variants_are_canonical_and_stable(message_id: str) -> None:
    variants = carrier_id_variants(message_id)
    assert len(set(variants)) == len(variants)
    for variant in variants:
        assert variant == variant.lower()
    if variants:
        assert carrier_id_variants(variants[0])[0] == variants[0]
