"""Caller numbers as the customer book and work orders keep them: the raw caller ID, its E.164 form (parsed with
Google's `phonenumbers` in the site's region) and its last digits (the fallback match when a
number does not parse, e.g. a short or oddly formatted caller ID from an analog line).

Caller ID is untrusted: it is bounded, never executed, and only ever used as a bound SQL
parameter."""
from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

RAW_MAX = 64
TAIL_DIGITS = 7              # the fallback compares the last seven digits (a local number's length)

# Linebox's country profiles (dsp_ext.countries) use "UK"; ISO 3166 and phonenumbers say "GB".
_REGION_OF_COUNTRY = {"UK": "GB"}


def region_of(country: str) -> str:
    c = str(country or "US").strip().upper()
    return _REGION_OF_COUNTRY.get(c, c)


@dataclass(frozen=True)
class CallerNumber:
    raw: str
    e164: str | None
    tail: str                # the last TAIL_DIGITS digits ('' when there are fewer than 4 digits)


def digits_of(text: str) -> str:
    return "".join(c for c in text if "0" <= c <= "9")


def normalise(raw: str, region: str) -> CallerNumber:
    """`raw` as stored and matched. E.164 only for a number phonenumbers finds possible as a full
    number (a seven-digit local number without its area code matches by its last digits)."""
    raw = "".join(c for c in str(raw) if c.isprintable())[:RAW_MAX].strip()
    digits = digits_of(raw)
    tail = digits[-TAIL_DIGITS:] if len(digits) >= 4 else ""
    e164: str | None = None
    if digits:
        try:
            parsed = phonenumbers.parse(raw, region)
            reason = phonenumbers.is_possible_number_with_reason(parsed)
            if reason == phonenumbers.ValidationResult.IS_POSSIBLE:   # not "local only": no area code
                e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            e164 = None
    return CallerNumber(raw, e164, tail)
