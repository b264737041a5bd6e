"""The update bundle's upload, streamed straight into the spool (issue 14): on the simulated board
with a simulated Pi (tests/update/test_updates.SimulatedPi), the web's data folder on a real,
size-limited file system (tmpfs) as the image's data partition would be.

* a good bundle is written **once** on the data partition: it is taken where only one copy fits
  beside the room kept free (the former form parsing kept a second copy in spool/parts);
* the token checked before a byte is kept (the form field first, or the X-CSRF-Token header);
* bad input — cut off, no file, the file before the token, a wrong token, too big, no room
  (announced, and ENOSPC half-way) — refused with a clear reason, no file left in the spool,
  nothing staged and the running slot untouched.
"""
from __future__ import annotations

import html
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.formparsers import MultiPartParser

from firmware.harness import Pbx
from firmware.service import form_parts_on_data_partition
from firmware.update import commands, room, site
from tests.storage.test_full_disk import fill, small_filesystem
from tests.update.test_updates import SimulatedPi, keys, make_bundle  # noqa: F401 (fixture)
from webui.app import create_app

from .conftest import csrf_of, do_setup, error_of

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a size-limited tmpfs needs root")
BOUNDARY = "lineboxbundle"


class Box:
    def __init__(self, pbx: Pbx, pi: SimulatedPi, client: TestClient, data: Path) -> None:
        self.pbx, self.pi, self.client, self.data = pbx, pi, client, data
        self.running = self.slots()

    def slots(self) -> tuple[bytes, ...]:
        return tuple(self.pi.dev(n).read_bytes() for n in (2, 3, 5, 6))

    def token(self) -> str:
        return csrf_of(self.client.get("/update").text)

    def left_behind(self) -> list[str]:
        spool = self.data / "spool"
        return sorted(str(p.relative_to(spool)) for p in spool.rglob("*") if p.is_file()) if spool.exists() else []

    def untouched(self) -> None:
        """Nothing kept, nothing staged, no slot written."""
        assert self.left_behind() == []
        assert not list((self.data / "update").glob("incoming*"))
        assert self.slots() == self.running
        assert self.client.get("/update").text.count('id="update-phase">idle<') == 1


def body(*parts: tuple[str, bytes, str | None]) -> bytes:
    """A multipart body with the parts in the order given: (name, value, filename or None)."""
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        extra = "Content-Type: application/octet-stream\r\n" if filename is not None else ""
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n{extra}\r\n".encode() + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def post(box: Box, content, headers: dict | None = None):  # noqa: ANN001 - bytes or an iterator of bytes
    return box.client.post("/update/upload", content=content,
                           headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}", **(headers or {})})


@pytest.fixture
def box(tmp_path: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Box]:  # noqa: F811
    pi = SimulatedPi(tmp_path / "pi")
    monkeypatch.setattr(site, "boot_environment", lambda: pi.env)
    monkeypatch.setattr(site, "keys_dir", lambda: keys["trusted"])
    monkeypatch.setattr(site, "board", lambda: "rpi5")
    monkeypatch.setattr(room, "MARGIN_BYTES", 64 * 1024)       # the margin, scaled to this small partition
    monkeypatch.setattr(tempfile, "tempdir", None)
    # Starlette keeps a form part in memory up to 1 MiB, then in a file: scaled to this test's bundle
    monkeypatch.setattr(MultiPartParser, "spool_max_size", 16 * 1024)
    pbx = Pbx(data_dir=tmp_path / "pbx")
    pbx.run(0.1)
    with small_filesystem(tmp_path / "data", 8) as data:
        form_parts_on_data_partition(data)                       # as `linebox web` does
        app = create_app(control=pbx.control, config=pbx.config, records=pbx.records, data_dir=data,
                         clock=lambda: pbx.now)
        client = TestClient(app, follow_redirects=False)
        assert do_setup(client).status_code == 303
        yield Box(pbx, pi, client, data)
        client.close()
    tempfile.tempdir = None
    pbx.close()


def staged(box: Box) -> str:
    for _ in range(200):
        page = box.client.get("/update").text
        if 'id="update-staging" class="alert' in page:          # ok or refused, no longer busy
            return html.unescape(page.split('id="update-staging"')[1].split("</p>")[0])
        box.pbx.run(0.05)
    raise AssertionError("staging did not finish")


def test_a_bundle_is_written_once_where_only_one_copy_fits(box: Box, keys, tmp_path: Path) -> None:  # noqa: F811
    bundle = make_bundle(tmp_path / "good.bundle", keys["release"]).read_bytes()
    filler = fill(box.data)                                      # the data partition full...
    free_wanted = int(1.3 * len(bundle)) + room.MARGIN_BYTES + 16 * 1024
    with open(filler, "r+b") as f:                               # ...but for room for one copy and the margin
        f.truncate(max(0, filler.stat().st_size - free_wanted))
    assert shutil.disk_usage(box.data).free < 2 * len(bundle) + room.MARGIN_BYTES
    r = post(box, body(("csrf_token", box.token().encode(), None), ("file", bundle, "good.bundle")))
    assert r.status_code == 303, error_of(r.text)
    assert "Release 2026.12.1 was verified and written to slot B" in staged(box)
    assert box.pi.starts(3) and box.pi.dev(6).read_bytes().startswith(b"ROOT 2026.12.1")
    assert box.slots()[0] == box.running[0] and box.slots()[2] == box.running[2]   # slot A untouched
    assert box.left_behind() == []


