"""Transcript lines of a fax session: what the T.30 terminal did (frames and phases, dsp_ext.fax.FaxEvent)
put in words, each at its time on the attempt's clock (seconds since the line was seized).

The call's own steps (seized, dialled, ringback, the answer tone, busy, the end) are noted by the
sender as they happen; the T.30 steps come from the terminal's event log when the session ends and
are merged in time order: call placed, answer (CED), DIS, training (DCS, TCF, CFR/FTT), each page
(MPS/EOP or PPS, then MCF/RTN), disconnect (DCN).

A received fax has the same kind of transcript, told from the answering side (`receiving=True`):
the frames the calling machine sends (TSI, DCS, MPS/EOP, DCN) are "received", our answers (CSI,
DIS, CFR/FTT, MCF/RTN) are "sent", and each page is "received".
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["describe", "stamp", "merge"]

# What each T.30 frame means for a person reading the transcript (the frame's name first, as a
# fax engineer knows it). Frames not listed are shown by name only.
_IN = {
    "CSI": "the receiving machine's station id",
    "NSF": "the receiving machine's maker's options",
    "DIS": "the receiving machine's capabilities (phase B)",
    "CFR": "training accepted: the page data follows (phase C)",
    "FTT": "training failed: the speed is lowered",
    "MCF": "the receiver confirmed the page",
    "RTN": "the receiver rejected the page (poor quality): retraining",
    "RTP": "the receiver took the page but asks to retrain",
    "PPR": "the receiver missed frames of the block: they are sent again",
    "RNR": "the receiver is not ready yet",
    "DCN": "the receiving machine hung up",
    "CRP": "the receiver asks for the last command again",
}
_OUT = {
    "TSI": "our station id sent",
    "DCS": "our settings chosen; training check (TCF) sent",
    "MPS": "end of the page, more pages follow",
    "EOP": "end of the last page",
    "EOM": "end of the page, back to phase B",
    "PPS": "end of an error-corrected block",
    "EOR": "block given up (too many resends)",
    "CTC": "continue, more slowly",
    "DCN": "disconnect (phase E)",
    "CRP": "we ask for the last answer again",
}


# The same frames seen from the answering (receiving) side.
_RX_IN = {
    "TSI": "the sending machine's station id",
    "NSS": "the sending machine's maker's options",
    "DCS": "the sender's chosen settings; its training check (TCF) follows",
    "MPS": "end of the page, more pages follow",
    "EOP": "end of the last page",
    "EOM": "end of the page, back to phase B",
    "PPS": "end of an error-corrected block",
    "EOR": "the sender gave the block up (too many resends)",
    "CTC": "the sender continues, more slowly",
    "DCN": "the sending machine hung up (phase E)",
    "CRP": "the sender asks for our last answer again",
}
_RX_OUT = {
    "CSI": "our station id sent",
    "NSF": "our maker's options sent",
    "DIS": "our capabilities sent (phase B)",
    "CFR": "training accepted: the page data may follow (phase C)",
    "FTT": "training failed: the sender must slow down",
    "MCF": "page confirmed",
    "RTN": "page rejected (poor quality): retraining asked",
    "RTP": "page taken, retraining asked",
    "PPR": "frames of the block missed: asked again",
    "RNR": "not ready yet",
    "DCN": "we hung up (phase E)",
    "CRP": "we ask for the last command again",
}


def describe(event: Any, pages: int, receiving: bool = False) -> str | None:
    """One event in words, or None for those the transcript leaves out. `pages`: the pages to send
    (sending side); `receiving`: the transcript of the answering side (pages counted as they come)."""
    if event.kind == "frame_in":
        return f"{event.name} received: {(_RX_IN if receiving else _IN).get(event.name, 'a T.30 frame')}"
    if event.kind == "frame_out":
        return f"{event.name} sent: {(_RX_OUT if receiving else _OUT).get(event.name, 'a T.30 frame')}"
    if event.kind == "phase_d":
        return f"page {event.code} received" if receiving else f"page {event.code} of {pages} through"
    return None                    # phase B and E: the frames (DIS, DCN) and the result say it


def stamp(seconds: float, text: str) -> str:
    return f"{seconds:6.1f} s  {text}"


def merge(notes: Iterable[tuple[float, str]], events: Iterable[Any], offset: float, pages: int,
          receiving: bool = False) -> list[str]:
    """The transcript: the call's notes and the terminal's events (their clock starts `offset`
    seconds into the attempt) in time order (a note and an event at the same time keep that order)."""
    rows = [(t, 0, i, text) for i, (t, text) in enumerate(notes)]
    for i, e in enumerate(events):
        text = describe(e, pages, receiving)
        if text is not None:
            rows.append((offset + e.at, 1, i, text))
    rows.sort(key=lambda r: (round(r[0], 2), r[1], r[2]))
    return [stamp(t, text) for t, _, _, text in rows]
