"""Compile each PDU class's field declarations into one straight-line decode/encode function.

A generic loop over field specs costs a dict lookup and a branch per field per PDU; the
generated functions do only the slicing and struct calls the layout needs (runs of 1-octet
integers become one precompiled struct call), which is what makes the codec fast. The
generated source of any class can be read with `decoder_source(cls)` / `encoder_source(cls)`.

Requests are decoded strictly: a C-string longer than its spec max or without its NUL is
refused with the field's own status, a body that stops before a mandatory field is
ESME_RINVCMDLEN (generic_nack). Responses are decoded leniently, as carriers send them:
missing trailing fields take their defaults (e.g. a submit_sm_resp with an error status
and no body), C-strings may lack their NUL and exceed the spec max.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

import attrs

from smsswitch.smpp._tlv import decode_tlvs, encode_tlvs
from smsswitch.smpp.constants import SHORT_MESSAGE_MAX, CommandStatus
from smsswitch.smpp.errors import PduEncodeError, PduError
from smsswitch.smpp.pdu import (
    WIRE,
    DistributionList,
    Pdu,
    SmeAddress,
    UnsuccessSme,
    Wire,
)

HEADER = struct.Struct(">IIII")
_U32 = struct.Struct(">I")
_STRUCTS: dict[int, struct.Struct] = {n: struct.Struct(">" + "B" * n) for n in range(1, 32)}

S = CommandStatus


# ---------------------------------------------------------------- cold-path error builders


def _truncated(seq: int, command_id: int, name: str) -> PduError:
    return PduError(
        S.ESME_RINVCMDLEN, seq, command_id, True,
        f"PDU body ends before mandatory field {name}",
    )


def _bad_cstr(
    buf: bytes, pos: int, end: int, seq: int, command_id: int, generic: bool,
    max_size: int, status: int, name: str,
) -> PduError:
    if end - pos >= max_size:
        why = f"{name} is longer than its max size {max_size} (NUL included)"
    else:
        why = f"{name} has no terminating NUL before the end of the PDU"
    return PduError(status, seq, command_id, generic, why)


def _bad_short_message(seq: int, command_id: int, generic: bool, sm_len: int, left: int) -> PduError:
    return PduError(
        S.ESME_RINVMSGLEN, seq, command_id, generic,
        f"sm_length {sm_len} but only {left} octets remain",
    )


# ---------------------------------------------------------------- composite fields


def _read_cstr(
    buf: bytes, pos: int, end: int, seq: int, command_id: int, generic: bool,
    max_size: int, status: int, name: str, lenient: bool,
) -> tuple[str, int]:
    if pos >= end:
        raise _truncated(seq, command_id, name)
    if lenient:
        nul = buf.find(b"\0", pos, end)
        if nul < 0:
            return buf[pos:end].decode("latin-1"), end
    else:
        nul = buf.find(b"\0", pos, pos + max_size)
        if nul < 0:
            raise _bad_cstr(buf, pos, end, seq, command_id, generic, max_size, status, name)
    return buf[pos:nul].decode("latin-1"), nul + 1


def decode_dests(
    buf: bytes, pos: int, end: int, seq: int, command_id: int, generic: bool
) -> tuple[list[Any], int]:
    """submit_multi: number_of_dests then each dest_address (SME address or DL name)."""
    if pos >= end:
        raise _truncated(seq, command_id, "number_of_dests")
    count = buf[pos]
    pos += 1
    if not 1 <= count <= 254:
        raise PduError(S.ESME_RINVNUMDESTS, seq, command_id, generic, f"number_of_dests {count}")
    dests: list[Any] = []
    for _ in range(count):
        if pos >= end:
            raise _truncated(seq, command_id, "dest_address")
        flag = buf[pos]
        pos += 1
        if flag == 1:
            if pos + 2 > end:
                raise _truncated(seq, command_id, "dest_addr_ton")
            ton, npi = buf[pos], buf[pos + 1]
            addr, pos = _read_cstr(
                buf, pos + 2, end, seq, command_id, generic, 21, S.ESME_RINVDSTADR,
                "destination_addr", False,
            )
            dests.append(SmeAddress(ton, npi, addr))
        elif flag == 2:
            name, pos = _read_cstr(
                buf, pos, end, seq, command_id, generic, 21, S.ESME_RINVDLNAME, "dl_name", False
            )
            dests.append(DistributionList(name))
        else:
            raise PduError(S.ESME_RINVDESTFLAG, seq, command_id, generic, f"dest_flag {flag}")
    return dests, pos


def encode_dests(dests: list[Any]) -> bytes:
    if not 1 <= len(dests) <= 254:
        raise PduEncodeError(f"submit_multi needs 1..254 destinations, got {len(dests)}")
    parts = [bytes((len(dests),))]
    for dest in dests:
        if isinstance(dest, SmeAddress):
            parts.append(bytes((1, dest.dest_addr_ton, dest.dest_addr_npi)))
            parts.append(_cstr_bytes(dest.destination_addr, 21, "destination_addr"))
        elif isinstance(dest, DistributionList):
            parts.append(b"\x02")
            parts.append(_cstr_bytes(dest.dl_name, 21, "dl_name"))
        else:
            raise PduEncodeError(f"not a submit_multi destination: {dest!r}")
    return b"".join(parts)


def decode_unsuccess(
    buf: bytes, pos: int, end: int, seq: int, command_id: int, generic: bool
) -> tuple[list[UnsuccessSme], int]:
    """submit_multi_resp: no_unsuccess then each unsuccess_sme (read leniently)."""
    count = buf[pos]
    pos += 1
    smes: list[UnsuccessSme] = []
    for _ in range(count):
        if pos + 2 > end:
            raise _truncated(seq, command_id, "unsuccess_sme")
        ton, npi = buf[pos], buf[pos + 1]
        addr, pos = _read_cstr(
            buf, pos + 2, end, seq, command_id, generic, 21, S.ESME_RINVDSTADR,
            "destination_addr", True,
        )
        if pos + 4 > end:
            raise _truncated(seq, command_id, "error_status_code")
        smes.append(UnsuccessSme(ton, npi, addr, _U32.unpack_from(buf, pos)[0]))
        pos += 4
    return smes, pos


def encode_unsuccess(smes: list[UnsuccessSme]) -> bytes:
    if len(smes) > 255:
        raise PduEncodeError("no_unsuccess is one octet: at most 255 unsuccess_sme")
    parts = [bytes((len(smes),))]
    for sme in smes:
        parts.append(bytes((sme.dest_addr_ton, sme.dest_addr_npi)))
        parts.append(_cstr_bytes(sme.destination_addr, 21, "destination_addr"))
        parts.append(_U32.pack(sme.error_status_code))
    return b"".join(parts)


def _cstr_bytes(value: str, max_size: int, name: str) -> bytes:
    raw = value.encode("latin-1")
    if len(raw) >= max_size or b"\0" in raw:
        raise _enc_cstr_error(name, raw, max_size)
    return raw + b"\0"


def _enc_cstr_error(name: str, raw: bytes, max_size: int) -> PduEncodeError:
    if b"\0" in raw:
        return PduEncodeError(f"{name} contains a NUL octet")
    return PduEncodeError(f"{name} is {len(raw)} octets, max {max_size - 1} plus NUL")


def _enc_error(message: str) -> PduEncodeError:
    return PduEncodeError(message)


# ---------------------------------------------------------------- planning


def _plan(cls: type[Pdu]) -> list[tuple[str, list[str], Wire | None]]:
    """Group fields into steps: ("cstr", [name], wire), ("ints", [names], None),
    ("ints_sm", [names..., short_message], wire), ("dests"/"unsuccess", [name], wire)."""
    steps: list[tuple[str, list[str], Wire | None]] = []
    run: list[str] = []
    for f in attrs.fields(cls):
        wire = f.metadata.get(WIRE)
        if wire is None:
            continue
        if wire.kind == "u8":
            run.append(f.name)
            continue
        if wire.kind == "sm":
            steps.append(("ints_sm", run + [f.name], wire))
            run = []
            continue
        if run:
            steps.append(("ints", run, None))
            run = []
        steps.append((wire.kind, [f.name], wire))
    if run:
        steps.append(("ints", run, None))
    return steps


def _namespace(cls: type[Pdu]) -> dict[str, Any]:
    return {
        "cls": cls,
        "CMD": int(cls.command_id),
        "GEN": cls.is_response or cls.response_class is None,
        "HEADER": HEADER,
        **{f"UNPACK{n}": st.unpack_from for n, st in _STRUCTS.items()},
        **{f"PACK{n}": st.pack for n, st in _STRUCTS.items()},
        "IndexError": IndexError,
        "StructError": struct.error,
        "decode_tlvs": decode_tlvs,
        "encode_tlvs": encode_tlvs,
        "decode_dests": decode_dests,
        "encode_dests": encode_dests,
        "decode_unsuccess": decode_unsuccess,
        "encode_unsuccess": encode_unsuccess,
        "_truncated": _truncated,
        "_bad_cstr": _bad_cstr,
        "_bad_short_message": _bad_short_message,
        "_enc_cstr_error": _enc_cstr_error,
        "_enc_error": _enc_error,
        "SM_MAX": SHORT_MESSAGE_MAX,
        "NUL": b"\0",
        "NUL_CHAR": "\0",
        "EMPTY": b"",
    }


def _ctor_args(cls: type[Pdu]) -> str:
    return ", ".join(
        {"sequence_number": "seq", "command_status": "status", "tlvs": "tlvs"}.get(f.name, f.name)
        for f in attrs.fields(cls)
    )


# ---------------------------------------------------------------- decoder source


def decoder_source(cls: type[Pdu]) -> str:
    """Python source of the decoder for `cls`: decode(buf, end, seq, status) -> cls."""
    if cls.is_response:
        return _lenient_decoder_source(cls)
    out = ["def decode(buf, end, seq, status):", "    pos = 16"]
    steps = _plan(cls)
    if any(kind == "cstr" for kind, _, _ in steps):
        # One latin-1 decode of the frame, then a str slice per C-string: cheaper than a
        # bytes slice plus a decode for each (latin-1 maps octet i to character i).
        out.append("    text = buf.decode('latin-1')")
    if steps:
        out.append("    try:")
    for kind, names, wire in steps:
        if kind == "cstr":
            (name,) = names
            assert wire is not None
            out += [
                "        if pos >= end:",
                f"            raise _truncated(seq, CMD, {name!r})",
                f"        nul = text.find(NUL_CHAR, pos, pos + {wire.max_size})",
                "        if nul < 0:",
                f"            raise _bad_cstr(buf, pos, end, seq, CMD, GEN, {wire.max_size},"
                f" {int(wire.status)}, {name!r})",
                f"        {name} = text[pos:nul]",
                "        pos = nul + 1",
            ]
        elif kind == "ints" or kind == "ints_sm":
            ints = names[:-1] if kind == "ints_sm" else names
            targets = ints + ["sm_len"] if kind == "ints_sm" else ints
            if len(targets) == 1:
                out.append(f"        {targets[0]} = buf[pos]")
            else:
                out.append(
                    f"        {', '.join(targets)} = UNPACK{len(targets)}(buf, pos)"
                )
            out.append(f"        pos += {len(targets)}")
            if kind == "ints_sm":
                sm = names[-1]
                out += [
                    f"        {sm} = buf[pos:pos + sm_len]",
                    "        pos += sm_len",
                    "        if pos > end:",
                    "            raise _bad_short_message(seq, CMD, GEN, sm_len, end - pos + sm_len)",
                ]
        elif kind == "dests":
            out.append(f"        {names[0]}, pos = decode_dests(buf, pos, end, seq, CMD, GEN)")
        else:
            raise AssertionError(kind)
    if steps:
        out += [
            "    except (IndexError, StructError):",
            "        raise _truncated(seq, CMD, 'mandatory field') from None",
        ]
    out += [
        "    tlvs = decode_tlvs(buf, pos, end, seq, CMD, GEN) if pos < end else {}",
        f"    return cls({_ctor_args(cls)})",
    ]
    return "\n".join(out) + "\n"


def _lenient_decoder_source(cls: type[Pdu]) -> str:
    out = ["def decode(buf, end, seq, status):", "    pos = 16"]
    fields = [f for f in attrs.fields(cls) if WIRE in f.metadata]
    for f in fields:
        default = "[]" if isinstance(f.default, attrs.Factory) else repr(f.default)
        out.append(f"    {f.name} = {default}")
    if fields:
        out.append("    while pos < end:")
        for f in fields:
            wire: Wire = f.metadata[WIRE]
            if wire.kind == "cstr":
                out += [
                    "        nul = buf.find(NUL, pos)",
                    "        if nul < 0:",
                    "            nul = end",
                    f"        {f.name} = buf[pos:nul].decode('latin-1')",
                    "        pos = nul + 1",
                ]
            elif wire.kind == "u8":
                out += [f"        {f.name} = buf[pos]", "        pos += 1"]
            elif wire.kind == "unsuccess":
                out.append(f"        {f.name}, pos = decode_unsuccess(buf, pos, end, seq, CMD, GEN)")
            else:
                raise AssertionError(wire.kind)
            out += ["        if pos >= end:", "            break"]
        out.append("        break")
    out += [
        "    tlvs = decode_tlvs(buf, pos, end, seq, CMD, GEN) if pos < end else {}",
        f"    return cls({_ctor_args(cls)})",
    ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- encoder source


def encoder_source(cls: type[Pdu]) -> str:
    """Python source of the encoder for `cls`: encode(pdu) -> bytes (whole frame)."""
    out = ["def encode(p):"]
    parts: list[str] = []
    for kind, names, wire in _plan(cls):
        if kind == "cstr":
            (name,) = names
            assert wire is not None
            out += [
                f"    {name} = p.{name}.encode('latin-1')",
                f"    if len({name}) >= {wire.max_size} or NUL in {name}:",
                f"        raise _enc_cstr_error({name!r}, {name}, {wire.max_size})",
            ]
            parts += [name, "NUL"]
        elif kind == "ints" or kind == "ints_sm":
            ints = names[:-1] if kind == "ints_sm" else names
            args = [f"p.{n}" for n in ints]
            if kind == "ints_sm":
                sm = names[-1]
                out += [
                    f"    {sm} = p.{sm}",
                    f"    if len({sm}) > SM_MAX:",
                    f"        raise _enc_error('short_message is ' + str(len({sm})) + ' octets,"
                    " max 254: use message_payload')",
                ]
                args.append(f"len({sm})")
            parts.append(f"PACK{len(args)}({', '.join(args)})")
            if kind == "ints_sm":
                parts.append(names[-1])
        elif kind == "dests":
            parts.append(f"encode_dests(p.{names[0]})")
        elif kind == "unsuccess":
            parts.append(f"encode_unsuccess(p.{names[0]})")
        else:
            raise AssertionError(kind)
    out += ["    tlvs = p.tlvs", "    tail = encode_tlvs(tlvs) if tlvs else EMPTY"]
    parts.append("tail")
    if len(parts) == 1:
        out.append("    body = tail")
    else:
        out.append(f"    body = EMPTY.join(({', '.join(parts)},))")
    out.append("    return HEADER.pack(16 + len(body), CMD, p.command_status, p.sequence_number) + body")
    return "\n".join(out) + "\n"


def _compile(source: str, cls: type[Pdu], name: str) -> Callable[..., Any]:
    namespace = _namespace(cls)
    code = compile(source, f"<smpp {name} {cls.__name__}>", "exec")
    exec(code, namespace)  # noqa: S102 - source is generated from our own field table
    return namespace[name]


def build_decoder(cls: type[Pdu]) -> Callable[[bytes, int, int, int], Pdu]:
    return _compile(decoder_source(cls), cls, "decode")


def build_encoder(cls: type[Pdu]) -> Callable[[Pdu], bytes]:
    return _compile(encoder_source(cls), cls, "encode")
