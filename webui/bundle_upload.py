"""An update bundle's upload, streamed from the request body straight into the spool folder.

A bundle is about 2 GB. Read through `request.form()`, Starlette first keeps the file part in a
temporary file and the route then copies it into the spool: twice the room on the data partition
and twice the writing. Here the multipart body is parsed as it arrives (python-multipart's
streaming parser, the one Starlette uses) and the file part is written once, into its spool file.

In order, before a byte of the bundle is kept:
* the CSRF token: the `X-CSRF-Token` header, or else the form's `csrf_token` field, which must
  come **before** the file part (the Update page's form has it first, so it works without
  JavaScript: browsers send the fields in the form's order);
* the room: Content-Length against the data partition's free space minus a margin
  (`firmware.update.room`), a clear "no room: needs X, has Y" instead of ENOSPC half-way;
then, while writing, the size cap and the same room budget (a body without a length), and ENOSPC
all the same. Any refusal (bad token, missing or second file part, fields in the wrong order, cut
off, too big, no room, not a form) removes the spool file: nothing is left and nothing is staged.
The rest of a refused body is read and dropped so that the browser gets the page that says why
(a server that answers and closes while the browser still sends shows as a reset connection).
"""
from __future__ import annotations

import contextlib
import errno
import logging
import secrets
import shutil
from pathlib import Path
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from firmware.update.room import NoRoom, no_room_message, room_for

from .engine_calls import SPOOL_DIR
from .guards import CSRF_FIELD, CSRF_HEADER, check_csrf_token, web

FILE_FIELD = "file"
FIELDS_MAX = 16 * 1024          # all the small fields together (the token is 43 characters)
WRITE_AT = 1024 * 1024          # bytes gathered before one write on the thread pool
log = logging.getLogger("linebox.webui")


