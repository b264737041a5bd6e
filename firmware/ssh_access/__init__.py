"""ssh login keys of the appliance (administrators): pasted public keys checked strictly and
written where the image's sshd reads them; ssh runs only while a key exists, never with a
password. Public face: `parse_keys`, `AuthorizedKey`, `SshKeyError` (keys.py), `read_keys`,
`save_keys`, `keys_file`, `SshService` (access.py); engine API commands in `commands.py`
(`ssh.keys`, `ssh.keys.add`, `ssh.keys.remove`); CLI `linebox ssh-keys` (cli.py)."""
from __future__ import annotations

from .access import LOGIN_USER, SshService, keys_file, read_keys, save_keys
from .keys import AuthorizedKey, SshKeyError, parse_keys

__all__ = ["LOGIN_USER", "AuthorizedKey", "SshKeyError", "SshService", "keys_file", "parse_keys", "read_keys",
           "save_keys"]