def test_the_token_may_come_as_a_header(box: Box, keys, tmp_path: Path) -> None:  # noqa: F811
    bundle = make_bundle(tmp_path / "good.bundle", keys["release"]).read_bytes()
    r = post(box, body(("file", bundle, "good.bundle")), headers={"x-csrf-token": box.token()})
    assert r.status_code == 303, error_of(r.text)
    assert "written to slot B" in staged(box)


@pytest.mark.parametrize("case, status, reason", [
    ("cut off", 400, "The upload was cut off before its end"),
    ("no file", 400, "Choose a Linebox update bundle to upload."),
    ("empty file", 400, "Choose a Linebox update bundle to upload."),
    ("file before token", 400, "csrf_token field must come before the file"),
    ("wrong token", 403, None),
    ("two files", 400, "another file besides the one bundle"),
    ("not a form", 400, "as a file in a form upload"),
    ("too big", 413, "larger than any Linebox update"),
    ("no room", 507, "No room for the update bundle on the data partition: it needs"),
    ("disk full half-way", 507, "No room for the update bundle"),
])
def test_bad_uploads_are_refused_and_leave_nothing(box: Box, keys, tmp_path: Path,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   case: str, status: int, reason: str | None) -> None:
    bundle = make_bundle(tmp_path / "good.bundle", keys["release"]).read_bytes()
    token = box.token().encode()
    whole = body(("csrf_token", token, None), ("file", bundle, "good.bundle"))
    headers = None
    if case == "cut off":
        content = whole[: len(whole) // 2]
    elif case == "no file":
        content = body(("csrf_token", token, None))
    elif case == "empty file":
        content = body(("csrf_token", token, None), ("file", b"", ""))
    elif case == "file before token":
        content = body(("file", bundle, "good.bundle"), ("csrf_token", token, None))
    elif case == "wrong token":
        content = body(("csrf_token", b"forged" + token[6:], None), ("file", bundle, "good.bundle"))
    elif case == "two files":
        content = body(("csrf_token", token, None), ("file", bundle, "a.bundle"), ("file", bundle, "b.bundle"))
    elif case == "not a form":
        content, headers = bundle, {"content-type": "application/octet-stream"}
    elif case == "too big":
        monkeypatch.setattr(commands, "MAX_BUNDLE_BYTES", len(bundle) - 1)
        content = whole
    elif case == "no room":
        filler = fill(box.data)
        with open(filler, "r+b") as f:                 # room for half the bundle beside the margin
            f.truncate(max(0, filler.stat().st_size - room.MARGIN_BYTES - len(bundle) // 2))
        content = whole
    else:                                              # the room was there, then something else took it
        from webui import bundle_upload
        monkeypatch.setattr(bundle_upload, "room_for", lambda folder, needed: 1 << 40)
        filler = fill(box.data)
        with open(filler, "r+b") as f:
            f.truncate(max(0, filler.stat().st_size - len(bundle) // 2))
        content = iter([whole[i:i + 65536] for i in range(0, len(whole), 65536)])   # chunked: no length
    r = post(box, content, headers)
    assert r.status_code == status, r.text[:300]
    if reason is not None:
        assert reason in html.unescape(error_of(r.text) or r.text)
    if case == "no room":
        assert f"needs {room.mib(len(whole))}" in html.unescape(error_of(r.text))
    for f in box.data.glob("filler.bin"):
        f.unlink()
    box.untouched()


def test_install_now_waits_for_the_before_update_archive(box: Box, keys, tmp_path: Path,  # noqa: F811
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine writes the before-update archive before it reboots; on a card full of recordings
    (or under the boot test's emulation, where it took ~10 s) that outlasts the web's usual wait for
    an answer, and the page said the engine did not answer while the box rebooted into the release
    (boot test of build 6). The page waits for the install's own answer: scaled here, the web's
    usual wait 0.3 s and the archive 1 s."""
    import time as _time

    from firmware import backup
    bundle = make_bundle(tmp_path / "good.bundle", keys["release"]).read_bytes()
    r = post(box, body(("csrf_token", box.token().encode(), None), ("file", bundle, "good.bundle")))
    assert r.status_code == 303 and "written to slot B" in staged(box)
    real = backup.run_worker
    monkeypatch.setattr(backup, "run_worker", lambda *a, **k: (_time.sleep(1.0), real(*a, **k))[1])
    box.client.app.state.web.api.timeout = 0.3
    r = box.client.post("/update/install", data={"csrf_token": box.token()})
    assert r.status_code == 200, error_of(r.text)
    assert "restarts into the new release" in r.text
    assert box.pi.boots[-1] == (3, True)                 # one tryboot into slot B
