"""Checking pasted ssh public keys strictly, before any of them reaches sshd's authorized_keys.

A pasted block is untrusted text. Each non-empty line must be exactly one public key in OpenSSH's
one-line form, `TYPE BASE64 [COMMENT]`:

* TYPE is one of `ssh-ed25519`, `ecdsa-sha2-nistp256/384/521` or `ssh-rsa`. Anything else in
  the first place is refused, and that covers authorized_keys *options* (`command="..."`,
  `from=`, `no-pty`, `environment=`, ...): a key line with options could run a command or open
  a tunnel the owner did not mean to allow, so only bare keys are accepted.
* BASE64 is strict base64 of the key's own wire encoding, and that blob is parsed: its type
  string must equal TYPE; an ed25519 key is 32 bytes; an ECDSA key names its curve and carries
  an uncompressed point of that curve's length; an RSA key has an odd public exponent and a
  modulus of 3072 to 16384 bits (smaller RSA keys are refused: 2048 bits is below what we accept
  for a login to the telephone system). No trailing bytes.
* The comment is kept only as a label: control characters and anything outside printable ASCII
  are replaced by `_`, runs of spaces squeezed, and it is cut at 100 characters.

The key written back is rebuilt from the parsed parts (`AuthorizedKey.line()`), never copied
from the input line.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

MAX_TEXT = 64 * 1024             # the pasted block
MAX_LINE = 8192                  # one key line (a 16384-bit RSA key is about 2.8 kB of base64)
MAX_KEYS = 20
COMMENT_MAX = 100
RSA_MIN_BITS = 3072
RSA_MAX_BITS = 16384
CURVES = {"ecdsa-sha2-nistp256": ("nistp256", 65), "ecdsa-sha2-nistp384": ("nistp384", 97),
          "ecdsa-sha2-nistp521": ("nistp521", 133)}
TYPES = ("ssh-ed25519", *CURVES, "ssh-rsa")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_COMMENT_OK = re.compile(r"[^\x21-\x7e ]")


class SshKeyError(ValueError):
    """A pasted key is not accepted; the message says which line, what is wrong and what to do."""


@dataclass(frozen=True)
class AuthorizedKey:
    type: str
    blob: bytes                  # the key's wire encoding (what the base64 holds)
    comment: str
    bits: int

    @property
    def fingerprint(self) -> str:
        """As `ssh-keygen -l` prints it: SHA256 of the blob, base64 without padding."""
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")

    def line(self) -> str:
        text = f"{self.type} {base64.b64encode(self.blob).decode()}"
        return f"{text} {self.comment}" if self.comment else text

    def describe(self) -> dict:
        return {"type": self.type, "bits": self.bits, "comment": self.comment, "fingerprint": self.fingerprint}


class _Reader:
    def __init__(self, blob: bytes) -> None:
        self.blob, self.at = blob, 0

    def string(self) -> bytes:
        if self.at + 4 > len(self.blob):
            raise ValueError("it ends too early")
        n = int.from_bytes(self.blob[self.at:self.at + 4], "big")
        if n > len(self.blob) - self.at - 4:
            raise ValueError("a length inside it is wrong")
        out = self.blob[self.at + 4:self.at + 4 + n]
        self.at += 4 + n
        return out

    def end(self) -> None:
        if self.at != len(self.blob):
            raise ValueError("it has extra bytes at the end")


def _mpint(data: bytes) -> int:
    if not data or data[0] & 0x80:
        raise ValueError("a number inside it is negative or empty")
    if len(data) > 1 and data[0] == 0 and not data[1] & 0x80:
        raise ValueError("a number inside it has a needless leading zero")
    return int.from_bytes(data, "big")


def _parse_blob(key_type: str, blob: bytes) -> int:
    """Check the wire encoding of a key of `key_type`; returns its size in bits."""
    r = _Reader(blob)
    if r.string() != key_type.encode():
        raise ValueError(f"its inside says it is not a {key_type} key")
    if key_type == "ssh-ed25519":
        if len(r.string()) != 32:
            raise ValueError("an ed25519 key is 32 bytes")
        bits = 256
    elif key_type in CURVES:
        curve, point_len = CURVES[key_type]
        if r.string() != curve.encode():
            raise ValueError(f"its curve is not {curve}")
        point = r.string()
        if len(point) != point_len or point[0] != 4:
            raise ValueError(f"its point is not an uncompressed {curve} point")
        bits = {"nistp256": 256, "nistp384": 384, "nistp521": 521}[curve]
    else:
        e, n = _mpint(r.string()), _mpint(r.string())
        bits = n.bit_length()
        if e < 3 or e % 2 == 0:
            raise ValueError("its public exponent is not a usable one")
        if bits < RSA_MIN_BITS:
            raise SshKeyError(f"is an RSA key of {bits} bits; Linebox accepts RSA keys of at least "
                              f"{RSA_MIN_BITS} bits. Make a new key (ssh-keygen -t ed25519) and paste that one")
        if bits > RSA_MAX_BITS:
            raise ValueError(f"an RSA key of {bits} bits is larger than any real one")
    r.end()
    return bits


def _clean_comment(words: list[str]) -> str:
    text = _COMMENT_OK.sub("_", " ".join(words))
    return re.sub(" +", " ", text).strip()[:COMMENT_MAX].strip()


def parse_line(line: str, number: int = 1) -> AuthorizedKey:
    """One key line (see the module's doc); SshKeyError says what is wrong with line `number`."""
    where = f"Line {number}"
    if len(line) > MAX_LINE:
        raise SshKeyError(f"{where} is longer than any public key ({len(line)} characters); paste the "
                          "one-line public key (the .pub file), one key per line.")
    if "\x00" in line or any(c in line for c in "\r\v\f"):
        raise SshKeyError(f"{where} has control characters; paste the key again as plain text.")
    parts = line.split()
    if not parts:
        raise SshKeyError(f"{where} is empty.")
    first = parts[0]
    if first not in TYPES:
        if "=" in first or first.startswith(("no-", "cert-authority", "restrict", "principals")):
            raise SshKeyError(f"{where} starts with options ({first[:30]!r}); Linebox accepts only plain keys, "
                              "without command=, from= or other options. Paste the key itself, starting with its "
                              "type (for example ssh-ed25519).")
        if first.startswith("-----BEGIN") or first.startswith("PuTTY"):
            raise SshKeyError(f"{where} is not an OpenSSH public key (it looks like a private key or a PuTTY "
                              "file). Paste the one-line public key: the contents of the .pub file.")
        raise SshKeyError(f"{where} starts with {first[:30]!r}, which is not a key type Linebox accepts; use "
                          f"{', '.join(TYPES)} (ssh-keygen -t ed25519 makes a good one).")
    if len(parts) < 2:
        raise SshKeyError(f"{where} has the key type but no key after it; paste the whole line of the .pub file.")
    if any(word in TYPES for word in parts[2:]):
        raise SshKeyError(f"{where} holds more than one key; put each key on a line of its own.")
    encoded = parts[1]
    try:
        if not _B64.fullmatch(encoded) or len(encoded) % 4:
            raise binascii.Error
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise SshKeyError(f"{where}: the key after {first} is not valid base64 (cut or changed while "
                          "copying?); paste the whole line of the .pub file again.") from None
    try:
        bits = _parse_blob(first, blob)
    except SshKeyError as exc:
        raise SshKeyError(f"{where} {exc}.") from None
    except ValueError as exc:
        raise SshKeyError(f"{where} is not a valid {first} key ({exc}); paste the whole line of the .pub "
                          "file again.") from None
    return AuthorizedKey(first, blob, _clean_comment(parts[2:]), bits)


def parse_keys(text: str) -> list[AuthorizedKey]:
    """Every key of a pasted block (blank lines skipped); all or nothing: SshKeyError on the first
    line that is not accepted."""
    if not isinstance(text, str):
        raise SshKeyError("The keys must be text: one public key per line.")
    if len(text) > MAX_TEXT:
        raise SshKeyError(f"That is more text than {MAX_KEYS} public keys ({len(text)} characters); paste only "
                          "the public keys, one per line.")
    keys: list[AuthorizedKey] = []
    seen: dict[bytes, int] = {}
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        key = parse_line(raw.strip(), number)
        if key.blob in seen:
            raise SshKeyError(f"Line {number} is the same key as line {seen[key.blob]}; keep it once.")
        seen[key.blob] = number
        keys.append(key)
        if len(keys) > MAX_KEYS:
            raise SshKeyError(f"At most {MAX_KEYS} keys may log in; remove the keys no one uses.")
    return keys
