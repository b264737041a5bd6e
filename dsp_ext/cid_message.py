"""Caller-ID messages: building, parsing and checking them (no signal processing).

FSK caller ID (Telcordia GR-30 "CLASS" on Bell 202, ETSI EN 300 659 "CLIP" on
V.23) sends one message as bytes:

    type | length | data (length bytes) | checksum

The checksum makes the modulo-256 sum of all bytes zero. SDMF (type 0x04) data
is MMDDHHMM followed by the number (or 'O'/'P' when absent); MDMF (type 0x80)
data is a list of parameters `code | length | value`. Message waiting is SDMF
type 0x06 (0x42 x3 = on, 0x6F x3 = off) or MDMF type 0x82 with a visual
indicator parameter (0x0B: 0xFF on, 0x00 off).

DTMF caller ID sends digits: `A<number>C` (ETSI variant 1, e.g. India,
Denmark), `D<number>C` (Taiwan), `A<number>#`, and absence codes `B00C`
(unavailable) / `B10C` (private), `D1#` (private) / `D2#` / `D3#`.

Everything decoded here comes from the line and is attacker-controlled: it is
length-bounded and stripped of control characters before anyone sees it.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

SDMF_CALL = 0x04
SDMF_MWI = 0x06
MDMF_CALL = 0x80
MDMF_MWI = 0x82

P_DATETIME = 0x01
P_NUMBER = 0x02
P_NUMBER_ABSENT = 0x04
P_NAME = 0x07
P_NAME_ABSENT = 0x08
P_VISUAL_INDICATOR = 0x0B

MAX_NUMBER = 32     # digits we keep from the line (GR-30 sends <= 10 or 15, ETSI <= 20)
MAX_NAME = 64       # characters we keep (GR-30 sends <= 15, ETSI <= 50)
ENCODE_MAX_NUMBER = 20
ENCODE_MAX_NAME = 50

ABSENT_TO_CODE = {"private": "P", "unavailable": "O"}
CODE_TO_ABSENT = {"P": "private", "O": "unavailable"}
FSK_TYPES = {SDMF_CALL, SDMF_MWI, MDMF_CALL, MDMF_MWI}
MAX_DTMF_DIGITS = 48
NUMBER_CHARS = set("0123456789*#+")


@dataclass(frozen=True)
class CallerIdMessage:
    standard: str            # "bell202" | "v23" | "dtmf"
    format: str              # "sdmf" | "mdmf" | "dtmf"
    kind: str                # "call" | "mwi"
    number: str | None = None
    name: str | None = None
    datetime: str | None = None          # "MMDDHHMM"
    number_absent: str | None = None     # "private" | "unavailable"
    name_absent: str | None = None
    message_waiting: bool | None = None  # for kind == "mwi"
    checksum_ok: bool = True

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---- building (our own, trusted-but-checked input) -------------------------

def checksum(data: bytes) -> int:
    """The byte that makes the modulo-256 sum of `data` plus itself zero."""
    return (-sum(data)) & 0xFF


def _frame(msg_type: int, body: bytes) -> bytes:
    if len(body) > 255:
        raise ValueError(f"caller-ID message body is {len(body)} bytes; at most 255 fit")
    head = bytes([msg_type, len(body)]) + body
    return head + bytes([checksum(head)])


def check_datetime(value: str) -> str:
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        raise ValueError(f"datetime must be 8 digits MMDDHHMM, got {value!r}")
    month, day, hour, minute = (int(value[i:i + 2]) for i in range(0, 8, 2))
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59):
        raise ValueError(f"datetime {value!r} is not a valid MMDDHHMM")
    return value


def check_number(value: str) -> str:
    if not value or len(value) > ENCODE_MAX_NUMBER or not set(value) <= NUMBER_CHARS:
        raise ValueError(f"number must be 1-{ENCODE_MAX_NUMBER} of 0-9 * # +, got {value!r}")
    return value


def check_name(value: str) -> str:
    if not value or len(value) > ENCODE_MAX_NAME or not all(" " <= c <= "~" for c in value):
        raise ValueError(f"name must be 1-{ENCODE_MAX_NAME} printable ASCII characters, got {value!r}")
    return value


def check_absent(value: str) -> str:
    if value not in ABSENT_TO_CODE:
        raise ValueError(f"number_absent must be one of {sorted(ABSENT_TO_CODE)}, got {value!r}")
    return ABSENT_TO_CODE[value]


def build_call_message(fmt: str, number: str | None, name: str | None, datetime: str,
                       number_absent: str | None) -> bytes:
    """The caller-ID message bytes (type to checksum) for an FSK standard."""
    if number is not None and number_absent is not None:
        raise ValueError("give either number or number_absent, not both")
    if number is None and number_absent is None:
        raise ValueError("caller ID needs a number or number_absent ('private' | 'unavailable')")
    datetime = check_datetime(datetime)
    if fmt == "sdmf":
        if name is not None:
            raise ValueError("SDMF carries no name; use fmt='mdmf'")
        tail = check_number(number) if number is not None else check_absent(number_absent)
        return _frame(SDMF_CALL, (datetime + tail).encode("ascii"))
    if fmt != "mdmf":
        raise ValueError(f"format must be 'sdmf' or 'mdmf' for FSK caller ID, got {fmt!r}")
    params = [(P_DATETIME, datetime.encode())]
    if number is not None:
        params.append((P_NUMBER, check_number(number).encode()))
    else:
        params.append((P_NUMBER_ABSENT, check_absent(number_absent).encode()))
    if name is not None:
        params.append((P_NAME, check_name(name).encode()))
    elif number_absent is not None:
        # the network withholds the name for the same reason it withholds the number
        params.append((P_NAME_ABSENT, check_absent(number_absent).encode()))
    body = b"".join(bytes([code, len(value)]) + value for code, value in params)
    return _frame(MDMF_CALL, body)


def build_mwi_message(active: bool) -> bytes:
    """MDMF message-waiting message (the form both GR-30 and ETSI define)."""
    return _frame(MDMF_MWI, bytes([P_VISUAL_INDICATOR, 1, 0xFF if active else 0x00]))


def build_dtmf_digits(number: str | None, number_absent: str | None) -> str:
    """DTMF caller-ID digit string, ETSI variant 1 (`A<number>C`, `B00C`, `B10C`)."""
    if number is not None and number_absent is not None:
        raise ValueError("give either number or number_absent, not both")
    if number is not None:
        if not number.isascii() or not number.isdigit() or len(number) > ENCODE_MAX_NUMBER:
            raise ValueError(f"DTMF caller ID number must be 1-{ENCODE_MAX_NUMBER} digits, got {number!r}")
        return f"A{number}C"
    if number_absent is None:
        raise ValueError("caller ID needs a number or number_absent ('private' | 'unavailable')")
    check_absent(number_absent)
    return "B10C" if number_absent == "private" else "B00C"


# ---- parsing (untrusted input) ---------------------------------------------

def clean_number(raw: bytes) -> str | None:
    text = "".join(chr(b) for b in raw[:MAX_NUMBER * 4] if chr(b) in NUMBER_CHARS)[:MAX_NUMBER]
    return text or None


def clean_name(raw: bytes) -> str | None:
    # Latin-1 keeps every byte decodable; isprintable() drops control characters.
    text = "".join(c for c in raw.decode("latin-1") if c.isprintable())[:MAX_NAME].strip()
    return text or None


def clean_datetime(raw: bytes) -> str | None:
    try:
        return check_datetime(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


def _absent(raw: bytes) -> str | None:
    return CODE_TO_ABSENT.get(raw[:1].decode("latin-1").upper(), "unavailable") if raw else None


def parse_fsk_message(raw: bytes, standard: str) -> CallerIdMessage | None:
    """Parse `type | length | data | checksum` (as received; any bytes at all).

    Returns None when the bytes are not a caller-ID message we know (unknown
    type, length that does not match). A checksum failure still returns the
    message, with checksum_ok=False, so the caller decides whether to show it.
    """
    if len(raw) < 3 or raw[0] not in FSK_TYPES or raw[1] != len(raw) - 3:
        return None
    msg_type, body = raw[0], bytes(raw[2:-1])
    ok = sum(raw) & 0xFF == 0
    if msg_type == SDMF_CALL:
        if len(body) < 9:
            return None
        tail = body[8:]
        absent = _absent(tail) if tail[:1] in (b"O", b"P", b"o", b"p") and len(tail) == 1 else None
        return CallerIdMessage(standard, "sdmf", "call", number=None if absent else clean_number(tail),
                               datetime=clean_datetime(body[:8]), number_absent=absent, checksum_ok=ok)
    if msg_type == SDMF_MWI:
        if len(body) < 1:
            return None
        waiting = {0x42: True, 0x6F: False}.get(body[0])
        if waiting is None:
            return None
        return CallerIdMessage(standard, "sdmf", "mwi", message_waiting=waiting, checksum_ok=ok)
    fields: dict[int, bytes] = {}
    pos = 0
    while pos + 2 <= len(body):
        code, size = body[pos], body[pos + 1]
        value = body[pos + 2:pos + 2 + size]
        if len(value) != size:
            ok = False      # a parameter runs past the end: the message is damaged
            break
        fields.setdefault(code, value)   # first occurrence wins; repeats are ignored
        pos += 2 + size
    if pos != len(body):
        ok = False
    if msg_type == MDMF_MWI:
        indicator = fields.get(P_VISUAL_INDICATOR)
        if not indicator:
            return None
        return CallerIdMessage(standard, "mdmf", "mwi", message_waiting=indicator[0] != 0,
                               datetime=clean_datetime(fields.get(P_DATETIME, b"")), checksum_ok=ok)
    return CallerIdMessage(
        standard, "mdmf", "call",
        number=clean_number(fields.get(P_NUMBER, b"")),
        name=clean_name(fields.get(P_NAME, b"")),
        datetime=clean_datetime(fields.get(P_DATETIME, b"")),
        number_absent=_absent(fields.get(P_NUMBER_ABSENT, b"")),
        name_absent=_absent(fields.get(P_NAME_ABSENT, b"")),
        checksum_ok=ok,
    )


def parse_dtmf_digits(digits: str) -> CallerIdMessage | None:
    """Parse one complete DTMF caller-ID string, start code (if any) to end code.

    Variant 1: `A<number>[D<redirecting>][B<info>]C` (info 00 unavailable, 10
    private); Taiwan: `D<number>C`; variant 2: `A<number>#` or `D1#`/`D2#`/`D3#`;
    variant 4: `<number>#` with no start code.
    """
    if len(digits) < 2 or len(digits) > MAX_DTMF_DIGITS or digits[-1] not in "C#":
        return None
    body, end = digits[:-1], digits[-1]
    if body.isascii() and body.isdigit():
        number = clean_number(body.encode()) if end == "#" else None
        return CallerIdMessage("dtmf", "dtmf", "call", number=number) if number else None
    fields = re.fullmatch(r"(?:[ABD][0-9]*)+", body) and re.findall(r"([ABD])([0-9]*)", body)
    if not fields:
        return None
    code, value = fields[0]
    if code == "D" and end == "#":
        absent = {"1": "private", "2": "unavailable", "3": "unavailable"}.get(value)
        return CallerIdMessage("dtmf", "dtmf", "call", number_absent=absent) if absent else None
    info = dict(fields).get("B")
    absent = {"00": "unavailable", "10": "private"}.get(info or "")
    number = clean_number(value.encode()) if code in "AD" else None
    if number is None and absent is None:
        return None
    return CallerIdMessage("dtmf", "dtmf", "call", number=number, number_absent=None if number else absent)
