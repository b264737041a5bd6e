"""An installer's fax tuning per line: the V.21 carrier cut-off (table `fax_line_tuning`:
{"line": "fxo1", "v21_cutoff_dbm0": -40.0}).

T.30's control messages travel at 300 bit/s (V.21). spandsp's V.21 receiver takes anything above
-45.5 dBm0 for a carrier; on a line whose noise sits near that level (measured: -48 dBm0 of white
noise with 12 dB echo), it hears a "carrier" in the noise and misses the training check that
follows, and V.17 without error correction stops after a few pages. A higher cut-off on that line
(-40 dBm0 fixed it) ignores the noise, but also a far end weaker than the cut-off, so it is a
setting for the installer of a noisy line, never a new default: without an entry a line uses
spandsp's default. Read in memory by the fax service for the media thread (`FaxService.reload`);
written on the store thread (`fax.line_tuning_set`).
"""
from __future__ import annotations

import re
from typing import Any

from dsp_ext.fax import V21_CUTOFF_DEFAULT_DBM0, V21_CUTOFF_MAX_DBM0, V21_CUTOFF_MIN_DBM0

__all__ = ["TABLE", "V21_CUTOFF_DEFAULT_DBM0", "line_v21_cutoffs", "set_line_v21_cutoff", "check_v21_cutoff"]

TABLE = "fax_line_tuning"
_PORT = re.compile(r"fxo[0-9]{1,2}")


def check_v21_cutoff(value: Any) -> float:
    """A V.21 carrier cut-off in dBm0 (a number, at most one decimal), or ValueError saying the range."""
    try:
        v = float(str(value).strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"V.21 carrier cut-off {str(value)[:12]!r}: give a level in dBm0 such as -40") from None
    if not V21_CUTOFF_MIN_DBM0 <= v <= V21_CUTOFF_MAX_DBM0:
        raise ValueError(f"V.21 carrier cut-off {v:g} dBm0 is out of range: give {V21_CUTOFF_MIN_DBM0:g} to "
                         f"{V21_CUTOFF_MAX_DBM0:g} dBm0 (spandsp's default is {V21_CUTOFF_DEFAULT_DBM0:g})")
    return round(v, 1)


def line_v21_cutoffs(config: Any) -> dict[str, float]:
    """{line port: cut-off dBm0} for the lines an installer tuned (in memory; any thread). A damaged
    entry is left out: that line uses the default."""
    out: dict[str, float] = {}
    for doc in config.table(TABLE).all():
        line = doc.get("line")
        if isinstance(line, str) and _PORT.fullmatch(line):
            try:
                out[line] = check_v21_cutoff(doc.get("v21_cutoff_dbm0"))
            except ValueError:
                continue
    return out


def set_line_v21_cutoff(config: Any, line: str, value: Any) -> float | None:
    """Line `line`'s V.21 cut-off (store thread); None or "" puts it back to the default. Raises
    ConfigError saying what was wrong; nothing is written then."""
    from tinydb import Query

    from ..config import ConfigError
    line = (line or "").strip()
    if not _PORT.fullmatch(line) or not any(row["port"] == line for row in config.lines()):
        raise ConfigError(f"There is no line {line[:12]!r}. Choose one of the lines on the Lines page.")
    table = config.table(TABLE)
    if value is None or str(value).strip() == "":
        table.remove(Query().line == line)
        return None
    try:
        v = check_v21_cutoff(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    table.upsert({"line": line, "v21_cutoff_dbm0": v}, Query().line == line)
    return v
