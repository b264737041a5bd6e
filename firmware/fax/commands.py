"""Engine API commands of fax: the inbox of a fax box (an extension's user's faxes).

Who may open which box is the caller's decision (the web: administrators every box, others
the box of their own extension). Box numbers are checked before they reach SQL or a path.
"""
from __future__ import annotations

import re

from ..api import ApiContext, ApiError, command
from .service import fax_root
from .store import FaxStore

_BOX = re.compile(r"[0-9]{2,10}")


def _store(ctx: ApiContext) -> FaxStore | None:
    root = fax_root(ctx.config)
    if root is None or not (root / "faxes.db").exists():
        return None             # no fax received yet
    return FaxStore(root)


@command("fax.inbox", on="store")
def fax_inbox(ctx: ApiContext, box: str, limit: int = 100) -> dict:
    """Faxes of fax box `box` (an extension number), newest first: remote station id, caller number,
    pages, rate, ECM, duration, result (T.30 words and a plain reason)."""
    if not _BOX.fullmatch(box):
        raise ApiError("bad_request", f"fax box {box[:12]!r}: give an extension number (2 to 10 digits)")
    if not 1 <= limit <= 1000:
        raise ApiError("bad_request", "limit: give 1 to 1000")
    store = _store(ctx)
    if store is None:
        return {"box": box, "faxes": []}
    try:
        faxes = [r.as_json() for r in store.list(box, limit)]
    finally:
        store.close()
    for f in faxes:
        f["has_document"] = bool(f.pop("tiff"))
        f["has_pdf"] = bool(f.pop("pdf"))
    return {"box": box, "faxes": faxes}
