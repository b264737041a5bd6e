"""`python -m firmware.customers.check_worker REGION`: checks a customer CSV (stdin) in its own
interpreter, niced, so the seconds of pure-Python row checking of a 50,000-row import never wait
in line with the engine's threads for the interpreter lock (the screen pop answers meanwhile).

It writes JSON lines to stdout: `{"checked": N}` now and then, then either `{"refused": {message,
rows, bad_rows}}` or the contacts in chunks `{"contacts": [...]}` (numbers as [raw, e164, tail])
and `{"done": N}`. It ends with the engine (PR_SET_PDEATHSIG).
"""
from __future__ import annotations

import json
import signal
import sys
from typing import Any

from ..child_process import exit_with_parent, lower_priority

CHECK_NICE = 10
PROGRESS_EVERY = 1000
CHUNK = 500


class _Progress:
    """What `csv_io.parse` updates as it goes; told to the engine every PROGRESS_EVERY rows."""

    def __init__(self) -> None:
        self._n = 0

    @property
    def rows_checked(self) -> int:
        return self._n

    @rows_checked.setter
    def rows_checked(self, n: int) -> None:
        if n // PROGRESS_EVERY != self._n // PROGRESS_EVERY:
            _say({"checked": n})
        self._n = n


def _say(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m firmware.customers.check_worker REGION < file.csv", file=sys.stderr)
        return 2
    lower_priority(CHECK_NICE)
    signal.signal(signal.SIGINT, signal.SIG_IGN)             # a Ctrl-C meant for `linebox run` is the engine's
    exit_with_parent()
    from .csv_io import CsvRefused, parse
    data = sys.stdin.buffer.read()
    try:
        contacts = parse(data, args[0], _Progress())
    except CsvRefused as e:
        _say({"refused": {"message": e.message, "rows": e.rows, "bad_rows": e.bad_rows}})
        return 0
    for i in range(0, len(contacts), CHUNK):
        _say({"contacts": [{**c, "numbers": [[n.raw, n.e164, n.tail] for n in c["numbers"]]}
                           for c in contacts[i:i + CHUNK]]})
    _say({"done": len(contacts)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
