"""Engine API commands of ssh login keys (administrators: the web's "ssh access" page and
`linebox ssh-keys`). On the store thread: the keys file is one of the engine's stores."""
from __future__ import annotations

from pathlib import Path

from ..api import ApiContext, ApiError, command
from .access import LOGIN_USER, SshService, keys_file, read_keys, save_keys
from .keys import MAX_KEYS, AuthorizedKey, SshKeyError, parse_keys

SERVICE = SshService()


def _answer(ctx: ApiContext, keys: list[AuthorizedKey], service: str | None = None) -> dict:
    return {"keys": [k.describe() for k in keys], "login": LOGIN_USER, "ssh_on": bool(keys),
            "on_image": SERVICE.on_image(), "max_keys": MAX_KEYS, "file": str(keys_file(ctx.data_dir)),
            **({"service": service} if service is not None else {})}


def _stored(ctx: ApiContext) -> list[AuthorizedKey]:
    try:
        return read_keys(Path(ctx.data_dir))
    except SshKeyError as exc:
        raise ApiError("conflict", str(exc)) from None


def _save(ctx: ApiContext, keys: list[AuthorizedKey]) -> dict:
    try:
        save_keys(Path(ctx.data_dir), keys)
    except OSError as exc:
        raise ApiError("unavailable", f"The ssh keys could not be saved ({exc.strerror or exc}); nothing was "
                                      "changed. Check the storage card and try again.") from None
    service = SERVICE.apply(bool(keys))
    ctx.publish("ssh.keys", {"count": len(keys), "ssh_on": bool(keys)})
    return _answer(ctx, keys, service)


@command("ssh.keys", on="store")
def ssh_keys(ctx: ApiContext) -> dict:
    """The public keys that may log in over ssh (as root; never with a password): {keys: [{type,
    bits, comment, fingerprint}], ssh_on (true only while a key exists), on_image, max_keys}."""
    return _answer(ctx, _stored(ctx))


@command("ssh.keys.add", on="store")
def ssh_keys_add(ctx: ApiContext, text: str) -> dict:
    """Add the pasted public keys (one per line: ssh-ed25519, ecdsa-sha2-nistp256/384/521, or
    ssh-rsa of at least 3072 bits; no options such as command=). All or nothing: a line that is not
    accepted is refused with the reason and nothing is saved. Keys already there are kept once."""
    try:
        new = parse_keys(text)
    except SshKeyError as exc:
        raise ApiError("bad_request", str(exc)) from None
    if not new:
        raise ApiError("bad_request", "Paste at least one public key (the one line of your .pub file).")
    keys = _stored(ctx)
    have = {k.blob for k in keys}
    keys += [k for k in new if k.blob not in have]
    if len(keys) > MAX_KEYS:
        raise ApiError("bad_request", f"At most {MAX_KEYS} keys may log in; remove the keys no one uses first.")
    return _save(ctx, keys)


@command("ssh.keys.remove", on="store")
def ssh_keys_remove(ctx: ApiContext, fingerprint: str) -> dict:
    """Remove the key with this fingerprint (SHA256:...); the last key removed turns ssh off."""
    keys = _stored(ctx)
    kept = [k for k in keys if k.fingerprint != fingerprint]
    if len(kept) == len(keys):
        raise ApiError("not_found", "There is no key with that fingerprint (removed already?); reload the page.")
    return _save(ctx, kept)
