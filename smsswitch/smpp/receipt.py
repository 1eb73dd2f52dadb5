"""Delivery receipt text (SMPP 3.4 Appendix B): writing it for tenants, reading carriers'.

  id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E Text:...

Appendix B is only an example, so carriers differ: key case, missing or extra keys,
dates with seconds, full-word states, hex error codes, and message ids that are hex in
submit_sm_resp but decimal in the receipt (or the reverse). The reader finds the known
keys wherever they are and never raises; carrier_id_variants gives the forms under which
a correlation index should file and look up a carrier's message id.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

import attrs

from smsswitch.smpp.constants import MessageState

#: Receipt "stat" values of Appendix B, by message state.
STAT_BY_STATE: dict[MessageState, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}

#: Message state by upper-case stat value: the Appendix B words, the full words and
#: spellings carriers send instead, and the message_state numbers some put in the text.
STATE_BY_STAT: dict[str, MessageState] = {
    **{stat: state for state, stat in STAT_BY_STATE.items()},
    **{state.name: state for state in MessageState},
    **{str(int(state)): state for state in MessageState},
    "EN_ROUTE": MessageState.ENROUTE,
    "DELIVER": MessageState.DELIVERED,
    "UNDELIVERED": MessageState.UNDELIVERABLE,
    "UNDELIVRD": MessageState.UNDELIVERABLE,
    "FAILED": MessageState.UNDELIVERABLE,
    "EXPIRD": MessageState.EXPIRED,
}

#: How many characters of the message the receipt's text field repeats (Appendix B).
RECEIPT_TEXT_LENGTH = 20


def stat_to_state(stat: str) -> MessageState | None:
    """The message state a receipt's stat value means, or None if not recognised."""
    return STATE_BY_STAT.get(stat.strip().upper())


def state_to_stat(state: MessageState | int) -> str:
    """The 7-letter Appendix B stat for a message state (UNKNOWN for anything else)."""
    return STAT_BY_STATE.get(state, "UNKNOWN")  # type: ignore[call-overload]


@attrs.frozen(slots=True)
class Receipt:
    """What a receipt text said. Fields the text lacked (or had unreadable) are None.

    `err` is the raw error text; `error_code` its value (decimal, or hex when written
    with 0x or with hex letters). Dates are naive: receipts carry the SMSC's local time.
    """

    id: str | None = None
    sub: int | None = None
    dlvrd: int | None = None
    submit_date: datetime | None = None
    done_date: datetime | None = None
    stat: str | None = None
    err: str | None = None
    text: str | None = None
    state: MessageState | None = None
    error_code: int | None = None


_minutes: dict[tuple[int, tzinfo | None], datetime] = {}


