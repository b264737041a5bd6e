"""ssh access (administrators): the public keys that may log in to the appliance over ssh. Read and
changed through the engine API (`ssh.keys`, `ssh.keys.add`, `ssh.keys.remove`:
firmware/ssh_access/commands.py), which checks every pasted line and saves nothing if one is
refused; the page keeps what was typed and shows the reason.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from .engine_calls import attempt, call
from .guards import AdminUser, csrf_guard
from .rendering import render

router = APIRouter(dependencies=[Depends(csrf_guard)])
PASTE_MAX = 64 * 1024
FLASH = {"added": "Key saved: it may log in over ssh now.", "removed": "Key removed."}


async def _page(request: Request, pasted: str = "", error: str | None = None, done: str = "",
                status_code: int = 200) -> Response:
    current = await call(request, "ssh.keys")
    return render(request, "ssh_keys.html", status_code=status_code, title="ssh access", s=current,
                  pasted=pasted, error=error, flash=FLASH.get(done))


@router.get("/ssh-access")
async def ssh_keys_page(request: Request, user: AdminUser, done: str = "") -> Response:
    return await _page(request, done=done)


@router.post("/ssh-access/add")
async def ssh_keys_add(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    text = form.get("keys", "")
    text = text if isinstance(text, str) else ""
    if len(text) > PASTE_MAX:
        return await _page(request, "", f"That is more than {PASTE_MAX // 1024} KiB of text; paste only the "
                                        "public keys, one per line.", status_code=400)
    _saved, error = await attempt(request, "ssh.keys.add", text=text)
    if error:
        return await _page(request, text, error, status_code=400)
    return RedirectResponse("/ssh-access?done=added", status_code=303)


@router.post("/ssh-access/remove")
async def ssh_keys_remove(request: Request, user: AdminUser) -> Response:
    form = await request.form()
    fingerprint = form.get("fingerprint", "")
    _saved, error = await attempt(request, "ssh.keys.remove",
                                  fingerprint=fingerprint[:100] if isinstance(fingerprint, str) else "")
    if error:
        return await _page(request, error=error, status_code=400)
    return RedirectResponse("/ssh-access?done=removed", status_code=303)
