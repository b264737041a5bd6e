"""Receiving a fax on a line: the `fax:<box>` route (and, later, a call switched to fax on CNG).

The app answers (the line is already seized by the route), puts the channel in data
mode (no echo canceller, NLP or comfort noise: `Channel.data_mode`), and hands the
audio to a `FaxLink`; the T.30 terminal runs on the fax thread and writes the TIFF
under `<data>/fax/<box>/`. When the session ends the fax thread records it in the
fax store (remote id, pages, rate, ECM, duration, result in words); back on the media
thread the app releases the line.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dsp_ext.fax import FaxReport, FaxTerminal

from ..apps import AppSession
from ..mailer import Attachment, Mail, Mailer, header_text
from .pdf import tiff_to_pdf
from .reasons import failure_kind, plain_reason
from .store import make_durable
from .transcript import merge

if TYPE_CHECKING:
    from .service import FaxService

log = logging.getLogger("linebox.fax")

__all__ = ["FaxReceive"]


def mail_fax(mailer: Mailer, to: str, box: str, caller: str, report: FaxReport, pdf) -> None:
    """Queue the fax-to-e-mail message (the mailer's thread talks to the server). Caller ID and the
    remote station id are untrusted: `header_text` cleans them for the subject."""
    sender = header_text(report.remote_ident, 40) or header_text(caller, 40) or "unknown sender"
    subject = f"Fax for {box} from {sender} ({report.pages_rx} page{'s' if report.pages_rx != 1 else ''})"
    body = (f"A fax arrived for fax box {box}.\n"
            f"From: {header_text(caller, 60) or 'unknown number'}; remote station: "
            f"{header_text(report.remote_ident, 40) or 'not given'}\n"
            f"Pages: {report.pages_rx}; rate {report.bit_rate} bit/s; error correction: "
            f"{'yes' if report.ecm else 'no'}\n"
            f"Result: {plain_reason(report.result)}\nThe fax is attached as PDF.\n")
    mailer.send(Mail(to=to, subject=subject, body=body,
                     attachments=[Attachment(f"fax-{box}-{pdf.stem}.pdf", "application/pdf", pdf)]))


def receive_transcript(line: str, box: str, caller: str, report: FaxReport, events: list[Any],
                       seconds: float) -> list[str]:
    """A received fax's timed transcript: the answer, the T.30 dialogue from the terminal's event log
    (seconds since the line was handed to the fax terminal) and the outcome. The caller's number is
    untrusted: printable characters only, cut short."""
    who = "".join(c for c in caller if c.isprintable())[:32] or "an unknown number"
    notes = [(0.0, f"line {line} answered for fax box {box}, call from {who}; answer tone (CED) sent")]
    end = max([seconds] + [e.at for e in events])
    if report.pages_rx:
        notes.append((end, f"in all: {report.pages_rx} page(s) received at {report.bit_rate} bit/s, "
                           f"error correction {'on' if report.ecm else 'off'}"
                           + (f", {report.bad_rows_total} bad row(s)" if report.bad_rows_total else "")))
    notes.append((end, f"phase E: T.30 result {report.result} ({report.result_text})"))
    notes.append((end, f"result: {plain_reason(report.result)}"))
    return merge(notes, events, 0.0, report.pages_rx, receiving=True)


class FaxReceive(AppSession):
    name = "fax"

    def start(self) -> None:
        from .service import service_of
        svc: FaxService | None = service_of(self.engine)
        if svc is None:
            log.warning("fax: no fax service (no data directory); releasing %s", self.ch.name)
            self.leave()
            return
        self.svc = svc
        box = self.arg
        ch = self.ch
        ch.data_mode = True
        ch.listen_dtmf = False
        ch.detect_fax = False
        started = self.engine.clock.now()
        path = svc.store.tiff_path(box, started, f"in-{self.call.id}")
        caller = self.call.src or ""
        line = ch.name
        self.tiff = path
        recipients = svc.box_recipients(box)      # media thread: in-memory copies of the config
        made: list[FaxTerminal] = []
        cutoff = svc.v21_cutoffs.get(line)         # an installer's setting for this line, else the default

        def make_terminal() -> FaxTerminal:                 # fax thread
            path.parent.mkdir(parents=True, exist_ok=True)
            made.append(FaxTerminal(calling=False, ident=svc.ident, ecm=True, modem="v17", receive=path,
                                    v21_cutoff_dbm0=cutoff))
            return made[0]

        def done(report: FaxReport) -> dict[str, Any]:        # fax thread
            seconds = self.link.frames / 100.0
            transcript = receive_transcript(line, box, caller, report, made[0].events() if made else [], seconds)
            pdf = path.with_suffix(".pdf")
            if report.pages_rx > 0 and path.exists():
                try:
                    tiff_to_pdf(path, pdf)
                except (OSError, ValueError):
                    log.exception("fax: no PDF made of %s", path)
            # The files first, durable (file and folder fsynced), then the row that names them: a
            # power cut leaves at worst files without a row, never a row without its files.
            try:
                make_durable(path, pdf)
            except OSError:                   # a failing card: keep the fax listed rather than lose it
                log.exception("fax: could not sync %s to the storage card", path)
            mailed = ""
            if recipients and pdf.exists():
                for to in recipients:
                    mail_fax(svc.mailer, to, box, caller, report, pdf)
                mailed = ", ".join(recipients)
            fid = svc.store.add(
                box=box, direction="in", line=line, caller_number=caller, remote_ident=report.remote_ident,
                pages=report.pages_rx, rate=report.bit_rate, ecm=report.ecm, bad_rows=report.bad_rows_total,
                seconds=seconds, result_code=report.result, result=report.result_text,
                reason=plain_reason(report.result), kind=failure_kind(report.result),
                tiff=str(path) if path.exists() else "", at=started,
                pdf=str(pdf) if pdf.exists() else "", mailed_to=mailed, transcript=transcript)
            return {"id": fid, "box": box, "pages": report.pages_rx, "result": report.result_text}

        self.link = svc.open_link(ch, make_terminal, done, self._finished)
        ch.source = self.link

    def _finished(self, summary: dict[str, Any] | None) -> None:     # media thread
        if summary is not None:
            from ..control import StatusUpdate
            self.engine.control.publish(StatusUpdate("fax", payload={"event": "received", **summary}))
        if not self.finished:
            self.leave()

    def on_hangup(self, ch) -> None:
        self._stop_link()
        super().on_hangup(ch)

    def leave(self) -> None:
        self._stop_link()
        super().leave()

    def finish(self) -> None:
        self._stop_link()
        self.ch.data_mode = False
        super().finish()

    def _stop_link(self) -> None:
        link = getattr(self, "link", None)
        if link is not None and not link.closed:
            link.close()
