"""What a T.30 completion code means, in plain words for a person, and which kind of failure it is.

The kinds drive the send queue's retry policy and the reports:
"ok", "not_a_fax" (no fax answered / no fax called), "training_failed" (the modems
could not agree on a speed: retry slower, without ECM), "call_dropped" (the line
went away mid-fax), "refused" (the far end cannot take this document),
"document" (our file is at fault), "protocol" (the machines misunderstood each other).
"""
from __future__ import annotations

from dsp_ext.fax import t30_codes

__all__ = ["failure_kind", "plain_reason", "KINDS"]

_KIND_BY_NAME = {
    "OK": "ok",
    "CEDTONE": "not_a_fax", "T0_EXPIRED": "not_a_fax", "T1_EXPIRED": "not_a_fax", "RETRYDCN": "not_a_fax",
    "TX_NODIS": "not_a_fax",
    "CANNOT_TRAIN": "training_failed", "TX_BADDCS": "training_failed", "TX_PHBDEAD": "training_failed",
    "INCOMPATIBLE": "refused", "RX_INCAPABLE": "refused", "TX_INCAPABLE": "refused",
    "NORESSUPPORT": "refused", "NOSIZESUPPORT": "refused",
    "CALLDROPPED": "call_dropped", "RX_NOCARRIER": "call_dropped", "RX_DCNDATA": "call_dropped",
    "RX_DCNFAX": "call_dropped",
    "FILEERROR": "document", "NOPAGE": "document", "BADTIFF": "document", "BADPAGE": "document",
    "BADTAG": "document", "BADTIFFHDR": "document", "NOMEM": "document",
}

KINDS: dict[str, str] = {
    "ok": "The fax went through.",
    "not_a_fax": "No fax machine answered (or called): the other end never spoke fax. Check the number.",
    "training_failed": "The two fax modems could not agree on a speed (a noisy or poor line). "
                       "It will be tried again more slowly.",
    "call_dropped": "The call was cut off in the middle of the fax. It will be tried again.",
    "refused": "The other fax machine cannot take this document (size, resolution, or it cannot receive).",
    "document": "The document could not be read to send it; upload it again.",
    "protocol": "The two fax machines misunderstood each other and gave up. It will be tried again.",
}


def failure_kind(code: int) -> str:
    codes = t30_codes()
    for name, kind in _KIND_BY_NAME.items():
        if codes.get(name) == int(code):
            return kind
    return "protocol"


def plain_reason(code: int) -> str:
    return KINDS[failure_kind(code)]
