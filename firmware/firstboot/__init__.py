"""First-boot claim: the setup code an owner needs to create the administrator.

Whoever reaches `/setup` first on the LAN must not become the administrator.
The code is something only a person at the box can get:

* printed on the console/log at every start while no administrator exists;
* kept in `DATA/setup.code` (mode 0600);
* read out on any phone: lift a handset and dial `*1738` ("*1" then S-E-T) to
  hear the eight digits spoken twice (`firmware.firstboot.readout`).

The code is single use: once it has created the administrator it is replaced by
a fresh one. The web UI (`webui/routes_auth.py`) checks it, throttled.
"""
from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from pathlib import Path

SETUP_CODE_FILE = "setup.code"
SETUP_CODE_DIGITS = 8
SETUP_CODE_FEATURE = "*1738"        # *1 then S-E-T on the keypad (*0 is the auth code)


def code_path(data_dir: Path) -> Path:
    return Path(data_dir) / SETUP_CODE_FILE


def read_code(data_dir: Path) -> str | None:
    """The current code, or None when there is none (or it is unreadable)."""
    try:
        text = code_path(data_dir).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) == SETUP_CODE_DIGITS and text.isdigit() else None


def _write(data_dir: Path, code: str) -> None:
    path = code_path(data_dir)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(code + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(SETUP_CODE_DIGITS))


def ensure_code(data_dir: Path) -> str:
    """The current code, made (0600) if there is none yet."""
    code = read_code(data_dir)
    if code is None:
        code = new_code()
        _write(data_dir, code)
    return code


def renew_code(data_dir: Path) -> str:
    """Replace the code after it was used (single use)."""
    code = new_code()
    _write(data_dir, code)
    return code


def code_matches(data_dir: Path, given: str) -> bool:
    expected = read_code(data_dir)
    given = "".join(c for c in str(given or "") if not c.isspace())[:32]
    return expected is not None and hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
