"""The engine API's wire format (shared by `firmware.api_server` and its clients).

A frame is a 4-byte big-endian unsigned length followed by that many bytes of UTF-8 JSON
(one JSON object per frame). Why this and not newline-delimited JSON or HTTP: a length
prefix lets either side refuse an oversized frame *before* reading it (no unbounded line
buffer), needs no escaping, and costs one `recv` of 4 bytes; JSON keeps the boundary
language-neutral (a CTI integrator in any language can speak it with the standard library)
and makes it impossible for a Python object (a closure, a live engine object) to cross.

Every message is an object with a `type`:

    client -> engine   hello {version, client}      first frame, exactly once
                       call {id, name, args}        run a named command
                       subscribe {id}               start the event stream (answer: the port snapshot)
                       unsubscribe {id}
                       ping {id}                    transport round trip (answered by the connection
                                                    thread, not the store or media thread)
    engine -> client   hello {version, engine, commands}
                       result {id, result}
                       error {id, code, message}    code: one of firmware.api.ERROR_CODES
                       event {kind, payload, ports} ports: list of port status dicts (may be empty)
                       pong {id}
                       bye {code, message}          the engine is closing this connection, and why
"""
from __future__ import annotations

import json
import struct
from typing import Any

WIRE_VERSION = 1                    # bumped on an incompatible change of this framing/message set
HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 1 << 20         # 1 MiB: the largest frame the engine accepts from a client
MAX_REPLY_BYTES = 16 << 20          # 16 MiB: the largest frame a client accepts from the engine
SOCKET_NAME = "engine.sock"         # in the data directory


class FrameError(Exception):
    """A frame that cannot be accepted (too large, not JSON, not an object)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def encode(msg: dict[str, Any]) -> bytes:
    body = json.dumps(msg, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError("bad_request", f"frame is not UTF-8 JSON: {exc}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise FrameError("bad_request", "a frame must be a JSON object with a string 'type'")
    return msg


def length_of(header: bytes, limit: int) -> int:
    (n,) = HEADER.unpack(header)
    if n > limit:
        raise FrameError("too_large", f"frame of {n} bytes is over the limit of {limit} bytes")
    return n
