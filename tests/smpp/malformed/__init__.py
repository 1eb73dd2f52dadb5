"""The malformed-PDU corpus (corpus.txt) as data: reusable by session and server tests."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import attrs

from smsswitch.smpp.constants import CommandStatus

CORPUS_PATH = Path(__file__).with_name("corpus.txt")
_TEXT = re.compile(r'"([^"]*)"(?:\*(\d+))?')


@attrs.frozen(slots=True)
class MalformedCase:
    name: str
    status: CommandStatus
    generic_nack: bool
    frame: bytes
    framer_fatal: bool
    line: int


def _frame(spec: str) -> bytes:
    out = bytearray()
    has_len = False
    for token in re.findall(r'"[^"]*"(?:\*\d+)?|\S+', spec):
        text = _TEXT.fullmatch(token)
        if text:
            out += text.group(1).encode("ascii") * int(text.group(2) or 1)
        elif token == "LEN":
            if out:
                raise ValueError("LEN must be the first token")
            has_len = True
        elif token == "NUL":
            out += b"\0"
        else:
            out += bytes.fromhex(token)
    if has_len:
        out[0:0] = struct.pack(">I", len(out) + 4)
    return bytes(out)


def load_corpus(path: Path = CORPUS_PATH) -> list[MalformedCase]:
    cases = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, status, answer, frame = (part.strip() for part in line.split("|"))
        framer_fatal = "[framer]" in name
        if answer not in ("nack", "resp"):
            raise ValueError(f"{path}:{number}: answer must be nack or resp, got {answer!r}")
        cases.append(
            MalformedCase(
                name=name.replace("[framer]", "").strip(),
                status=CommandStatus[status],
                generic_nack=answer == "nack",
                frame=_frame(frame),
                framer_fatal=framer_fatal,
                line=number,
            )
        )
    return cases
