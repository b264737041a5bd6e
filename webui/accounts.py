"""User accounts: roles, password rules and argon2id hashes."""
from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .store import WebStore

ROLES = ("admin", "supervisor", "agent")
MIN_PASSWORD_LENGTH = 10
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")

# Passwords people really pick that still pass the length rule; a short list is
# enough to stop the obvious ones without shipping a dictionary to the Pi.
COMMON_PASSWORDS = frozenset("""
1234567890 0123456789 12345678910 1234567891 0987654321 1111111111 0000000000
1q2w3e4r5t qwertyuiop qwertyuiop1 1qaz2wsx3edc qazwsxedc1 zaq12wsxcde asdfghjkl1
password12 password123 password1234 passw0rd12 p@ssw0rd12 p@ssword123 adminadmin
administrator admin12345 admin123456 letmein123 welcome123 welcome1234 iloveyou12
changeme12 changeme123 football12 baseball12 sunshine12 princess12 trustno1234
linebox123 linebox1234 lineboxadmin telephone1 telephone123 1234qwerty qwerty1234
qwerty12345 abcdefghij abc1234567 abcd123456 superman12 starwars12 dragon1234
monkey1234 master1234 secret1234 default123 password!1 pa55word12
""".split())


# argon2id sized for a Pi (OWASP's 19 MiB, t=2, p=1): ~36 ms on the x86 build host, so
# ~110-180 ms on a Pi 4 (3-5x slower), and 19 MiB each; `HashSlots` allows two at once.
# The library's defaults (64 MiB, t=3, p=4) let 60 simultaneous logins take 2.4 GB.
# Hashes made with other parameters still verify and are re-hashed at the next good login.
HASH_PARAMETERS = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}


class AccountError(ValueError):
    """A user-facing reason why an account change was refused."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    extension: str | None = None


def password_problem(password: str, username: str) -> str | None:
    """Why this password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters long."
    if len(password) > 256:
        return "Password must be at most 256 characters long."
    lowered = password.lower()
    if username and username.lower() in lowered:
        return "Password must not contain the username."
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        return "This password is too common or too simple; choose another."
    return None


class UserAccounts:
    def __init__(self, store: WebStore, clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher | None = None) -> None:
        self._store = store
        self._clock = clock
        self._hasher = hasher or PasswordHasher(**HASH_PARAMETERS)
        self._dummy_hash: str | None = None   # made on first use: hashing costs ~0.2 s

    # ---- queries
    def any_user(self) -> bool:
        return bool(self._store.query("SELECT 1 FROM users LIMIT 1"))

    def get(self, username: str) -> User | None:
        rows = self._store.query("SELECT username, role, extension FROM users WHERE username=?",
                                 (username,))
        return User(rows[0]["username"], rows[0]["role"], rows[0]["extension"]) if rows else None

    def all(self) -> list[User]:
        rows = self._store.query("SELECT username, role, extension FROM users ORDER BY username")
        return [User(r["username"], r["role"], r["extension"]) for r in rows]

    # ---- checks
    def verify(self, username: str, password: str) -> User | None:
        """The user when the password matches; slow by design either way."""
        rows = self._store.query("SELECT pw_hash FROM users WHERE username=?", (username,))
        if rows:
            stored = rows[0]["pw_hash"]
        else:   # an unknown name costs the same time, so timing does not reveal which names exist
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash("not-a-real-password-for-timing")
            stored = self._dummy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if not rows:
            return None
        if self._hasher.check_needs_rehash(stored):
            try:
                self._set_hash(username, self._hasher.hash(password), end_sessions=False)
            except sqlite3.OperationalError:      # full disk: re-hash at a later login
                pass
        return self.get(username)

    # ---- changes
    def create(self, username: str, password: str, role: str, extension: str | None = None,
               *, first_admin: bool = False) -> User:
        username = self._check_username(username)
        self._check_role(role)
        problem = password_problem(password, username)
        if problem:
            raise AccountError(problem)
        pw_hash = self._hasher.hash(password)
        with self._store.transaction() as db:
            if first_admin and db.execute("SELECT 1 FROM users LIMIT 1").fetchone():
                raise AccountError("The administrator account already exists; log in instead.")
            if db.execute("SELECT 1 FROM users WHERE username=?", (username,)).fetchone():
                raise AccountError(f"User '{username}' already exists.")
            db.execute("INSERT INTO users(username, role, pw_hash, extension, created) VALUES (?,?,?,?,?)",
                       (username, role, pw_hash, extension or None, self._clock()))
        return User(username, role, extension or None)

    def set_password(self, username: str, password: str) -> None:
        problem = password_problem(password, username)
        if problem:
            raise AccountError(problem)
        if not self._set_hash(username, self._hasher.hash(password)):
            raise AccountError(f"No user '{username}'.")

    def update(self, username: str, role: str, extension: str | None) -> None:
        self._check_role(role)
        with self._store.transaction() as db:
            row = db.execute("SELECT role FROM users WHERE username=?", (username,)).fetchone()
            if row is None:
                raise AccountError(f"No user '{username}'.")
            if row["role"] == "admin" and role != "admin" and self._admin_count(db) <= 1:
                raise AccountError("This is the last administrator; add another admin first.")
            db.execute("UPDATE users SET role=?, extension=? WHERE username=?",
                       (role, extension or None, username))

    def delete(self, username: str) -> None:
        with self._store.transaction() as db:
            row = db.execute("SELECT role FROM users WHERE username=?", (username,)).fetchone()
            if row is None:
                raise AccountError(f"No user '{username}'.")
            if row["role"] == "admin" and self._admin_count(db) <= 1:
                raise AccountError("This is the last administrator; it cannot be deleted.")
            db.execute("DELETE FROM users WHERE username=?", (username,))

    # ---- internals
    def _set_hash(self, username: str, pw_hash: str, end_sessions: bool = True) -> bool:
        with self._store.transaction() as db:
            cur = db.execute("UPDATE users SET pw_hash=? WHERE username=?", (pw_hash, username))
            changed = cur.rowcount > 0
            if changed and end_sessions:   # a new password ends every other session of that user
                db.execute("DELETE FROM sessions WHERE username=?", (username,))
            return changed

    @staticmethod
    def _admin_count(db) -> int:
        return db.execute("SELECT COUNT(*) FROM users WHERE role='admin'").fetchone()[0]

    @staticmethod
    def _check_username(username: str) -> str:
        username = username.strip().lower()
        if not USERNAME_RE.match(username):
            raise AccountError("Username: 2-32 characters, lower-case letters, digits, '.', '_' or '-'.")
        return username

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in ROLES:
            raise AccountError(f"Role must be one of: {', '.join(ROLES)}.")
