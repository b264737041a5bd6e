"""The fax outbox of one engine: drafts (an upload being rendered, then previewed), the job queue
(owned by the store thread), the sender on the media thread, and the sender's e-mail.

    fax.prepare ─► draft folder + render thread (render.py, a limited child process) ─► ready | failed
    fax.send    ─► the number through the gate ─► a queued job (outbox.py) ─► FaxSender (send.py)
    attempt results ─► store thread: retry later, or sent / failed (+ e-mail to the sender)

Threads: `prepare`, `submit`, `cancel`, `retry` and the attempt results run on the store thread
(the outbox's one writer); rendering on the render thread (never the store or media thread); the
media thread only gets `PendingJob`s and hands back `AttemptResult`s.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import queue
import re
import secrets
import shutil
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ..mailer import Mail, header_text
from ..sqlite_files import shared_store
from .outbox import KIND_WORDS, AttemptResult, Job, OutboxStore
from .render import RenderError, RenderLimits, render_document
from .send import FaxSender, PendingJob

__all__ = ["FaxOutbox", "OutboxError", "DRAFT_RE", "MAX_UPLOAD_BYTES", "outbox_for", "check_number"]

log = logging.getLogger("linebox.fax")

DRAFT_RE = re.compile(r"[0-9a-f]{32}")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DRAFT_MAX_AGE_S = 24 * 3600
HOUSEKEEPING_MS = 3600 * 1000          # retention runs hourly (and at start), on the store thread
NUMBER_RE = re.compile(r"[0-9]{1,32}")


_BY_ROOT: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def outbox_for(fax_root: Path) -> FaxOutbox | None:
    """The outbox of the engine whose fax folder is `fax_root` (for the store thread's commands)."""
    return _BY_ROOT.get(Path(fax_root).resolve())


class SerialWorker:
    """Runs submitted functions one at a time, in order, on a thread that ends when idle (the outbox's
    writer where the engine has no store thread: the test harness). No idle thread is left behind."""

    IDLE_S = 2.0

    def __init__(self, name: str) -> None:
        self.name = name
        self._q: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[[], Any]) -> Future:
        fut: Future = Future()
        self._q.put((fn, fut))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        return fut

    def _run(self) -> None:
        while True:
            try:
                fn, fut = self._q.get(timeout=self.IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._q.empty():
                        self._thread = None
                        return
                continue
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)


def _after_restore(layout: Any, done: dict) -> None:
    """A backup was restored (store thread): the outbox in memory follows the restored database."""
    out = outbox_for(Path(layout.root) / "fax")
    if out is not None and "fax/outbox.db" in done.get("databases", []):
        out.resync()


def _register_restore_hook() -> None:
    from ..backup import after_restore
    after_restore(_after_restore)


_register_restore_hook()