def receipt_minute(epoch: float, tz: tzinfo | None = timezone.utc) -> datetime:
    """The minute of `epoch` (in `tz`; None: local time) as receipt dates give it. Memoised:
    consecutive receipts share their minutes, and `_format_date` memoises by this value (a
    datetime with seconds in it would never hit that memo)."""
    key = (int(epoch // 60), tz)
    moment = _minutes.get(key)
    if moment is None:
        if len(_minutes) > 1024:
            _minutes.clear()
        moment = _minutes[key] = datetime.fromtimestamp(key[0] * 60, tz)
    return moment


_date_texts: dict[datetime, str] = {}


def _format_date(moment: datetime) -> str:
    """YYMMDDhhmm; memoised, since consecutive receipts share their minutes (a datetime
    caches its hash, so the lookup costs a tenth of the formatting): pass `receipt_minute`s."""
    text = _date_texts.get(moment)
    if text is None:
        if len(_date_texts) > 1024:
            _date_texts.clear()
        text = _date_texts[moment] = (
            f"{moment.year % 100:02d}{moment.month:02d}{moment.day:02d}{moment.hour:02d}{moment.minute:02d}"
        )
    return text


def format_receipt(
    message_id: str,
    sub: int,
    dlvrd: int,
    submit_date: datetime,
    done_date: datetime,
    stat: str | MessageState,
    err: str | int,
    text: str,
) -> str:
    """Receipt text in the Appendix B form; `text` is cut to its first 20 characters.

    `stat` may be a stat word ("DELIVRD") or a MessageState; `err` an int (written as
    three digits) or text as the carrier gave it.
    """
    if isinstance(stat, int):
        stat = state_to_stat(stat)
    err_text = f"{err:03d}" if isinstance(err, int) else err
    return (
        f"id:{message_id} sub:{sub:03d} dlvrd:{dlvrd:03d}"
        f" submit date:{_format_date(submit_date)} done date:{_format_date(done_date)}"
        f" stat:{stat} err:{err_text} Text:{text[:RECEIPT_TEXT_LENGTH]}"
    )


# --- reading ---------------------------------------------------------------------------

# Key (lower case, before the colon) -> field. "submit date" / "done date" arrive as two
# words; the reader joins them with "_".
_FIELD_BY_KEY: dict[str, str] = {
    "id": "id",
    "sub": "sub",
    "dlvrd": "dlvrd",
    "dlvd": "dlvrd",
    "submit_date": "submit_date",
    "submitdate": "submit_date",
    "done_date": "done_date",
    "donedate": "done_date",
    "stat": "stat",
    "status": "stat",
    "err": "err",
    "error": "err",
}
_TWO_WORD_KEYS = frozenset({"submit", "done"})
_TEXT_LABEL = "text:"
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}  # keeps length
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_DECIMAL_DIGITS = frozenset("0123456789")


def _find_label(lowered: str, label: str, end: int) -> int:
    """Offset of `label` in lowered[:end] where it starts a word, else -1."""
    position = lowered.find(label, 0, end)
    while position > 0 and not lowered[position - 1].isspace():
        position = lowered.find(label, position + 1, end)
    return position


def _to_count(token: str | None) -> int | None:
    if token and _DECIMAL_DIGITS.issuperset(token):
        return int(token)
    return None


def _to_date(token: str | None) -> datetime | None:
    if not token or not _DECIMAL_DIGITS.issuperset(token):
        return None
    if len(token) == 14:  # YYYYMMDDhhmmss
        year, token = int(token[:4]), token[2:]
    elif len(token) in (10, 12):
        year = 2000 + int(token[:2])
    else:
        return None
    second = int(token[10:12]) if len(token) == 12 else 0
    try:
        return datetime(year, int(token[2:4]), int(token[4:6]), int(token[6:8]), int(token[8:10]), second)
    except ValueError:
        return None


def _to_error_code(token: str | None) -> int | None:
    if not token:
        return None
    if token[:2] in ("0x", "0X") and len(token) > 2 and _HEX_DIGITS.issuperset(token[2:]):
        return int(token[2:], 16)
    if _DECIMAL_DIGITS.issuperset(token):
        return int(token)
    if _HEX_DIGITS.issuperset(token):
        return int(token, 16)
    return None


def parse_receipt(receipt: str | bytes) -> Receipt | None:
    """Read a receipt text; None if it has neither an id nor a stat. Never raises.

    Keys are matched in any case and order, unknown keys are skipped, a key's value is
    the rest of its word (or the next word, after "key: "), and the text field (last by
    convention) runs to the end, colons and spaces included. Pass str when the data_coding is known (text.decode_text);
    bytes are read as Latin-1, which keeps the keys and values intact.
    """
    if isinstance(receipt, (bytes, bytearray)):
        receipt = bytes(receipt).decode("latin-1")
    receipt = receipt.rstrip("\x00")
    # Same length as receipt, so offsets carry over (str.lower may not, outside ASCII).
    lowered = receipt.lower() if receipt.isascii() else receipt.translate(_ASCII_LOWER)
    head_end = _find_label(lowered, _TEXT_LABEL, len(lowered))
    text = None
    if head_end < 0:
        head_end = len(receipt)
    else:
        text = receipt[head_end + len(_TEXT_LABEL) :].lstrip()
    # Split the head into words; lowered differs from receipt only in ASCII case, so the
    # two word lists line up and values keep their case (ids may be case sensitive).
    low_words = lowered[:head_end].split()
    words = receipt[:head_end].split()
    values: dict[str, str | None] = {}
    waiting = None  # field whose "key:" had no value, to take the next bare word ("id: 42")
    previous = ""
    for index, low_word in enumerate(low_words):
        colon = low_word.find(":")
        if colon <= 0:
            if waiting is not None:
                values[waiting] = words[index]
                waiting = None
            previous = low_word
            continue
        key = low_word[:colon]
        if key == "date" and previous in _TWO_WORD_KEYS:
            key = previous + "_date"
        previous = low_word
        waiting = None
        field = _FIELD_BY_KEY.get(key)
        if field is None or field in values:
            continue
        value = words[index][colon + 1 :]
        values[field] = value or None
        if not value:
            waiting = field
    if "id" not in values and "stat" not in values:
        return None
    stat = values.get("stat")
    stat = stat.upper() if stat else None
    err = values.get("err")
    return Receipt(
        id=values.get("id"),
        sub=_to_count(values.get("sub")),
        dlvrd=_to_count(values.get("dlvrd")),
        submit_date=_to_date(values.get("submit_date")),
        done_date=_to_date(values.get("done_date")),
        stat=stat,
        err=err,
        text=text,
        state=STATE_BY_STAT.get(stat) if stat else None,
        error_code=_to_error_code(err),
    )


# --- carrier message ids ---------------------------------------------------------------

_MAX_NUMERIC_ID_LENGTH = 64  # SMPP message_id is at most 65 octets with its NUL
_BLANKS = " \t\r\n\x00"


def carrier_id_variants(message_id: str) -> tuple[str, ...]:
    """Forms under which one carrier message id may show up, canonical form first.

    Lower case, surrounding blanks and NULs dropped, leading zeros dropped from an
    alphanumeric id; for an id of hex digits also its value written in decimal, and, when
    it is all decimal digits, its value written in hex. File an id under every variant and look it up by any: a receipt that
    writes "255" finds the message whose submit_sm_resp said "ff", and the reverse.
    Distinct ids can share a variant ("ff" and "255" are both 255), so the caller should
    scope the index to one carrier account, where a carrier uses one form per field.
    """
    base = message_id.strip(_BLANKS).lower()
    if not base:
        return ()
    if base.isascii() and base.isalnum():
        base = base.lstrip("0") or "0"
    if len(base) > _MAX_NUMERIC_ID_LENGTH or not _HEX_DIGITS.issuperset(base):
        return (base,)
    variants = [base]
    if _DECIMAL_DIGITS.issuperset(base):
        variants.append(format(int(base), "x"))
    variants.append(str(int(base, 16)))
    return tuple(dict.fromkeys(variants))
