"""Found by trying Linebox as a new user: an extension on fxs9 or a line on fxo9 was saved on a
board that has no such port, and then silently never rang (it appeared nowhere on the status page)."""
from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import WebEnv, error_of, page_token


def test_extension_and_line_ports_must_be_on_this_board(env: WebEnv, admin: TestClient) -> None:
    r = admin.post("/extensions", data={"number": "205", "name": "Typo", "port": "fxs9", "enabled": "on",
                                        "csrf_token": page_token(admin, "/extensions")})
    assert r.status_code == 400
    assert error_of(r.text) == "Extension 205: Port fxs9 is not on this board; it has fxs1, fxs2, fxs3, fxs4."
    assert env.config.extension("205") is None
    r = admin.post("/lines", data={"port": "FXO9", "name": "Typo", "number": "", "destination": "",
                                   "enabled": "on", "csrf_token": page_token(admin, "/lines")})
    assert r.status_code == 400 and error_of(r.text) == "The line: Port fxo9 is not on this board; it has fxo1, fxo2."
    assert [ln["port"] for ln in env.config.lines()] == []
    # ports the board has still work; an entry already on a missing port (a config moved from a
    # bigger board) can still be edited without moving it
    r = admin.post("/extensions", data={"number": "205", "name": "Workshop", "port": "fxs3", "enabled": "on",
                                        "csrf_token": page_token(admin, "/extensions")})
    assert r.status_code == 303, error_of(r.text)
    env.config.save_extension({"number": "206", "name": "Old board", "port": "fxs8"})
    r = admin.post("/extensions/206", data={"number": "206", "name": "Renamed", "port": "fxs8", "enabled": "on",
                                            "csrf_token": page_token(admin, "/extensions")})
    assert r.status_code == 303, error_of(r.text)
    assert env.config.extension("206") == {"number": "206", "name": "Renamed", "port": "fxs8", "enabled": True}
