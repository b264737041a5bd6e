"""Plain HTTP on the appliance answers with a redirect to HTTPS (issue 14).

The web UI is HTTPS only (port 443, the certificate the first boot made). Someone typing
`linebox.local` or the address in a browser lands on port 80; `HttpsRedirectServer` answers every
request there with `308 Permanent Redirect` to the same path over HTTPS, so the setup page is
reachable without knowing the scheme. Nothing else is served on port 80 and no request body is
read. The Host header is untrusted: only a host name or IP address (letters, digits, dots,
hyphens, IPv6 brackets) is echoed into the Location; anything else gets a 400 that says what to
type instead. The path is kept only when it is a plain printable path (no CR/LF, no scheme).

    linebox redirect-https --port 80 --to-port 443     # linebox-http-redirect.service
"""
from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

HOST_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])$")
MAX_HEAD = 8192
READ_TIMEOUT_S = 10.0


def https_location(host_header: str, target: str, https_port: int) -> str | None:
    """The https:// URL for a request, or None if the Host header is not a plain host name."""
    host = host_header.strip()
    if host.startswith("["):
        end = host.find("]")
        name = host[:end + 1] if end > 0 else ""
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if not name or not HOST_RE.match(name):
        return None
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    path = quote(target, safe="/?&=%:@!$'()*+,;-._~")
    port = "" if https_port == 443 else f":{https_port}"
    return f"https://{name}{port}{path}"


def _response(status: str, headers: dict[str, str], body: str) -> bytes:
    data = body.encode()
    head = [f"HTTP/1.1 {status}", "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(data)}",
            "Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data


class HttpsRedirectServer:
    """Answers HTTP requests on `port` with a redirect to HTTPS on `https_port`."""

    def __init__(self, host: str = "0.0.0.0", port: int = 80, https_port: int = 443) -> None:
        self.host, self.port, self.https_port = host, port, https_port
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_HEAD)
        return self._server.sockets[0].getsockname()[1]

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            writer.write(self.answer(head))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    def answer(self, head: bytes) -> bytes:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return _response("400 Bad Request", {}, "Not an HTTP request. Open https://linebox.local/ in a browser.\n")
        host = next((ln.split(":", 1)[1] for ln in lines[1:] if ln.lower().startswith("host:")), "")
        location = https_location(host, parts[1], self.https_port)
        if location is None:
            return _response("400 Bad Request", {},
                             "The Host header is not a host name or address. Open https://<the appliance's "
                             "address>/ in a browser.\n")
        return _response("308 Permanent Redirect", {"Location": location},
                         f"Linebox answers over HTTPS only: {location}\n")


def run(host: str, port: int, https_port: int) -> int:
    asyncio.run(HttpsRedirectServer(host, port, https_port).serve_forever())
    return 0