class UploadRefused(Exception):
    """The bundle was not taken; `message` says why and what to do. Nothing was kept."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Parts:
    """python-multipart's callbacks, turned into a list of events the route works through."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end,
                "on_header_field": self._hfield, "on_header_value": self._hvalue,
                "on_header_end": self._hend, "on_headers_finished": self._hdone, "on_end": self._done}

    def _begin(self) -> None:
        self.headers = {}

    def _hfield(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def _hvalue(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _hend(self) -> None:
        if len(self.headers) < 8:
            self.headers[self.header_field.lower()] = self.header_value
        self.header_field = self.header_value = b""

    def _hdone(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        filename = options.get(b"filename")
        self.events.append(("part", (name, None if filename is None else filename.decode("latin-1"))))

    def _data(self, data: bytes, start: int, end: int) -> None:
        self.events.append(("data", data[start:end]))

    def _end(self) -> None:
        self.events.append(("end", None))

    def _done(self) -> None:
        self.events.append(("done", None))


class _BundleFile:
    """The spool file the bundle goes into; removed unless `keep` is called."""

    def __init__(self, spool: Path, budget: int, max_bytes: int, declared: int | None) -> None:
        self.name = secrets.token_hex(16) + ".upload"
        self.path = spool / self.name
        self.budget, self.max_bytes, self.declared = budget, max_bytes, declared
        self.size = 0
        self.pending = bytearray()
        self.file: Any = None

    async def open(self) -> None:
        self.file = await run_in_threadpool(open, self.path, "xb")

    async def add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise UploadRefused(413, f"The file is larger than any Linebox update ({self.max_bytes // (1 << 20)} MiB "
                                     "at most); check that you chose the update bundle. Nothing was changed.")
        if self.size > self.budget:
            raise UploadRefused(507, no_room_message(self.declared, self.size + _free(self.path.parent)))
        self.pending += data
        if len(self.pending) >= WRITE_AT:
            await self.flush()

    async def flush(self) -> None:
        data, self.pending = bytes(self.pending), bytearray()
        try:
            await run_in_threadpool(self.file.write, data)
        except OSError as exc:
            raise _write_refusal(exc, self.declared, self.path.parent) from exc

    async def close(self) -> None:
        await self.flush()
        try:
            await run_in_threadpool(self.file.close)
        except OSError as exc:
            raise _write_refusal(exc, self.declared, self.path.parent) from exc

    def discard(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
        self.path.unlink(missing_ok=True)


def _free(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _write_refusal(exc: OSError, declared: int | None, folder: Path) -> UploadRefused:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UploadRefused(507, no_room_message(declared, _free(folder)))
    log.error("an update bundle could not be stored: %s", exc)
    return UploadRefused(500, f"The bundle could not be stored on the box ({exc.strerror or exc}); nothing was "
                              "changed.")


async def spool_bundle(request: Request, max_bytes: int) -> str:
    """Take the multipart body's `file` part into a new spool file and return its name (for
    `update.stage`). UploadRefused, CsrfRejected or LoginRequired otherwise, with nothing kept."""
    finished = False
    try:
        name, finished = await _take(request, max_bytes)
        return name
    finally:
        if not finished:
            await _drain(request)


async def _take(request: Request, max_bytes: int) -> tuple[str, bool]:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefused(400, "Send the bundle as a file in a form upload (multipart/form-data), as the Update "
                                 "page does.")
    header_token = request.headers.get(CSRF_HEADER)
    if header_token is not None:
        check_csrf_token(request, header_token)
    declared_text = request.headers.get("content-length")
    declared = int(declared_text) if declared_text and declared_text.isdigit() else None
    spool = Path(web(request).data_dir) / SPOOL_DIR
    await run_in_threadpool(spool.mkdir, 0o770, False, True)
    try:
        budget = await run_in_threadpool(room_for, spool, declared)
    except NoRoom as exc:
        raise UploadRefused(507, str(exc)) from None

    parts = _Parts()
    parser = MultipartParser(boundary, parts.callbacks())
    fields: dict[str, bytearray] = {}
    field_bytes = 0
    current: str | None = None          # the field being read, or FILE_FIELD for the bundle
    bundle: _BundleFile | None = None
    done = received = False
    kept = False
    try:
        try:
            async for chunk in request.stream():
                received = received or bool(chunk)
                try:
                    parser.write(chunk)
                except MultipartParseError as exc:
                    raise UploadRefused(400, f"The upload is not a well-formed form ({exc}); upload the bundle "
                                             "again from the Update page.") from None
                events, parts.events = parts.events, []
                for event, value in events:
                    if event == "part":
                        field, filename = value
                        if filename is None:
                            current = field
                            fields.setdefault(field, bytearray())
                            continue
                        if field != FILE_FIELD or bundle is not None:
                            raise UploadRefused(400, "The form carries another file besides the one bundle; upload "
                                                     "only the bundle, from the Update page.")
                        if header_token is None:
                            token = fields.get(CSRF_FIELD)
                            if token is None:
                                raise UploadRefused(400, "The form's csrf_token field must come before the file (the "
                                                         "Update page sends it so); reload the page and upload again. "
                                                         "Nothing was changed.")
                            check_csrf_token(request, token.decode("latin-1"))
                        bundle = _BundleFile(spool, budget, max_bytes, declared)
                        await bundle.open()
                        current = FILE_FIELD
                    elif event == "data":
                        if current == FILE_FIELD and bundle is not None:
                            await bundle.add(value)
                        elif current is not None:
                            field_bytes += len(value)
                            if field_bytes > FIELDS_MAX:
                                raise UploadRefused(400, "The form's fields are far larger than the Update page "
                                                         "sends; nothing was changed.")
                            fields[current] += value
                    elif event == "end":
                        current = None
                    elif event == "done":
                        done = True
        except ClientDisconnect:
            log.info("an update bundle's upload stopped: the browser went away after %s bytes",
                     bundle.size if bundle else 0)
            raise UploadRefused(400, "The upload was cut off (the connection closed); nothing was changed. "
                                     "Upload the bundle again.") from None
        if not done:
            got = f" ({bundle.size} bytes of the file had arrived)" if bundle is not None else ""
            if not received:
                raise UploadRefused(400, "Choose a Linebox update bundle to upload.")
            raise UploadRefused(400, f"The upload was cut off before its end{got}; nothing was changed. Upload the "
                                     "bundle again.")
        if bundle is None or bundle.size == 0:
            raise UploadRefused(400, "Choose a Linebox update bundle to upload.")
        await bundle.close()
        kept = True
        return bundle.name, True
    finally:
        if bundle is not None and not kept:
            await run_in_threadpool(bundle.discard)


async def _drain(request: Request) -> None:
    """Read the rest of a refused body (bounded by the web's size cap and its slow-body guard) so
    that the browser, still sending, gets the answer."""
    with contextlib.suppress(Exception):
        async for _chunk in request.stream():
            pass
