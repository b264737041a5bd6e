"""The engine API socket of a real `linebox engine`: the contract, and bad input that must get a
clear answer and never stall the media loop (it keeps ticking, every time checked).

The engine runs a bigger simulated office (`--sim-phones 40 --sim-lines 32`): that works too,
and its status events are big enough to fill a stalled reader's buffers quickly."""
from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path

import pytest
from linebox_processes import api, api_up, linebox, stop, ticks, until

from firmware.api import ApiError
from firmware.api_wire import MAX_REQUEST_BYTES, WIRE_VERSION, encode

PHONES, LINES = 40, 32


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    data = tmp_path_factory.mktemp("engine")
    proc = linebox("engine", "--board", "sim", "--data", str(data), "--sim-phones", str(PHONES),
                   "--sim-lines", str(LINES), log=data / "engine.log")
    try:
        until(lambda: api_up(data) or proc.poll() is not None, 60, "the engine API")
        assert proc.poll() is None, (data / "engine.log").read_text()
        yield data
    finally:
        assert stop(proc) == 0
        assert not (data / "engine.sock").exists()     # removed on a clean stop


def raw(data: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(str(data / "engine.sock"))
    return s


def read(s: socket.socket) -> dict:
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            raise EOFError
        head += chunk
    (n,) = struct.unpack(">I", head)
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return json.loads(body)


def still_ticking(data: Path) -> None:
    a = ticks(data)
    until(lambda: ticks(data) >= a + 20, 5, "the media loop to keep ticking")


def test_socket_is_owner_only_and_handshake_says_versions(engine: Path) -> None:
    assert (engine / "engine.sock").stat().st_mode & 0o777 == 0o600
    with api(engine) as a:
        assert a.hello["version"] == WIRE_VERSION and a.hello["api_version"] == 1
        described = a.call("api.describe")
        names = {c["name"] for c in described["commands"]}
        assert {"api.describe", "metrics.read", "sim.phone", "sim.heard"} <= names
        snap = a.subscribe()
        assert {p["port"] for p in snap["ports"]} == ({f"fxs{i}" for i in range(1, PHONES + 1)}
                                                      | {f"fxo{i}" for i in range(1, LINES + 1)})
        status = a.call("sim.status")
        assert sorted(status["phones"]) == [str(200 + i) for i in range(1, PHONES + 1)]


def test_unknown_command_and_wrong_types_are_refused_by_name(engine: Path) -> None:
    with api(engine) as a:
        with pytest.raises(ApiError) as err:
            a.call("no.such.command")
        assert err.value.code == "not_found" and "unknown command 'no.such.command'" in err.value.message
        with pytest.raises(ApiError) as err:
            a.call("metrics.read", window_s="a minute")
        assert err.value.code == "bad_request" and "window_s" in err.value.message
        with pytest.raises(ApiError) as err:
            a.call("sim.phone", ext="201", action="offhook", colour="red")
        assert err.value.code == "bad_request" and "colour" in err.value.message
        with pytest.raises(ApiError) as err:
            a.request({"type": "call", "name": "sim.status", "args": [1, 2]})
        assert err.value.code == "bad_request" and "must be an object" in err.value.message
        with pytest.raises(ApiError) as err:
            a.request({"type": "launch"})
        assert err.value.code == "bad_request" and "unknown message type 'launch'" in err.value.message
        assert a.call("api.ping") == {"ok": True}           # the connection is still good
    still_ticking(engine)


def test_no_hello_wrong_version_and_garbage(engine: Path) -> None:
    s = raw(engine)
    s.sendall(encode({"type": "hello", "version": 99}))
    bye = read(s)
    assert bye["type"] == "bye" and "version 1" in bye["message"]
    with pytest.raises(EOFError):
        read(s)
    s.close()
    s = raw(engine)
    s.sendall(encode({"type": "hello", "version": WIRE_VERSION}))
    assert read(s)["type"] == "hello"
    body = b"{not json"
    s.sendall(struct.pack(">I", len(body)) + body)
    err = read(s)
    assert err["type"] == "error" and err["code"] == "bad_request" and "not UTF-8 JSON" in err["message"]
    s.sendall(encode({"type": "ping", "id": 5}))
    assert read(s) == {"type": "pong", "id": 5}              # still talking after the bad frame
    s.close()
    still_ticking(engine)


def test_oversized_frame_is_refused_before_it_is_read(engine: Path) -> None:
    s = raw(engine)
    s.sendall(encode({"type": "hello", "version": WIRE_VERSION}))
    assert read(s)["type"] == "hello"
    s.sendall(struct.pack(">I", MAX_REQUEST_BYTES + 1) + b"x" * 1000)
    bye = read(s)
    assert bye["type"] == "bye" and bye["code"] == "too_large" and str(MAX_REQUEST_BYTES) in bye["message"]
    s.close()
    with api(engine) as a:                                   # others are not affected
        assert a.call("api.ping") == {"ok": True}
    still_ticking(engine)


def test_a_client_that_stops_reading_events_is_dropped_and_the_engine_keeps_time(engine: Path) -> None:
    slow = raw(engine)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(encode({"type": "hello", "version": WIRE_VERSION}))
    assert read(slow)["type"] == "hello"
    slow.sendall(encode({"type": "subscribe", "id": 1}))
    # ... and never reads again, while the phones make hundreds of status events (one a tick:
    # each command runs at the start of a tick and changes one phone)
    with api(engine) as a:
        before = a.call("metrics.read", window_s=1.0)
        phones = [str(200 + i) for i in range(1, PHONES + 1)]
        deadline = time.monotonic() + 60
        dropped = False
        while time.monotonic() < deadline and not dropped:
            for action in ("offhook", "onhook"):
                for ext in phones:
                    a.call("sim.phone", ext=ext, action=action)
            log = (engine / "engine.log").read_text()
            dropped = "dropped api-conn" in log and "stopped reading" in log
        assert dropped, "the stalled client was never dropped"
        after = a.call("metrics.read", window_s=1.0)
    assert after["ticks"] > before["ticks"]
    assert after["frames_lost"] == before["frames_lost"]
    # its connection is closed: what was buffered drains, then end of stream
    slow.settimeout(10)
    with pytest.raises((EOFError, ConnectionError)):
        while True:
            read(slow)
    slow.close()
    still_ticking(engine)
