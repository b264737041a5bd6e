"""Number patterns for outbound permissions, and each country's defaults.

A pattern is written the way PBX owners know from other systems:

    0-9      that digit
    X        any digit 0-9        N   any digit 2-9        Z   any digit 1-9
    [1-5]    one digit from a set or range ([0-2,7] also works)
    .        one or more further digits (only at the end)

so `NXXXXXX` is a US seven-digit local number and `011.` any international call
from the US. Patterns match the whole number (after the access code).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

CATEGORIES = ("local", "national", "international", "premium")
PATTERN_MAX = 24
MAX_NUMBER_DIGITS = 20

_TOKEN = re.compile(r"\[[0-9,\-]+\]|[0-9XNZ]|\.")


class PatternError(ValueError):
    """A pattern the owner typed is not valid; the message says how to write it."""


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    p = pattern.strip().upper()
    if not p:
        raise PatternError("A number pattern is empty. Write digits and X, N, Z, [1-5] or a final '.', "
                           "such as NXXXXXX.")
    if len(p) > PATTERN_MAX:
        raise PatternError(f"Number pattern {p[:30]!r} is longer than {PATTERN_MAX} characters.")
    out, pos = [], 0
    for m in _TOKEN.finditer(p):
        if m.start() != pos:
            break
        tok = m.group()
        pos = m.end()
        if tok == ".":
            if pos != len(p) or not out:
                raise PatternError(f"Number pattern {p!r}: '.' (one or more digits) may only come last, "
                                   "after at least one digit, such as 011.")
            out.append("[0-9]+")
        elif tok == "X":
            out.append("[0-9]")
        elif tok == "N":
            out.append("[2-9]")
        elif tok == "Z":
            out.append("[1-9]")
        elif tok.startswith("["):
            out.append(_digit_set(tok, p))
        else:
            out.append(tok)
    if pos != len(p):
        raise PatternError(f"Number pattern {p[:30]!r}: {p[pos:pos + 5]!r} is not understood. Use digits, "
                           "X (0-9), N (2-9), Z (1-9), [1-5] and a final '.' (more digits).")
    return re.compile("".join(out))


def _digit_set(tok: str, pattern: str) -> str:
    chars = set()
    for part in tok[1:-1].split(","):
        if re.fullmatch(r"[0-9]", part):
            chars.add(part)
        elif re.fullmatch(r"[0-9]-[0-9]", part) and part[0] <= part[2]:
            chars.update(str(d) for d in range(int(part[0]), int(part[2]) + 1))
        else:
            raise PatternError(f"Number pattern {pattern!r}: {tok!r} is not a digit set; write [1-5] or [0,7].")
    return "[" + "".join(sorted(chars)) + "]"


def normalise_pattern(pattern: str) -> str:
    """The stored form of a valid pattern (upper case, no spaces); raises PatternError."""
    compile_pattern(pattern)
    return pattern.strip().upper()


def matches(pattern: str, number: str) -> bool:
    return compile_pattern(pattern).fullmatch(number) is not None


def first_match(patterns: list[str] | tuple[str, ...], number: str) -> str | None:
    for p in patterns:
        if matches(p, number):
            return p
    return None


@dataclass(frozen=True)
class CountryNumbers:
    """What numbers mean in one country: emergency numbers and a pattern list per category."""
    emergency: tuple[str, ...]
    local: tuple[str, ...]
    national: tuple[str, ...]
    international: tuple[str, ...]
    premium: tuple[str, ...]

    def patterns(self, category: str) -> tuple[str, ...]:
        return getattr(self, category)

    def category(self, number: str) -> str:
        """emergency | premium | international | national | local | unknown (premium wins over the
        ranges it hides in, such as US 1-900 inside 1NXXNXXXXXX)."""
        if number in self.emergency:
            return "emergency"
        for cat in ("premium", "international", "national", "local"):
            if first_match(self.patterns(cat), number):
                return cat
        return "unknown"


# Sources: national numbering plans (NANP, Ofcom, BNetzA, MIIT), simplified to what an office dials.
COUNTRY_NUMBERS: dict[str, CountryNumbers] = {
    "US": CountryNumbers(
        emergency=("911",),
        local=("NXXXXXX", "NXXNXXXXXX"),
        national=("1NXXNXXXXXX",),
        international=("011.",),
        premium=("1900NXXXXXX", "976XXXX", "NXX976XXXX", "1NXX976XXXX"),
    ),
    "UK": CountryNumbers(
        emergency=("999", "112"),
        local=("NXXXXX", "NXXXXXX", "NXXXXXXX"),
        national=("0[1-3]XXXXXXXX", "0[1-3]XXXXXXXXX", "07XXXXXXXXX", "080XXXXXXXX"),
        international=("00.",),
        premium=("09.", "118XXX", "070XXXXXXXX", "087XXXXXXXX"),
    ),
    "DE": CountryNumbers(
        emergency=("110", "112"),
        local=("ZXX", "ZXXX", "ZXXXX", "ZXXXXX", "ZXXXXXX", "ZXXXXXXX"),
        national=("0Z.",),
        international=("00.",),
        premium=("0900.", "0137.", "0138.", "118XX", "118XXX", "0190."),
    ),
    "CN": CountryNumbers(
        emergency=("110", "119", "120", "122"),
        local=("NXXXXXX", "NXXXXXXX"),
        national=("0Z.", "1[3-9]XXXXXXXXX"),
        international=("00.",),
        premium=("168.", "160.", "0Z168.", "0ZX168.", "0ZXX168."),
    ),
}


def country_numbers(country: str) -> CountryNumbers:
    """The country's plan; a country without one gets the US plan's shape but no local/national guess."""
    plan = COUNTRY_NUMBERS.get(country.upper())
    if plan is not None:
        return plan
    return CountryNumbers(emergency=("112",), local=(), national=(), international=("00.",), premium=())
