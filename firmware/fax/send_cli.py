"""`linebox fax send FILE --to NUMBER --from EXT`, `linebox fax outbox`, `linebox fax cancel JOB`,
`linebox fax settings [--ident ID --header TEXT ...]`:
sending faxes through the running engine's API socket (DATA/engine.sock), like the web page.

The file is copied into the engine's spool folder (as the web does with an upload), rendered by
the engine (`fax.prepare`, polled with `fax.draft`), then queued (`fax.send`). With `--wait` the
command follows the job until it is sent or has failed and prints each attempt's transcript.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["register_send"]

RENDER_WAIT_S = 180
SPOOL_DIR = "spool"                     # firmware.api_uploads.SPOOL_DIR


def _call(args: argparse.Namespace, name: str, **body: Any) -> Any:
    from ..api import ApiError
    from ..api_client import ApiConnection, EngineUnreachable
    from ..api_wire import SOCKET_NAME
    try:
        with ApiConnection(Path(args.data) / SOCKET_NAME, timeout=30, client="linebox fax") as api:
            return api.call(name, **body)
    except EngineUnreachable as exc:
        raise SystemExit(f"linebox fax: {exc}: is `linebox run --data {args.data}` running?") from None
    except ApiError as exc:
        raise SystemExit(f"linebox fax: {exc.message}") from None


def _spool(data: Path, src: Path, max_bytes: int) -> str:
    spool = data / SPOOL_DIR
    spool.mkdir(mode=0o770, exist_ok=True)
    name = secrets.token_hex(16) + ".upload"
    with open(src, "rb") as f, open(spool / name, "wb") as out:
        out.write(f.read(max_bytes + 1))          # the engine says if it is too big
    os.chmod(spool / name, 0o660)
    return name


def _send(args: argparse.Namespace) -> int:
    from .outbox_queue import MAX_UPLOAD_BYTES
    src = Path(args.file)
    if not src.is_file():
        raise SystemExit(f"linebox fax: {src}: no such file; give a PDF, PNG, JPEG or TIFF document")
    upload = _spool(Path(args.data), src, MAX_UPLOAD_BYTES)
    draft = _call(args, "fax.prepare", upload=upload, owner=args.as_user, box=args.from_ext, to=args.to,
                  lpi=98 if args.standard else 196, cover=args.cover, subject=args.subject, note=args.note,
                  sender_name=args.sender_name)["draft"]
    deadline = time.monotonic() + RENDER_WAIT_S
    while True:
        d = _call(args, "fax.draft", draft=draft, owner=args.as_user)
        if d["state"] != "rendering":
            break
        if time.monotonic() > deadline:
            raise SystemExit("linebox fax: the document is still being prepared; try again later")
        time.sleep(0.3)
    if d["state"] != "ready":
        raise SystemExit(f"linebox fax: {src.name}: {d['error']}")
    print(f"{src.name}: {d['pages']} page(s) ready", file=sys.stderr)
    job = _call(args, "fax.send", draft=draft, owner=args.as_user, notify=args.notify or "",
                notify_ok=bool(args.notify))
    if not args.wait:
        print(json.dumps(job))
        return 0
    while job["state"] in ("queued", "sending"):
        time.sleep(2)
        job = _call(args, "fax.job", job=job["id"], owner=args.as_user)
    print(json.dumps(job, indent=2))
    return 0 if job["state"] == "sent" else 1


def _outbox(args: argparse.Namespace) -> int:
    print(json.dumps(_call(args, "fax.outbox", owner=args.as_user, limit=args.limit), indent=2))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    print(json.dumps(_call(args, "fax.cancel", job=args.job, owner=args.as_user)))
    return 0


SETTING_OPTIONS = {"ident": str, "header": str, "retry_busy_min": int, "retry_person_min": int,
                   "retry_training_min": int, "max_attempts": int, "max_sending": int, "job_days": int,
                   "inbox_days": int}


def _settings(args: argparse.Namespace) -> int:
    given = {k: getattr(args, k) for k in SETTING_OPTIONS if getattr(args, k) is not None}
    if args.keep_line_free is not None:
        given["keep_line_free"] = args.keep_line_free
    print(json.dumps(_call(args, "fax.settings_set", **given) if given else _call(args, "fax.settings"), indent=2))
    return 0


def register_send(fs: Any) -> None:
    st = fs.add_parser("settings", help="show or change the fax settings (station id, header line, retries, "
                                        "faxes at once, retention) of the running Linebox")
    for name, kind in SETTING_OPTIONS.items():
        st.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None)
    st.add_argument("--keep-line-free", dest="keep_line_free", action="store_true", default=None)
    st.add_argument("--no-keep-line-free", dest="keep_line_free", action="store_false")
    st.add_argument("--data", default="data")
    st.set_defaults(fn=_settings)
    s = fs.add_parser("send", help="fax a document (PDF, PNG, JPEG, TIFF) through the running Linebox")
    s.add_argument("file")
    s.add_argument("--to", required=True, help="the number to dial (with the outside-line code if any)")
    s.add_argument("--from", dest="from_ext", required=True,
                   help="the sending extension (its outbound permissions apply)")
    s.add_argument("--as", dest="as_user", default="cli", help="whose outbox the job goes in (default: cli)")
    s.add_argument("--cover", action="store_true", help="add a cover page")
    s.add_argument("--subject", default="")
    s.add_argument("--note", default="", help="text on the cover page")
    s.add_argument("--sender-name", default="", help="the From line of the cover page")
    s.add_argument("--standard", action="store_true", help="98 lines per inch (default: fine, 196)")
    s.add_argument("--notify", default="", help="e-mail the result (sent or failed) to this address")
    s.add_argument("--wait", action="store_true", help="follow the job until it is sent or has failed")
    s.add_argument("--data", default="data")
    s.set_defaults(fn=_send)
    o = fs.add_parser("outbox", help="the fax send jobs of a user (--as; empty: everyone's)")
    o.add_argument("--as", dest="as_user", default="cli")
    o.add_argument("--limit", type=int, default=50)
    o.add_argument("--data", default="data")
    o.set_defaults(fn=_outbox)
    c = fs.add_parser("cancel", help="cancel a queued fax or hang up one being sent")
    c.add_argument("job", type=int)
    c.add_argument("--as", dest="as_user", default="cli")
    c.add_argument("--data", default="data")
    c.set_defaults(fn=_cancel)
