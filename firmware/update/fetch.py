"""Fetch an update bundle from the URL the owner set (issue 14).

HTTPS only, including every redirect (a redirect to http:// is refused); the server's certificate
is checked against the system's CAs (ca-certificates on the image) or the `cafile` given. The
download is capped: a Content-Length above the cap is refused before a byte is read, and a server
that sends more than it announced (or announces nothing) is cut off at the cap. So is one that
does not fit on the data partition (`room.room_for`: a clear "no room" before a byte is read, or
when the bytes pass the room there was; ENOSPC all the same). The bytes go to a
temporary file on the data partition and are renamed into place only when whole; the bundle's
signature, board and image checksums are then checked by `Updater.stage` before anything is
written to the inactive slot (a refused download never reaches the slot).
"""
from __future__ import annotations

import errno
import http.client
import os
import re
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from . import room
from .room import NoRoom, no_room_message, room_for

CHUNK = 1024 * 1024
URL_MAX = 2000
TIMEOUT_S = 30.0


class FetchRefused(ValueError):
    """The bundle could not be fetched; the message says why and what to do. Nothing was staged."""


def check_url(url: str) -> str:
    """The URL, stripped, if it is an https:// URL Linebox will fetch; else FetchRefused."""
    url = (url or "").strip()
    if not url:
        raise FetchRefused("Enter the https:// address of the update bundle.")
    if len(url) > URL_MAX or re.search(r"[\x00-\x20\x7f]", url):
        raise FetchRefused("The update URL is too long or contains spaces or control characters; paste the "
                           "address exactly as your supplier gave it.")
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise FetchRefused("The update URL must start with https:// (bundles are only fetched over HTTPS).")
    if not parts.hostname:
        raise FetchRefused("The update URL names no server; it should look like https://example.com/linebox.bundle.")
    if parts.username or parts.password:
        raise FetchRefused("Put no user name or password in the update URL; use an address that needs none.")
    return url


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's signature
        if urlsplit(newurl).scheme.lower() != "https":
            raise FetchRefused(f"The server redirected the download to a non-HTTPS address ({newurl[:80]}); "
                               "ask your supplier for an https:// link that stays on HTTPS.")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_bundle(url: str, dest: Path, *, max_bytes: int, cafile: Path | None = None,
                 timeout_s: float = TIMEOUT_S) -> int:
    """Download `url` to `dest` (whole or not at all); returns its size."""
    url = check_url(url)
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _HttpsOnlyRedirects())
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        try:
            response = opener.open(urllib.request.Request(url, headers={"User-Agent": "linebox-update"}),
                                   timeout=timeout_s)
        except urllib.error.HTTPError as exc:
            raise FetchRefused(f"The server answered HTTP {exc.code} for the update URL; check the address.") from None
        except ssl.SSLError as exc:
            raise FetchRefused(f"The server's HTTPS certificate could not be verified ({exc.reason}); check the "
                               "address, or ask your supplier to fix the certificate.") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, ssl.SSLError):
                raise FetchRefused(f"The server's HTTPS certificate could not be verified ({reason.reason}); "
                                   "check the address, or ask your supplier to fix the certificate.") from None
            raise FetchRefused(f"The update server could not be reached ({reason}); check the address and that "
                               "this Linebox has internet access.") from None
        with response:
            announced = response.headers.get("Content-Length")
            if announced is not None and announced.isdigit() and int(announced) > max_bytes:
                raise FetchRefused(f"The file at the update URL is {int(announced) // (1024 * 1024)} MiB, larger than "
                                   f"any Linebox update ({max_bytes // (1024 * 1024)} MiB); check the address.")
            needed = int(announced) if announced is not None and announced.isdigit() else None
            try:
                budget = room_for(dest.parent, needed)
            except NoRoom as exc:
                raise FetchRefused(str(exc)) from None
            size = 0
            try:
                with open(part, "wb") as out:
                    try:
                        while chunk := response.read(CHUNK):
                            size += len(chunk)
                            if size > max_bytes:
                                raise FetchRefused(f"The download passed {max_bytes // (1024 * 1024)} MiB, larger "
                                                   "than any Linebox update; it was stopped. Check the address.")
                            if size > budget:
                                raise FetchRefused(no_room_message(needed, budget + room.MARGIN_BYTES))
                            out.write(chunk)
                    except (http.client.HTTPException, ssl.SSLError, ConnectionError, TimeoutError) as exc:
                        raise FetchRefused(f"The download stopped after {size} of {announced or 'unknown'} bytes "
                                           f"({type(exc).__name__}); try again.") from None
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                raise FetchRefused(no_room_message(needed, budget + room.MARGIN_BYTES)) from None
            if announced is not None and announced.isdigit() and size != int(announced):
                raise FetchRefused(f"The download stopped after {size} of {announced} bytes; try again.")
        os.replace(part, dest)
        return size
    finally:
        part.unlink(missing_ok=True)
