"""Fax boxes' e-mail recipients: where a received fax is mailed as PDF (configuration table `fax_boxes`).

A fax box is an extension's (its user's inbox). Its recipients are the box's own address list when
one is set, else the address of the extension's voicemail mailbox (as before the list existed).
Addresses are untrusted text from a web form: each must be one plain address (name@example.com),
so nothing can add a header (a CR/LF, a comma, "Bcc:" all fail the check) and nothing is saved
unless every address passes.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["MAX_ADDRESSES", "box_addresses", "all_box_addresses", "save_box_addresses", "parse_addresses"]

TABLE = "fax_boxes"
MAX_ADDRESSES = 10
_BOX = re.compile(r"[0-9]{2,10}")


def parse_addresses(text: str | list[str]) -> list[str]:
    """Addresses from a form: one per line or separated by commas, semicolons or spaces; checked."""
    from ..apps.voicemail_store import check_email
    from ..config import ConfigError
    parts = text if isinstance(text, list) else re.split(r"[\s,;]+", str(text))
    out: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise ConfigError("Give the addresses as text, one per line.")
        part = part.strip()
        if not part:
            continue
        address = check_email(part, "The address", optional=False)
        if address.lower() not in (a.lower() for a in out):
            out.append(address)
    if len(out) > MAX_ADDRESSES:
        raise ConfigError(f"{len(out)} addresses: a fax box mails at most {MAX_ADDRESSES}; "
                          "use a group address for more.")
    return out


def _check_box(config: Any, box: str) -> str:
    from ..config import ConfigError
    box = (box or "").strip()
    if not _BOX.fullmatch(box) or config.extension(box) is None:
        raise ConfigError(f"Fax box {box[:12]!r} is not an extension. Give the number of an existing extension.")
    return box


def box_addresses(config: Any, box: str) -> list[str]:
    """The box's own recipients ([]: none set, the mailbox's address is used)."""
    return all_box_addresses(config).get(box, [])


def all_box_addresses(config: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for doc in config.table(TABLE).all():
        box, emails = doc.get("box"), doc.get("emails")
        if isinstance(box, str) and isinstance(emails, list) and all(isinstance(e, str) for e in emails):
            out[box] = list(emails)
    return out


def save_box_addresses(config: Any, box: str, addresses: str | list[str]) -> list[str]:
    """Set the box's recipients (empty: back to the mailbox's address). ConfigError if anything is wrong;
    then nothing is saved."""
    from tinydb import Query
    box = _check_box(config, box)
    emails = parse_addresses(addresses)
    table = config.table(TABLE)
    if emails:
        table.upsert({"box": box, "emails": emails}, Query().box == box)
    else:
        table.remove(Query().box == box)
    return emails
