"""`linebox ssh-keys` against an engine API socket: add from a file, list, a refused key says why
(exit 2, nothing saved), remove turns ssh off; no engine: a clear message (exit 1)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.api import EngineApi
from firmware.api_server import ApiServer
from firmware.api_wire import SOCKET_NAME
from firmware.cli import main
from firmware.config import Config
from firmware.control import EngineControl
from firmware.ssh_access import keys_file

from .test_ssh_keys_api import rsa_key_line

KEY = rsa_key_line(4096, "ops@desk")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Path]:
    api = EngineApi(config=Config(tmp_path / "config.json"), records=None, data_dir=tmp_path, control=EngineControl())
    server = ApiServer(api, tmp_path / SOCKET_NAME)
    server.start()
    yield tmp_path
    server.stop()
    api.close()


def test_cli_adds_lists_refuses_and_removes(engine: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "ops.pub").write_text(KEY + "\n")
    assert main(["ssh-keys", "add", str(tmp_path / "ops.pub"), "--data", str(engine)]) == 0
    out = capsys.readouterr().out
    assert "ssh-rsa (4096 bits)  ops@desk" in out and "ssh on; 1 key(s) may log in as root" in out
    assert keys_file(engine).read_text() == KEY + "\n"
    fingerprint = out.split()[0]
    assert fingerprint.startswith("SHA256:")

    (tmp_path / "bad.pub").write_text('command="nc -l 4444" ' + KEY + "\n")
    assert main(["ssh-keys", "add", str(tmp_path / "bad.pub"), "--data", str(engine)]) == 2
    assert "Linebox accepts only plain keys" in capsys.readouterr().err
    assert keys_file(engine).read_text() == KEY + "\n"

    assert main(["ssh-keys", "list", "--data", str(engine)]) == 0
    assert fingerprint in capsys.readouterr().out
    assert main(["ssh-keys", "remove", fingerprint, "--data", str(engine)]) == 0
    assert "ssh off (no key)" in capsys.readouterr().out and not keys_file(engine).exists()


def test_cli_without_an_engine_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ssh-keys", "list", "--data", str(tmp_path)]) == 1
    assert "Cannot reach the Linebox engine" in capsys.readouterr().err
