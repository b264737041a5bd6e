"""`linebox run` and friends on bad input: one clear line and a non-zero exit, never a traceback.

Found by trying Linebox as a new user: --port 99999, --data naming a file or an impossible
path ended in tracebacks; a second `linebox run` on the same --data ran happily alongside the
first (both writing its config and records); a port already in use exited 3 without our hint;
argparse mistakes printed the whole usage block.
"""
import signal
import socket
from pathlib import Path

import pytest

from firmware import cli
from firmware.service import DataDirError, open_data_dir


def _one_line_error(capsys, argv: list[str]) -> tuple[int, str]:
    try:
        rc = cli.main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return rc, err


@pytest.mark.parametrize("argv, says", [
    (["run", "--port", "99999"], "linebox run: argument --port: port 99999 is out of range (1-65535)"),
    (["run", "--port", "http"], "linebox run: argument --port: 'http' is not a port number"),
    (["dsp", "dtmf-encode", "1", "x.wav", "--on-ms", "1e9"], "linebox dsp dtmf-encode: argument --on-ms: invalid"),
    (["sim", "phone", "201"], "linebox sim phone: the following arguments are required: action"),
    (["--bogus"], "linebox: the following arguments are required"),
])
def test_usage_mistakes_give_one_line(capsys, argv, says) -> None:
    rc, err = _one_line_error(capsys, argv)
    assert rc == 2 and err.startswith(says) and err.endswith("--help)")


def test_data_dir_that_cannot_be_used_is_one_line(capsys, tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hello")
    rc, err = _one_line_error(capsys, ["run", "--board", "sim", "--data", str(a_file)])
    assert rc == 2 and err == f"linebox: cannot use {a_file} as the data directory: it is a file, not a directory"
    assert a_file.read_text() == "hello"
    rc, err = _one_line_error(capsys, ["run", "--board", "sim", "--data", str(a_file / "sub")])
    assert rc == 2 and err.startswith(f"linebox: cannot use {a_file / 'sub'} as the data directory: ")


def test_a_second_service_on_the_same_data_dir_is_refused(capsys, tmp_path: Path) -> None:
    first = open_data_dir(tmp_path)
    try:
        with pytest.raises(DataDirError, match=r"another Linebox \(pid \d+\) is already running"):
            open_data_dir(tmp_path)
        rc, err = _one_line_error(capsys, ["run", "--board", "sim", "--data", str(tmp_path)])
        assert rc == 2 and "already running with the data directory" in err
    finally:
        first.close()
    open_data_dir(tmp_path).close()          # free again once the first one has stopped


def test_port_in_use_exits_1_with_a_hint(caplog, tmp_path: Path) -> None:
    handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rc = cli.main(["run", "--board", "sim", "--data", str(tmp_path), "--host", "127.0.0.1",
                       "--port", str(port)])
    assert rc == 1
    assert f"could not serve the web UI on 127.0.0.1:{port}" in caplog.text and "--port" in caplog.text
    open_data_dir(tmp_path).close()          # the failed service let go of its data directory
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
