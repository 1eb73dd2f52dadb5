"""The tenant receipt's text field survives being read as ASCII or as GSM 03.38 (data_coding 0)."""

import attrs

from smsswitch.core.receipts import message_text
from smsswitch.smpp import gsm0338
from smsswitch.smpp.text import encode_text


@attrs.define
class Subject:
    payload: bytes
    data_coding: int
    esm_class: int = 0


def test_characters_that_differ_between_ascii_and_gsm_become_question_marks() -> None:
    text = message_text(Subject(encode_text("Pay $5 [now] @home_{x}", 0), 0))
    assert text == "Pay ?5 ?now? ?home??x?"[:20]
    assert gsm0338.decode(text.encode("ascii")) == text


def test_ucs2_text_keeps_what_is_safe() -> None:
    text = message_text(Subject("Привет hello 😀".encode("utf-16-be"), 8))
    assert text.endswith("hello ?") and gsm0338.decode(text.encode("ascii")) == text
