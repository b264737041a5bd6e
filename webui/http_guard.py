"""ASGI middleware: security headers on every response and a cap on request bodies.

Written as plain ASGI (not BaseHTTPMiddleware) so the Server-Sent Events stream
passes through untouched and an oversized body is refused before anyone reads it.
"""
from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 256 * 1024
# Audio uploads are larger: a prompt (administrators) up to 8 MiB, a voicemail greeting up to
# 2 MiB (firmware.prompts MAX_UPLOAD_BYTES / MAX_GREETING_BYTES), plus the form around the file.
# They are streamed to the form parser (which spools files to disk), never buffered here; the
# routes check format and duration before converting.
FORM_OVERHEAD = 64 * 1024
UPLOAD_LIMITS = ((re.compile(r"^/prompts/upload$"), 8 * 1024 * 1024 + FORM_OVERHEAD),
                 (re.compile(r"^/voicemail/[^/]+/greeting$"), 2 * 1024 * 1024 + FORM_OVERHEAD),
                 # a backup archive to restore (administrators): firmware.backup.MAX_ARCHIVE_BYTES
                 (re.compile(r"^/backup/restore$"), 512 * 1024 * 1024 + FORM_OVERHEAD),
                 # a signed update bundle (administrators): firmware.update.commands.MAX_BUNDLE_BYTES
                 (re.compile(r"^/update/upload$"), 3 * 1024 * 1024 * 1024 + FORM_OVERHEAD))
MAX_UPLOAD_BODY = max(limit for _path, limit in UPLOAD_LIMITS)
UPLOAD_PATHS = re.compile(r"^/(prompts/upload|voicemail/[^/]+/greeting|backup/restore|update/upload)$")


def upload_limit(path: str) -> int | None:
    return next((limit for pattern, limit in UPLOAD_LIMITS if pattern.match(path)), None)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


MAX_JSON_DEPTH = 32


def json_too_deep(body: bytes, limit: int) -> bool:
    """Does this (possibly invalid) JSON nest arrays/objects deeper than `limit`? Checked before
    any parser sees it: Python's json raises RecursionError (a 500) on a few thousand levels."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:          # backslash
                escaped = True
            elif byte == 0x22:          # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):      # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):      # ] }
            depth -= 1
    return False


class HttpGuard:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in {h for h, _ in SECURITY_HEADERS}]
                headers += SECURITY_HEADERS
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    path = scope.get("path", "")
                    headers.append((b"cache-control",
                                    b"no-cache" if path.startswith("/static/") else b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        upload = upload_limit(scope.get("path", ""))
        limit = upload if upload is not None else self.max_body
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(send_with_headers, 400, "Content-Length is not a number.")
                return
            if int(declared) > limit:
                await self._refuse(send_with_headers, 413, self._too_large(limit))
                return

        if scope.get("method") not in {"POST", "PUT", "PATCH", "DELETE"}:
            await self.app(scope, receive, send_with_headers)
            return
        if upload is not None:
            await self._stream_capped(scope, receive, send_with_headers, limit)
            return
        # Read the (bounded) body before the app sees it, so a chunked upload
        # without Content-Length is cut off at the cap too.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send_with_headers, 413, self._too_large(limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"").lower()
        if b"json" in content_type:
            body = b"".join(chunks)
            if json_too_deep(body, MAX_JSON_DEPTH):
                await self._refuse(send_with_headers, 400,
                                   f"The JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels).")
                return
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay_receive, send_with_headers)

    async def _stream_capped(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Pass an upload through as it arrives, counting: past `limit` the app sees the client
        go away and the client gets 413 (a chunked upload without Content-Length included)."""
        size, over, started = 0, False, False

        async def counting_receive() -> Message:
            nonlocal size, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return              # the app's own answer to a cut-off body is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)
        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(send, 413, self._too_large(limit))

    @staticmethod
    def _too_large(limit: int) -> str:
        return f"Request body too large (limit {limit // 1024} KiB)."

    @staticmethod
    async def _refuse(send: Send, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
