"""Engine API commands of the receive side of fax: fax detection per line (detect.py), the inbox's
documents and deleting, and each box's e-mail recipients (boxes.py).

Who may change what is the caller's decision (the web: administrators only). Values are checked
before they reach the configuration.
"""
from __future__ import annotations

import re
import time

from ..api import ApiContext, ApiError, command
from ..config import ConfigError
from ..sqlite_files import shared_store
from .boxes import MAX_ADDRESSES, box_addresses, save_box_addresses
from .detect import detect_boxes, set_detect_box
from .service import fax_root
from .store import FaxRecord, FaxStore


@command("fax.detect_list", on="store")
def fax_detect_list(ctx: ApiContext) -> dict:
    """Every line with its fax box for fax detection ("" = off): a fax calling a line with a box is
    received into it while a menu or greeting has the call or while phones ring (see detect.py)."""
    boxes = detect_boxes(ctx.config)
    return {"lines": [{"line": row["port"], "name": row.get("name", ""), "box": boxes.get(row["port"], "")}
                      for row in ctx.config.lines()]}


@command("fax.detect_set", on="store")
def fax_detect_set(ctx: ApiContext, line: str, box: str = "") -> dict:
    """Fax detection on line `line` (a port such as fxo1) into fax box `box` (an extension), or off
    with box ""."""
    if len(line) > 12 or len(box) > 12:
        raise ApiError("bad_request", "line: a port such as fxo1; box: an extension number")
    try:
        set_detect_box(ctx.config, line, box)
    except ConfigError as exc:
        raise ApiError("bad_request", str(exc)) from None
    return {"line": line.strip(), "box": box.strip()}


@command("fax.line_tuning", on="store")
def fax_line_tuning(ctx: ApiContext) -> dict:
    """Every line with its V.21 carrier cut-off for fax (line_tuning.py): the installer's value in
    dBm0, or None for spandsp's default (`default_dbm0`)."""
    from .line_tuning import V21_CUTOFF_DEFAULT_DBM0, line_v21_cutoffs
    tuned = line_v21_cutoffs(ctx.config)
    return {"default_dbm0": V21_CUTOFF_DEFAULT_DBM0,
            "lines": [{"line": row["port"], "name": row.get("name", ""), "v21_cutoff_dbm0": tuned.get(row["port"])}
                      for row in ctx.config.lines()]}


@command("fax.line_tuning_set", on="store")
def fax_line_tuning_set(ctx: ApiContext, line: str, v21_cutoff_dbm0: float | str | None = None) -> dict:
    """Line `line`'s V.21 carrier cut-off in dBm0 for fax (-50 to -30; a noisy line: -40), or back
    to the default with none. Faxes on the line use it from their next call."""
    from .line_tuning import V21_CUTOFF_DEFAULT_DBM0, set_line_v21_cutoff
    if len(str(line)) > 12:
        raise ApiError("bad_request", "line: a port such as fxo1")
    try:
        saved = set_line_v21_cutoff(ctx.config, str(line), v21_cutoff_dbm0)
    except ConfigError as exc:
        raise ApiError("bad_request", str(exc)) from None
    ctx.publish("fax", {"event": "line_tuning", "line": str(line).strip()})
    return {"line": str(line).strip(), "v21_cutoff_dbm0": saved, "default_dbm0": V21_CUTOFF_DEFAULT_DBM0}


# ---- the inbox: documents and deleting --------------------------------------------------------

_BOX = re.compile(r"[0-9]{2,10}")
FORMATS = {"pdf": "application/pdf", "tiff": "image/tiff"}


def _box(box: str) -> str:
    if not _BOX.fullmatch(box):
        raise ApiError("bad_request", f"fax box {box[:12]!r}: give an extension number (2 to 10 digits)")
    return box


def _store(ctx: ApiContext) -> FaxStore | None:
    root = fax_root(ctx.config)
    if root is None or not (root / "faxes.db").exists():
        return None
    # the engine's own store (one connection per file and process: writes are serialised)
    return shared_store(root / "faxes.db", lambda _path: FaxStore(root))


def _record_in(ctx: ApiContext, box: str, fid: int) -> tuple[FaxStore, FaxRecord]:
    store = _store(ctx)
    rec = store.get(fid) if store is not None and fid > 0 else None
    if store is None or rec is None or rec.box != _box(box):
        raise ApiError("not_found", f"fax box {box} has no fax {fid}; it may have been deleted")
    return store, rec


def download_name(rec: FaxRecord, fmt: str) -> str:
    """The file name a download gets: built from the box, time, id and a cleaned caller number only
    (never the remote station id or caller ID text as given)."""
    caller = "".join(c for c in rec.caller_number if c.isdigit())[:20]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(rec.at))
    return f"fax-{rec.box}-{stamp}-{rec.id}{'-' + caller if caller else ''}.{'pdf' if fmt == 'pdf' else 'tif'}"


@command("fax.document", on="store")
def fax_document(ctx: ApiContext, box: str, id: int, format: str = "pdf") -> dict:
    """Where fax `id` of box `box` is kept as `format` (pdf or tiff): path, download file name and
    media type (the web serves the file read-only)."""
    if format not in FORMATS:
        raise ApiError("bad_request", "format: pdf or tiff")
    store, rec = _record_in(ctx, box, id)
    path = store.file_of(rec.pdf if format == "pdf" else rec.tiff)
    if path is None:
        what = "no pages arrived" if rec.pages == 0 else "its file is missing"
        raise ApiError("not_found", f"fax {id} has no {format.upper()}: {what}")
    return {"path": str(path), "filename": download_name(rec, format), "media_type": FORMATS[format]}


@command("fax.delete", on="store")
def fax_delete(ctx: ApiContext, box: str, id: int) -> dict:
    """Delete fax `id` of box `box`: its inbox row, TIFF and PDF."""
    store, rec = _record_in(ctx, box, id)
    store.delete(rec.id)
    ctx.publish("fax", {"event": "deleted", "box": rec.box, "id": rec.id})
    return {"deleted": rec.id, "box": rec.box}


# ---- a box's e-mail recipients (boxes.py) ---------------------------------------------------------

@command("fax.addresses", on="store")
def fax_addresses(ctx: ApiContext, box: str) -> dict:
    """Box `box`'s e-mail recipients: its own list ("own"), and who gets the faxes now ("mailed_to":
    the list, else the extension's voicemail address)."""
    from ..apps.voicemail_store import mailbox_config
    own = box_addresses(ctx.config, _box(box))
    fallback = str((mailbox_config(ctx.config, box) or {}).get("email") or "")
    return {"box": box, "own": own, "mailed_to": own or ([fallback] if fallback else []),
            "max": MAX_ADDRESSES}


@command("fax.addresses_set", on="store")
def fax_addresses_set(ctx: ApiContext, box: str, addresses: str) -> dict:
    """Set box `box`'s recipients: addresses one per line (or separated by commas); empty: back to
    the extension's voicemail address. Nothing is saved if any address is not a plain address."""
    if len(addresses) > 4000:
        raise ApiError("too_large", f"at most {MAX_ADDRESSES} addresses")
    try:
        own = save_box_addresses(ctx.config, _box(box), addresses)
    except ConfigError as exc:
        raise ApiError("bad_request", str(exc)) from None
    return {"box": box, "own": own}