class OutboxError(Exception):
    """A refusal for the person sending (code as in the engine API: bad_request, not_found, forbidden...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def check_number(number: str) -> str:
    clean = "".join(c for c in str(number) if c not in " -./()")
    if not NUMBER_RE.fullmatch(clean):
        raise OutboxError("bad_request", f"fax number {str(number)[:40]!r}: give the number to dial, digits only "
                                         "(as you would dial it from a phone here, with the outside-line code if any)")
    return clean


class FaxOutbox:
    def __init__(self, engine: Any, svc: Any, root: Path, limits: RenderLimits | None = None) -> None:
        self.engine, self.svc = engine, svc
        self.root = Path(root)
        self.store: OutboxStore = shared_store(self.root / "outbox.db", OutboxStore)
        self.drafts = self.root / "drafts"
        self.limits = limits or RenderLimits()
        self._render = SerialWorker("fax-render")       # one render at a time, off the store thread
        self._fallback: SerialWorker | None = None
        self.sender = FaxSender(engine, svc, self.on_store)
        self.sender.on_started = self._started
        self.sender.on_result = self._result
        _BY_ROOT[self.root.resolve()] = self
        # The queue is recovered on the store thread once the engine runs (the engine API, and so
        # the store thread, is made after the engine registers its apps).
        self.sender.on_running = lambda: self.on_store(self._recover)
        self._housekeeping_timer = engine.timers.after_ms(HOUSEKEEPING_MS, self._housekeeping_due)

    def _housekeeping_due(self) -> None:                  # media thread: only posts the work
        self._housekeeping_timer = self.engine.timers.after_ms(HOUSEKEEPING_MS, self._housekeeping_due)
        self.on_store(self.housekeep)

    def housekeep(self, wall_now: float | None = None, engine_now: float | None = None) -> dict[str, list]:
        """The owner's retention (settings.py), on the store thread, never the media tick: finished send
        jobs older than `job_days` and received faxes older than `inbox_days` are deleted with their
        files; stale drafts and job folders without a row are swept. Returns what was deleted."""
        s = self.svc.settings
        wall = time.time() if wall_now is None else wall_now
        clock = self.engine.clock.now() if engine_now is None else engine_now
        done: dict[str, list] = {"jobs": [], "faxes": [], "orphans": []}
        try:
            if s.job_days > 0:
                done["jobs"] = self.store.expire(wall - s.job_days * 86400)
            if s.inbox_days > 0:
                done["faxes"] = self.svc.store.expire(clock - s.inbox_days * 86400)
            done["orphans"] = self.store.sweep_orphans()
            self._sweep_drafts()
        except Exception:
            log.exception("fax: housekeeping failed")
        if done["jobs"] or done["faxes"]:
            log.info("fax retention: deleted send jobs %s, received faxes %s", done["jobs"], done["faxes"])
            from ..control import StatusUpdate
            self.engine.control.publish(StatusUpdate("fax", payload={"event": "expired", **done}))
        return done

    # ---- threads
    def on_store(self, fn: Callable[[], Any]) -> Future:
        """Run `fn()` on the engine's store thread (or, without an engine API, on our own one thread)."""
        writer = self.engine.control.store_writer
        if writer is not None:
            try:
                return writer(fn)
            except RuntimeError:                 # the API stopped (shutting down)
                pass
        if self._fallback is None:
            self._fallback = SerialWorker("fax-outbox")
        return self._fallback.submit(fn)

    def _to_media(self, fn: Callable[[Any], Any]) -> None:
        self.engine.control.call(fn)

    def _offer(self, job: Job) -> None:
        pending = PendingJob(job.id, job.number, job.box, job.document, job.pages, job.ecm, job.modem, job.next_at)
        self._to_media(lambda _eng: self.sender.offer(pending))

    # ---- store thread
    def resync(self) -> None:
        """The database was replaced (a restore): the sender forgets its waiting jobs and is offered
        the restored queue."""
        pending = self.store.pending()
        self._to_media(lambda _eng: self.sender.jobs.clear())
        for job in pending:
            self._offer(job)

    def _recover(self) -> None:
        try:
            jobs = self.store.recover(self.engine.clock.now())
        except Exception:
            log.exception("fax outbox: could not recover the queue")
            return
        for job in jobs:
            self._offer(job)
        self.housekeep()

    def _sweep_drafts(self) -> None:
        if not self.drafts.is_dir():
            return
        now = time.time()
        for d in self.drafts.iterdir():
            try:
                if now - d.stat().st_mtime > DRAFT_MAX_AGE_S:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                continue

    def prepare(self, source: bytes, *, owner: str, box: str, to: str, lpi: int = 196, cover: bool = False,
                subject: str = "", note: str = "", sender_name: str = "") -> str:
        """Keep an uploaded document as a draft and start rendering it; returns the draft's id."""
        if not source:
            raise OutboxError("bad_request", "The file is empty. Choose the document again.")
        if len(source) > MAX_UPLOAD_BYTES:
            raise OutboxError("too_large", f"The document is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                                           "send a smaller file (print it to PDF, or scan at a lower resolution).")
        if lpi not in (98, 196):
            raise OutboxError("bad_request", "resolution: 98 (standard) or 196 (fine) lines per inch")
        number = check_number(to)
        self._sweep_drafts()
        token = secrets.token_hex(16)
        folder = self.drafts / token
        folder.mkdir(parents=True)
        (folder / "source").write_bytes(source)
        meta = {"state": "rendering", "owner": owner, "box": box, "to": number, "lpi": lpi, "cover": bool(cover),
                "subject": subject[:120], "note": note[:2000], "sender_name": sender_name[:60],
                "created": time.time()}
        _write_json(folder / "draft.json", meta)
        self._render.submit(lambda: self._render_draft(folder, meta))
        return token

    def _render_draft(self, folder: Path, meta: dict) -> None:        # render thread
        try:
            pages = self._render_pages(folder, meta)
        except RenderError as exc:
            meta.update(state="failed", error=str(exc))
        except Exception:
            log.exception("fax: rendering draft %s failed", folder.name)
            meta.update(state="failed", error="The document could not be drawn (a fault in Linebox; "
                                              "the details are in its log). Try again, or send it as PDF.")
        else:
            meta.update(state="ready", pages=pages)
        (folder / "source").unlink(missing_ok=True)
        _write_json(folder / "draft.json", meta)

    def _render_pages(self, folder: Path, meta: dict) -> int:
        from dsp_ext.fax import read_tiff_page, tiff_pages, write_tiff

        from .cover import CoverPage, write_cover_pdf
        lpi = int(meta["lpi"])
        doc = render_document(folder / "source", folder / "doc", lpi, self.limits)
        thumbs = list(doc.thumbnails)
        if meta["cover"]:
            if doc.pages + 1 > self.limits.max_pages:
                raise RenderError(f"With the cover page this fax would have {doc.pages + 1} pages; a fax can take "
                                  f"at most {self.limits.max_pages}. Send it without the cover page, or split it.")
            sender = meta["sender_name"] or f"extension {meta['box']}"
            cover_pdf = write_cover_pdf(CoverPage(
                sender=sender, to=meta["to"], date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                pages=doc.pages + 1, subject=meta["subject"], note=meta["note"],
                sender_number=self.svc.ident), folder / "cover.pdf")
            cov = render_document(cover_pdf, folder / "cover", lpi, self.limits)
            pages = [read_tiff_page(cov.tiff, 0).pixels] + \
                [read_tiff_page(doc.tiff, i).pixels for i in range(tiff_pages(doc.tiff))]
            write_tiff(folder / "document.tif", pages, lpi)
            thumbs = cov.thumbnails + thumbs
        else:
            os.replace(doc.tiff, folder / "document.tif")
        for i, t in enumerate(thumbs, start=1):
            os.replace(t, folder / f"page-{i:03d}.png")
        shutil.rmtree(folder / "doc", ignore_errors=True)
        shutil.rmtree(folder / "cover", ignore_errors=True)
        (folder / "cover.pdf").unlink(missing_ok=True)
        return len(thumbs)

    def draft(self, token: str, owner: str | None = None) -> dict[str, Any]:
        folder = self._draft_folder(token)
        meta = _read_json(folder / "draft.json")
        if meta is None or (owner is not None and meta.get("owner") != owner):
            raise OutboxError("not_found", "No such fax draft (it was sent, discarded or is over a day old); "
                                           "upload the document again.")
        return {"draft": token, "state": meta["state"], "pages": meta.get("pages", 0), "error": meta.get("error", ""),
                "to": meta["to"], "lpi": meta["lpi"], "cover": meta["cover"], "subject": meta["subject"],
                "owner": meta["owner"], "box": meta["box"]}

    def discard(self, token: str, owner: str | None = None) -> None:
        self.draft(token, owner)
        shutil.rmtree(self._draft_folder(token), ignore_errors=True)

    def _draft_folder(self, token: str) -> Path:
        if not isinstance(token, str) or not DRAFT_RE.fullmatch(token):
            raise OutboxError("bad_request", "That is not a fax draft id; upload the document again.")
        return self.drafts / token

    def submit(self, token: str, *, owner: str | None = None, notify: str = "", notify_ok: bool = False,
               authorise: Callable[[str, str], Any] | None = None) -> Job:
        """Queue a rendered draft. `authorise(box, number)` asks the outbound gate (media thread)."""
        d = self.draft(token, owner)
        if d["state"] == "rendering":
            raise OutboxError("conflict", "The document is still being prepared; wait for the preview, then send.")
        if d["state"] != "ready":
            raise OutboxError("bad_request", f"This document cannot be faxed: {d['error']}")
        if authorise is not None:
            decision = authorise(d["box"], d["to"])
            if not decision.allowed:
                raise OutboxError("forbidden", f"{d['to']} may not be called from extension {d['box']}: "
                                               f"{decision.reason}. Ask the owner to allow it, or check the number.")
        folder = self._draft_folder(token)
        (folder / "draft.json").unlink(missing_ok=True)
        job = self.store.add(owner=d["owner"], box=d["box"], number=d["to"], pages=d["pages"], lpi=d["lpi"],
                             draft=folder, subject=d["subject"], cover=d["cover"], notify=notify, notify_ok=notify_ok,
                             max_attempts=self.svc.settings.max_attempts)
        self._offer(job)
        self._publish(job, "queued")
        return job

    def get(self, job_id: int, owner: str | None = None) -> Job:
        job = self.store.get(job_id) if 0 < int(job_id) < 2**62 else None
        if job is None or (owner is not None and job.owner != owner):
            raise OutboxError("not_found", f"No fax job {job_id} in your outbox.")
        return job

    def cancel(self, job_id: int, owner: str | None = None) -> Job:
        job = self.get(job_id, owner)
        if job.state not in ("queued", "sending"):
            raise OutboxError("conflict", f"Fax job {job_id} is already {job.state}; only a queued or sending fax "
                                          "can be cancelled.")
        self.store.set_state(job.id, "cancelled", last_kind="cancelled", last_reason=KIND_WORDS["cancelled"])
        self._to_media(lambda _eng: self.sender.withdraw(job.id))
        job = self.get(job_id)
        self._publish(job, "cancelled")
        return job

    def retry(self, job_id: int, owner: str | None = None) -> Job:
        job = self.get(job_id, owner)
        if job.state not in ("failed", "cancelled"):
            raise OutboxError("conflict", f"Fax job {job_id} is {job.state}; only a failed or cancelled fax can be "
                                          "sent again.")
        if not job.document.exists():
            raise OutboxError("not_found", f"The document of fax job {job_id} is gone; upload it again.")
        self.store.set_state(job.id, "queued", next_at=0.0, max_attempts=job.attempts + self.svc.settings.max_attempts)
        job = self.get(job_id)
        self._offer(job)
        self._publish(job, "queued")
        return job

    def page_png(self, job_id: int | None, token: str | None, page: int, owner: str | None = None) -> str:
        """A page thumbnail, base64 PNG."""
        if job_id is not None:
            folder = Path(self.get(job_id, owner).folder)
        else:
            self.draft(str(token), owner)
            folder = self._draft_folder(str(token))
        path = folder / f"page-{int(page):03d}.png"
        if not 1 <= page <= 999 or not path.is_file():
            raise OutboxError("not_found", f"No page {page} to preview.")
        return base64.b64encode(path.read_bytes()).decode("ascii")

    def _started(self, job_id: int, line: str, at: float, ecm: bool, modem: str) -> None:     # store thread
        self.store.start_attempt(job_id, line, at, ecm, modem)
        job = self.store.get(job_id)
        if job is not None:
            self._publish(job, "sending")

    def _result(self, job_id: int, result: AttemptResult) -> None:                          # store thread
        job = self.store.finish_attempt(job_id, result, self.svc.settings.retry_seconds())
        if job is None:
            return
        if job.state == "queued":
            self._offer(job)
            self._publish(job, "retry")
        elif job.state == "sent":
            self._publish(job, "sent")
            if job.notify_ok:
                self._mail(job, result)
        elif job.state == "failed":
            self._publish(job, "failed")
            self._mail(job, result)

    def _mail(self, job: Job, result: AttemptResult) -> None:
        if not job.notify:
            return
        sent = job.state == "sent"
        subject = f"Fax to {job.number} {'sent' if sent else 'NOT sent'}"
        if job.subject:
            subject += f": {header_text(job.subject, 80)}"
        lines = [f"Your fax to {job.number} ({job.pages} page{'s' if job.pages != 1 else ''}) "
                 f"{'was sent.' if sent else 'could not be sent.'}", "",
                 f"Reason: {result.reason}" if not sent else "Result: the receiving fax machine confirmed every page.",
                 f"Attempts: {job.attempts}", ""]
        if not sent:
            lines += ["What to do: check the number and send it again from the fax outbox (Retry).", ""]
        lines += ["Last attempt:"] + [f"  {t}" for t in result.transcript]
        try:
            self.svc.mailer.send(Mail(to=job.notify, subject=subject, body="\n".join(lines) + "\n"))
        except Exception:
            log.exception("fax: the e-mail about job %s could not be queued", job.id)

    def _publish(self, job: Job, event: str) -> None:
        from ..control import StatusUpdate
        self.engine.control.publish(StatusUpdate("fax", payload={
            "event": event, "job": job.id, "owner": job.owner, "number": job.number, "state": job.state,
            "attempts": job.attempts, "reason": job.last_reason}))


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
