"""Every malformed PDU in the corpus gets its exact status and answer kind."""

from __future__ import annotations

import pytest

from smsswitch.smpp.codec import decode_pdu
from smsswitch.smpp.constants import CommandStatus
from smsswitch.smpp.errors import FramingError, PduError
from smsswitch.smpp.framer import Framer, peek_header
from tests.smpp.malformed import MalformedCase, load_corpus

CASES = load_corpus()


def test_corpus_covers_each_kind_of_damage() -> None:
    statuses = {case.status for case in CASES}
    assert {
        CommandStatus.ESME_RINVCMDLEN, CommandStatus.ESME_RINVCMDID,
        CommandStatus.ESME_RINVSRCADR, CommandStatus.ESME_RINVDSTADR,
        CommandStatus.ESME_RINVOPTPARSTREAM, CommandStatus.ESME_RINVPARLEN,
        CommandStatus.ESME_RINVMSGLEN,
    } <= statuses
    assert sum(case.framer_fatal for case in CASES) >= 4
    assert len({case.name for case in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decode_answers_exactly(case: MalformedCase) -> None:
    with pytest.raises(PduError) as info:
        decode_pdu(case.frame)
    err = info.value
    assert (err.status, err.generic_nack) == (case.status, case.generic_nack), err.message
    assert err.message
    if len(case.frame) >= 16:
        _, command_id, _, seq = peek_header(case.frame)
        assert err.sequence_number == seq
        assert err.command_id == command_id


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.framer_fatal], ids=[c.name for c in CASES if c.framer_fatal]
)
def test_framer_gives_up_on_impossible_lengths(case: MalformedCase) -> None:
    with pytest.raises(FramingError) as info:
        Framer(max_command_length=65536).feed(case.frame)
    assert info.value.status == case.status
    assert info.value.generic_nack is True


WELL_FRAMED = [
    c for c in CASES if len(c.frame) >= 16 and c.frame[:4] == len(c.frame).to_bytes(4, "big")
]


@pytest.mark.parametrize("case", WELL_FRAMED, ids=[c.name for c in WELL_FRAMED])
def test_framer_passes_well_framed_damage_through(case: MalformedCase) -> None:
    """Body damage is the decoder's business: the framer must hand the frame over intact."""
    assert Framer().feed(case.frame) == [case.frame]
